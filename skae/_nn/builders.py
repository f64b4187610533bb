"""Assembling the networks from a builder of :mod:`skae.architectures`.

``build_autoencoder`` and ``build_vae`` add the code layers to the
builder's encoder trunk (the VAE also its likelihood);
:func:`activation_elements` sizes the memory one row takes inside a
network, on the meta device, for the tiles of :mod:`skae._data.tiles`.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from .exemplars import LabelExemplarPrior
from .layers import Builder, UnitNorm
from .likelihoods import LIKELIHOODS, GaussianLikelihood
from .models import (
    Autoencoder,
    ConditionalVAE,
    DataColumns,
    LinearPath,
    PCAPathAutoencoder,
    VariationalAutoencoder,
)
from .priors import LABEL_PRIORS, LabelGaussianPrior, VampPrior


def _probe(module: nn.Module, n_in: int) -> torch.Tensor:
    """Output of ``module`` for two rows of width ``n_in``, computed on the meta device.

    The probe runs where the module's parameters are (the meta device when
    built under ``torch.device("meta")``, as the estimators do) and in their
    dtype, so it costs no memory and no arithmetic.
    """
    param = next(itertools.chain(module.parameters(), module.buffers()), None)
    device = param.device if param is not None else torch.device("meta")
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    x = torch.empty((2, n_in), device=device, dtype=dtype)
    with torch.no_grad():
        return module(x)


def encoder_decoder(
    builder: Builder, n_features: int, n_components: int
) -> tuple[nn.Module, int, nn.Module]:
    """Call ``builder`` and check its pair: ``(encoder trunk, its width, decoder)``.

    The encoder must map ``(B, n_features)`` to ``(B, h)`` and the decoder
    ``(B, n_components)`` to ``(B, n_features)``; both are checked by a dry
    run (:func:`_probe`). Errors name the architecture and what is wrong.
    """
    name = getattr(builder, "__name__", None) or repr(builder)
    pair = builder(n_features, n_components)
    if not (
        isinstance(pair, tuple)
        and len(pair) == 2
        and all(isinstance(m, nn.Module) for m in pair)
    ):
        raise TypeError(
            f"the architecture {name} must return a tuple (encoder, decoder) of "
            f"two torch.nn.Module, got {type(pair).__name__}."
        )
    encoder, decoder = pair
    for part, module in (("encoder", encoder), ("decoder", decoder)):
        if next(module.buffers(), None) is not None:
            raise ValueError(
                f"the {part} of the architecture {name} holds buffers (e.g. batch "
                "normalisation statistics); skae architectures hold parameters "
                "only, and no layer may depend on the other rows of the batch."
            )
    checks = (("encoder", encoder, n_features), ("decoder", decoder, n_components))
    outputs = []
    for part, module, n_in in checks:
        try:
            out = _probe(module, n_in)
        except Exception as error:
            raise ValueError(
                f"the {part} of the architecture {name} fails on a batch of shape "
                f"(2, {n_in}): {type(error).__name__}: {error}"
            ) from error
        if not (isinstance(out, torch.Tensor) and out.dim() == 2 and len(out) == 2):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out)
            raise ValueError(
                f"the {part} of the architecture {name} must return a 2-D tensor "
                f"of shape (batch, width), got {shape} for a batch of 2 rows."
            )
        outputs.append(out)
    if outputs[1].shape[1] != n_features:
        raise ValueError(
            f"the decoder of the architecture {name} returns rows of "
            f"{outputs[1].shape[1]} values, expected n_features={n_features}."
        )
    return encoder, int(outputs[0].shape[1]), decoder


def _layers(module: nn.Module) -> list[nn.Module]:
    """The layers of a plain Sequential, else ``[module]``.

    Unpacking keeps the MLP's parameter names those of one flat Sequential.
    """
    return list(module) if type(module) is nn.Sequential else [module]


def build_autoencoder(
    n_features: int, n_components: int, builder: Builder, pca_path: bool = False
) -> Autoencoder:
    """Autoencoder of ``builder``'s pair, a linear code layer after its trunk.

    For the MLP the encoder is one Sequential of linear layers, as before
    architectures were pluggable (same parameter names). With ``pca_path``
    a :class:`PCAPathAutoencoder`.
    """
    trunk, n_hidden, decoder = encoder_decoder(builder, n_features, n_components)
    encoder = nn.Sequential(*_layers(trunk), nn.Linear(n_hidden, n_components))
    if pca_path:
        path = LinearPath(n_features, n_components)
        return PCAPathAutoencoder(encoder, decoder, path)
    return Autoencoder(encoder, decoder)


def build_vae(
    n_features: int,
    n_components: int,
    builder: Builder,
    likelihood: str,
    n_classes: int = 0,
    prior: str = "normal",
    n_pseudo_inputs: int = 500,
) -> VariationalAutoencoder:
    """VAE of ``builder``'s pair; the mean and log-variance heads follow the trunk.

    A multinomial VAE's trunk sees each row at unit L2 norm (:class:`UnitNorm`).
    With ``n_classes``, a :class:`ConditionalVAE` whose decoder is the
    builder's for ``n_components + n_classes`` inputs. ``prior`` is one of
    :data:`skae._nn.priors.PRIORS`: N(0, I), (conditional only) a Gaussian
    for each class that the estimator fits to the codes (``"class"``) or
    the posteriors of ``n_pseudo_inputs`` of each class's rows
    (``"exemplars"``), or (``"vamp"``, unconditional only) the VampPrior
    with ``n_pseudo_inputs`` pseudo-inputs.
    """
    trunk, n_hidden, decoder = encoder_decoder(
        builder, n_features, n_components + n_classes
    )
    if likelihood == "multinomial":
        trunk = nn.Sequential(UnitNorm(), *_layers(trunk))
    lik = LIKELIHOODS[likelihood]
    lik_module = lik(n_features) if lik is GaussianLikelihood else lik()
    if prior in LABEL_PRIORS and not n_classes:
        raise ValueError(f"prior={prior!r} needs labels: a conditional VAE.")
    if prior == "vamp" and n_classes:
        raise ValueError("prior='vamp' is for a VAE without labels.")
    if n_classes:
        lik_module = DataColumns(lik_module, n_features)
        p_z = None
        if prior == "class":
            p_z = LabelGaussianPrior(n_features, n_classes, n_components)
        elif prior == "exemplars":
            p_z = LabelExemplarPrior(
                n_features, n_classes, n_components, n_pseudo_inputs
            )
        return ConditionalVAE(
            trunk, n_hidden, n_components, decoder, lik_module, n_classes, p_z
        )
    p_z = VampPrior(n_pseudo_inputs, n_features) if prior == "vamp" else None
    return VariationalAutoencoder(
        trunk, n_hidden, n_components, decoder, lik_module, p_z
    )


def meta_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers are on the meta device.

    Nothing is shared with ``module`` and no weight is copied.
    """
    memo: dict[int, object] = {}
    for t in itertools.chain(module.parameters(), module.buffers()):
        meta = torch.empty_like(t, device="meta")
        if isinstance(t, nn.Parameter):
            meta = nn.Parameter(meta, requires_grad=t.requires_grad)
        memo[id(t)] = meta
    return copy.deepcopy(module, memo)


_VIEWS = (nn.Flatten, nn.Unflatten, nn.Identity)  # outputs that allocate nothing


def activation_elements(module: nn.Module, n_in: int) -> int:
    """Elements per row that ``module``'s layers output for rows of width ``n_in``.

    Counted with forward hooks on the leaf layers of a meta copy (nothing is
    computed); in-place layers and reshapes are not counted (they allocate
    nothing), nor the final output. An estimate of the memory one row
    takes, for the tile sizes of inference.
    """
    module = meta_copy(module)
    sizes: list[int] = []

    def count(layer: nn.Module, args: tuple, out: object) -> None:
        if isinstance(out, torch.Tensor) and not (
            getattr(layer, "inplace", False) or isinstance(layer, _VIEWS)
        ):
            sizes.append(out.numel() // 2)

    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    for leaf in leaves:
        leaf.register_forward_hook(count)
    out = _probe(module, n_in)
    total = sum(sizes)
    if sizes and sizes[-1] == out.numel() // 2:
        total -= sizes[-1]
    return total
