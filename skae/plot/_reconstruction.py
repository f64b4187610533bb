"""Rows next to their reconstructions."""

from __future__ import annotations

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


class ReconstructionDisplay:
    """Originals above their reconstructions: images, or feature profiles.

    For images, the originals form the top row of a grid and their
    reconstructions the row below; other rows are drawn as feature profiles,
    each original as a solid line and its reconstruction dashed, one pair
    above the other. Create it with :meth:`from_estimator`; the constructor
    takes arrays already computed.

    Parameters
    ----------
    originals : array-like of shape (n_examples, n_features)
        The rows.

    reconstructions : array-like of shape (n_examples, n_features)
        Their reconstructions (for example
        ``estimator.inverse_transform(estimator.transform(originals))``).

    image_shape : tuple of int, default=None
        ``(height, width)`` of one image. None means square images when
        ``n_features`` is the square of 8 or more, else feature profiles.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    image_ : matplotlib AxesImage or None
        The grid of images (None for profiles).

    lines_ : list of matplotlib Line2D
        The profiles, original then reconstruction for each example (empty
        for images).

    ax_ : matplotlib Axes
        Axes the plot is drawn on.

    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    SamplesDisplay : Generated samples.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.plot import ReconstructionDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(8, max_iter=2, random_state=0).fit(X)
    >>> display = ReconstructionDisplay.from_estimator(ae, X[:10])
    >>> display.image_.get_array().shape
    (17, 89)
    """

    def __init__(
        self, originals, reconstructions, *, image_shape=None, estimator_name=None
    ):
        self.originals = originals
        self.reconstructions = reconstructions
        self.image_shape = image_shape
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, cmap="gray_r", **kwargs):
        """Draw the originals and reconstructions.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        cmap : str, default="gray_r"
            Colour map of the images (both rows share the originals' range).

        **kwargs : dict
            Passed to ``imshow`` (images) or ``plot`` (profiles).

        Returns
        -------
        display : ReconstructionDisplay
            The Display, with the drawn artists as attributes.
        """
        originals = as_2d(self.originals, "originals")
        reconstructions = as_2d(self.reconstructions, "reconstructions")
        if originals.shape != reconstructions.shape:
            raise ValueError(
                f"originals {originals.shape} and reconstructions "
                f"{reconstructions.shape} must have the same shape."
            )
        shape = image_shape_of(self.image_shape, originals.shape[1])
        ax = new_axes(ax, "ReconstructionDisplay.plot")
        self.image_, self.lines_ = None, []
        if shape is not None:
            self.image_, centres = show_rows(
                ax,
                np.stack([originals, reconstructions]),
                shape,
                cmap=cmap,
                **{"vmin": originals.min(), "vmax": originals.max(), **kwargs},
            )
            ax.set_yticks(centres, ["original", "reconstruction"])
        else:
            self._plot_profiles(ax, originals, reconstructions, **kwargs)
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _plot_profiles(self, ax, originals, reconstructions, **kwargs) -> None:
        span = float(np.ptp(originals)) or 1.0
        features = np.arange(originals.shape[1])
        for i, (row, again) in enumerate(zip(originals, reconstructions, strict=True)):
            offset = -1.2 * span * i
            first = i == 0
            self.lines_ += ax.plot(
                features,
                row + offset,
                color="C0",
                label="original" if first else None,
                **kwargs,
            )
            self.lines_ += ax.plot(
                features,
                again + offset,
                color="C1",
                linestyle="--",
                label="reconstruction" if first else None,
                **kwargs,
            )
        ax.set(xlabel="feature", yticks=[])
        ax.legend(loc="upper right")

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        n_examples=10,
        image_shape=None,
        ax=None,
        **kwargs,
    ):
        """Reconstruct the first ``n_examples`` rows of ``X`` and draw them.

        Parameters
        ----------
        estimator : fitted transformer
            A fitted estimator with ``transform`` and ``inverse_transform``.

        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct; the first ``n_examples`` are drawn.

        y : array-like of shape (n_samples,), default=None
            Labels, for a :class:`~skae.ConditionalVAETransformer`: passed as
            ``y=`` to ``transform`` and ``inverse_transform``. None for other
            estimators (the conditional one then marginalises the label).

        n_examples : int, default=10
            Number of rows drawn.

        image_shape : tuple of int, default=None
            ``(height, width)`` of one image; None means the estimator's
            ``image_shape`` (a convolutional model's), else see the class.

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ReconstructionDisplay
            The Display, with the drawn artists as attributes.
        """
        require_matplotlib("ReconstructionDisplay.from_estimator")
        if not isinstance(n_examples, Integral) or n_examples < 1:
            raise ValueError(
                f"n_examples must be a positive integer, got {n_examples!r}."
            )
        rows = X[:n_examples]
        if y is None:
            again = estimator.inverse_transform(estimator.transform(rows))
        else:
            labels = np.asarray(y)[:n_examples]
            codes = estimator.transform(rows, y=labels)
            again = estimator.inverse_transform(codes, y=labels)
        display = cls(
            as_2d(rows, "X"),
            as_2d(again, "the reconstructions"),
            image_shape=shape_for(estimator, image_shape),
            estimator_name=name_of(estimator),
        )
        return display.plot(ax=ax, **kwargs)
