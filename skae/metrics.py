"""How good are generated samples? Measures to run on your own data.

A generative model's samples should be of the kind asked for, as varied as
the real data and distributed like it. :func:`sample_quality` measures the
three for any estimator with a ``sample`` method (the conditional VAE per
class) against real rows; :func:`frechet_distance` and
:func:`within_class_spread` are its parts.

Reading the numbers:

* ``accuracy``: the share of samples that a classifier trained on the real
  data assigns to the requested class (conditional models). Its ceiling is
  the classifier's own accuracy on real test data: state both.
* ``spread_ratio``: mean pairwise distance between samples of a class over
  that between real rows of the class. Near 1 the samples vary as much as
  the data; decoder means (what ``sample`` returns) are smoother than real
  rows, so values of 0.6-0.8 are usual for good models, and a model that
  draws one prototype per class scores near 0.
* ``frechet``: the squared Fréchet distance between Gaussians fitted to the
  samples and to the real rows in a feature space (the Fréchet Inception
  Distance's formula, with PCA features by default); 0 for identical
  statistics. Compare it with the distance between two halves of the real
  data, which sets its floor.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_array, check_consistent_length

__all__ = ["frechet_distance", "sample_quality", "within_class_spread"]


def frechet_distance(X, Y):
    """Squared Fréchet distance between Gaussians fitted to two sets of rows.

    ``||m_X - m_Y||^2 + Tr(C_X + C_Y - 2 (C_X C_Y)^{1/2})`` with the rows'
    means ``m`` and covariances ``C``: the formula of the Fréchet Inception
    Distance (Heusel et al., 2017), in whatever feature space the rows are.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        First set of rows (e.g. features of real data).

    Y : array-like of shape (n_samples_Y, n_features)
        Second set of rows (e.g. features of generated samples).

    Returns
    -------
    distance : float
        The squared distance, >= 0; 0 when both sets have the same mean and
        covariance.

    Examples
    --------
    >>> import numpy as np
    >>> from skae.metrics import frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5000, 2))
    >>> round(frechet_distance(X, X + [3.0, 0.0]), 6)
    9.0
    """
    X = check_array(X, dtype=np.float64, ensure_min_samples=2)
    Y = check_array(Y, dtype=np.float64, ensure_min_samples=2)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y need the same number of features, got {X.shape[1]} "
            f"and {Y.shape[1]}."
        )
    cov_x = np.atleast_2d(np.cov(X, rowvar=False))
    cov_y = np.atleast_2d(np.cov(Y, rowvar=False))
    root = linalg.sqrtm(cov_x @ cov_y)
    trace = np.trace(cov_x) + np.trace(cov_y) - 2.0 * np.trace(root).real
    shift = np.sum((X.mean(0) - Y.mean(0)) ** 2)
    return float(max(shift + trace, 0.0))


def within_class_spread(X, y, *, max_rows=1000, random_state=None):
    """Mean pairwise Euclidean distance between rows of each class.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Rows.

    y : array-like of shape (n_samples,)
        Their classes.

    max_rows : int, default=1000
        At most this many rows of a class are compared (drawn at random;
        the cost grows with the square of the count).

    random_state : int, RandomState instance or None, default=None
        Seed of the draw of rows in classes larger than ``max_rows``.

    Returns
    -------
    spread : ndarray of shape (n_classes,)
        For each class of ``np.unique(y)``, the mean distance over pairs of
        distinct rows (NaN for a class with one row).

    Examples
    --------
    >>> from skae.metrics import within_class_spread
    >>> within_class_spread([[0, 0], [3, 4], [1, 1], [1, 1]], [0, 0, 1, 1])
    array([5., 0.])
    """
    X = check_array(X, dtype=np.float64)
    y = np.asarray(y)
    check_consistent_length(X, y)
    rng = check_random_state(random_state)
    spread = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        if len(rows) > max_rows:
            rows = rng.choice(rows, max_rows, replace=False)
        n = len(rows)
        distances = pairwise_distances(X[rows])
        spread.append(distances.sum() / (n * (n - 1)) if n > 1 else np.nan)
    return np.asarray(spread)


def sample_quality(
    estimator,
    X,
    y=None,
    *,
    classifier=None,
    n_per_class=100,
    n_samples=1000,
    features=None,
    random_state=None,
):
    """Judge an estimator's samples against real rows.

    For a conditional model (an estimator with ``classes_`` whose
    ``sample`` takes ``y``), ``n_per_class`` samples of each class are
    drawn; otherwise ``n_samples`` samples.

    Parameters
    ----------
    estimator : fitted estimator with a ``sample(n, random_state, y=...)`` method
        The generative model, e.g. :class:`~skae.ConditionalVAETransformer`.

    X : array-like of shape (n_rows, n_features)
        Real rows to compare with (preferably not the training rows), in
        the units the estimator was fitted in.

    y : array-like of shape (n_rows,), default=None
        Their classes. Needed for the per-class spread; for a conditional
        model they must be among its ``classes_``.

    classifier : fitted classifier, default=None
        A classifier trained on real data (e.g. a small CNN wrapped with a
        ``predict`` method, or a scikit-learn pipeline). With a conditional
        model, ``accuracy`` is the share of samples it assigns to the
        requested class; with an unconditional one, ``class_shares`` tells
        how often each class is drawn.

    n_per_class : int, default=100
        Samples drawn per class from a conditional model.

    n_samples : int, default=1000
        Samples drawn from an unconditional model.

    features : object with a ``transform`` method, or callable, default=None
        The feature space of the Fréchet distance. None fits
        ``PCA(min(20, n_features))`` on ``X``.

    random_state : int, RandomState instance or None, default=None
        Seed of the samples (and of the PCA and row draws).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``samples`` and ``requested`` (the class each sample was drawn for,
        None for an unconditional model); ``accuracy`` and
        ``class_accuracy`` (conditional model and classifier, else None);
        ``class_shares`` (unconditional model and classifier: the share of
        samples assigned to each of ``classifier.classes_``, else None);
        ``classes`` and ``spread_ratio`` (per class, with ``y``: samples'
        :func:`within_class_spread` over the real rows'; for an
        unconditional model or without ``y``, one overall ratio);
        ``frechet`` (:func:`frechet_distance` of the features of real rows
        and samples).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skae import ConditionalVAETransformer
    >>> from skae.metrics import sample_quality
    >>> X, y = load_digits(return_X_y=True)
    >>> cvae = ConditionalVAETransformer(2, max_iter=5, random_state=0).fit(X, y)
    >>> judge = LogisticRegression(max_iter=1000).fit(X, y)
    >>> result = sample_quality(cvae, X, y, classifier=judge, random_state=0)
    >>> sorted(result)  # doctest: +NORMALIZE_WHITESPACE
    ['accuracy', 'class_accuracy', 'class_shares', 'classes', 'frechet',
     'requested', 'samples', 'spread_ratio']
    """
    X = check_array(X, dtype=np.float64)
    if y is not None:
        y = np.asarray(y)
        check_consistent_length(X, y)
    rng = check_random_state(random_state)
    seed = rng.randint(np.iinfo(np.int32).max)
    conditional = hasattr(estimator, "classes_")
    if conditional:
        classes = np.asarray(estimator.classes_)
        requested = np.repeat(classes, n_per_class)
        samples = estimator.sample(len(requested), random_state=seed, y=requested)
    else:
        requested = None
        samples = estimator.sample(n_samples, random_state=seed)
    samples = np.asarray(samples, dtype=np.float64)
    result = Bunch(
        samples=samples,
        requested=requested,
        accuracy=None,
        class_accuracy=None,
        class_shares=None,
    )
    if classifier is not None:
        predicted = np.asarray(classifier.predict(samples))
        if conditional:
            hit = predicted == requested
            result.accuracy = float(hit.mean())
            result.class_accuracy = np.array(
                [hit[requested == c].mean() for c in classes]
            )
        else:
            labels = np.asarray(classifier.classes_)
            result.class_shares = np.array([np.mean(predicted == c) for c in labels])
    if conditional and y is not None:
        result.classes = classes
        missing = np.setdiff1d(classes, y)
        if missing.size:
            raise ValueError(
                f"y has no rows of the classes {missing[:5].tolist()} that the "
                "estimator samples; pass real rows of every class in classes_."
            )
        real = within_class_spread(X, y, random_state=rng)
        real = real[np.searchsorted(np.unique(y), classes)]
        result.spread_ratio = within_class_spread(samples, requested) / real
    else:
        result.classes = None
        real = within_class_spread(X, np.zeros(len(X)), random_state=rng)
        fake = within_class_spread(samples, np.zeros(len(samples)))
        result.spread_ratio = float(fake[0] / real[0])
    if features is None:
        features = PCA(min(20, X.shape[1], len(X)), random_state=rng).fit(X)
    embed = features.transform if hasattr(features, "transform") else features
    result.frechet = frechet_distance(embed(X), embed(samples))
    return result
