"""The VAE's posterior q(z|x) and its importance-sampled log-likelihood.

:class:`_PosteriorMixin` gives :class:`~skae.VAETransformer` (and the
conditional VAE, which adds labels) ``posterior`` and ``log_likelihood``,
and fits the active units after training.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._data.tiles import rows_in_budget
from .._nn.objectives import (
    importance_weighted_log_likelihood,
)
from .checks import _check_n_samples, output_dtype
from .gate import gated

# Burda et al. (2015): a latent dimension is active when the variance of its
# posterior means over the data exceeds 0.01.
ACTIVE_UNIT_THRESHOLD = 0.01


class _PosteriorMixin:
    """``posterior``, ``log_likelihood`` and the active units of a VAE."""

    def _posterior_moments(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and variances of the training rows (float64), in tiles."""
        module = self._inference_module()
        k = self.n_components_

        def moments(xs: torch.Tensor) -> torch.Tensor:
            mu, log_var = module.encode(xs)
            return torch.cat([mu, log_var.exp()], dim=1)

        codes = self._map_scaled(
            moments,
            X,
            (2 * k,),
            np.float64,
            op="posterior_moments",
            row_bytes=self._row_bytes(),
        )
        return codes[:, :k], codes[:, k:]

    def _keep_activity(self, means: np.ndarray) -> None:
        """``posterior_mean_variance_`` and ``active_units_`` of the rows' means."""
        self.posterior_mean_variance_ = means.var(axis=0)
        self.active_units_ = int(
            np.count_nonzero(self.posterior_mean_variance_ > ACTIVE_UNIT_THRESHOLD)
        )

    @gated
    def log_likelihood(self, X, n_samples=1000, random_state=None):
        """Importance-weighted estimate of each sample's log-likelihood, in nats.

        The estimator of Burda et al. (2015): with ``n_samples`` draws from
        the posterior it is a lower bound on log p(x) that tightens as
        ``n_samples`` grows (``n_samples=1`` is the ELBO), the standard way
        to report a VAE's test log-likelihood (e.g. on binarized MNIST with
        ``likelihood="bernoulli"``). In the caller's units, like
        ``score_samples``.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Data in the units it was fitted in.

        n_samples : int, default=1000
            Importance samples per row.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. None uses the estimator's ``random_state``.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples_X,)
            Estimated log p(x) per row, float64.
        """
        check_is_fitted(self)
        X = self._validate(X)
        self._check_X(X)
        n_samples = _check_n_samples(n_samples)
        return self._log_likelihood(X, n_samples, self._generator(random_state))

    def _generator(self, random_state) -> torch.Generator:
        """A torch generator on the model's device, seeded from ``random_state``."""
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        generator = torch.Generator(device=self._device())
        return generator.manual_seed(int(rng.randint(np.iinfo(np.int32).max)))

    def _log_likelihood(self, X, n_samples: int, generator) -> np.ndarray:
        """``log_likelihood`` of validated rows ``X``, with draws from ``generator``."""
        device = self._device()
        log_det = float(np.log(self.scale_).sum())
        module = self._inference_module(torch.float64)
        # Tiles of whole rows, each with its draws in chunks within the budget.
        draw_bytes = self._row_bytes(1, itemsize=8)

        def estimate(xs: torch.Tensor) -> torch.Tensor:
            ll = importance_weighted_log_likelihood(
                module, xs, n_samples, generator, rows_in_budget(device, draw_bytes)
            )
            return ll - log_det

        # op=None: the draws are taken tile by tile, so every tile has one size.
        return self._map_scaled(
            estimate,
            X,
            (),
            np.float64,
            op=None,
            row_bytes=draw_bytes,
            compute_dtype=torch.float64,
        )

    @gated
    def posterior(self, X):
        """Mean and standard deviation of the posterior q(z|x) of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units it was fitted in.

        Returns
        -------
        mean : ndarray of shape (n_samples, n_components)
            Posterior means (what ``transform`` returns).

        std : ndarray of shape (n_samples, n_components)
            Posterior standard deviations.
        """
        check_is_fitted(self)
        X = self._validate(X)
        return self._posterior(X, output_dtype(X))

    def _posterior(self, X, dtype) -> tuple[np.ndarray, np.ndarray]:
        """``posterior`` of validated rows ``X``, of ``dtype``."""
        module = self._inference_module()

        def moments(xs: torch.Tensor) -> torch.Tensor:
            mu, log_var = module.encode(xs)
            return torch.stack([mu, torch.exp(0.5 * log_var)], dim=1)

        out = self._map_scaled(
            moments,
            X,
            (2, self.n_components_),
            dtype,
            op="posterior",
            row_bytes=self._row_bytes(),
        )
        return out[:, 0], out[:, 1]
