"""Batch-invariant inference in fixed-size tiles of bounded memory.

Matrix products in float32 give slightly different results for a row
depending on how many rows are multiplied together. To make every output row
a function of its input row alone (bit for bit, whatever else is in the
batch) inference always runs on tiles of exactly the same number of rows, the
last one padded with zeros. That number depends only on the model and the
operation: as many rows as fit a memory budget (given the bytes one row takes
inside the computation), at most :data:`CPU_TILE` (or :data:`CUDA_TILE`)
rows, at least one. Rows are copied into a reusable buffer tile by tile, so
no copy of the whole input is ever made.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ._scaling import torch_rows

CPU_TILE = 1024
CUDA_TILE = 8192
CPU_TILE_BYTES = 64 * 2**20
CUDA_TILE_BYTES = 1024 * 2**20

Prepare = Callable[[torch.Tensor, torch.Tensor], object]


def rows_in_budget(device: torch.device, row_bytes: int) -> int:
    """Rows of ``row_bytes`` each that fit the memory budget of ``device`` (>= 1)."""
    budget = CPU_TILE_BYTES if device.type == "cpu" else CUDA_TILE_BYTES
    return int(max(1, budget // max(row_bytes, 1)))


def tile_size(device: torch.device, row_bytes: int = 0) -> int:
    """Rows per inference tile on ``device`` for rows of ``row_bytes`` each."""
    most = CPU_TILE if device.type == "cpu" else CUDA_TILE
    return min(most, rows_in_budget(device, row_bytes))


def map_tiles(
    fn: Callable[[torch.Tensor], torch.Tensor],
    X: np.ndarray,
    out_shape: tuple[int, ...],
    dtype: np.dtype,
    device: torch.device,
    *,
    row_bytes: int = 0,
    compute_dtype: torch.dtype = torch.float32,
    prepare: Prepare | None = None,
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Apply ``fn`` to ``X`` tile by tile; return an array of ``dtype``.

    Rows of ``X`` are written into a ``compute_dtype`` buffer on the host by
    ``prepare(rows, buffer_rows)`` (a plain copy by default), moved to
    ``device`` and passed to ``fn``, which returns a tensor whose first
    dimension is the tile's; ``out_shape`` is the shape of one output row
    (``()`` for one number per row). ``finish`` post-processes each result
    on the host (e.g. undoes the scaling in float64). The tile passed to
    ``fn`` is scratch space, refilled before every call: ``fn`` may modify
    it in place.
    """
    n = X.shape[0]
    rows = tile_size(device, row_bytes)
    out = np.empty((n, *out_shape), dtype=dtype)
    buf = torch.zeros((rows, X.shape[1]), dtype=compute_dtype)
    if device.type == "cuda":
        buf = buf.pin_memory()
    with torch.inference_mode():
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            src = torch_rows(X, start, stop)
            if prepare is None:
                buf[: stop - start].copy_(src)
            else:
                prepare(src, buf[: stop - start])
            buf[stop - start :] = 0.0
            result = fn(buf.to(device, non_blocking=True))[: stop - start].cpu()
            if finish is not None:
                result = finish(result)
            out[start:stop] = result.numpy()
    return out
