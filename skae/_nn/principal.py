"""Principal axes of training rows, for an autoencoder that starts at PCA.

The rows are read a block at a time (dense tensors, sparse or streamed rows
alike: anything with ``shape``, ``device`` and ``split(n_rows)``); only the
feature covariance, or its product with a thin matrix, is ever held. Torch
only, in float64.
"""

from __future__ import annotations

import torch

from .._data.rows import feature_mean

# Above this many features the covariance is not formed: subspace iteration.
MAX_DENSE_FEATURES = 4096
BLOCK_ELEMENTS = 1 << 22


def principal_axes(
    rows, n_components: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean of ``rows`` and their ``n_components`` leading principal axes.

    The axes have shape ``(k, d)``, the mean ``(d,)``, both float32 on the CPU.

    Axes of the centred rows, by decreasing variance, each signed so that
    its entry of largest magnitude is positive (as scikit-learn's
    ``svd_flip``), so the result does not depend on the eigensolver. Past
    the ``d`` features of the rows the extra axes are zero. ``generator``
    draws the start of the subspace iteration used for more than
    :data:`MAX_DENSE_FEATURES` features (exact below).
    """
    n_features = rows.shape[1]
    k = min(n_components, n_features)
    mean, cov_times = _covariance_operator(rows)
    if n_features <= MAX_DENSE_FEATURES:
        values, vectors = torch.linalg.eigh(_unit_max(cov_times(None)))
    else:
        values, vectors = _subspace_iteration(cov_times, n_features, k, generator)
    axes = vectors[:, values.argsort(descending=True)[:k]].T
    signs = torch.sign(axes.gather(1, axes.abs().argmax(1, keepdim=True)))
    axes = axes * signs  # a unit vector's largest entry is never 0
    out = torch.zeros((n_components, n_features), dtype=torch.float32)
    out[:k] = axes.float().cpu()
    return mean.float().cpu(), out


def _unit_max(cov: torch.Tensor) -> torch.Tensor:
    """``cov`` divided by its largest magnitude: the same eigenvectors.

    LAPACK's eigensolver fails to converge on covariances of tiny values
    (rows of subnormal numbers give entries near 1e-89).
    """
    top = cov.abs().max()
    return cov / top if top > 0 else cov


def _covariance_operator(rows):
    """The rows' mean and ``Q -> C @ Q`` for their covariance ``C`` (blockwise).

    ``Q=None`` gives ``C`` itself.
    """
    n_samples, n_features = rows.shape
    block = max(1, BLOCK_ELEMENTS // n_features)
    mean = feature_mean(rows, BLOCK_ELEMENTS)

    def cov_times(q: torch.Tensor | None) -> torch.Tensor:
        out = 0.0
        for x in rows.split(block):
            x = x.double() - mean
            out = out + (x.T @ x if q is None else x.T @ (x @ q))
        return out / max(n_samples - 1, 1)

    return mean, cov_times


def _subspace_iteration(
    cov_times, n_features: int, k: int, generator: torch.Generator, n_iter: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs of the covariance in a ``k + 10``-wide Krylov-like subspace."""
    width = min(n_features, k + 10)
    q = torch.randn(
        (n_features, width), generator=generator, device=generator.device
    ).double()
    for _ in range(n_iter):
        q = torch.linalg.qr(cov_times(q))[0]
    values, small = torch.linalg.eigh(q.T @ cov_times(q))
    return values, q @ small
