"""A map of the codes: two latent dimensions, coloured by label."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ._common import as_2d, name_of, new_axes, require_matplotlib

# More distinct labels than this are drawn as a continuous colour scale.
MAX_CLASSES = 20


def check_pair(dims: object, n_components: int) -> tuple[int, int]:
    """``dims`` as two distinct latent dimensions in [0, n_components)."""
    if n_components < 2:
        raise ValueError(
            f"a latent map needs at least 2 components, the codes have {n_components}."
        )
    pair = tuple(dims) if np.ndim(dims) == 1 else ()
    if (
        len(pair) != 2
        or not all(isinstance(d, Integral) and 0 <= d < n_components for d in pair)
        or pair[0] == pair[1]
    ):
        raise ValueError(
            f"dims must be two distinct latent dimensions in [0, {n_components}), "
            f"got {dims!r}."
        )
    return int(pair[0]), int(pair[1])


def categorical(labels: np.ndarray) -> bool:
    """Whether ``labels`` are classes (not a continuous quantity)."""
    if labels.dtype.kind in "OUSb":
        return True
    if labels.dtype.kind in "iu":
        return len(np.unique(labels)) <= MAX_CLASSES
    return len(np.unique(labels)) <= MAX_CLASSES and bool(
        np.all(labels == np.round(labels))
    )


class LatentMapDisplay:
    """Latent map: rows' codes on two latent dimensions, coloured by label.

    The picture of what a two-dimensional (or any) latent space has learned:
    each row is a point at its code. Classes are drawn in distinct colours
    with a legend; a continuous label (more than 20 distinct values, or
    fractional ones) gets a colour scale. Create it with
    :meth:`from_estimator`; the constructor takes codes already computed.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
        The codes (for example ``estimator.transform(X)``).

    labels : array-like of shape (n_samples,), default=None
        A label per row that colours it; None draws every row alike.

    dims : tuple of two int, default=(0, 1)
        The latent dimensions on the horizontal and vertical axes.

    estimator_name : str, default=None
        Title of the plot (for example the estimator's class).

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        One per class (or one in all).

    legend_ : matplotlib Legend or None
        The classes' legend.

    colorbar_ : matplotlib Colorbar or None
        The colour scale of a continuous label.

    ax_ : matplotlib Axes
        Axes the map is drawn on.

    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    ReconstructionDisplay : Originals next to their reconstructions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer
    >>> from skae.plot import LatentMapDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> vae = VAETransformer(2, max_iter=2, random_state=0).fit(X)
    >>> display = LatentMapDisplay.from_estimator(vae, X, y)
    >>> len(display.scatters_)
    10
    """

    def __init__(self, codes, labels=None, *, dims=(0, 1), estimator_name=None):
        self.codes = codes
        self.labels = labels
        self.dims = dims
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, legend=True, **kwargs):
        """Draw the map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        legend : bool, default=True
            Whether to draw the classes' legend (or a continuous label's
            colour scale).

        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.scatter`` (default ``s=8``).

        Returns
        -------
        display : LatentMapDisplay
            The object, with the drawn artists as attributes.
        """
        codes = as_2d(self.codes, "codes")
        first, second = check_pair(self.dims, codes.shape[1])
        ax = new_axes(ax, "LatentMapDisplay.plot")
        kwargs = {"s": 8, **kwargs}
        x, y = codes[:, first], codes[:, second]
        self.legend_ = self.colorbar_ = None
        labels = None if self.labels is None else np.asarray(self.labels).ravel()
        if labels is not None and len(labels) != len(codes):
            raise ValueError(f"labels has {len(labels)} values for {len(codes)} codes.")
        if labels is None:
            self.scatters_ = [ax.scatter(x, y, **kwargs)]
        elif categorical(labels):
            classes = np.unique(labels)
            import matplotlib

            colors = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
            self.scatters_ = [
                ax.scatter(
                    x[labels == c],
                    y[labels == c],
                    color=colors(i % colors.N),
                    label=str(c),
                    **kwargs,
                )
                for i, c in enumerate(classes)
            ]
            if legend:
                self.legend_ = ax.legend(
                    markerscale=max(1.0, 24 / float(np.mean(kwargs["s"]))) ** 0.5,
                    loc="center left",
                    bbox_to_anchor=(1.0, 0.5),
                    frameon=False,
                )
        else:
            kwargs.setdefault("cmap", "viridis")
            self.scatters_ = [ax.scatter(x, y, c=labels.astype(float), **kwargs)]
            if legend:
                self.colorbar_ = ax.figure.colorbar(self.scatters_[0], ax=ax)
        ax.set(xlabel=f"code {first}", ylabel=f"code {second}")
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, X, y=None, *, dims=(0, 1), ax=None, legend=True, **kwargs
    ):
        """Map the codes ``estimator.transform(X)``, coloured by ``y``.

        Parameters
        ----------
        estimator : fitted transformer
            Any fitted transformer with ``transform`` (a skae estimator, a
            ``PCA``, a ``Pipeline`` ending in one).

        X : array-like of shape (n_samples, n_features)
            Rows to map.

        y : array-like of shape (n_samples,), default=None
            Labels that colour the rows.

        dims : tuple of two int, default=(0, 1)
            The latent dimensions on the horizontal and vertical axes.

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        legend : bool, default=True
            Whether to draw the legend or colour scale.

        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.scatter``.

        Returns
        -------
        display : LatentMapDisplay
            The Display, with the drawn artists as attributes.
        """
        require_matplotlib("LatentMapDisplay.from_estimator")
        codes = as_2d(estimator.transform(X), "the codes")
        display = cls(codes, y, dims=dims, estimator_name=name_of(estimator))
        return display.plot(ax=ax, legend=legend, **kwargs)
