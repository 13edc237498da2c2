"""ONNX export (``striate.onnx.export``): trace a model once and write it as an ONNX graph.

Needs the optional ``onnx`` package (``pip install 'striate[onnx]'``); it is imported only when
``export`` runs, so ``import striate.onnx`` works without it.

>>> import striate.onnx
>>> striate.onnx.export(model, np.zeros((1, 3, 224, 224), np.float32), "model.onnx")
"""
from .exporter import export

__all__ = ["export"]
