"""Neighbour-preserving objective: UMAP's fuzzy cross-entropy on the codes.

:class:`NeighborPreserving` adds to any objective of :mod:`skae._losses`
(one that also returns its codes, ``losses_and_codes``) the cross-entropy
between the training rows' neighbour graph (:mod:`skae._neighbors`) and the
similarities of their codes, as Parametric UMAP does (Sainburg, McInnes &
Gentner, 2021): each row of a batch is attracted to one neighbour drawn
from the graph and repelled from ``negative_rate`` rows drawn from the batch.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ._neighbors import Pairs


@functools.cache
def curve_parameters(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """UMAP's ``a`` and ``b`` of the similarity ``1 / (1 + a d^(2b))``.

    Fitted (least squares, as umap-learn does) to 1 for distances up to
    ``min_dist`` and ``exp(-(d - min_dist) / spread)`` beyond; ``min_dist=0.1``
    gives a = 1.58, b = 0.90.
    """
    from scipy.optimize import curve_fit

    d = np.linspace(0, 3 * spread, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist) / spread))
    (a, b), _ = curve_fit(lambda d, a, b: 1.0 / (1.0 + a * d ** (2 * b)), d, target)
    return float(a), float(b)


def log_scaled_distance(d2: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """``t = log(a d^(2b))`` of squared distances ``d2``: ``q = sigmoid(-t)``.

    UMAP's similarity ``1 / (1 + a d^(2b))`` is ``sigmoid(-t)``, so its
    cross-entropy terms are ``-log q = softplus(t)`` (attraction) and ``-log(1 -
    q) = softplus(-t)`` (repulsion), stable at any distance; UMAP's 1e-3 keeps
    the repulsion of coinciding codes finite.
    """
    return math.log(a) + b * torch.log(d2 + 1e-3)


def fuzzy_cross_entropy(
    z: torch.Tensor,
    z_neighbor: torch.Tensor,
    z_negative: torch.Tensor,
    a: float,
    b: float,
) -> torch.Tensor:
    """UMAP's cross-entropy per row: one neighbour, ``m`` non-neighbours.

    ``z`` and ``z_neighbor`` have shape ``(n, d)``, ``z_negative`` shape
    ``(n, m, d)`` (see :func:`log_scaled_distance`).
    """
    near = F.softplus(log_scaled_distance((z - z_neighbor).square().sum(-1), a, b))
    t_far = log_scaled_distance((z[:, None] - z_negative).square().sum(-1), a, b)
    return near + F.softplus(-t_far).sum(-1)


class NeighborPreserving:
    """``objective`` plus ``weight`` times UMAP's cross-entropy on the codes.

    For a batch of :class:`skae._neighbors.Pairs` the loss of each head row is
    its ``objective`` loss plus ``weight * row_weight`` times
    :func:`fuzzy_cross_entropy` of its code against its drawn neighbour's and
    against ``negative_rate`` codes drawn from the batch (heads and
    neighbours): in expectation UMAP's cross-entropy of the row's edges with
    ``negative_rate`` negative samples per edge. Both ends of each edge are
    encoded, so the gradient moves both. For a plain batch (validation) the
    loss is ``objective``'s.
    """

    def __init__(
        self,
        objective,
        weight: float,
        min_dist: float = 0.1,
        negative_rate: int = 5,
    ) -> None:
        self.objective = objective
        self.weight = weight
        self.a, self.b = curve_parameters(min_dist)
        self.negative_rate = negative_rate

    def __call__(
        self, model: torch.nn.Module, batch, generator: torch.Generator
    ) -> torch.Tensor:
        if not isinstance(batch, Pairs):
            return self.objective(model, batch, generator)
        losses, z = self.objective.losses_and_codes(model, batch.heads, generator)
        z_all = torch.cat([z, model.embed(batch.tails)]).float()
        n = z.shape[0]
        pick = torch.randint(
            z_all.shape[0],
            (n, self.negative_rate),
            generator=generator,
            device=generator.device,
        ).to(z.device)
        cross_entropy = fuzzy_cross_entropy(
            z_all[:n], z_all[n:], z_all[pick], self.a, self.b
        )
        return losses + self.weight * batch.weights * cross_entropy
