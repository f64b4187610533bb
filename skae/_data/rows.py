"""Training rows: the one interface the training loop draws its batches from.

Every kind of training data implements :class:`Rows`, so that the loop
(:mod:`skae._train.loop`) and the estimators never branch on it:

* :class:`DenseRows`: an in-memory array, kept on the training device in its
  own dtype (uint8 images stay uint8: a quarter of float32) and scaled to
  float32 one batch at a time; float64 input is scaled to float32 once. A
  float32 tensor that is already scaled is ``DenseRows(tensor, None)``.
* :class:`skae._data.sparse.SparseRows`: CSR rows, densified one batch at a
  time.
* :class:`skae._data.streamed.StreamedRows`: a memory-mapped array larger
  than a block, read from disk block by block in a shuffled block order
  (out-of-core), never held whole in memory.

:func:`skae._data.make_rows` picks the kind for validated input.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch

from .blocks import as_tensor, to_device
from .scaling import Standardizer


class Rows(Protocol):
    """What the training loop needs from its data: scaled float32 batches.

    ``rows[idx]`` gives the dense scaled float32 rows ``idx`` (a tensor of
    row numbers); ``subset(idx)`` the same rows as rows of the same kind
    (kept sparse, or still streamed); ``split(size)`` consecutive batches;
    ``batches(size, shuffle, generator)`` one epoch; ``n_batches(size)``
    how many batches an epoch has.
    """

    @property
    def shape(self) -> tuple[int, int]: ...

    @property
    def device(self) -> torch.device: ...

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor: ...

    def subset(self, idx: torch.Tensor) -> Rows: ...

    def split(self, size: int) -> Iterator[torch.Tensor]: ...

    def batches(
        self, size: int, shuffle: bool, generator: torch.Generator
    ) -> Iterator[torch.Tensor]: ...

    def n_batches(self, size: int) -> int: ...


def shuffled_batches(
    rows: Rows, size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Batches of one epoch of ``rows`` in the order of a permutation drawn
    from ``generator`` (on the generator's device, then moved to the rows')."""
    order = torch.randperm(rows.shape[0], generator=generator, device=generator.device)
    return (rows[idx] for idx in order.to(rows.device).split(size))


class IndexedRows:
    """Rows held whole on their device: an epoch's batches are taken by index.

    Subclasses give ``shape``, ``device``, ``rows[idx]`` and ``split``.
    """

    def batches(
        self, size: int, shuffle: bool, generator: torch.Generator
    ) -> Iterator[torch.Tensor]:
        if shuffle:
            return shuffled_batches(self, size, generator)
        return self.split(size)

    def n_batches(self, size: int) -> int:
        return math.ceil(self.shape[0] / size)


class DenseRows(IndexedRows):
    """In-memory rows on ``device``; ``rows[idx]`` is a dense scaled float32 batch.

    Parameters
    ----------
    data : Tensor of shape (n_samples, n_features)
        The rows in their stored dtype: already scaled float32 when
        ``standardizer`` is None, raw (any real or bool dtype) otherwise.
    standardizer : Standardizer or None
        Scaling applied to each batch as it is taken.
    """

    def __init__(self, data: torch.Tensor, standardizer: Standardizer | None) -> None:
        self.data = data
        self.standardizer = standardizer

    @classmethod
    def from_numpy(
        cls, X: np.ndarray, standardizer: Standardizer, device: torch.device
    ) -> DenseRows:
        """Rows of ``X`` on ``device``: float64 scaled to float32 once, others raw.

        On the CPU, raw rows share ``X``'s memory (no copy); on CUDA they are
        copied to the device once, in ``X``'s dtype.
        """
        if X.dtype == np.float64:
            return cls(standardizer.scale_rows(X).to(device), None)
        return cls(to_device(as_tensor(X), device), standardizer.to(device))

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape)

    @property
    def device(self) -> torch.device:
        return self.data.device

    def _scaled(self, rows: torch.Tensor) -> torch.Tensor:
        if self.standardizer is None:
            return rows
        out = torch.empty(rows.shape, dtype=torch.float32, device=rows.device)
        return self.standardizer.scale_into(rows, out)

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self._scaled(self.data[idx.to(self.device)])

    def subset(self, idx: torch.Tensor) -> DenseRows:
        return DenseRows(self.data[idx.to(self.device)], self.standardizer)

    def split(self, size: int) -> Iterator[torch.Tensor]:
        return (self._scaled(block) for block in self.data.split(size))


def feature_mean(X, block_elements: int = 1 << 22) -> torch.Tensor:
    """Per-feature mean of the rows of ``X`` in float64, a block of rows at a time.

    Only one block (about ``block_elements`` entries) is ever dense or float64:
    no float64 copy of ``X`` is made and sparse rows are densified per block.
    """
    n_samples, n_features = X.shape
    total = torch.zeros(n_features, dtype=torch.float64, device=X.device)
    for block in X.split(max(1, block_elements // n_features)):
        total += block.sum(0, dtype=torch.float64)
    return total / n_samples
