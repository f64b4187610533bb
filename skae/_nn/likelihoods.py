"""Likelihoods p(x|z) of the VAEs: the decoder's output is their parameter.

Each has ``log_prob(x, decoded)`` (per row) and ``mean(decoded)`` (the point
reconstruction); :data:`LIKELIHOODS` names them for the estimators.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .invariant import invariant_sigmoid


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
        """Mean of p(x|z) (pixel probabilities) from the logits.

        ``1 / (1 + exp(-out))``, whose bits for an element do not depend on
        where it sits in the tensor (see :mod:`skae._nn.invariant`).
        """
        return invariant_sigmoid(out)

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


LIKELIHOODS: dict[str, type[nn.Module]] = {
    "gaussian": GaussianLikelihood,
    "bernoulli": BernoulliLikelihood,
    "multinomial": MultinomialLikelihood,
}
