"""A grid of generated samples, one row per class for a conditional model."""

from __future__ import annotations

import inspect
import math
from numbers import Integral

import numpy as np

from ._common import (
    as_2d,
    image_shape_of,
    name_of,
    new_axes,
    require_matplotlib,
    shape_for,
    show_rows,
)


def takes_labels(estimator: object) -> bool:
    """Whether ``estimator.sample`` generates chosen classes (``y=``)."""
    return "y" in inspect.signature(estimator.sample).parameters


def _in_order(y: object) -> np.ndarray:
    """The distinct values of ``y`` in the order they first come."""
    values = np.atleast_1d(np.asarray(y))
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


class SamplesDisplay:
    """Generated samples as a grid of images (or a heatmap of rows).

    With ``labels`` (a conditional model's requested classes), each row of
    the grid holds the samples of one class, in the order the classes first
    come in ``labels``; without, the samples fill a
    near-square grid. Rows that are not images are drawn as a heatmap, one
    line per sample. Create it with :meth:`from_estimator`; the constructor
    takes samples already drawn.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_features)
        The samples.

    labels : array-like of shape (n_samples,), default=None
        The class each sample was asked for; every class must have the same
        number of samples. None: samples without classes.

    image_shape : tuple of int, default=None
        ``(height, width)`` of one image. None means square images when
        ``n_features`` is the square of 8 or more, else a heatmap.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    image_ : matplotlib AxesImage
        The grid (or heatmap).

    ax_ : matplotlib Axes
        Axes the grid is drawn on.

    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LatentTraversalDisplay : Decoded codes that vary one dimension at a time.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer
    >>> from skae.plot import SamplesDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(2, max_iter=2, random_state=0).fit(X)
    >>> display = SamplesDisplay.from_estimator(vae, n_samples=16)
    >>> display.image_.get_array().shape
    (35, 35)
    """

    def __init__(self, samples, *, labels=None, image_shape=None, estimator_name=None):
        self.samples = samples
        self.labels = labels
        self.image_shape = image_shape
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, cmap="gray_r", **kwargs):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        cmap : str, default="gray_r"
            Colour map; the range is the samples' (``vmin``, ``vmax`` in
            ``kwargs`` set it).

        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.imshow``.

        Returns
        -------
        display : SamplesDisplay
            The Display, with the drawn artists as attributes.
        """
        samples = as_2d(self.samples, "samples")
        shape = image_shape_of(self.image_shape, samples.shape[1])
        rows, names = self._rows(samples)
        ax = new_axes(ax, "SamplesDisplay.plot")
        self.image_, centres = show_rows(
            ax,
            rows,
            shape,
            cmap=cmap,
            **kwargs,
        )
        if names is None:
            ax.set_yticks([])
        else:
            ax.set_yticks(centres, names)
            ax.set_ylabel("requested class")
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _rows(self, samples: np.ndarray) -> tuple[np.ndarray, list | None]:
        """Samples as (rows, columns, n_features), and each row's class."""
        n = len(samples)
        if self.labels is None:
            cols = math.ceil(math.sqrt(n))
            rows = math.ceil(n / cols)
            grid = np.full((rows * cols, samples.shape[1]), np.nan)
            grid[:n] = samples
            return grid.reshape(rows, cols, -1), None
        labels = np.asarray(self.labels).ravel()
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} values for {n} samples.")
        classes, first, counts = np.unique(
            labels, return_index=True, return_counts=True
        )
        if len(set(counts)) != 1:
            raise ValueError(
                "every class needs the same number of samples, got "
                f"{dict(zip(classes.tolist(), counts.tolist(), strict=True))}."
            )
        classes = classes[np.argsort(first)]  # in the order they come
        grid = np.stack([samples[labels == c] for c in classes])
        return grid, [str(c) for c in classes]

    @classmethod
    def from_estimator(
        cls,
        estimator,
        n_samples=64,
        *,
        y=None,
        image_shape=None,
        random_state=0,
        ax=None,
        **kwargs,
    ):
        """Draw samples from ``estimator.sample`` and show them.

        Parameters
        ----------
        estimator : fitted estimator
            A fitted estimator with ``sample``. For a
            :class:`~skae.ConditionalVAETransformer`, each requested class
            gets ``n_samples`` samples, one row of the grid, drawn from the
            same standard normal draws (for an int ``random_state``: the
            same place in each class's prior, so that with
            ``prior="class"`` columns tend to share a style; the default
            exemplar prior draws an unrelated exemplar in each class).

        n_samples : int, default=64
            Number of samples; per class for a conditional model.

        y : array-like, default=None
            The classes a conditional model is asked for, one row each in
            this order; None means all of its ``classes_``. Ignored by models
            without classes.

        image_shape : tuple of int, default=None
            ``(height, width)`` of one image; None means the estimator's
            ``image_shape`` (a convolutional model's), else see the class.

        random_state : int, RandomState instance or None, default=0
            Seeds ``sample``.

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SamplesDisplay
            The Display, with the drawn artists as attributes.
        """
        require_matplotlib("SamplesDisplay.from_estimator")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer, got {n_samples!r}."
            )
        labels = None
        if takes_labels(estimator):
            classes = estimator.classes_ if y is None else _in_order(y)
            labels = np.repeat(classes, n_samples)
            samples = np.concatenate(
                [
                    estimator.sample(n_samples, random_state=random_state, y=c)
                    for c in classes
                ]
            )
        else:
            samples = estimator.sample(n_samples, random_state=random_state)
        display = cls(
            as_2d(samples, "the samples"),
            labels=labels,
            image_shape=shape_for(estimator, image_shape),
            estimator_name=name_of(estimator),
        )
        return display.plot(ax=ax, **kwargs)
