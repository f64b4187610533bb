"""interpolate and traverse: shapes, endpoints, origins, validation."""

import numpy as np
import pytest

from skae import AutoencoderTransformer, VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)


@pytest.fixture(scope="module", params=[AutoencoderTransformer, VAETransformer])
def fitted(request, digits):
    X = digits[0][:300]
    return request.param(n_components=3, **FAST).fit(X), X


def test_interpolate_endpoints_are_the_reconstructions(fitted):
    est, X = fitted
    path = est.interpolate(X[0], X[1], n_steps=6)
    assert path.shape == (6, 64) and path.dtype == np.float64
    ends = est.inverse_transform(est.transform(X[:2]))
    np.testing.assert_allclose(path[0], ends[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(path[-1], ends[1], rtol=1e-6, atol=1e-6)
    # (1, n_features) rows and lists work as well as 1-D arrays.
    np.testing.assert_array_equal(est.interpolate(X[:1], X[1:2], n_steps=6), path)
    np.testing.assert_array_equal(est.interpolate(list(X[0]), X[1], 6), path)


def test_interpolate_is_linear_in_latent_space(fitted):
    est, X = fitted
    z = est.transform(X[:2])
    path = est.interpolate(X[0], X[1], n_steps=3)
    middle = est.inverse_transform(z.mean(0, keepdims=True))[0]
    np.testing.assert_allclose(path[1], middle, rtol=1e-5, atol=1e-5)


def test_traverse_sets_one_dimension_at_a_time(fitted):
    est, X = fitted
    grid = est.traverse(X[0], dims=[2, 0], values=[-1.0, 0.5])
    assert grid.shape == (2, 2, 64)
    z = est.transform(X[:1])[0]
    code = z.copy()
    code[0] = 0.5
    np.testing.assert_allclose(
        grid[1, 1], est.inverse_transform(code[None])[0], rtol=1e-5, atol=1e-5
    )
    assert est.traverse().shape == (3, 7, 64)  # all dims, default values
    assert est.traverse(dims=1).shape == (1, 7, 64)


def test_traverse_origin():
    X = np.random.RandomState(0).normal(size=(80, 5)) + 2.0
    vae = VAETransformer(**FAST).fit(X)
    origin = vae.traverse(dims=[0], values=[0.0])[0, 0]
    np.testing.assert_allclose(origin, vae.inverse_transform(np.zeros((1, 2)))[0])
    ae = AutoencoderTransformer(**FAST).fit(X)
    mean_code = ae.transform(X).mean(0)
    z0 = mean_code[0]
    decoded = ae.traverse(dims=[0], values=[z0])[0, 0]
    np.testing.assert_allclose(
        decoded, ae.inverse_transform(mean_code[None])[0], rtol=1e-4, atol=1e-4
    )
    single = AutoencoderTransformer(**FAST).fit(X[:1])
    with pytest.raises(ValueError, match="pass x="):
        single.traverse()
    assert single.traverse(X[0]).shape == (2, 7, 5)


def test_validation(fitted):
    est, X = fitted
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="n_steps must be an integer"):
            est.interpolate(X[0], X[1], n_steps=bad)
    with pytest.raises(ValueError, match="x_end must be one sample"):
        est.interpolate(X[0], X[:2])
    with pytest.raises(ValueError, match="x_start must be one sample"):
        est.interpolate(3.0, X[1])
    with pytest.raises(ValueError, match="64 features"):
        est.interpolate(X[0, :10], X[1])
    for bad in (3, -1, [0, 5], [], [0.5], np.zeros((2, 2), dtype=int)):
        with pytest.raises(ValueError, match="dims must be latent dimensions"):
            est.traverse(dims=bad)
    for bad in ([], [[1.0]], ["a"], [np.nan]):
        with pytest.raises(ValueError, match="values must be"):
            est.traverse(values=bad)
    with pytest.raises(ValueError, match="x must be one sample"):
        est.traverse(X[:2])


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        VAETransformer().interpolate(np.zeros(3), np.ones(3))
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().traverse()
