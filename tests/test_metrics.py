"""skae.metrics: the sample-quality measures, on known answers and small models."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skae import ConditionalVAETransformer, VAETransformer
from skae.metrics import frechet_distance, sample_quality, within_class_spread

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(128,), learning_rate_init=3e-3, device="cpu")


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 3))
    assert frechet_distance(X, X) == pytest.approx(0.0, abs=1e-6)
    # Shift: the squared distance of the means.
    shifted = X + np.array([1.0, 2.0, 0.0])
    assert frechet_distance(X, shifted) == pytest.approx(5.0, abs=1e-6)
    # Scale 2 in every direction: Tr(I + 4I - 2 * 2I) = 3 (up to sampling).
    Y = 2.0 * rng.standard_normal((20000, 3))
    assert frechet_distance(X, Y) == pytest.approx(3.0, rel=0.05)
    assert frechet_distance(X, Y) == pytest.approx(frechet_distance(Y, X))
    with pytest.raises(ValueError, match="same number of features"):
        frechet_distance(X, X[:, :2])


def test_within_class_spread():
    X = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [5, 5]])
    y = np.array([1, 1, 0, 0, 0, 2])
    spread = within_class_spread(X, y)
    # Class 0: distances 1, 2, 1 -> 4/3; class 1: 5; one row: NaN.
    assert np.allclose(spread[:2], [4 / 3, 5.0]) and np.isnan(spread[2])
    big = np.random.default_rng(1).standard_normal((3000, 2))
    drawn = within_class_spread(big, np.zeros(3000), max_rows=500, random_state=0)
    assert drawn[0] == pytest.approx(np.sqrt(np.pi), rel=0.05)  # E|x - x'| in 2-D


@pytest.fixture(scope="module")
def judge(digits):
    X_train, _, y_train, _ = digits
    return LogisticRegression(max_iter=2000).fit(X_train, y_train)


def test_sample_quality_tells_a_trained_model_from_an_untrained_one(digits, judge):
    X_train, X_test, y_train, y_test = digits
    results = {}
    for epochs in (1, 30):
        cvae = ConditionalVAETransformer(2, max_iter=epochs, random_state=0, **SMALL)
        cvae.fit(X_train, y_train)
        results[epochs] = sample_quality(
            cvae, X_test, y_test, classifier=judge, n_per_class=30, random_state=0
        )
    good, bad = results[30], results[1]
    assert good.samples.shape == (300, 64)
    assert np.array_equal(good.requested, np.repeat(np.arange(10), 30))
    assert good.accuracy >= 0.9 > bad.accuracy
    assert np.isclose(good.class_accuracy.mean(), good.accuracy)
    assert good.frechet < bad.frechet
    assert good.spread_ratio.shape == (10,)
    # A 2-D model of the digits: its samples vary less than real digits
    # (0.20-0.43 of their spread with the exemplar prior), but not nothing.
    assert (good.spread_ratio > 0.15).all() and (good.spread_ratio < 1.5).all()
    # The same seed, the same samples.
    again = sample_quality(
        cvae, X_test, y_test, classifier=judge, n_per_class=30, random_state=0
    )
    assert np.array_equal(again.samples, good.samples)
    with pytest.raises(ValueError, match=r"no rows of the classes \[9\]"):
        sample_quality(cvae, X_test[y_test != 9], y_test[y_test != 9])


def test_sample_quality_of_an_unconditional_model(digits, judge):
    X_train, X_test, _, _ = digits
    vae = VAETransformer(2, max_iter=20, random_state=0, **SMALL).fit(X_train)
    result = sample_quality(vae, X_test, classifier=judge, n_samples=500)
    assert result.samples.shape == (500, 64) and result.requested is None
    assert result.accuracy is None and result.class_shares.shape == (10,)
    assert np.isclose(result.class_shares.sum(), 1.0)
    assert 0.2 < result.spread_ratio < 1.5
    # Fréchet distance to real rows: above that of real rows to each other.
    half = len(X_test) // 2
    assert (
        result.frechet
        > sample_quality(_Rows(X_test[:half]), X_test[half:], n_samples=half).frechet
    )


class _Rows:
    """An 'estimator' whose samples are given rows (real data as the floor)."""

    def __init__(self, rows):
        self.rows = rows

    def sample(self, n, random_state=None):
        return self.rows[:n]
