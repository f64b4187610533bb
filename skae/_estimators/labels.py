"""Labels of the conditional VAE: their one-hot columns, and mixtures over classes.

:class:`_LabelsMixin` maps ``y`` to the fitted classes and appends their
one-hot columns to the rows; :func:`mixture` combines per-class terms
(``class_posterior``, ``transform`` without ``y``) one class at a time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import LabelEncoder


def mixture(terms) -> tuple[np.ndarray, list[np.ndarray]]:
    """Log-sum-exp of per-class log-weights and the weighted means of values.

    ``terms`` yields, class by class, ``(log_weight, values)``: log-weights of
    shape (n,) and a list of arrays of shape (n, ...). Returns ``log sum_c
    exp(log_weight_c)`` and, for each value, ``sum_c w_c value_c`` with the
    weights ``w_c`` normalised per row (a softmax over classes), accumulated
    one class at a time in float64 (memory of one class's values).
    """
    top = total = sums = None
    for log_weight, values in terms:
        values = [np.asarray(v, dtype=np.float64) for v in values]
        if top is None:
            top, total, sums = log_weight, np.ones_like(log_weight), values
            continue
        new_top = np.maximum(top, log_weight)
        old, new = np.exp(top - new_top), np.exp(log_weight - new_top)
        total = total * old + new
        sums = [
            s * old.reshape(-1, *[1] * (v.ndim - 1))
            + v * new.reshape(-1, *[1] * (v.ndim - 1))
            for s, v in zip(sums, values, strict=True)
        ]
        top = new_top
    return top + np.log(total), [
        s / total.reshape(-1, *[1] * (s.ndim - 1)) for s in sums
    ]


class _LabelsMixin:
    """Labels of :class:`~skae.ConditionalVAETransformer` (see the module)."""

    # ----------------------------------------------------------------- labels
    def _label_index(self, y, n_samples: int | None = None) -> np.ndarray:
        """Indices in ``classes_`` of labels ``y`` (one label is broadcast)."""
        y = np.asarray(y)
        if y.ndim == 0 and n_samples is not None:
            y = np.full(n_samples, y, dtype=y.dtype)
        if y.ndim != 1:
            raise ValueError(
                f"y must be one label or a 1-D array-like of labels, got shape "
                f"{y.shape}."
            )
        if n_samples is not None and len(y) != n_samples:
            raise ValueError(
                f"y has {len(y)} labels for {n_samples} samples; pass one "
                "label per sample, or a single label for all."
            )
        encoder = LabelEncoder()
        encoder.classes_ = self.classes_
        try:
            index = encoder.transform(y)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{type(self).__name__}: {error}; fit saw the classes "
                f"{self.classes_.tolist()!r}."
            ) from None
        # LabelEncoder casts y to the classes' dtype first: "7" or 7.5 would
        # become the class 7. Only labels equal to a class are that class.
        unseen = np.asarray(self.classes_[index] != y, dtype=bool)
        if unseen.any():
            raise ValueError(
                f"{type(self).__name__}: y contains previously unseen labels: "
                f"{y[unseen][:5].tolist()!r}; fit saw the classes "
                f"{self.classes_.tolist()!r}."
            )
        return index

    def _labelled(self, X, index: np.ndarray):
        """Rows ``[X, onehot(index)]``, in X's dtype and format."""
        onehot = np.zeros((X.shape[0], len(self.classes_)), dtype=X.dtype)
        onehot[np.arange(X.shape[0]), index] = 1
        if sp.issparse(X):
            rows = sp.hstack([X, sp.csr_matrix(onehot)], format="csr")
            rows.sum_duplicates()
            return rows
        return np.hstack([np.asarray(X), onehot])

    def _of_class(self, X, c: int):
        return self._labelled(X, np.full(X.shape[0], c))

    def _seen_classes(self):
        """Indices of the classes with training rows (p(y) > 0) and log p(y)."""
        seen = np.flatnonzero(self.class_count_)
        return zip(seen, np.log(self.class_prior_[seen]), strict=True)

    def _log_joint(self, X):
        """Per class: its index and ``log p(y) + ELBO(x, y)`` of validated rows."""
        for c, log_prior in self._seen_classes():
            yield c, log_prior + self._finite_scores(self._of_class(X, c))
