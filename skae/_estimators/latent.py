"""Walks through the latent space: interpolations and traversals of codes.

The array logic is here as functions on codes; :class:`_LatentMixin` gives
both estimators the thin ``interpolate`` and ``traverse`` methods that
encode with ``transform`` and decode with ``inverse_transform``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted


def line_codes(z_start: np.ndarray, z_end: np.ndarray, n_steps: int) -> np.ndarray:
    """``n_steps`` codes evenly spaced from ``z_start`` to ``z_end``, both included.

    The first row is exactly ``z_start`` and the last exactly ``z_end``.
    """
    t = np.linspace(0.0, 1.0, n_steps)[:, None]
    return ((1.0 - t) * z_start + t * z_end).astype(z_start.dtype, copy=False)


def traversal_codes(z: np.ndarray, dims: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Copies of ``z``, shape (len(dims), len(values), k), with ``z[d] = value``."""
    codes = np.tile(z, (len(dims), len(values), 1))
    for i, d in enumerate(dims):
        codes[i, :, d] = values
    return codes


def check_n_steps(n_steps: object) -> int:
    if not isinstance(n_steps, Integral) or isinstance(n_steps, bool) or n_steps < 2:
        raise ValueError(
            "n_steps must be an integer of at least 2 (the two endpoints), got "
            f"{n_steps!r}."
        )
    return int(n_steps)


def check_dims(dims: object, n_components: int) -> np.ndarray:
    """``dims`` (None: all) as a 1-D array of ints in [0, n_components)."""
    if dims is None:
        return np.arange(n_components)
    array = np.atleast_1d(np.asarray(dims))
    if (
        array.ndim != 1
        or array.size == 0
        or not (np.issubdtype(array.dtype, np.integer) and array.dtype != bool)
        or array.min() < 0
        or array.max() >= n_components
    ):
        raise ValueError(
            "dims must be latent dimensions, integers in [0, n_components_="
            f"{n_components}), as an int or a non-empty 1-D sequence; got {dims!r}."
        )
    return array


def check_values(values: object) -> np.ndarray:
    """``values`` as a non-empty 1-D float64 array of finite numbers."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"values must be a non-empty 1-D sequence of numbers, got {values!r}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"values must be finite, got {values!r}.")
    return array


class _LatentMixin:
    """``interpolate`` and ``traverse`` for a fitted autoencoder transformer."""

    def _latent_origin(self) -> np.ndarray:
        """The code ``traverse`` starts from when no ``x`` is given."""
        raise NotImplementedError

    def _code_of_one(self, x: object, name: str) -> np.ndarray:
        """The code, shape (n_components_,), of one sample ``x``."""
        if not hasattr(x, "shape"):
            x = np.asarray(x)
        if x.ndim == 1:
            x = np.asarray(x).reshape(1, -1)
        if x.ndim != 2 or x.shape[0] != 1:
            raise ValueError(
                f"{name} must be one sample: an array-like of shape (n_features,) "
                f"or (1, n_features), got shape {x.shape}."
            )
        return self.transform(x)[0]

    def interpolate(self, x_start, x_end, n_steps=10):
        """Decode the straight line in latent space between two samples' codes.

        Parameters
        ----------
        x_start : array-like of shape (n_features,) or (1, n_features)
            The sample the line starts from, in the units it was fitted in.

        x_end : array-like of shape (n_features,) or (1, n_features)
            The sample the line ends at.

        n_steps : int, default=10
            Number of points on the line, both endpoints included (at
            least 2).

        Returns
        -------
        X_path : ndarray of shape (n_steps, n_features)
            The decoded points, in the units of the training data: the first
            is ``inverse_transform(transform(x_start))``, the last the
            reconstruction of ``x_end``.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from skae import VAETransformer
        >>> X, _ = load_digits(return_X_y=True)
        >>> vae = VAETransformer(max_iter=2, random_state=0).fit(X)
        >>> vae.interpolate(X[0], X[1], n_steps=5).shape
        (5, 64)
        """
        check_is_fitted(self)
        n_steps = check_n_steps(n_steps)
        z_start = self._code_of_one(x_start, "x_start")
        z_end = self._code_of_one(x_end, "x_end")
        if z_end.dtype != z_start.dtype:
            z_end = z_end.astype(np.result_type(z_start, z_end))
            z_start = z_start.astype(z_end.dtype)
        return self.inverse_transform(line_codes(z_start, z_end, n_steps))

    def traverse(self, x=None, dims=None, values=None):
        """Decode codes that vary one latent dimension at a time.

        Starting from the code of ``x``, each dimension ``d`` of ``dims`` is
        set in turn to each of ``values`` (the other dimensions keep their
        values) and the codes are decoded: the usual picture of what each
        latent dimension controls.

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features), default=None
            The sample whose code is traversed. None starts from the mean
            of the prior for :class:`~skae.VAETransformer` (0 for N(0, I);
            the mean of the VampPrior's components; for the conditional
            VAE, its classes' means weighted by ``class_prior_``) and from
            the mean code of the training data for
            :class:`~skae.AutoencoderTransformer` (the mean of
            ``latent_density_``, fitted on the codes of up to 2000 training
            rows).

        dims : int or array-like of int, default=None
            Latent dimensions to traverse, in ``[0, n_components_)``; None means
            all of them.

        values : array-like of float, default=None
            The values each dimension is set to, in latent units; None means
            ``np.linspace(-3, 3, 7)``, three prior standard deviations either
            side of the VAE's origin. The autoencoder's codes have no fixed
            scale: pass values spanning the range of its ``transform``.

        Returns
        -------
        grid : ndarray of shape (n_dims, n_values, n_features)
            ``grid[i, j]`` decodes the code with dimension ``dims[i]`` set to
            ``values[j]``, in the units of the training data.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from skae import VAETransformer
        >>> X, _ = load_digits(return_X_y=True)
        >>> vae = VAETransformer(n_components=3, max_iter=2, random_state=0).fit(X)
        >>> vae.traverse(dims=[0, 2]).shape
        (2, 7, 64)
        >>> vae.traverse(X[0], values=[-1.0, 0.0, 1.0]).shape
        (3, 3, 64)
        """
        check_is_fitted(self)
        dims = check_dims(dims, self.n_components_)
        values = check_values(np.linspace(-3, 3, 7) if values is None else values)
        z = self._latent_origin() if x is None else self._code_of_one(x, "x")
        codes = traversal_codes(z, dims, values.astype(z.dtype))
        decoded = self.inverse_transform(codes.reshape(-1, self.n_components_))
        return decoded.reshape(len(dims), len(values), -1)
