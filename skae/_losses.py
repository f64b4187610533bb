"""Training objectives, kept apart from the models.

An objective is a callable ``objective(model, x, generator) -> losses`` that
returns one loss per sample (a tensor of shape ``(n_samples,)``); the training
loop averages it for the gradient and sums it for reporting. New objectives
(importance-weighted bounds, denoising, KL warm-up) only have to follow this
signature.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def kl_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) per sample, in nats."""
    return 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)


class SquaredError:
    """Sum of squared reconstruction errors over features, per sample.

    With ``corrupt``, the model reconstructs the clean ``x`` from
    ``corrupt(x, generator)`` (a denoising autoencoder).
    """

    def __init__(self, corrupt: Callable | None = None) -> None:
        self.corrupt = corrupt

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        x_in = x if self.corrupt is None else self.corrupt(x, generator)
        return (model(x_in) - x).square().sum(-1)


class NegativeELBO:
    """Negative evidence lower bound: -E_q[log p(x|z)] + beta * KL(q(z|x) || p(z)).

    One reparameterised sample of z per data point. ``beta=1`` is the VAE
    bound; other values give the beta-VAE objective. ``kl_weight`` (a 0-d
    tensor, 1 by default) multiplies ``beta``: a schedule fills it in place
    for KL warm-up. With ``corrupt`` the encoder sees ``corrupt(x, generator)``
    and the likelihood scores the clean ``x``.
    """

    def __init__(self, beta: float = 1.0, corrupt: Callable | None = None) -> None:
        self.beta = beta
        self.corrupt = corrupt
        self.kl_weight = torch.ones((), dtype=torch.float32)

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        x_in = x if self.corrupt is None else self.corrupt(x, generator)
        out, mu, log_var = model(x_in, generator)
        nll = -model.likelihood.log_prob(x, out)
        # kl_weight stays a 0-d CPU tensor: torch reads it as a scalar on any
        # device, with no copy to the device per step.
        return nll + (self.beta * self.kl_weight) * kl_standard_normal(mu, log_var)


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


def importance_weighted_log_likelihood(
    model: torch.nn.Module,
    x: torch.Tensor,
    n_samples: int,
    generator: torch.Generator,
    max_rows: int = 32768,
) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) per sample (Burda et al., 2015).

    log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) with z_k ~ q(z|x): a lower
    bound that tightens to log p(x) as ``n_samples`` (K) grows; K=1 is the
    ELBO. Draws are processed in chunks of at most ``max_rows`` decoder rows
    and combined with a running log-sum-exp.
    """
    mu, log_var = model.encode(x)
    std = torch.exp(0.5 * log_var)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    chunk = max(1, max_rows // x.shape[0])
    total = torch.full((x.shape[0],), -math.inf, dtype=x.dtype, device=x.device)
    for start in range(0, n_samples, chunk):
        k = min(chunk, n_samples - start)
        eps = torch.randn(
            (k, *mu.shape), generator=generator, dtype=x.dtype, device=x.device
        )
        z = mu + std * eps
        out = model.decode(z.reshape(-1, z.shape[-1]))
        log_px = model.likelihood.log_prob(x.repeat(k, 1), out).reshape(k, -1)
        log_pz = -(0.5 * z.square() + half_log_2pi).sum(-1)
        log_qz = -(0.5 * eps.square() + 0.5 * log_var + half_log_2pi).sum(-1)
        chunk_lse = torch.logsumexp(log_px + log_pz - log_qz, dim=0)
        total = torch.logaddexp(total, chunk_lse)
    return total - math.log(n_samples)
