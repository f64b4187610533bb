"""Products whose result for a row does not depend on the other rows.

See :mod:`skae._data.tiles` for why: MKL's float32 matrix products give a
row a result that depends on its position in the batch unless the inner
dimension is a multiple of :data:`PAD_MULTIPLE`, and on the number of rows
below a threshold that grows with the inner dimension (and the thread
count) unless the inner dimension is at most :data:`INNER_CHUNK`. Inference
therefore pads inner dimensions and sums wide products chunk by chunk.

Element-wise activations have the same hazard: torch's sigmoid, SiLU and ELU
kernels compute the last few elements of a tensor (fewer than a vector's
worth, and where threads split it) with a scalar formula whose bits can
differ from the vectorized one, so an element's result depends on where it
sits, hence on the number of rows. Inference computes them from ``exp`` and
``expm1`` (whose kernels treat every element alike) and exact arithmetic
(:class:`InvariantSiLU` and friends), within two ulps of torch's.

Training never uses these: its products and activations stay as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

PAD_MULTIPLE = 16
INNER_CHUNK = 512


def split_inner(
    weight: torch.Tensor,
    multiple: int = PAD_MULTIPLE,
    chunk: int = INNER_CHUNK,
    detach: bool = True,
) -> tuple[torch.Tensor, ...]:
    """``weight`` (out x in) cut along its inner dimension into chunks of at most
    ``chunk`` columns, the last zero-padded to a multiple of ``multiple``
    (detached from autograd unless ``detach`` is false)."""
    if detach:
        weight = weight.detach()
    weight = nn.functional.pad(weight, (0, -weight.shape[1] % multiple))
    return tuple(
        weight[:, start : start + chunk].contiguous()
        for start in range(0, weight.shape[1], chunk)
    )


def chunked_product(x: torch.Tensor, chunks: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``x @ weight.T`` for the ``chunks`` of :func:`split_inner`, summed in order.

    Only the last chunk of ``x`` is copied (to pad it); the others are views.
    """
    out = None
    start = 0
    for weight in chunks:
        width = weight.shape[1]
        part = x[..., start : start + width]
        if part.shape[-1] < width:
            part = nn.functional.pad(part, (0, width - part.shape[-1]))
        product = nn.functional.linear(part, weight)
        out = product if out is None else out.add_(product)
        start += width
    return out


class ChunkedLinear(nn.Module):
    """A linear layer whose product is the same for a row in any tile.

    The inner dimension is zero-padded to a multiple of :data:`PAD_MULTIPLE`
    and summed in chunks of at most :data:`INNER_CHUNK` (see the module
    docstring); the result is exact, only the order of the sums is fixed.
    The bias is shared with the layer it was made from.
    """

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.chunks = split_inner(linear.weight)
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = chunked_product(x, self.chunks)
        return out if self.bias is None else out.add_(self.bias)


def invariant_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``1 / (1 + exp(-x))``: the same bits for an element wherever it sits."""
    return torch.neg(x).exp_().add_(1.0).reciprocal_()


class InvariantSigmoid(nn.Module):
    """``nn.Sigmoid`` for inference (see the module docstring)."""

    def __init__(self, layer: nn.Module | None = None) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return invariant_sigmoid(x)


class InvariantSiLU(nn.Module):
    """``nn.SiLU`` for inference: ``x / (1 + exp(-x))``."""

    def __init__(self, layer: nn.Module | None = None) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.neg(x).exp_().add_(1.0)


class InvariantELU(nn.Module):
    """``nn.ELU`` for inference: ``x`` where positive, else ``alpha * expm1(x)``."""

    def __init__(self, layer: nn.ELU) -> None:
        super().__init__()
        self.alpha = layer.alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, torch.expm1(x) * self.alpha)


# Activations whose torch kernels are not element-wise invariant, and theirs.
INVARIANT_ACTIVATIONS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Sigmoid: InvariantSigmoid,
    nn.SiLU: InvariantSiLU,
    nn.ELU: InvariantELU,
}


def needs_chunks(in_features: int) -> bool:
    """Whether a product over ``in_features`` needs :class:`ChunkedLinear`."""
    return in_features % PAD_MULTIPLE != 0 or in_features > INNER_CHUNK


def batch_invariant(module: nn.Module) -> nn.Module:
    """``module`` with its linear layers chunked where needed (:class:`ChunkedLinear`)
    and the activations of :data:`INVARIANT_ACTIVATIONS` replaced.

    A submodule with a ``batch_invariant()`` method makes its own products
    invariant.

    Modules on the way to a changed layer are shallow copies; everything else,
    the weights included, is shared with ``module``, which is left as it is.
    """
    if isinstance(module, nn.Linear):
        return ChunkedLinear(module) if needs_chunks(module.in_features) else module
    if type(module) in INVARIANT_ACTIVATIONS:
        return INVARIANT_ACTIVATIONS[type(module)](module)
    if hasattr(module, "batch_invariant"):  # e.g. skae._nn.models.LinearPath
        return module.batch_invariant()
    children = {name: batch_invariant(child) for name, child in module.named_children()}
    if all(children[name] is child for name, child in module.named_children()):
        return module
    clone = copy.copy(module)
    clone._modules = {**module._modules, **children}
    return clone


Product = Callable[[torch.Tensor], torch.Tensor]


def products(module: nn.Module) -> list[tuple[Product, int]]:
    """The matrix products of an inference module, each with its inner width.

    Those of :class:`ChunkedLinear` layers, of the chunked maps of a
    ``batch_invariant()`` copy (``project_chunks``, ``reconstruct_chunks``)
    and of plain ``nn.Linear`` layers, once each: what a tile plan checks
    one by one, each product's own output being far more sensitive to a
    change of kernel than what a whole network computes from it.
    """
    found: list[tuple[Product, int]] = []
    seen: set[int] = set()
    for sub in module.modules():
        for name in ("chunks", "project_chunks", "reconstruct_chunks"):
            chunks = getattr(sub, name, None)
            if isinstance(chunks, tuple) and chunks and id(chunks) not in seen:
                seen.add(id(chunks))
                width = sum(chunk.shape[1] for chunk in chunks)
                found.append((partial(chunked_product, chunks=chunks), width))
        if isinstance(sub, nn.Linear) and id(sub) not in seen:
            seen.add(id(sub))
            found.append((sub, sub.in_features))
    return found
