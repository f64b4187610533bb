"""Priors p(z) of the VAEs (pure torch, no scikit-learn import).

A prior is a module with these methods, which read, where they need it,
the row the code belongs to (a conditional VAE's rows end with the one-hot
label):

* ``kl(mu, log_var, x, z)``: KL(q(z|x) || p(z)) per row; in closed form
  where there is one, else estimated from the posterior draws ``z`` (shape
  ``(..., n_rows, n_components)``, averaged over the leading dimensions);
* ``log_prob(z, x)``: log p(z) per row, for draws ``z`` of shape
  ``(..., n_rows, n_components)``;
* ``draw(eps, x)``: codes from standard normal draws ``eps``, one per row;
* ``draw_of(eps, index)``: codes of the mixture components (or classes)
  ``index``, with ``n_modes`` components to choose from (1: no choice); a
  prior of the conditional VAE has ``modes_per_class`` modes for each class,
  class c's numbered ``c * modes_per_class`` on;
* ``elements_per_code``: the tensor elements ``log_prob`` allocates per
  code, for the estimators' memory budget.

The objectives (:mod:`skae._nn.objectives`) and the estimators only call
these, so a new prior needs no change elsewhere.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .invariant import chunked_product, split_inner

LOG_2PI = math.log(2.0 * math.pi)


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I); no parameters."""

    n_modes = 1
    modes_per_class = 1
    elements_per_code = 0

    def kl(
        self,
        mu: torch.Tensor,
        log_var: torch.Tensor,
        x: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """KL(N(mu, diag(exp(log_var))) || N(0, I)) per row, in nats."""
        return 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)

    def log_prob(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return -0.5 * (z.square() + LOG_2PI).sum(-1)

    def draw(self, eps: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return eps

    def draw_of(self, eps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Codes for classes ``index``: ``eps`` itself (no class changes N(0, I))."""
        return eps


PRIORS = ("normal", "class", "exemplars", "vamp")
# The priors of a class each (the conditional VAE's only).
LABEL_PRIORS = ("class", "exemplars")


class LabelPrior(nn.Module):
    """A prior p(z|y) that reads the label of rows ``[x, onehot(y)]``.

    Subclasses give ``log_prob_of(z, index)`` for class indices.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.n_features = n_features

    def label_index(self, x: torch.Tensor) -> torch.Tensor:
        """The class index of each row ``[x, onehot(y)]``."""
        return x[..., self.n_features :].argmax(-1)

    def log_prob(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob_of(z, self.label_index(x))


class LabelGaussianPrior(LabelPrior):
    """p(z|y) = N(mean[y], L[y] L[y]^T), a Gaussian with full covariance per class.

    Rows are ``[x, onehot(y)]`` (see :class:`skae._nn.models.ConditionalVAE`):
    the prior reads the label from the columns after the first
    ``n_features``. It starts at N(0, I) for every class and is not trained
    by gradient (its parameters need no gradient): :meth:`match` sets a
    class's Gaussian to the mean and covariance of the codes of its rows,
    the Gaussian that minimises their KL terms (the aggregate posterior's
    moments). ``tril`` holds L below the diagonal and log L on it.
    """

    def __init__(self, n_features: int, n_classes: int, n_components: int) -> None:
        super().__init__(n_features)
        self.n_modes = n_classes
        self.modes_per_class = 1
        # log_prob's whitened codes: a k x k product per code.
        self.elements_per_code = n_components * (n_components + 1)
        shape = (n_classes, n_components)
        self.mean = nn.Parameter(torch.empty(shape), requires_grad=False)
        self.tril = nn.Parameter(torch.empty(*shape, n_components), requires_grad=False)

    def reset_parameters_from(self, generator: torch.Generator) -> None:
        with torch.no_grad():
            self.mean.zero_()
            self.tril.zero_()

    def scale_tril(self) -> torch.Tensor:
        """L of each class: lower triangular with a positive diagonal."""
        diag = torch.diagonal(self.tril, dim1=-2, dim2=-1)
        return self.tril.tril(-1) + torch.diag_embed(diag.exp())

    @torch.no_grad()
    def match(self, index: int, mean: torch.Tensor, cov: torch.Tensor) -> None:
        """Set class ``index``'s Gaussian to ``mean`` and covariance ``cov``."""
        scale = torch.linalg.cholesky(cov.to(torch.float64))
        tril = scale.tril(-1) + torch.diag_embed(scale.diagonal().log())
        self.mean[index] = mean.to(self.mean)
        self.tril[index] = tril.to(self.tril)

    def _of(self, index: torch.Tensor):
        """Mean, L, L^-1 and log det L of the prior of each class in ``index``."""
        scale = self.scale_tril()
        eye = torch.eye(scale.shape[-1], dtype=scale.dtype, device=scale.device)
        inverse = torch.linalg.solve_triangular(scale, eye, upper=False)
        log_det = torch.diagonal(self.tril, dim1=-2, dim2=-1).sum(-1)
        return self.mean[index], scale[index], inverse[index], log_det[index]

    def kl(
        self,
        mu: torch.Tensor,
        log_var: torch.Tensor,
        x: torch.Tensor,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """KL(N(mu, diag(exp(log_var))) || p(z|y)) per row, in nats."""
        mean, _, inverse, log_det = self._of(self.label_index(x))
        white = (inverse * (mu - mean)[..., None, :]).sum(-1)
        trace = (inverse.square() * log_var.exp()[..., None, :]).sum((-1, -2))
        k = mu.shape[-1]
        log_ratio = 2.0 * log_det - log_var.sum(-1)
        return 0.5 * (trace + white.square().sum(-1) - k + log_ratio)

    def draw(self, eps: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.draw_of(eps, self.label_index(x))

    def log_prob_of(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """log p(z|y) of codes ``z`` (``(..., n, k)``) of classes ``index`` (``n``)."""
        mean, _, inverse, log_det = self._of(index)
        white = (inverse * (z - mean)[..., None, :]).sum(-1)
        return -0.5 * (white.square().sum(-1) + z.shape[-1] * LOG_2PI) - log_det

    def draw_of(self, eps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Codes ``mean[y] + L[y] eps`` of classes ``index`` from standard draws."""
        mean, scale, _, _ = self._of(index)
        return mean + (scale * eps[..., None, :]).sum(-1)


def log_normal_diag(
    z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor
) -> torch.Tensor:
    """log N(z; mu, diag(exp(log_var))) over the last dimension."""
    return -0.5 * ((z - mu).square() / log_var.exp() + log_var + LOG_2PI).sum(-1)


def sampled_kl(
    mu: torch.Tensor, log_var: torch.Tensor, z: torch.Tensor, log_prior: torch.Tensor
) -> torch.Tensor:
    """log q(z|x) - log p(z) per row, averaged over the draws ``z``.

    An unbiased estimate of KL(q(z|x) || p(z)) from draws of shape
    ``(..., n_rows, n_components)`` and their ``log_prior`` log p(z).
    """
    log_ratio = log_normal_diag(z, mu, log_var) - log_prior
    return log_ratio.reshape(-1, mu.shape[0]).mean(0)


class VampPrior(nn.Module):
    """p(z) = (1/K) sum_k q(z|u_k): the VampPrior (Tomczak & Welling, 2018).

    A uniform mixture of the encoder's posteriors at K learnt pseudo-inputs
    ``u_k`` (``pseudo_inputs``, rows as the encoder reads them), trained
    with the networks. The model binds its encoder (:meth:`bind`); the
    binding is an attribute, not a submodule, so the encoder's weights are
    held once. There is no closed-form KL: :meth:`kl` estimates it from the
    posterior draws. The mixture's log-density is computed from products
    of the codes with the components' moments (``rows x K`` elements, not
    ``rows x K x n_components``) whose inner dimension is padded as in
    :mod:`skae._nn.invariant`, so that a row's value does not depend on the
    other rows.
    """

    def __init__(self, n_pseudo_inputs: int, n_features: int) -> None:
        super().__init__()
        self.pseudo_inputs = nn.Parameter(torch.empty(n_pseudo_inputs, n_features))
        self.n_modes = n_pseudo_inputs
        # log_prob's (rows x K) log-densities and their log-sum-exp.
        self.elements_per_code = 3 * n_pseudo_inputs
        self._encode = None

    def reset_parameters_from(self, generator: torch.Generator) -> None:
        """Pseudo-inputs near the origin; estimators set them to data rows."""
        with torch.no_grad():
            draws = torch.randn(self.pseudo_inputs.shape, generator=generator)
            self.pseudo_inputs.copy_(0.01 * draws)

    def bind(self, encode) -> None:
        """Use ``encode(rows) -> (mean, log_var)`` as the encoder of the mixture."""
        self._encode = encode

    def components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the K components, q(z|u_k)."""
        if self._encode is None:
            raise RuntimeError("VampPrior is not bound to an encoder (bind).")
        return self._encode(self.pseudo_inputs)

    def kl(
        self,
        mu: torch.Tensor,
        log_var: torch.Tensor,
        x: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """log q(z|x) - log p(z) per row, averaged over the draws ``z``.

        An unbiased estimate of KL(q(z|x) || p(z)) from the draws of shape
        ``(..., n_rows, n_components)``.
        """
        return sampled_kl(mu, log_var, z, self.log_prob(z))

    def log_prob(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """log p(z) = logsumexp_k log q(z|u_k) - log K, per code."""
        mean, log_var = self.components()
        precision = torch.exp(-log_var)
        # -2 log N(z; m, v) = z^2 . 1/v - 2 z . m/v + (m^2/v + log v + log 2 pi)
        square = _padded_product(z.square(), precision)
        cross = _padded_product(z, mean * precision)
        constant = (mean.square() * precision + log_var + LOG_2PI).sum(-1)
        log_densities = -0.5 * (square - 2.0 * cross + constant)
        return torch.logsumexp(log_densities, dim=-1) - math.log(self.n_modes)

    def draw(self, eps: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Codes of the first component (use :meth:`draw_of` to choose them)."""
        return self.draw_of(eps, torch.zeros(eps.shape[:-1], dtype=torch.long))

    def draw_of(self, eps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Codes of the components ``index`` from standard normal draws ``eps``."""
        mean, log_var = self.components()
        index = index.to(mean.device)
        return mean[index] + torch.exp(0.5 * log_var[index]) * eps


def _padded_product(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight.T``, inner dimension padded (batch-invariant), differentiable."""
    return chunked_product(x, split_inner(weight, detach=False))
