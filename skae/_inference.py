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

import copy
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from ._rows import BlockReader, as_tensor, is_streamable
from ._scaling import torch_rows

CPU_TILE = 1024
CUDA_TILE = 8192
CPU_TILE_BYTES = 64 * 2**20
CUDA_TILE_BYTES = 1024 * 2**20

PAD_MULTIPLE = 16

Prepare = Callable[[torch.Tensor, torch.Tensor], object]


class PaddedLinear(nn.Module):
    """A linear layer computed with its inner dimension zero-padded.

    CPU matrix products (MKL) give a row a result that depends on its
    position in the batch when the inner dimension is not a multiple of 4
    or so (e.g. 30 inputs); padding it with zeros to a multiple of
    :data:`PAD_MULTIPLE` leaves the result exact and makes it the same in
    every position.
    """

    def __init__(self, linear: nn.Linear, multiple: int = PAD_MULTIPLE) -> None:
        super().__init__()
        self.pad = -linear.in_features % multiple
        self.weight = nn.functional.pad(linear.weight.detach(), (0, self.pad))
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(
            nn.functional.pad(x, (0, self.pad)), self.weight, self.bias
        )


def batch_invariant(module: nn.Module, multiple: int = PAD_MULTIPLE) -> nn.Module:
    """``module`` with its linear layers padded where needed (:class:`PaddedLinear`).

    A submodule with a ``batch_invariant(multiple)`` method pads its own
    products.

    Modules on the way to a padded layer are shallow copies; everything else,
    the weights included, is shared with ``module``, which is left as it is.
    """
    if isinstance(module, nn.Linear):
        return (
            PaddedLinear(module, multiple) if module.in_features % multiple else module
        )
    if hasattr(module, "batch_invariant"):  # e.g. skae._modules.LinearPath
        return module.batch_invariant(multiple)
    children = {
        name: batch_invariant(child, multiple)
        for name, child in module.named_children()
    }
    if all(children[name] is child for name, child in module.named_children()):
        return module
    clone = copy.copy(module)
    clone._modules = {**module._modules, **children}
    return clone


def rows_in_budget(device: torch.device, row_bytes: int) -> int:
    """Rows of ``row_bytes`` each that fit the memory budget of ``device`` (>= 1)."""
    budget = CPU_TILE_BYTES if device.type == "cpu" else CUDA_TILE_BYTES
    return int(max(1, budget // max(row_bytes, 1)))


def tile_size(device: torch.device, row_bytes: int = 0) -> int:
    """Rows per inference tile on ``device`` for rows of ``row_bytes`` each."""
    most = CPU_TILE if device.type == "cpu" else CUDA_TILE
    return min(most, rows_in_budget(device, row_bytes))


def _tile_reader(X, rows: int) -> Callable[[int, int], torch.Tensor]:
    """``read(start, stop)``: rows of ``X`` as a CPU tensor (a large memory-mapped
    array is read from its file, see :class:`skae._rows.BlockReader`)."""
    if not is_streamable(X):
        return partial(torch_rows, X)
    reader = BlockReader(X, rows)
    buf = reader.buffer()
    return lambda start, stop: as_tensor(reader.read(start, stop, buf))


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
    read = _tile_reader(X, rows)
    with torch.inference_mode():
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            src = read(start, stop)
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
