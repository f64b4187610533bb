"""Rows of a memory-mapped array larger than a block, streamed from disk."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from . import blocks
from .blocks import BlockReader, as_tensor, to_device
from .rows import DenseRows
from .scaling import Standardizer


class StreamedRows:
    """Rows of a memory-mapped array, streamed from disk one block at a time.

    An epoch visits the blocks in a random order and the rows of each block
    in a random order (both from the training generator), reading the next
    block in a background thread while the current one trains. Batches do
    not straddle blocks. Only two blocks are ever in memory.

    Parameters
    ----------
    X : numpy.memmap of shape (n_samples, n_features)
        The array, in its stored dtype.
    standardizer : Standardizer
        Scaling applied to each batch on ``device``.
    device : torch.device
        Where batches are trained.
    rows : ndarray of int or None
        The selected rows, sorted (None: all).
    block_bytes : int or None
        Raw bytes per block (None: :data:`skae._data.blocks.STREAM_BLOCK_BYTES`).
    """

    def __init__(
        self,
        X: np.memmap,
        standardizer: Standardizer,
        device: torch.device,
        rows: np.ndarray | None = None,
        block_bytes: int | None = None,
    ) -> None:
        self.X = X
        self.standardizer = standardizer.to(device)
        self._device = torch.device(device)
        self.rows = rows
        row_bytes = X.dtype.itemsize * X.shape[1]
        block_bytes = blocks.STREAM_BLOCK_BYTES if block_bytes is None else block_bytes
        self.reader = BlockReader(
            X, max(1, block_bytes // row_bytes), pin=self._device.type == "cuda"
        )

    @property
    def shape(self) -> tuple[int, int]:
        n = self.X.shape[0] if self.rows is None else len(self.rows)
        return (n, self.X.shape[1])

    @property
    def device(self) -> torch.device:
        return self._device

    def _blocks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` of the file blocks holding at least one selected row."""
        n, size = self.X.shape[0], self.reader.block_rows
        spans = [(s, min(s + size, n)) for s in range(0, n, size)]
        if self.rows is None:
            return spans
        return [(s, e) for s, e in spans if self._selected(s, e).size]

    def _selected(self, start: int, stop: int) -> np.ndarray:
        """Positions within block ``start:stop`` of the selected rows."""
        if self.rows is None:
            return np.arange(stop - start)
        lo, hi = np.searchsorted(self.rows, [start, stop])
        return self.rows[lo:hi] - start

    def _to_device(self, rows: np.ndarray) -> torch.Tensor:
        return to_device(as_tensor(rows), self._device, non_blocking=True)

    def _scaled(self, rows: torch.Tensor) -> torch.Tensor:
        out = torch.empty(rows.shape, dtype=torch.float32, device=rows.device)
        return self.standardizer.scale_into(rows, out)

    def _device_blocks(self, spans) -> Iterator[torch.Tensor]:
        """The selected rows of each block of ``spans``, on the device, read ahead."""
        buffers = [self.reader.buffer(), self.reader.buffer()]

        def load(i: int) -> np.ndarray:
            start, stop = spans[i]
            block = self.reader.read(start, stop, buffers[i % 2])
            return block if self.rows is None else block[self._selected(start, stop)]

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(load, 0) if spans else None
            for i in range(len(spans)):
                block = pending.result()
                if i + 1 < len(spans):
                    # The buffer of block i - 1 is free once block i is in use.
                    block_t = self._to_device(block)
                    if self._device.type == "cuda":
                        torch.cuda.current_stream(self._device).synchronize()
                    pending = pool.submit(load, i + 1)
                else:
                    block_t = self._to_device(block)
                yield block_t

    def split(self, size: int) -> Iterator[torch.Tensor]:
        for block in self._device_blocks(self._blocks()):
            yield from (self._scaled(b) for b in block.split(size))

    def batches(
        self, size: int, shuffle: bool, generator: torch.Generator
    ) -> Iterator[torch.Tensor]:
        if not shuffle:
            yield from self.split(size)
            return
        spans = self._blocks()
        order = torch.randperm(len(spans), generator=generator, device=generator.device)
        for block in self._device_blocks([spans[i] for i in order.tolist()]):
            within = torch.randperm(
                block.shape[0], generator=generator, device=generator.device
            ).to(self._device)
            for idx in within.split(size):
                yield self._scaled(block[idx])

    def n_batches(self, size: int) -> int:
        return sum(
            math.ceil(self._selected(s, e).size / size) for s, e in self._blocks()
        )

    def _gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (positions among the selected rows), read block by block."""
        wanted = idx if self.rows is None else self.rows[idx]
        order = np.argsort(wanted, kind="stable")
        out = np.empty((len(wanted), self.X.shape[1]), dtype=self.X.dtype)
        sorted_rows = wanted[order]
        buf = self.reader.buffer()
        size = self.reader.block_rows
        for start in range(0, self.X.shape[0], size):
            stop = min(start + size, self.X.shape[0])
            lo, hi = np.searchsorted(sorted_rows, [start, stop])
            if lo == hi:
                continue
            block = self.reader.read(start, stop, buf)
            out[order[lo:hi]] = block[sorted_rows[lo:hi] - start]
        return out

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self._scaled(self._to_device(self._gather(idx.cpu().numpy())))

    def subset(self, idx: torch.Tensor) -> DenseRows | StreamedRows:
        """Rows ``idx``: in memory if they fit one block, else still streamed."""
        idx = idx.cpu().numpy()
        if len(idx) <= self.reader.block_rows:
            return DenseRows(self._to_device(self._gather(idx)), self.standardizer)
        selected = np.sort(idx if self.rows is None else self.rows[idx])
        block_bytes = self.reader.block_rows * self.reader.row_bytes
        return StreamedRows(
            self.X, self.standardizer, self._device, selected, block_bytes
        )
