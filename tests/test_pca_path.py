"""``pca_path=True``: an autoencoder that starts at PCA and improves on it."""

import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import as_format_1
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skae import AutoencoderTransformer, load, save
from skae._data import DenseRows
from skae._nn import principal
from skae._nn.principal import principal_axes


def _error(model, X):
    return ((model.inverse_transform(model.transform(X)) - X) ** 2).sum(1).mean()


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AutoencoderTransformer(random_state=0, **params).fit(X)


def _rows(X):
    return DenseRows(torch.as_tensor(X, dtype=torch.float32), None)


def test_principal_axes_are_pcas(digits):
    X = digits[0]
    mean, axes = principal_axes(_rows(X), 10, torch.Generator().manual_seed(0))
    pca = PCA(10, svd_solver="full").fit(X)
    # sklearn signs each axis so that its largest entry is positive, as here.
    np.testing.assert_allclose(axes.numpy(), pca.components_, atol=2e-5)
    np.testing.assert_allclose(mean.numpy(), pca.mean_, rtol=1e-6)


def test_wide_rows_use_subspace_iteration(digits, monkeypatch):
    X = digits[0]
    monkeypatch.setattr(principal, "MAX_DENSE_FEATURES", 8)
    _, axes = principal_axes(_rows(X), 5, torch.Generator().manual_seed(0))
    pca = PCA(5, svd_solver="full").fit(X)
    np.testing.assert_allclose(axes.numpy(), pca.components_, atol=1e-3)


def test_more_components_than_features_get_zero_axes(small):
    _, axes = principal_axes(_rows(small), 9, torch.Generator().manual_seed(0))
    assert axes.shape == (9, 6)
    np.testing.assert_allclose(axes[:6] @ axes[:6].T, np.eye(6), atol=1e-5)
    assert not axes[6:].any()


@pytest.mark.parametrize("scaling", ["auto", None])
def test_the_fit_starts_at_pca(digits, scaling):
    X = digits[0]
    # One epoch at a negligible rate: the model as initialised.
    ae = _fit(
        X,
        n_components=8,
        pca_path=True,
        max_iter=1,
        learning_rate_init=1e-12,
        scaling=scaling,
    )
    pca = PCA(8).fit(X)
    np.testing.assert_allclose(_error(ae, X), _error(pca, X), rtol=1e-5)
    codes, pca_codes = ae.transform(X), pca.transform(X)
    # The codes are PCA's in the scaled units: one common factor.
    factor = np.linalg.norm(codes) / np.linalg.norm(pca_codes)
    np.testing.assert_allclose(codes, factor * pca_codes, atol=1e-3 * factor)


def test_it_improves_on_pca_and_on_the_plain_network(digits):
    X_train, X_test = digits[:2]
    params = dict(n_components=8, max_iter=15, learning_rate="cosine")
    with_path = _error(_fit(X_train, pca_path=True, **params), X_test)
    plain = _error(_fit(X_train, pca_path=False, **params), X_test)
    pca = _error(PCA(8).fit(X_train), X_test)
    assert with_path < 0.8 * pca
    assert with_path < plain


def test_sparse_rows_give_the_dense_model(digits):
    X = digits[0][:300]
    params = dict(n_components=4, pca_path=True, max_iter=3, scaling=None)
    dense, sparse = _fit(X, **params), _fit(sp.csr_matrix(X), **params)
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X), atol=1e-4)


def test_conv_architecture(digits):
    X = digits[0][:300] / 16
    ae = _fit(
        X,
        n_components=6,
        pca_path=True,
        architecture="conv",
        image_shape=(8, 8),
        hidden_layer_sizes=(),
        max_iter=1,
        learning_rate_init=1e-12,
    )
    np.testing.assert_allclose(_error(ae, X), _error(PCA(6).fit(X), X), rtol=1e-4)


def _ends_in_an_activation(n_features, n_components):
    encoder = nn.Sequential(nn.Linear(n_features, 8), nn.ReLU())
    decoder = nn.Sequential(nn.Linear(n_components, n_features), nn.Sigmoid())
    return encoder, decoder


def test_a_decoder_that_cannot_start_at_zero_is_refused(small):
    ae = AutoencoderTransformer(pca_path=True, architecture=_ends_in_an_activation)
    with pytest.raises(ValueError, match="pca_path=True needs a decoder"):
        ae.fit(small)
    assert not hasattr(ae, "module_")


def test_warm_start_refuses_to_add_the_path(small):
    ae = _fit(
        small, hidden_layer_sizes=(8,), max_iter=2, warm_start=True, pca_path=False
    )
    with pytest.raises(ValueError, match="architecture"):
        ae.set_params(pca_path=True).fit(small)


def test_saves_and_loads_and_older_files_have_no_path(small, tmp_path):
    ae = _fit(small, hidden_layer_sizes=(8,), max_iter=2, pca_path=True)
    save(ae, tmp_path / "path.safetensors")
    loaded = load(tmp_path / "path.safetensors")
    np.testing.assert_array_equal(loaded.transform(small), ae.transform(small))

    # A file written before pca_path existed: no parameter, 5 entries.
    plain = _fit(small, hidden_layer_sizes=(8,), max_iter=2, pca_path=False)
    path = tmp_path / "plain.safetensors"
    save(plain, path)
    with safe_open(path, framework="numpy") as f:
        metadata, arrays = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    attributes = json.loads(metadata["attributes"])
    attributes["_fitted_architecture"]["__tuple__"].pop()
    params = json.loads(metadata["params"])
    del params["pca_path"]
    metadata["attributes"], metadata["params"] = map(json.dumps, (attributes, params))
    save_file(arrays, path, metadata=as_format_1(metadata))
    with pytest.warns(UserWarning, match="digest"):
        old = load(path)
    assert old.pca_path is False
    np.testing.assert_array_equal(old.transform(small), plain.transform(small))


def test_inference_is_batch_invariant_at_odd_widths():
    # Widths 13 and 5 are where MKL's products depend on a row's position.
    X = np.random.RandomState(0).normal(size=(40, 13)).astype(np.float32)
    ae = _fit(X, n_components=5, hidden_layer_sizes=(7,), max_iter=3, pca_path=True)
    Z, rec = ae.transform(X), ae.inverse_transform(X[:, :5])
    scores = ae.score_samples(X)
    for i in range(0, 40, 3):
        np.testing.assert_array_equal(ae.transform(X[i : i + 1])[0], Z[i])
        np.testing.assert_array_equal(ae.inverse_transform(X[i : i + 1, :5])[0], rec[i])
        np.testing.assert_array_equal(ae.score_samples(X[i : i + 1])[0], scores[i])
