"""What the Displays share: matplotlib on demand, image grids, the axes."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np


def require_matplotlib(caller: str):
    """``matplotlib.pyplot``, or an ImportError that says how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib, an optional dependency of skae: "
            'pip install "skae[plot]" (or pip install matplotlib).'
        ) from error
    return plt


def new_axes(ax, caller: str, figsize: tuple[float, float] | None = None):
    """``ax``, or the axes of a new figure."""
    plt = require_matplotlib(caller)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def name_of(estimator: object) -> str:
    return type(estimator).__name__


def as_2d(values: object, name: str) -> np.ndarray:
    """``values`` (a DataFrame or a sparse matrix too) as a 2-D float array."""
    if hasattr(values, "toarray"):
        values = values.toarray()
    array = np.asarray(values, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {array.shape}.")
    return array


def shape_for(estimator: object, image_shape: object) -> object:
    """``image_shape``, or the estimator's own (a convolutional model's)."""
    return (
        image_shape
        if image_shape is not None
        else getattr(estimator, "image_shape", None)
    )


def image_shape_of(image_shape: object, n_features: int) -> tuple[int, int] | None:
    """The (height, width) of one image, or None for rows that are not images.

    An explicit ``image_shape`` (``(h, w)``, or ``(1, h, w)``: one channel)
    must hold ``n_features`` values; None means square images when
    ``n_features`` is the square of 8 or more (the 8x8 digits, 28x28 MNIST),
    else rows that are not images.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        return (side, side) if side >= 8 and side * side == n_features else None
    shape = tuple(image_shape)
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    if (
        len(shape) != 2
        or not all(isinstance(s, Integral) and s > 0 for s in shape)
        or shape[0] * shape[1] != n_features
    ):
        raise ValueError(
            "image_shape must be (height, width) or (1, height, width) with "
            f"height * width = n_features = {n_features}, got {image_shape!r}."
        )
    return int(shape[0]), int(shape[1])


def image_grid(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Images of shape (rows, cols, h * w) tiled into one 2-D array.

    A one-pixel NaN margin (drawn white) separates the images.
    """
    rows, cols = images.shape[:2]
    h, w = shape
    tiles = np.full((rows, cols, h + 1, w + 1), np.nan)
    tiles[:, :, :h, :w] = images.reshape(rows, cols, h, w)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * (h + 1), cols * (w + 1))[:-1, :-1]


def show_rows(
    ax,
    rows: np.ndarray,
    shape: tuple[int, int] | None,
    *,
    cmap: str,
    **kwargs,
):
    """Draw rows of shape (n_rows, n_cols, n_features): images or a heatmap.

    Images are tiled (``shape`` their height and width); rows that are not
    images become a heatmap, one line of pixels per row of ``rows`` and
    column of it, the features along the horizontal axis. ``kwargs`` go to
    ``imshow``; the colour range (``vmin``, ``vmax``) defaults to the rows'
    finite values. Returns the
    AxesImage, and the centre of each row of ``rows`` on the vertical axis.
    """
    import matplotlib

    n_rows, n_cols = rows.shape[:2]
    finite = rows[np.isfinite(rows)]
    if finite.size:  # the colour range: the rows' unless kwargs set it
        kwargs.setdefault("vmin", float(finite.min()))
        kwargs.setdefault("vmax", float(finite.max()))
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="white")
    if shape is None:
        picture = rows.reshape(n_rows * n_cols, -1)
        im = ax.imshow(
            picture,
            cmap=colormap,
            aspect="auto",
            interpolation="nearest",
            **kwargs,
        )
        ax.set_xlabel("feature")
        centres = np.arange(n_rows) * n_cols + (n_cols - 1) / 2
        return im, centres
    im = ax.imshow(
        image_grid(rows, shape),
        cmap=colormap,
        interpolation="nearest",
        **kwargs,
    )
    ax.set_xticks([])
    centres = np.arange(n_rows) * (shape[0] + 1) + (shape[0] - 1) / 2
    return im, centres
