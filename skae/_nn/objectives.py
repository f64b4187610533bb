"""Training objectives, kept apart from the models.

An objective is a callable ``objective(model, x, generator) -> losses`` that
returns one loss per sample (a tensor of shape ``(n_samples,)``); the training
loop averages it for the gradient and sums it for reporting. New objectives
(importance-weighted bounds, denoising, KL warm-up) only have to follow this
signature. :func:`training_target` applies a resampling (training only) the same way
for every objective; the VAE's encoder applies the corruption.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .priors import LOG_2PI


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
        return self.losses_and_codes(model, x, generator)[0]

    def losses_and_codes(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-sample losses and the codes they were computed from."""
        x_in = x if self.corrupt is None else self.corrupt(x, generator)
        z = model.encode(x_in)
        return (model.decode(z) - x).square().sum(-1), z


def training_target(
    model: torch.nn.Module,
    x: torch.Tensor,
    generator: torch.Generator,
    resample: Callable | None,
) -> torch.Tensor:
    """The batch the likelihood scores, and the encoder sees before corruption.

    In training (``model.training``) ``resample(x, generator)`` replaces the
    batch by a draw (e.g. dynamic binarization); in evaluation the batch
    stays as given. A corruption then changes the encoder's input only, in
    training and evaluation: the objectives pass it to ``model.encode``
    (see :meth:`skae._nn.models.VariationalAutoencoder.encode`).
    """
    if resample is not None and model.training:
        x = resample(x, generator)
    return x


class NegativeELBO:
    """Negative evidence lower bound: -E_q[log p(x|z)] + beta * KL(q(z|x) || p(z)).

    One reparameterised sample of z per data point and the KL term in closed
    form (estimated from the same draw for a prior without one). ``beta=1``
    is the VAE bound; other values give the beta-VAE objective.
    ``kl_weight`` (a 0-d tensor, 1 by default) multiplies ``beta``: a
    schedule fills it in place for KL warm-up. With ``corrupt``
    the encoder sees ``corrupt(x, generator)`` and the likelihood scores the
    clean ``x``; with ``resample`` each training batch is first replaced by
    ``resample(x, generator)`` (see :func:`training_target`).
    """

    def __init__(
        self,
        beta: float = 1.0,
        corrupt: Callable | None = None,
        resample: Callable | None = None,
    ) -> None:
        self.beta = beta
        self.corrupt = corrupt
        self.resample = resample
        self.kl_weight = torch.ones((), dtype=torch.float32)

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        return self.losses_and_codes(model, x, generator)[0]

    def losses_and_codes(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-sample losses and the posterior means of the rows."""
        x = training_target(model, x, generator, self.resample)
        out, mu, log_var, z = model(x, generator, self.corrupt)
        nll = -model.likelihood.log_prob(x, out)
        # kl_weight stays a 0-d CPU tensor: torch reads it as a scalar on any
        # device, with no copy to the device per step.
        kl = model.prior.kl(mu, log_var, x, z)
        return nll + (self.beta * self.kl_weight) * kl, mu


class NegativeIWAEBound:
    """Negative importance-weighted bound (IWAE, Burda et al., 2015) per sample.

    ``-log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)`` with K = ``n_samples``
    reparameterised draws z_k ~ q(z|x) per row, computed with a log-sum-exp.
    It is a lower bound on log p(x) at least as tight as the ELBO (K=1 gives
    the ELBO with a one-sample estimate of the KL term) and tightens as K
    grows; its gradient weights each draw by its normalised importance
    weight. All K * n_rows draws are decoded in one batched decoder call.

    ``beta * kl_weight`` multiplies ``log p(z_k) - log q(z_k|x)`` inside each
    weight, so ``beta=1`` with a full ``kl_weight`` is the IWAE bound, a KL
    warm-up (``kl_weight`` filled in place by a schedule) starts from the
    mean of the K reconstruction likelihoods' log-sum-exp, and other ``beta``
    values give a beta-weighted variant that is no longer a bound on log p(x).
    ``corrupt`` and ``resample`` act as in :class:`NegativeELBO`; with
    ``corrupt`` the proposal is q(z|corrupted x).
    """

    def __init__(
        self,
        n_samples: int,
        beta: float = 1.0,
        corrupt: Callable | None = None,
        resample: Callable | None = None,
    ) -> None:
        self.n_samples = n_samples
        self.beta = beta
        self.corrupt = corrupt
        self.resample = resample
        self.kl_weight = torch.ones((), dtype=torch.float32)

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        return self.losses_and_codes(model, x, generator)[0]

    def losses_and_codes(
        self, model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-sample losses and the posterior means of the rows."""
        x = training_target(model, x, generator, self.resample)
        mu, log_var = model.encode(x, self.corrupt, generator)
        k = self.n_samples
        log_px, log_ratio = draw_log_weights(model, x, mu, log_var, k, generator)
        log_w = log_px + (self.beta * self.kl_weight) * log_ratio
        return math.log(k) - torch.logsumexp(log_w, dim=0), mu


def draw_log_weights(
    model: torch.nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    log_var: torch.Tensor,
    k: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p(x|z)`` and ``log p(z) - log q(z|x)`` for ``k`` draws per row.

    ``p(z)`` is ``model.prior`` (it may read the rows ``x``).

    Both of shape ``(k, n_rows)``; the ``k * n_rows`` draws z ~ q(z|x) =
    N(mu, exp(log_var)) are decoded in one call. Shared by the IWAE training
    bound and the log-likelihood estimate, so both see the same draws.
    """
    eps = torch.randn(
        (k, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device
    )
    z = model.reparameterize(mu, log_var, eps)
    x_rep = x.repeat(k, 1)
    out = model.decode(z.reshape(-1, z.shape[-1]), x_rep)
    log_px = model.likelihood.log_prob(x_rep, out).reshape(k, -1)
    log_q = -0.5 * (eps.square() + log_var + LOG_2PI).sum(-1)
    return log_px, model.prior.log_prob(z, x) - log_q


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
    x_rep = x.repeat_interleave(eps.shape[0], dim=0)
    out = model.decode(z.reshape(-1, z.shape[-1]), x_rep)
    log_px = model.likelihood.log_prob(x_rep, out).reshape(x.shape[0], -1)
    return log_px.mean(1) - model.prior.kl(mu, log_var, x, z.transpose(0, 1))


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
    chunk = max(1, max_rows // x.shape[0])
    total = torch.full((x.shape[0],), -math.inf, dtype=x.dtype, device=x.device)
    for start in range(0, n_samples, chunk):
        k = min(chunk, n_samples - start)
        log_px, log_ratio = draw_log_weights(model, x, mu, log_var, k, generator)
        total = torch.logaddexp(total, torch.logsumexp(log_px + log_ratio, dim=0))
    return total - math.log(n_samples)
