"""What each latent dimension controls: codes varied one dimension at a time."""

from __future__ import annotations

import numpy as np

from ._common import (
    image_shape_of,
    name_of,
    new_axes,
    require_matplotlib,
    shape_for,
    show_rows,
)


class LatentTraversalDisplay:
    """Decoded codes that vary one latent dimension at a time.

    Row ``i`` of the grid decodes a code whose dimension ``dims[i]`` runs
    through ``values`` while the others stay where they started (see
    :meth:`skae.VAETransformer.traverse`). Rows that are not images are drawn
    as a heatmap, one line per decoded code. Create it with
    :meth:`from_estimator`; the constructor takes the decoded grid.

    Parameters
    ----------
    grid : array-like of shape (n_dims, n_values, n_features)
        ``grid[i, j]``: the decoded code with dimension ``dims[i]`` set to
        ``values[j]``.

    dims : array-like of int of shape (n_dims,)
        The latent dimension of each row.

    values : array-like of float of shape (n_values,)
        The value of each column.

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
    SamplesDisplay : Generated samples.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer
    >>> from skae.plot import LatentTraversalDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(3, max_iter=2, random_state=0).fit(X)
    >>> display = LatentTraversalDisplay.from_estimator(vae)
    >>> display.image_.get_array().shape
    (26, 62)
    """

    def __init__(self, grid, dims, values, *, image_shape=None, estimator_name=None):
        self.grid = grid
        self.dims = dims
        self.values = values
        self.image_shape = image_shape
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, cmap="gray_r", **kwargs):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        cmap : str, default="gray_r"
            Colour map; the range is the grid's (``vmin``, ``vmax`` in
            ``kwargs`` set it).

        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.imshow``.

        Returns
        -------
        display : LatentTraversalDisplay
            The Display, with the drawn artists as attributes.
        """
        grid = np.asarray(self.grid, dtype=float)
        dims = np.asarray(self.dims).ravel()
        values = np.asarray(self.values, dtype=float).ravel()
        if grid.ndim != 3 or grid.shape[:2] != (len(dims), len(values)):
            raise ValueError(
                "grid must have shape (n_dims, n_values, n_features) = "
                f"({len(dims)}, {len(values)}, n_features), got {grid.shape}."
            )
        shape = image_shape_of(self.image_shape, grid.shape[2])
        ax = new_axes(ax, "LatentTraversalDisplay.plot")
        self.image_, centres = show_rows(
            ax,
            grid,
            shape,
            cmap=cmap,
            **kwargs,
        )
        ax.set_yticks(centres, [f"code {d}" for d in dims])
        if shape is not None:
            width = shape[1] + 1
            ax.set_xticks(
                np.arange(len(values)) * width + (width - 2) / 2,
                [f"{v:.3g}" for v in values],
            )
            ax.set_xlabel("value of the traversed dimension")
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        x=None,
        *,
        dims=None,
        values=None,
        image_shape=None,
        ax=None,
        **kwargs,
    ):
        """Traverse ``estimator``'s latent dimensions and draw the decoded grid.

        Parameters
        ----------
        estimator : fitted skae estimator
            A fitted estimator with ``traverse``.

        x : array-like of shape (n_features,), default=None
            The sample whose code is traversed; None starts from the origin
            of a VAE's latent space, from the mean training code of an
            autoencoder (see :meth:`skae.VAETransformer.traverse`).

        dims : int or array-like of int, default=None
            Latent dimensions to traverse; None means all of them.

        values : array-like of float, default=None
            The values each dimension is set to; None means
            ``np.linspace(-3, 3, 7)`` (pass values spanning an autoencoder's
            codes: they have no fixed scale).

        image_shape : tuple of int, default=None
            ``(height, width)`` of one image; None means the estimator's
            ``image_shape`` (a convolutional model's), else see the class.

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : LatentTraversalDisplay
            The Display, with the drawn artists as attributes.
        """
        require_matplotlib("LatentTraversalDisplay.from_estimator")
        grid = estimator.traverse(x, dims=dims, values=values)
        n_components = estimator.n_components_
        display = cls(
            grid,
            np.arange(n_components) if dims is None else np.atleast_1d(dims),
            np.linspace(-3, 3, 7) if values is None else values,
            image_shape=shape_for(estimator, image_shape),
            estimator_name=name_of(estimator),
        )
        return display.plot(ax=ax, **kwargs)
