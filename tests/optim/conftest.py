"""Fixtures of the optimiser tests; puts this folder on sys.path for optim_parity."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def torch():
    """torch, or skip the test where it is not installed."""
    return pytest.importorskip("torch")
