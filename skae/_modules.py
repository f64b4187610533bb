"""PyTorch modules behind the estimators (pure torch, no scikit-learn import).

Each model exposes small named methods (``encode``, ``reparameterize``,
``decode``, ``reconstruct``) so that objectives in :mod:`skae._losses` and the
estimators can combine them without knowing the architecture. The layers
come from a builder of :mod:`skae.architectures` (or the user's own):
``build_autoencoder`` and ``build_vae`` add the code layers to its encoder
trunk.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable

import torch
from torch import nn

from ._invariant import chunked_product, split_inner

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


class GaussianLikelihood(nn.Module):
    """Diagonal Gaussian p(x|z) with a learned per-feature scale.

    The decoder output is the mean. ``log_scale`` is clamped from below so that
    constant features cannot drive the likelihood to infinity.
    """

    min_log_scale = math.log(1e-3)

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(n_features, dtype=torch.float32))

    def reset_parameters_from(self, generator: torch.Generator) -> None:
        with torch.no_grad():
            self.log_scale.zero_()

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Per-sample log-density of ``x`` given decoder output ``out``."""
        log_scale = self.log_scale.clamp(min=self.min_log_scale)
        z = (x - out) * torch.exp(-log_scale)
        return -(0.5 * z.square() + log_scale + 0.5 * math.log(2 * math.pi)).sum(-1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z) from the decoder output."""
        return out

    def output_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Decoder output whose ``mean`` is the per-feature ``mean``: itself."""
        return mean


class BernoulliLikelihood(nn.Module):
    """Independent Bernoulli p(x|z); the decoder output is the logits."""

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Per-sample log-probability of ``x`` in [0, 1] given logits ``out``."""
        return -nn.functional.binary_cross_entropy_with_logits(
            out, x, reduction="none"
        ).sum(-1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z) (pixel probabilities) from the logits."""
        return torch.sigmoid(out)

    def output_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Logits whose probabilities are ``mean``, clamped to [1e-3, 1 - 1e-3]."""
        return torch.logit(mean.clamp(1e-3, 1 - 1e-3))


class MultinomialLikelihood(nn.Module):
    """Multinomial p(x|z) over the features (Mult-VAE, Liang et al., 2018).

    The decoder output is the logits of a distribution over the features;
    ``x`` holds non-negative counts (or weights) per feature. The
    log-likelihood is ``sum_j x_j log softmax(out)_j``, without the
    multinomial coefficient, which does not depend on the model. The encoder
    of a multinomial VAE sees each row scaled to unit L2 norm
    (:class:`UnitNorm`).
    """

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Per-sample log-probability of counts ``x`` given logits ``out``."""
        return (x * torch.log_softmax(out, dim=-1)).sum(-1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """The feature probabilities (softmax of the logits)."""
        return torch.softmax(out, dim=-1)

    def output_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Logits whose probabilities are the normalised mean counts ``mean``.

        Probabilities are clamped from below at a thousandth of the uniform
        one, so features never seen get a finite logit; all-zero counts give
        uniform logits.
        """
        n_features = mean.shape[-1]
        total = mean.sum(-1, keepdim=True).clamp(min=torch.finfo(mean.dtype).tiny)
        probs = mean / total
        return torch.log(probs.clamp(min=1e-3 / n_features))


class UnitNorm(nn.Module):
    """Scale each row to unit L2 norm (all-zero rows stay zero)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1)


def _starts_with_unit_norm(module: nn.Module) -> bool:
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


LIKELIHOODS: dict[str, type[nn.Module]] = {
    "gaussian": GaussianLikelihood,
    "bernoulli": BernoulliLikelihood,
    "multinomial": MultinomialLikelihood,
}


class Autoencoder(nn.Module):
    """Deterministic autoencoder: ``decode(encode(x))``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The codes of rows ``x`` (what ``transform`` returns)."""
        return self.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Point reconstruction in data space from a code."""
        return self.decode(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class LinearPath(nn.Module):
    """PCA's maps: ``x -> (x - offset) @ weight.T``, ``z -> z @ weight + offset``.

    ``weight`` (``n_components`` x ``n_features``) and ``offset``
    (``n_features``) start at zero; the estimator sets them to the principal
    axes and the mean of the training rows. :meth:`batch_invariant` gives
    the copy that inference uses (see :mod:`skae._data.tiles`).
    """

    def __init__(self, n_features: int, n_components: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_components, n_features))
        self.offset = nn.Parameter(torch.empty(n_features))

    def reset_parameters_from(self, generator: torch.Generator) -> None:
        with torch.no_grad():
            self.weight.zero_()
            self.offset.zero_()

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x - self.offset, self.weight)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(z, self.weight.T) + self.offset

    def batch_invariant(self) -> nn.Module:
        """The same maps with batch-invariant products (:mod:`skae._invariant`)."""
        return _InvariantLinearPath(self)


class _InvariantLinearPath(nn.Module):
    """:class:`LinearPath` for inference: products chunked as by ``ChunkedLinear``."""

    def __init__(self, path: LinearPath) -> None:
        super().__init__()
        self.offset = path.offset
        self.project_chunks = split_inner(path.weight)
        self.reconstruct_chunks = split_inner(path.weight.T)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return chunked_product(x - self.offset, self.project_chunks)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return chunked_product(z, self.reconstruct_chunks) + self.offset


class PCAPathAutoencoder(Autoencoder):
    """Autoencoder whose networks correct a linear (PCA) path.

    ``encode(x) = path.project(x) + encoder(x)`` and ``decode(z) =
    path.reconstruct(z) + decoder(z)``: with the path at the principal axes
    and both networks' final layers at zero, the model starts as PCA.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, path: LinearPath):
        super().__init__(encoder, decoder)
        self.path = path

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.path.project(x) + self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.path.reconstruct(z) + self.decoder(z)


class VariationalAutoencoder(nn.Module):
    """VAE with a diagonal Gaussian posterior q(z|x) and prior N(0, I).

    The posterior log-variance is clipped to +-``max_abs_log_var`` (standard
    deviations from 3e-7 to 3e6, far outside what a fit reaches), so that
    rows far from the training data get a finite, very low score instead of
    an infinite variance and NaN.
    """

    max_abs_log_var = 30.0

    def __init__(
        self,
        encoder: nn.Module,
        n_hidden: int,
        n_components: int,
        decoder: nn.Module,
        likelihood: nn.Module,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.mean_head = nn.Linear(n_hidden, n_components)
        self.log_var_head = nn.Linear(n_hidden, n_components)
        self.decoder = decoder
        self.likelihood = likelihood

    def encode(
        self,
        x: torch.Tensor,
        corrupt: Callable | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of rows ``x``.

        With ``corrupt``, of ``corrupt(x, generator)`` (denoising). A
        corruption whose ``after_unit_norm`` attribute is true acts on the
        rows as the trunk's leading :class:`UnitNorm` returns them: the
        encoder normalises each row, then corrupts it (Mult-VAE's input
        dropout, :class:`skae._corruption.InputDropout`).
        """
        return self.heads(self.features(x, corrupt, generator))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior means of rows ``x`` (what ``transform`` returns)."""
        return self.encode(x)[0]

    def features(
        self,
        x: torch.Tensor,
        corrupt: Callable | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The encoder trunk's output for rows ``x`` (corrupted first if asked)."""
        layers = self.encoder
        if corrupt is not None:
            if getattr(corrupt, "after_unit_norm", False) and _starts_with_unit_norm(
                layers
            ):
                x, layers = layers[0](x), layers[1:]
            x = corrupt(x, generator)
        return layers(x)

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and (clipped) log-variance from the trunk's features."""
        log_var = self.log_var_head(h)
        bound = self.max_abs_log_var
        return self.mean_head(h), log_var.clamp(min=-bound, max=bound)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor
    ) -> torch.Tensor:
        """z = mu + sigma * eps, differentiable in mu and log_var."""
        return mu + torch.exp(0.5 * log_var) * eps

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output: the parameters of p(x|z) (mean or logits).

        ``x`` holds the rows the codes were drawn for, row by row; this model
        ignores it, a :class:`ConditionalVAE` reads their label from it.
        """
        return self.decoder(z)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z) in data space."""
        return self.likelihood.mean(self.decode(z))

    def forward(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        corrupt: Callable | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, log_var = self.encode(x, corrupt, generator)
        eps = torch.randn(
            mu.shape, generator=generator, dtype=mu.dtype, device=mu.device
        )
        return self.decode(self.reparameterize(mu, log_var, eps), x), mu, log_var


class DataColumns(nn.Module):
    """The likelihood ``likelihood`` of the first ``n_features`` columns of rows.

    The rows a :class:`ConditionalVAE` reads are the data followed by a
    one-hot label; the likelihood scores the data only.
    """

    def __init__(self, likelihood: nn.Module, n_features: int) -> None:
        super().__init__()
        self.likelihood = likelihood
        self.n_features = n_features

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Per-sample log-probability of the data columns of ``x``."""
        return self.likelihood.log_prob(x[..., : self.n_features], out)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return self.likelihood.mean(out)

    def output_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Decoder output for the per-column ``mean`` of rows (data columns only)."""
        return self.likelihood.output_for_mean(mean[..., : self.n_features])


class ConditionalVAE(VariationalAutoencoder):
    """VAE conditioned on a label (Sohn et al., 2015): q(z|x, y) and p(x|z, y).

    Rows are ``[x, onehot(y)]``: the data's ``n_features`` columns, then the
    one-hot label over ``n_classes`` classes, so that labels travel with the
    rows through batching. The encoder's trunk sees ``x`` and the posterior
    heads see ``[trunk(x), onehot(y)]`` (for an architecture without hidden
    layers, ``[x, onehot(y)]``); the decoder sees ``[z, onehot(y)]``. Any
    architecture's pair works unchanged: the trunk reads the data as they
    are (an image for a convolutional one) and the decoder is built for
    ``n_components + n_classes`` inputs. The likelihood scores ``x`` only.

    ``decode(z, x)`` appends the label of rows ``x`` to codes ``z``;
    ``decode(z)`` and ``reconstruct(z)`` take labelled codes
    ``[z, onehot(y)]``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_hidden: int,
        n_components: int,
        decoder: nn.Module,
        likelihood: nn.Module,
        n_classes: int,
    ) -> None:
        n_features = likelihood.n_features
        super().__init__(
            encoder, n_hidden + n_classes, n_components, decoder, likelihood
        )
        self.n_features = n_features
        self.n_classes = n_classes

    def encode(
        self,
        x: torch.Tensor,
        corrupt: Callable | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of rows ``[x, onehot(y)]``.

        A corruption changes the data columns only.
        """
        data, label = x[:, : self.n_features], x[:, self.n_features :]
        h = self.features(data, corrupt, generator)
        return self.heads(torch.cat([h, label.to(h.dtype)], dim=1))

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output for codes ``z`` with the label of rows ``x``.

        Without ``x``, ``z`` are labelled codes ``[z, onehot(y)]``.
        """
        if x is not None:
            z = torch.cat([z, x[:, self.n_features :].to(z.dtype)], dim=1)
        return self.decoder(z)


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
) -> VariationalAutoencoder:
    """VAE of ``builder``'s pair; the mean and log-variance heads follow the trunk.

    A multinomial VAE's trunk sees each row at unit L2 norm (:class:`UnitNorm`).
    With ``n_classes``, a :class:`ConditionalVAE` whose decoder is the
    builder's for ``n_components + n_classes`` inputs.
    """
    trunk, n_hidden, decoder = encoder_decoder(
        builder, n_features, n_components + n_classes
    )
    if likelihood == "multinomial":
        trunk = nn.Sequential(UnitNorm(), *_layers(trunk))
    lik = LIKELIHOODS[likelihood]
    lik_module = lik(n_features) if lik is GaussianLikelihood else lik()
    if n_classes:
        lik_module = DataColumns(lik_module, n_features)
        return ConditionalVAE(
            trunk, n_hidden, n_components, decoder, lik_module, n_classes
        )
    return VariationalAutoencoder(trunk, n_hidden, n_components, decoder, lik_module)


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
