"""Batch-invariant inference in tiles of bounded memory.

Matrix products in float32 give slightly different results for a row
depending on how many rows are multiplied together and where the row sits.
To make every output row a function of its input row alone (bit for bit,
whatever else is in the call) inference runs on tiles of a few fixed sizes,
the last one padded with zeros, through linear layers whose products cannot
tell these sizes apart:

* a row's position in a tile does not matter once the inner dimension of
  a product is a multiple of 16 (MKL's kernels treat rows alike then);
* the number of rows does not matter once the inner dimension is at most
  512 and the tile is not too small (below a few rows MKL switches to
  small-matrix kernels, whose threshold grows with the inner dimension and
  the thread count); wider products are summed chunk by chunk
  (:class:`skae._nn.invariant.ChunkedLinear`).

A :class:`TilePlan` checks this on the fitted model once, on a random probe,
for the operation, the device and the thread count at hand: tile sizes
halve from the largest down to the smallest that still gives every row the
largest tile's result, so a call of a few rows runs on a tile of a few rows
(fast single-row calls) and a large call on tiles of the largest size.
Where even the next size down fails (another BLAS, a GPU), every tile
has the largest size. That size is as many rows as fit a memory
budget (given the bytes one row takes inside the computation), at most
:data:`CPU_TILE` (or :data:`CUDA_TILE`) rows, at least one. Rows are copied
into a tile buffer tile by tile, so no copy of the whole input is ever made.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from .blocks import BlockReader, as_tensor, is_streamable, torch_rows

CPU_TILE = 1024
CUDA_TILE = 8192
CPU_TILE_BYTES = 64 * 2**20
CUDA_TILE_BYTES = 1024 * 2**20

# The smallest tile a plan tries (MKL on x86 gives 4-row tiles the
# results of large ones, not 1- or 2-row tiles).
MIN_TILE = 1
# Probe rows compared at each smaller tile size (see plan_tiles).
CHECKED_ROWS = 64

Prepare = Callable[[torch.Tensor, torch.Tensor], object]


def rows_in_budget(device: torch.device, row_bytes: int) -> int:
    """Rows of ``row_bytes`` each that fit the memory budget of ``device`` (>= 1)."""
    budget = CPU_TILE_BYTES if device.type == "cpu" else CUDA_TILE_BYTES
    return int(max(1, budget // max(row_bytes, 1)))


def tile_size(device: torch.device, row_bytes: int = 0) -> int:
    """Rows per inference tile on ``device`` for rows of ``row_bytes`` each."""
    most = CPU_TILE if device.type == "cpu" else CUDA_TILE
    return min(most, rows_in_budget(device, row_bytes))


class TilePlan:
    """Tile sizes of one operation of one fitted model: ``sizes``, ascending.

    The largest size holds as many rows as the memory budget allows; the
    smaller ones (a ladder, each twice the last) give the same result for
    every row (see :func:`plan_tiles`), so a call
    of ``n`` rows runs on tiles of the largest size and its last (or only)
    tile on the smallest size that holds the rest.
    """

    def __init__(self, sizes: tuple[int, ...]) -> None:
        self.sizes = sizes
        self.largest = sizes[-1]

    def tile_for(self, n_rows: int) -> int:
        """Rows of the tile that computes the last ``n_rows`` (<= largest) rows."""
        for size in self.sizes:
            if size >= n_rows:
                return size
        return self.largest


def tile_ladder(largest: int) -> tuple[int, ...]:
    """:data:`MIN_TILE`, twice that, ... below ``largest``, then ``largest``."""
    sizes = []
    size = MIN_TILE
    while size < largest:
        sizes.append(size)
        size *= 2
    return (*sizes, largest)


def plan_tiles(
    fn: Callable[[torch.Tensor], torch.Tensor],
    n_in: int,
    device: torch.device,
    largest: int,
    compute_dtype: torch.dtype = torch.float32,
    smallest: int = MIN_TILE,
) -> TilePlan:
    """The tiles ``fn`` may run on, checked on a random probe of ``n_in`` columns.

    ``fn`` maps a tile to results row by row (as :func:`map_tiles` calls
    it). The smaller sizes of :func:`tile_ladder`, from the largest down,
    are kept while ``fn`` gives every row of the probe's first
    :data:`CHECKED_ROWS` rows (at least two tiles), run tile by tile, and
    of its last tile exactly (bit for bit) the result of the largest tile;
    the first size that fails ends the ladder (the plan may hold the
    largest size alone). Sizes below ``smallest`` are not tried. The probe
    is drawn from a fixed seed: no global random state is used.
    """
    sizes = tuple(size for size in tile_ladder(largest) if size >= smallest)
    if len(sizes) == 1:
        return TilePlan(sizes)
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn((largest, n_in), generator=generator, dtype=compute_dtype)
    kept = [largest]
    with torch.inference_mode():
        reference = fn(probe.clone().to(device)).cpu()
        for size in reversed(sizes[:-1]):
            # Every row of the probe's first CHECKED_ROWS (at least two tiles)
            # and its last tile: a few rows may agree by chance.
            starts = {*range(0, max(CHECKED_ROWS, 2 * size), size), largest - size}
            for start in sorted(s for s in starts if s + size <= largest):
                tile = probe[start : start + size].clone().to(device)
                result = fn(tile).cpu()
                expected = reference[start : start + size]
                if not torch.allclose(result, expected, rtol=0, atol=0, equal_nan=True):
                    return TilePlan(tuple(reversed(kept)))
            kept.append(size)
    return TilePlan(tuple(reversed(kept)))


def _tile_reader(X, rows: int) -> Callable[[int, int], torch.Tensor]:
    """``read(start, stop)``: rows of ``X`` as a CPU tensor (a large memory-mapped
    array is read from its file, see :class:`skae._data.blocks.BlockReader`)."""
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
    plan: TilePlan | None = None,
) -> np.ndarray:
    """Apply ``fn`` to ``X`` tile by tile; return an array of ``dtype``.

    Rows of ``X`` are written into a ``compute_dtype`` buffer on the host by
    ``prepare(rows, buffer_rows)`` (a plain copy by default), moved to
    ``device`` and passed to ``fn``, which returns a tensor whose first
    dimension is the tile's; ``out_shape`` is the shape of one output row
    (``()`` for one number per row). ``finish`` post-processes each result
    on the host (e.g. undoes the scaling in float64). The tile passed to
    ``fn`` is scratch space, refilled before every call: ``fn`` may modify
    it in place. Tiles have the sizes of ``plan`` (:func:`plan_tiles`), or
    all the size that ``row_bytes`` fits in the budget (:func:`tile_size`).
    """
    n = X.shape[0]
    if plan is None:
        plan = TilePlan((tile_size(device, row_bytes),))
    rows = plan.tile_for(min(n, plan.largest))
    out = np.empty((n, *out_shape), dtype=dtype)
    buf = torch.zeros((rows, X.shape[1]), dtype=compute_dtype)
    if device.type == "cuda":
        buf = buf.pin_memory()
    read = _tile_reader(X, rows)
    with torch.inference_mode():
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            tile = buf[: plan.tile_for(stop - start)]
            src = read(start, stop)
            if prepare is None:
                tile[: stop - start].copy_(src)
            else:
                prepare(src, tile[: stop - start])
            tile[stop - start :] = 0.0
            result = fn(tile.to(device, non_blocking=True))[: stop - start].cpu()
            if finish is not None:
                result = finish(result)
            out[start:stop] = result.numpy()
    return out
