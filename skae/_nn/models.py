"""The networks behind the estimators (pure torch, no scikit-learn import).

Each model exposes small named methods (``encode``, ``reparameterize``,
``decode``, ``reconstruct``) so that the objectives of
:mod:`skae._nn.objectives` and the estimators can combine them without
knowing the architecture; :mod:`skae._nn.builders` assembles them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .invariant import chunked_product, split_inner
from .layers import starts_with_unit_norm
from .priors import StandardNormalPrior


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
        """The same maps with batch-invariant products (:mod:`skae._nn.invariant`)."""
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
    """VAE with a diagonal Gaussian posterior q(z|x) and a prior p(z).

    The prior is N(0, I) unless ``prior`` gives another module of
    :mod:`skae._nn.priors`; one with a ``bind`` method (the VampPrior) is
    bound to this model's encoder.

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
        prior: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.mean_head = nn.Linear(n_hidden, n_components)
        self.log_var_head = nn.Linear(n_hidden, n_components)
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = StandardNormalPrior() if prior is None else prior
        if hasattr(self.prior, "bind"):  # a prior made of the encoder's posteriors
            self.prior.bind(self.encode)

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
        dropout, :class:`skae._nn.corruption.InputDropout`).
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
            if getattr(corrupt, "after_unit_norm", False) and starts_with_unit_norm(
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
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder output for one posterior draw, the posterior's moments, the draw."""
        mu, log_var = self.encode(x, corrupt, generator)
        eps = torch.randn(
            mu.shape, generator=generator, dtype=mu.dtype, device=mu.device
        )
        z = self.reparameterize(mu, log_var, eps)
        return self.decode(z, x), mu, log_var, z


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
    The prior may read the label too
    (:class:`skae._nn.priors.LabelGaussianPrior`).

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
        prior: nn.Module | None = None,
    ) -> None:
        n_features = likelihood.n_features
        super().__init__(
            encoder, n_hidden + n_classes, n_components, decoder, likelihood, prior
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
