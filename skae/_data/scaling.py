"""Scaling: statistics in float64, float32 rows without losing the offset.

The network computes in float32, whose 24-bit mantissa cannot hold data with
a large offset: ``1e6 + 0.3`` rounds to ``1000000.3125``. Statistics are
therefore accumulated in float64, block by block (no float64 copy of the
data is made), and rows are centred before, or exactly while, they are
rounded to float32. :class:`Standardizer` does this for every block of rows
that reaches a model, in training and in inference alike.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp
import torch

from .blocks import BLOCK_ROWS, row_blocks, torch_rows

# Input dtypes whose every value float32 holds exactly.
EXACT_IN_FLOAT32 = (
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.bool,
    torch.uint16,
)
# Of those, the dtypes torch subtracts a float32 tensor from.
SUBTRACTABLE = (torch.float32, torch.uint8, torch.int8, torch.int16)


def fit_scaling(X: np.ndarray, kind: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature offset and scale (float64) that bring ``X`` to unit scale.

    ``kind`` is None (offset 0, scale 1), "global" (centre each feature,
    divide by the root mean feature variance) or "standard" (divide each
    feature by its own standard deviation). Features that are constant up
    to the rounding of ``X``'s dtype, or whose spread is below float32's
    smallest normal number (its inverse would overflow the float32 rows),
    keep their units (scale 1).
    """
    n_samples, n_features = X.shape
    if kind is None:
        return np.zeros(n_features), np.ones(n_features)
    if sp.issparse(X):
        mean, squares = _sparse_moments(X)
    else:
        mean, squares = _dense_moments(X)
    var = squares / n_samples
    eps = np.finfo(X.dtype).eps if X.dtype.kind == "f" else np.finfo(np.float64).eps
    if kind == "global":
        scale = np.full(n_features, np.sqrt(var.mean()))
        tiny = 10 * eps * np.abs(mean).max()
    else:
        scale = np.sqrt(var)
        tiny = 10 * eps * np.abs(mean)
    too_small = (scale <= tiny) | (scale < np.finfo(np.float32).tiny)
    scale[too_small] = 1.0
    return mean, scale


def _dense_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sums of squared deviations in float64, two passes by block."""
    total = np.zeros(X.shape[1])
    for block in row_blocks(X):
        total += block.sum(axis=0, dtype=np.float64)
    mean = total / X.shape[0]
    squares = np.zeros(X.shape[1])
    for block in row_blocks(X):
        diff = block - mean
        squares += np.einsum("ij,ij->j", diff, diff)
    return mean, squares


def _sparse_moments(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sums of squared deviations of a CSR matrix, in float64.

    Two-pass exact: the stored entries contribute ``(x - mean)**2`` each and
    the implicit zeros ``mean**2`` each, without densifying anything.
    """
    n_samples, n_features = X.shape
    data = X.data.astype(np.float64)
    counts = np.bincount(X.indices, minlength=n_features)
    mean = np.bincount(X.indices, weights=data, minlength=n_features) / n_samples
    deviations = (data - mean[X.indices]) ** 2
    squares = np.bincount(X.indices, weights=deviations, minlength=n_features)
    return mean, squares + (n_samples - counts) * mean**2


class Standardizer:
    """``x -> (x - mean) / scale`` and back, exact to the precision of the result.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_features,)
        Offset and scale in float64 (copied: read-only or memory-mapped
        arrays are fine).
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        self.mean = torch.tensor(np.asarray(mean), dtype=torch.float64)
        self.scale = torch.tensor(np.asarray(scale), dtype=torch.float64)
        self.inv = 1.0 / self.scale
        self.shift = -self.mean * self.inv
        # float32 rows are centred in two float32 steps, by the float32 part
        # of the mean and then by the remainder: exact where it matters.
        self.mean_hi = self.mean.float()
        self.mean_lo = (self.mean - self.mean_hi.double()).float()
        self.inv32 = self.inv.float()

    def to(self, device: torch.device) -> Standardizer:
        """A copy whose constants live on ``device``."""
        moved = copy.copy(self)
        for name, value in vars(self).items():
            setattr(moved, name, value.to(device))
        return moved

    def scale_into(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Write the scaled rows of ``src`` into ``dst`` (float32/64, same device)."""
        if dst.dtype == torch.float64:
            return dst.copy_(src).sub_(self.mean).mul_(self.inv)
        if src.dtype not in EXACT_IN_FLOAT32:
            # float64, or integers beyond 2**24: one float64 pass, rounded
            # once on the way into dst.
            return torch.addcmul(self.shift, src.double(), self.inv, out=dst)
        if src.dtype in SUBTRACTABLE:
            # Converted by the first subtraction: one pass fewer.
            torch.sub(src, self.mean_hi, out=dst)
        else:
            dst.copy_(src).sub_(self.mean_hi)
        return dst.sub_(self.mean_lo).mul_(self.inv32)

    def scale_rows(self, X: np.ndarray) -> torch.Tensor:
        """All rows of ``X`` scaled into a new float32 tensor, block by block."""
        out = torch.empty(X.shape, dtype=torch.float32)
        for start in range(0, X.shape[0], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, X.shape[0])
            self.scale_into(torch_rows(X, start, stop), out[start:stop])
        return out

    def unscale(self, xs: torch.Tensor) -> torch.Tensor:
        """``xs * scale + mean`` in float64 (``xs`` on the constants' device)."""
        return torch.addcmul(self.mean, xs.double(), self.scale)
