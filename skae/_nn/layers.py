"""Layers and their set-up: activations, initialisation, the output layer.

``Builder`` is the signature of :mod:`skae.architectures`' builders (and
the user's own): ``builder(n_features, n_latent) -> (encoder trunk,
decoder)``. Pure torch, no scikit-learn import.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

Builder = Callable[[int, int], tuple[nn.Module, nn.Module]]


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def activation_layer(name: str) -> nn.Module:
    """The activation ``name``, in place where PyTorch offers it.

    Every activation follows a linear layer whose output nothing else reads,
    so computing it in place is safe under autograd and saves one
    allocation per layer and batch.
    """
    cls = ACTIVATIONS[name]
    return cls(inplace=True) if cls in (nn.ReLU, nn.ELU, nn.SiLU) else cls()


def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise every parameter of ``module`` from ``generator``.

    Layers with a ``weight`` of two or more dimensions and a ``bias``
    (linear, convolutional) get PyTorch's default scheme,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); a 1-D ``weight`` (normalisation
    layers) is set to ones and its bias to zeros; modules with a
    ``reset_parameters_from(generator)`` method initialise themselves (and
    their children). No global random state is read or written. Raises a
    ValueError naming any other parameter, which would stay uninitialised.
    """
    done: set[int] = set()
    for sub in module.modules():
        if any(id(p) in done for p in sub.parameters(recurse=False)):
            continue  # initialised by a parent's reset_parameters_from
        if hasattr(sub, "reset_parameters_from"):
            sub.reset_parameters_from(generator)
            done.update(id(p) for p in sub.parameters())
            continue
        weight = getattr(sub, "weight", None)
        bias = getattr(sub, "bias", None)
        if not isinstance(weight, torch.Tensor):
            continue
        with torch.no_grad():
            if weight.dim() >= 2:
                fan_in = weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                weight.uniform_(-bound, bound, generator=generator)
                if isinstance(bias, torch.Tensor):
                    bias.uniform_(-bound, bound, generator=generator)
            else:
                weight.fill_(1.0)
                if isinstance(bias, torch.Tensor):
                    bias.zero_()
        done.update(id(p) for p in (weight, bias) if isinstance(p, torch.Tensor))
    missed = [name for name, p in module.named_parameters() if id(p) not in done]
    if missed:
        raise ValueError(
            f"cannot initialise the parameters {missed[:5]} of the module: skae "
            "initialises the 'weight' and 'bias' of layers and calls a "
            "reset_parameters_from(generator) method where a module has one; "
            "give the module holding them such a method."
        )


class UnitNorm(nn.Module):
    """Scale each row to unit L2 norm (all-zero rows stay zero)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1)


def starts_with_unit_norm(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.Sequential)
        and len(module) > 0
        and isinstance(module[0], UnitNorm)
    )


def final_layer(part: nn.Module) -> nn.Module | None:
    """The linear or convolutional layer whose output is ``part``'s output.

    The last of ``part``'s ``nn.Linear`` and convolutional layers when
    nothing but reshaping follows it; None otherwise (e.g. a final
    activation, or no such layer).
    """
    leaves = [m for m in part.modules() if not list(m.children())]
    layers = [
        i
        for i, m in enumerate(leaves)
        if isinstance(m, nn.Linear | nn.modules.conv._ConvNd)
    ]
    if not layers:
        return None
    reshaping = (nn.Identity, nn.Flatten, nn.Unflatten)
    if not all(isinstance(m, reshaping) for m in leaves[layers[-1] + 1 :]):
        return None
    return leaves[layers[-1]]


def output_layer(module: nn.Module, n_features: int) -> nn.Linear | None:
    """The linear layer that ends ``module.decoder`` with one bias per feature.

    The decoder's :func:`final_layer` when it is a ``nn.Linear`` with a
    bias of ``n_features`` entries; None otherwise (e.g. a transposed
    convolution, whose bias is per channel, or a final activation), so that
    callers can skip a data-dependent initialisation of its bias.
    """
    decoder = getattr(module, "decoder", None)
    if not isinstance(decoder, nn.Module):
        return None
    last = final_layer(decoder)
    if not (
        isinstance(last, nn.Linear)
        and last.bias is not None
        and last.bias.shape == (n_features,)
    ):
        return None
    return last
