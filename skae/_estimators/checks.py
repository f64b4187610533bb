"""Helpers of the estimators: "auto", the device, dtypes and checks of X,
and the transaction that leaves a model as it was when a fit fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
)

from . import defaults

AUTO = defaults.AUTO


# Input dtypes kept as they are: float64 first, what anything else becomes.
INPUT_DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.uint32,
    np.int32,
    np.uint64,
    np.int64,
    np.bool_,
]


# The dtypes of INPUT_DTYPES that validate_data keeps as they are.
_PLAIN_DTYPES = frozenset(INPUT_DTYPES)


def _is_auto(value) -> bool:
    """Whether a parameter's value is the string "auto"."""
    return isinstance(value, str) and value == AUTO


def _resolve_device(device: str) -> torch.device:
    """Map the ``device`` parameter to a ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available in this "
            "PyTorch installation; use device='cpu' or device='auto'."
        )
    return torch.device(device)


def output_dtype(X) -> np.dtype:
    """dtype of results computed from rows of X: float32 for float32, else float64."""
    return np.dtype(np.float32 if X.dtype == np.float32 else np.float64)


def _check_float32_range(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Reject finite values that float32, the precision of the model, cannot hold."""
    limit = np.finfo(np.float32).max
    values = X.data if sp.issparse(X) else X
    # min and max, not abs: no temporary copy of X.
    if (
        X.dtype == np.float64
        and values.size
        and max(-values.min(), values.max()) > limit
    ):
        raise ValueError(
            f"{name} contains values too large for float32, the precision the "
            "model computes in; rescale the data."
        )
    return X


def _check_n_samples(n_samples) -> int:
    if not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


def _module_device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _available(device: torch.device) -> bool:
    """Whether this process can put tensors on ``device`` (CPU, CUDA or MPS)."""
    if device.type == "cuda":
        index = device.index or 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return device.type == "cpu"


@contextmanager
def _transaction(estimator: BaseEstimator) -> Iterator[None]:
    """Put back every attribute of ``estimator`` if the block raises.

    Any exception counts, ``KeyboardInterrupt`` included: an unfitted
    estimator stays unfitted, a fitted one keeps its previous model.
    """
    before = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise
