"""The neighbour-preserving term of ``neighbor_weight``: a UMAP layout of
the training rows that the codes learn.
"""

from __future__ import annotations

import torch

from .._data import DenseRows
from .._neighbors.graph import NeighborGraph
from .._neighbors.layout import umap_layout
from .._neighbors.loss import LayoutRows, NeighborPreserving


class _NeighborMixin:
    """The neighbour term of :class:`skae._estimators.base._BaseAutoencoder`."""

    def _with_neighbors(
        self, objective, X_train, generator, standardizer, warm_module=None
    ):
        """``objective`` and ``X_train`` with the neighbour-preserving term.

        When ``neighbor_weight`` > 0: the objective adds the term and the
        rows' batches come with their places in a UMAP layout of the
        neighbour graph of ``X_train`` (both built here, once; with
        ``metric="cosine"`` the graph compares the rows in the caller's
        units, ``standardizer`` taking them back). A
        ``warm_module`` (``warm_start``, ``partial_fit``) starts the layout
        from its own codes, so that successive fits keep the same map.
        """
        if not self.neighbor_weight:
            return objective, X_train
        if not isinstance(X_train, DenseRows):
            raise ValueError(
                f"neighbor_weight={self.neighbor_weight} needs dense data held "
                "in memory (its neighbour graph compares all rows); got sparse "
                "or out-of-core memory-mapped X. Densify X, load it into "
                "memory, or set neighbor_weight=0."
            )
        n = X_train.shape[0]
        if n < 2:
            raise ValueError(
                f"neighbor_weight={self.neighbor_weight} needs at least 2 "
                f"training samples to find neighbours, got {n} sample(s); set "
                "neighbor_weight=0 or pass more samples."
            )
        with torch.no_grad():
            rows = X_train
            if self.metric == "cosine":
                rows = _InCallerUnits(X_train, standardizer.to(X_train.device))
            graph = NeighborGraph.of_rows(
                rows, min(self.n_neighbors, n - 1), generator, self.metric
            )
            start = None
            if warm_module is not None:
                start = torch.cat([warm_module.embed(b) for b in X_train.split(4096)])
            targets = umap_layout(
                graph, self.n_components, generator, start, self.min_dist
            )
        weight = self.neighbor_weight * self.n_features_in_
        return NeighborPreserving(objective, weight), LayoutRows(X_train, targets)


class _InCallerUnits:
    """Training rows in the caller's units, a block at a time.

    What the cosine graph reads (``split`` only): it scales each block to
    unit length as it goes, so the rows are copied once, not twice.
    """

    def __init__(self, rows, standardizer) -> None:
        self.rows = rows
        self.standardizer = standardizer

    def split(self, size: int):
        return (self.standardizer.unscale(b).float() for b in self.rows.split(size))
