"""Training objectives, kept apart from the models.

An objective is a callable ``objective(model, x, generator) -> losses`` that
returns one loss per sample (a tensor of shape ``(n_samples,)``); the training
loop averages it for the gradient and sums it for reporting. New objectives
(importance-weighted bounds, denoising, KL warm-up) only have to follow this
signature.
"""

from __future__ import annotations

import torch


def kl_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) per sample, in nats."""
    return 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)


class SquaredError:
    """Sum of squared reconstruction errors over features, per sample."""

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        return (model(x) - x).square().sum(-1)


class NegativeELBO:
    """Negative evidence lower bound: -E_q[log p(x|z)] + beta * KL(q(z|x) || p(z)).

    One reparameterised sample of z per data point. ``beta=1`` is the VAE
    bound; other values give the beta-VAE objective.
    """

    def __init__(self, beta: float = 1.0) -> None:
        self.beta = beta

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        out, mu, log_var = model(x, generator)
        nll = -model.likelihood.log_prob(x, out)
        return nll + self.beta * kl_standard_normal(mu, log_var)


def elbo_common_noise(
    model: torch.nn.Module, x: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """Monte Carlo ELBO per sample using the same draws ``eps`` for every row.

    ``eps`` has shape ``(n_draws, n_components)``. Sharing the draws makes the
    estimate a deterministic function of each row, independent of the other
    rows in the batch.
    """
    mu, log_var = model.encode(x)
    z = model.reparameterize(mu[:, None, :], log_var[:, None, :], eps[None])
    out = model.decode(z.reshape(-1, z.shape[-1]))
    x_rep = x.repeat_interleave(eps.shape[0], dim=0)
    log_px = model.likelihood.log_prob(x_rep, out).reshape(x.shape[0], -1)
    return log_px.mean(1) - kl_standard_normal(mu, log_var)
