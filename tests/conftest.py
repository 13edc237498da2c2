"""Shared test fixtures."""
import numpy as np
import pytest

import striate


@pytest.fixture
def rng():
    """A seeded NumPy generator for test inputs, and striate's own generator seeded too."""
    striate.manual_seed(0)
    return np.random.default_rng(0)
