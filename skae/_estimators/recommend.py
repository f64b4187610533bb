"""``recommend``: the items a fitted model ranks highest for each row of
user-item data.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .gate import gated


class _RecommendMixin:
    """``recommend`` of :class:`skae._estimators.base._BaseAutoencoder`."""

    @gated
    def recommend(self, X, n_items=10, *, exclude_seen=True):
        """Top ``n_items`` features of each row's reconstruction, best first.

        For a user-item matrix (rows are users, features are items, entries
        are counts, ratings or 1 for an interaction) these are the items to
        recommend: each row is encoded, decoded, and its features ranked by
        the reconstruction (the decoder's mean, in the caller's units).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to recommend for, e.g. users' known interactions.

        n_items : int, default=10
            Number of features (items) to return per row.

        exclude_seen : bool, default=True
            Leave out the features that are non-zero in the row (items the
            user has already interacted with). A row with fewer than
            ``n_items`` unseen features ends with seen ones.

        Returns
        -------
        items : ndarray of shape (n_samples, n_items), dtype int64
            Feature indices, highest reconstruction first.
        """
        check_is_fitted(self)
        X = self._validate(X)
        if not isinstance(n_items, Integral) or not 1 <= n_items <= X.shape[1]:
            raise ValueError(
                f"n_items must be an integer in [1, n_features={X.shape[1]}], "
                f"got {n_items!r}."
            )
        standardizer = self._memo().get(
            "device_standardizer", lambda: self._standardizer().to(self._device())
        )
        module = self._inference_module()

        def top(x: torch.Tensor) -> torch.Tensor:
            xs = standardizer.scale_into(x, torch.empty_like(x, dtype=torch.float32))
            scores = standardizer.unscale(module.reconstruct(self._encode(module, xs)))
            if exclude_seen:
                scores = scores.masked_fill(x != 0, -math.inf)
            return torch.topk(scores, int(n_items), dim=1).indices

        return self._map_scaled(
            top,
            X,
            (int(n_items),),
            np.int64,
            op=("recommend", int(n_items), bool(exclude_seen)),
            row_bytes=self._row_bytes(itemsize=8),
            compute_dtype=torch.float64,
            scaled=False,
        )
