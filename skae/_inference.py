"""Batch-invariant inference in fixed-size tiles.

Matrix products in float32 give slightly different results for a row
depending on how many rows are multiplied together. To make every output row
a function of its input row alone (bit for bit, whatever else is in the
batch) inference always runs on tiles of exactly ``tile`` rows, the last one
padded with zeros. Rows are copied into a reusable float32 buffer tile by
tile, so no float32 or float64 copy of the whole input is ever made.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

CPU_TILE = 1024
CUDA_TILE = 8192


def tile_size(device: torch.device) -> int:
    """Rows per inference tile on ``device``."""
    return CPU_TILE if device.type == "cpu" else CUDA_TILE


def _torch_view(X: np.ndarray) -> torch.Tensor | None:
    """``X`` as a tensor sharing its memory, or None where torch cannot view it.

    Copying a tile through torch runs on all intra-op threads (and converts
    float64 to float32 on the way); torch cannot view arrays with negative
    strides and warns on read-only ones, which are copied by NumPy instead.
    """
    if X.flags.writeable and all(stride >= 0 for stride in X.strides):
        return torch.from_numpy(X)
    return None


def map_tiles(
    fn: Callable[[torch.Tensor], torch.Tensor],
    X: np.ndarray,
    out_shape: tuple[int, ...],
    dtype: np.dtype,
    device: torch.device,
) -> np.ndarray:
    """Apply ``fn`` to ``X`` tile by tile; return an array of ``dtype``.

    ``fn`` maps a float32 tensor of shape ``(tile, n_features)`` on ``device``
    to a tensor whose first dimension is ``tile``; ``out_shape`` is the shape
    of one output row (``()`` for one number per row). The tile passed to
    ``fn`` is scratch space, refilled before every call: ``fn`` may modify it
    in place.
    """
    n = X.shape[0]
    tile = tile_size(device)
    out = np.empty((n, *out_shape), dtype=dtype)
    buf = torch.zeros((tile, X.shape[1]))
    if device.type == "cuda":
        buf = buf.pin_memory()
    buf_np = buf.numpy()
    X_view = _torch_view(X)
    with torch.inference_mode():
        for start in range(0, n, tile):
            stop = min(start + tile, n)
            if X_view is not None:
                buf[: stop - start].copy_(X_view[start:stop])
            else:
                buf_np[: stop - start] = X[start:stop]
            buf_np[stop - start :] = 0.0
            result = fn(buf.to(device, non_blocking=True))
            out[start:stop] = result[: stop - start].cpu().numpy()
    return out
