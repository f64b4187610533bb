"""VAETransformer.active_units_: the variance of the posterior means per dimension."""

import pickle

import numpy as np
import pytest

from skae import VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The schedule these tests were written for (Adam at 1e-3, ReLU, no input
# noise): they are about the KL term, not about the defaults.
PARAMS = dict(
    hidden_layer_sizes=(64,),
    max_iter=15,
    activation="relu",
    learning_rate="adaptive",
    learning_rate_init=1e-3,
    corruption=None,
    device="cpu",
    random_state=0,
)


def test_unneeded_dimensions_are_inactive(digits):
    X = digits[0] / 16
    vae = VAETransformer(
        n_components=48,
        likelihood="bernoulli",
        beta=1.0,
        **dict(PARAMS, hidden_layer_sizes=(128,), max_iter=40),
    ).fit(X)
    variance = vae.posterior_mean_variance_
    assert variance.shape == (48,) and variance.dtype == np.float64
    np.testing.assert_allclose(variance, vae.transform(X).var(0), rtol=1e-4)
    assert vae.active_units_ == np.count_nonzero(variance > 0.01)
    # Digits need fewer than 48 dimensions: the KL term switches many off.
    assert 0 < vae.active_units_ <= 40


def test_a_huge_beta_collapses_every_unit(digits):
    X = digits[0] / 16
    vae = VAETransformer(n_components=4, beta=1000.0, **PARAMS).fit(X)
    assert vae.active_units_ == 0
    assert np.all(vae.posterior_mean_variance_ < 0.01)


def test_pickle_keeps_active_units(digits):
    X = digits[0][:200]
    vae = VAETransformer(n_components=3, **dict(PARAMS, max_iter=2)).fit(X)
    copy = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(
        copy.posterior_mean_variance_, vae.posterior_mean_variance_
    )
    assert copy.active_units_ == vae.active_units_
