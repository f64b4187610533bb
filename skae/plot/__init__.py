"""Plots of fitted skae estimators, as scikit-learn Displays.

Each Display has a ``from_estimator`` class method that computes what it
shows from a fitted estimator and draws it, and a ``plot(ax=...)`` method
that draws it again (on given axes, for example one panel of a figure);
the drawn artists are kept as attributes ending in ``_``, as in
:class:`sklearn.metrics.ConfusionMatrixDisplay`. matplotlib is an optional
dependency (``pip install "skae[plot]"``), imported when a Display draws.
"""

from ._latent_map import LatentMapDisplay
from ._loss_curve import LossCurveDisplay
from ._reconstruction import ReconstructionDisplay
from ._samples import SamplesDisplay
from ._traversal import LatentTraversalDisplay

__all__ = [
    "LatentMapDisplay",
    "LatentTraversalDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
    "SamplesDisplay",
]
