"""Training rows: where the training loop draws its batches from.

Every kind of training data offers the same small interface, so that the
loop (:mod:`skae._training`) and the estimators never branch on it:
``shape``, ``device``, ``rows[idx]`` (dense, scaled float32 rows),
``subset(idx)``, ``split(size)`` (consecutive batches), ``batches(size,
shuffle, generator)`` (one epoch) and ``n_batches(size)``.

* :class:`DenseRows`: an in-memory array, kept on the training device in its
  own dtype (uint8 images stay uint8: a quarter of float32) and scaled to
  float32 one batch at a time; float64 input is scaled to float32 once.
* :class:`skae._sparse.SparseRows`: CSR rows, densified one batch at a time.
* :class:`StreamedRows`: a memory-mapped array larger than a block, read
  from disk block by block in a shuffled block order (out-of-core), never
  held whole in memory.
"""

from __future__ import annotations

import math
import mmap
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ._scaling import Standardizer

# Raw bytes per block of a streamed array (one block is read ahead).
STREAM_BLOCK_BYTES = 64 * 2**20


def as_tensor(X: np.ndarray) -> torch.Tensor:
    """``X`` as a CPU tensor sharing its memory (read-only arrays included).

    skae never writes to it; torch's warning about read-only arrays is
    therefore not the caller's concern. Arrays torch cannot view (negative
    strides) are copied.
    """
    if any(stride < 0 for stride in X.strides):
        X = np.ascontiguousarray(X)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(X)


# Unsigned dtypes that CUDA does not index, and the wider ones that hold them.
_CUDA_WIDER = {
    torch.uint16: torch.int32,
    torch.uint32: torch.int64,
    torch.uint64: torch.float64,
}


def to_device(
    rows: torch.Tensor, device: torch.device, non_blocking: bool = False
) -> torch.Tensor:
    """``rows`` on ``device``, widened where CUDA cannot index their dtype."""
    device = torch.device(device)
    if device.type == "cuda" and rows.dtype in _CUDA_WIDER:
        rows = rows.to(_CUDA_WIDER[rows.dtype])  # on the host: a copy
    return rows.to(device, non_blocking=non_blocking)


def _shuffled_batches(rows, n: int, size: int, generator: torch.Generator):
    """Rows of one epoch in the order of a permutation drawn from ``generator``."""
    order = torch.randperm(n, generator=generator, device=generator.device)
    return (rows[idx] for idx in order.to(rows.device).split(size))


class DenseRows:
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

    def batches(
        self, size: int, shuffle: bool, generator: torch.Generator
    ) -> Iterator[torch.Tensor]:
        if shuffle:
            return _shuffled_batches(self, self.shape[0], size, generator)
        return self.split(size)

    def n_batches(self, size: int) -> int:
        return math.ceil(self.shape[0] / size)


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


def is_streamable(X) -> bool:
    """Whether ``X`` is a memory-mapped array too large to read in one block."""
    return isinstance(X, np.memmap) and X.nbytes > STREAM_BLOCK_BYTES


class BlockReader:
    """Reads blocks of consecutive rows of a memory-mapped array.

    A top-level, C-contiguous :class:`numpy.memmap` is read with plain file
    reads into reusable buffers, which keeps its pages in the page cache but
    out of this process's resident memory; any other memory-mapped array is
    read through its mapping (the pages it touches then count as resident).
    """

    def __init__(self, X: np.memmap, block_rows: int, pin: bool = False) -> None:
        self.X = X
        self.block_rows = block_rows
        self.row_bytes = X.dtype.itemsize * int(np.prod(X.shape[1:]))
        self.direct = (
            isinstance(X.base, mmap.mmap)
            and X.flags.c_contiguous
            and X.filename is not None
        )
        self.pin = pin

    def buffer(self) -> np.ndarray:
        """A buffer for one block (pinned host memory for transfers to CUDA)."""
        shape = (self.block_rows, *self.X.shape[1:])
        if self.pin:
            t = torch.empty(
                (self.block_rows * self.row_bytes,), dtype=torch.uint8, pin_memory=True
            )
            return t.numpy().view(self.X.dtype).reshape(shape)
        return np.empty(shape, dtype=self.X.dtype)

    def read(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Rows ``start:stop`` into ``out[: stop - start]``; returns that view."""
        view = out[: stop - start]
        if not self.direct:
            np.copyto(view, self.X[start:stop])
            return view
        with open(self.X.filename, "rb", buffering=0) as f:
            f.seek(self.X.offset + start * self.row_bytes)
            target = memoryview(view.reshape(-1).view(np.uint8))
            done = 0
            while done < len(target):
                n = f.readinto(target[done:])
                if not n:
                    raise OSError(
                        f"{self.X.filename} ended before row {stop}: the file "
                        "is shorter than the memory-mapped array."
                    )
                done += n
        return view

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, rows)`` of every block in order (one buffer, reused)."""
        buf = self.buffer()
        n = self.X.shape[0]
        for start in range(0, n, self.block_rows):
            yield start, self.read(start, min(start + self.block_rows, n), buf)


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
        Raw bytes per block (None: :data:`STREAM_BLOCK_BYTES`).
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
        block_bytes = STREAM_BLOCK_BYTES if block_bytes is None else block_bytes
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


def make_rows(X, standardizer: Standardizer, device: torch.device):
    """The training rows of validated ``X`` (dense, sparse or memory-mapped)."""
    import scipy.sparse as sp

    from ._sparse import SparseRows

    if sp.issparse(X):
        return SparseRows.from_scipy(X, standardizer, device)
    if is_streamable(X):
        return StreamedRows(X, standardizer, device)
    return DenseRows.from_numpy(X, standardizer, device)
