"""Quantum convolutional neural networks: an exact statevector simulator on NumPy.

``Circuit`` (Pauli-rotation blocks, shared parameters, parameter-shift gradients), ``QCNN``
(Cong, Choi and Lukin 2019) and ``hardware_efficient_ansatz``; the cluster-Ising Hamiltonian and
the phase-classification and barren-plateau experiments (Pesah et al. 2021) live in
``hamiltonians`` and ``experiments``. Run them with ``python -m striate.quantum phases|plateaus``.

>>> from striate.quantum import QCNN
>>> QCNN(8).levels
[[0, 1, 2, 3, 4, 5, 6, 7], [1, 3, 5, 7], [3, 7], [7]]
"""
from . import gates
from .circuits import Circuit
from .qcnn import QCNN, hardware_efficient_ansatz
from .simulator import apply_gate, expectation, zero_state

__all__ = ["gates", "Circuit", "QCNN", "hardware_efficient_ansatz", "apply_gate", "expectation",
           "zero_state"]
