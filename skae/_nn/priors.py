"""Priors p(z) of the VAEs (pure torch, no scikit-learn import).

A prior is a module with three methods that read, where they need it, the
row the code belongs to (a conditional VAE's rows end with the one-hot
label):

* ``kl(mu, log_var, x)``: KL(q(z|x) || p(z)) per row, in closed form;
* ``log_prob(z, x)``: log p(z) per row, for draws ``z`` of shape
  ``(..., n_rows, n_components)``;
* ``draw(eps, x)``: codes from standard normal draws ``eps``, one per row.

The objectives (:mod:`skae._nn.objectives`) and the estimators only call
these, so a new prior needs no change elsewhere.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I); no parameters."""

    def kl(
        self, mu: torch.Tensor, log_var: torch.Tensor, x: torch.Tensor | None = None
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


PRIORS = ("normal", "class")


class LabelGaussianPrior(nn.Module):
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
        super().__init__()
        self.n_features = n_features
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

    def label_index(self, x: torch.Tensor) -> torch.Tensor:
        """The class index of each row ``[x, onehot(y)]``."""
        return x[..., self.n_features :].argmax(-1)

    def _of(self, index: torch.Tensor):
        """Mean, L, L^-1 and log det L of the prior of each class in ``index``."""
        scale = self.scale_tril()
        eye = torch.eye(scale.shape[-1], dtype=scale.dtype, device=scale.device)
        inverse = torch.linalg.solve_triangular(scale, eye, upper=False)
        log_det = torch.diagonal(self.tril, dim1=-2, dim2=-1).sum(-1)
        return self.mean[index], scale[index], inverse[index], log_det[index]

    def kl(
        self, mu: torch.Tensor, log_var: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """KL(N(mu, diag(exp(log_var))) || p(z|y)) per row, in nats."""
        mean, _, inverse, log_det = self._of(self.label_index(x))
        white = (inverse * (mu - mean)[..., None, :]).sum(-1)
        trace = (inverse.square() * log_var.exp()[..., None, :]).sum((-1, -2))
        k = mu.shape[-1]
        log_ratio = 2.0 * log_det - log_var.sum(-1)
        return 0.5 * (trace + white.square().sum(-1) - k + log_ratio)

    def log_prob(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob_of(z, self.label_index(x))

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
