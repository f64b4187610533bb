"""PyTorch modules behind the estimators (pure torch, no scikit-learn import).

Each model exposes small named methods (``encode``, ``reparameterize``,
``decode``, ``reconstruct``) so that objectives in :mod:`skae._losses` and the
estimators can combine them without knowing the architecture. A new
architecture (convolutional, conditional, ...) only has to provide the same
methods.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

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


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation`` between them, none after."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i > 0:
            layers.append(activation_layer(activation))
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise every parameter of ``module`` from ``generator``.

    Layers with a ``weight`` and a ``bias`` (linear, convolutional) get
    PyTorch's default scheme, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); modules with
    a ``reset_parameters_from(generator)`` method initialise themselves. No
    global random state is read or written.
    """
    for sub in module.modules():
        if hasattr(sub, "reset_parameters_from"):
            sub.reset_parameters_from(generator)
        elif isinstance(getattr(sub, "weight", None), torch.Tensor) and (
            sub.weight.dim() >= 2
        ):
            fan_in = sub.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            with torch.no_grad():
                sub.weight.uniform_(-bound, bound, generator=generator)
                if getattr(sub, "bias", None) is not None:
                    sub.bias.uniform_(-bound, bound, generator=generator)


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


def output_layer(module: nn.Module, n_features: int) -> nn.Linear | None:
    """The linear layer that ends ``module.decoder`` with one bias per feature.

    The decoder's last layer (last of its ``nn.Linear`` and convolutional
    layers) when it is a ``nn.Linear`` with a bias of ``n_features`` entries
    and nothing but reshaping follows it; None otherwise (e.g. a transposed
    convolution, whose bias is per channel, or a final activation), so that
    callers can skip a data-dependent initialisation of its bias.
    """
    decoder = getattr(module, "decoder", None)
    if not isinstance(decoder, nn.Module):
        return None
    leaves = [m for m in decoder.modules() if not list(m.children())]
    layers = [
        i
        for i, m in enumerate(leaves)
        if isinstance(m, nn.Linear | nn.modules.conv._ConvNd)
    ]
    if not layers:
        return None
    last = leaves[layers[-1]]
    reshaping = (nn.Identity, nn.Flatten, nn.Unflatten)
    if not (
        isinstance(last, nn.Linear)
        and last.bias is not None
        and last.bias.shape == (n_features,)
        and all(isinstance(m, reshaping) for m in leaves[layers[-1] + 1 :])
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

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Point reconstruction in data space from a code."""
        return self.decode(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


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

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance."""
        h = self.encoder(x)
        log_var = self.log_var_head(h)
        bound = self.max_abs_log_var
        return self.mean_head(h), log_var.clamp(min=-bound, max=bound)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor
    ) -> torch.Tensor:
        """z = mu + sigma * eps, differentiable in mu and log_var."""
        return mu + torch.exp(0.5 * log_var) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output: the parameters of p(x|z) (mean or logits)."""
        return self.decoder(z)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z) in data space."""
        return self.likelihood.mean(self.decode(z))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, log_var = self.encode(x)
        eps = torch.randn(
            mu.shape, generator=generator, dtype=mu.dtype, device=mu.device
        )
        return self.decode(self.reparameterize(mu, log_var, eps)), mu, log_var


def build_autoencoder(
    n_features: int, n_components: int, hidden: list[int], activation: str
) -> Autoencoder:
    """MLP autoencoder with the decoder mirroring the encoder."""
    sizes = [n_features, *hidden, n_components]
    return Autoencoder(mlp(sizes, activation), mlp(sizes[::-1], activation))


def build_vae(
    n_features: int,
    n_components: int,
    hidden: list[int],
    activation: str,
    likelihood: str,
) -> VariationalAutoencoder:
    """MLP VAE; the encoder trunk ends in an activation before the two heads."""
    trunk = mlp([n_features, *hidden], activation) if hidden else nn.Sequential()
    if hidden:
        trunk.append(activation_layer(activation))
    if likelihood == "multinomial":
        trunk.insert(0, UnitNorm())
    decoder = mlp([n_components, *hidden[::-1], n_features], activation)
    n_hidden = hidden[-1] if hidden else n_features
    lik = LIKELIHOODS[likelihood]
    lik_module = lik(n_features) if lik is GaussianLikelihood else lik()
    return VariationalAutoencoder(trunk, n_hidden, n_components, decoder, lik_module)
