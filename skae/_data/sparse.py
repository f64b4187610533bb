"""Sparse rows on the device, densified and scaled one batch at a time.

A user-item or TF-IDF matrix is far too large to hold dense (100,000 users x
50,000 items is 20 GB as float32) but each batch of a few hundred rows is
small. :class:`SparseRows` keeps the CSR arrays on the training device and
hands the training loop dense, scaled float32 batches, exactly the rows the
dense path would have produced (bit for bit on the CPU), through the same
:class:`skae._data.rows.Rows` interface as dense rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

from .rows import IndexedRows
from .scaling import Standardizer


class SparseRows(IndexedRows):
    """CSR rows on ``device``; ``rows[idx]`` is a dense scaled float32 batch.

    Parameters
    ----------
    crow, col, values : Tensor
        CSR arrays (row pointers, column indices, values) on one device.
    n_features : int
        Number of columns.
    standardizer : Standardizer
        Scaling applied to each densified batch (centring included: it
        happens on the dense batch, the stored matrix stays sparse).
    """

    def __init__(
        self,
        crow: torch.Tensor,
        col: torch.Tensor,
        values: torch.Tensor,
        n_features: int,
        standardizer: Standardizer,
    ) -> None:
        self.crow, self.col, self.values = crow, col, values
        self.n_features = n_features
        self.standardizer = standardizer

    @classmethod
    def from_scipy(
        cls, X: sp.csr_matrix | sp.csr_array, standardizer: Standardizer, device
    ) -> SparseRows:
        """Copy a scipy CSR matrix (sorted or not) to ``device``."""
        return cls(
            torch.from_numpy(X.indptr.astype(np.int64)).to(device),
            torch.from_numpy(X.indices.astype(np.int64)).to(device),
            torch.from_numpy(X.data).to(device),
            X.shape[1],
            standardizer.to(device),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return (self.crow.shape[0] - 1, self.n_features)

    @property
    def device(self) -> torch.device:
        return self.values.device

    def _gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Row pointers, row of each entry, and entry positions of rows ``idx``."""
        starts = self.crow[idx]
        counts = self.crow[idx + 1] - starts
        crow = torch.zeros(idx.shape[0] + 1, dtype=torch.int64, device=self.device)
        crow[1:] = counts.cumsum(0)
        row_of = torch.repeat_interleave(
            torch.arange(idx.shape[0], device=self.device), counts
        )
        pos = torch.arange(int(crow[-1]), device=self.device)
        pos = pos - crow[row_of] + starts[row_of]
        return crow, row_of, pos

    def subset(self, idx: torch.Tensor) -> SparseRows:
        """The rows ``idx`` (a tensor of row numbers), still sparse."""
        crow, _, pos = self._gather(idx.to(self.device))
        values = self.values[pos]
        return SparseRows(
            crow, self.col[pos], values, self.n_features, self.standardizer
        )

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        """Dense, scaled float32 rows ``idx``."""
        idx = idx.to(self.device)
        _, row_of, pos = self._gather(idx)
        dense = torch.zeros(
            (idx.shape[0], self.n_features), dtype=self.values.dtype, device=self.device
        )
        dense[row_of, self.col[pos]] = self.values[pos]
        out = torch.empty(dense.shape, dtype=torch.float32, device=self.device)
        return self.standardizer.scale_into(dense, out)

    def split(self, size: int) -> Iterator[torch.Tensor]:
        """Dense, scaled batches of ``size`` consecutive rows."""
        n = self.shape[0]
        for start in range(0, n, size):
            yield self[torch.arange(start, min(start + size, n), device=self.device)]
