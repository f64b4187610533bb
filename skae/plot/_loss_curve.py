"""The training (and validation) loss, epoch by epoch."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._common import name_of, new_axes, require_matplotlib


class LossCurveDisplay:
    """The loss per epoch of a fit: training, and validation where there is one.

    Create it with :meth:`from_estimator`; the constructor takes the curves.
    Each epoch of ``fit`` is one point; each call of ``partial_fit`` is one
    (the estimators' ``loss_curve_``).

    Parameters
    ----------
    loss_curve : array-like of shape (n_iter,)
        The training loss after each iteration.

    validation_loss_curve : array-like of shape (n_last,), default=None
        The loss on held-out rows (``early_stopping=True``) in the last
        ``n_last`` iterations (after a ``warm_start`` fit: the last fit's),
        or None.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        The training curve, then the validation curve where there is one.

    ax_ : matplotlib Axes
        Axes the curves are drawn on.

    figure_ : matplotlib Figure
        Figure holding the axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.plot import LossCurveDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(8, max_iter=5, early_stopping=True,
    ...                             random_state=0).fit(X)
    >>> len(LossCurveDisplay.from_estimator(ae).lines_)
    2
    """

    def __init__(self, loss_curve, validation_loss_curve=None, *, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.estimator_name = estimator_name

    def plot(self, ax=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot`` for both curves.

        Returns
        -------
        display : LossCurveDisplay
            The Display, with the drawn artists as attributes.
        """
        ax = new_axes(ax, "LossCurveDisplay.plot")
        train = np.asarray(self.loss_curve, dtype=float)
        epochs = np.arange(1, len(train) + 1)
        self.lines_ = ax.plot(epochs, train, label="training", **kwargs)
        if self.validation_loss_curve is not None:
            valid = np.asarray(self.validation_loss_curve, dtype=float)
            if len(valid) > len(train):
                raise ValueError(
                    f"validation_loss_curve has {len(valid)} values, more than "
                    f"loss_curve's {len(train)}."
                )
            # After warm starts the validation curve covers the last fit only.
            last = epochs[len(train) - len(valid) :]
            self.lines_ += ax.plot(last, valid, label="validation", **kwargs)
        ax.set(xlabel="epoch", ylabel="loss")
        ax.legend()
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, **kwargs):
        """Draw a fitted estimator's ``loss_curve_`` and ``validation_loss_curve_``.

        Parameters
        ----------
        estimator : fitted estimator
            A fitted skae estimator (or any with a ``loss_curve_``).

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : LossCurveDisplay
            The Display, with the drawn artists as attributes.
        """
        require_matplotlib("LossCurveDisplay.from_estimator")
        check_is_fitted(estimator, "loss_curve_")
        display = cls(
            estimator.loss_curve_,
            getattr(estimator, "validation_loss_curve_", None),
            estimator_name=name_of(estimator),
        )
        return display.plot(ax=ax, **kwargs)
