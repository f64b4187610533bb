"""Reading rows: blocks of an array, on disk or in memory, as CPU tensors.

The lowest step of the data layer, with no import from the rest of skae:
:class:`BlockReader` reads consecutive rows of a memory-mapped array with
plain file reads, :func:`row_blocks` walks any array a block at a time, and
:func:`as_tensor` / :func:`torch_rows` / :func:`to_device` turn rows into
tensors without copying where torch allows it.
"""

from __future__ import annotations

import mmap
import warnings
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

# Rows per block when statistics or whole arrays are computed block by block.
BLOCK_ROWS = 4096
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


def torch_rows(X: np.ndarray, start: int, stop: int) -> torch.Tensor:
    """Rows ``start:stop`` of ``X`` as a CPU tensor, shared with ``X`` where possible.

    Torch cannot view arrays with negative strides and warns on read-only
    ones (e.g. ``joblib.load(..., mmap_mode="r")``): those rows are copied.
    Rows of a sparse matrix are densified (one tile or block at a time).
    """
    rows = X[start:stop]
    if sp.issparse(rows):
        return torch.from_numpy(rows.toarray())
    if rows.flags.writeable and all(stride >= 0 for stride in rows.strides):
        return torch.from_numpy(rows)
    return torch.from_numpy(np.array(rows))


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


def row_blocks(X: np.ndarray) -> Iterator[np.ndarray]:
    """Consecutive blocks of rows of ``X``; a large memory-mapped array is read
    from its file (see :class:`BlockReader`), not through its mapping.
    """
    if is_streamable(X):
        for _, block in BlockReader(X, BLOCK_ROWS).blocks():
            yield block
        return
    for start in range(0, X.shape[0], BLOCK_ROWS):
        yield X[start : start + BLOCK_ROWS]
