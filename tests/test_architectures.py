"""Architectures as a parameter: "mlp", "conv" and user-defined builders."""

import functools
import pickle

import numpy as np
import pytest
import torch
from conftest import as_format_1
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import (
    check_estimators_pickle,
    check_methods_sample_order_invariance,
    check_methods_subset_invariance,
    check_transformer_general,
    check_transformer_preserve_dtypes,
)
from torch import nn

from skae import AutoencoderTransformer, VAETransformer, architectures, load, save
from skae._nn.builders import activation_elements

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BOTH = [AutoencoderTransformer, VAETransformer]
FAST = dict(hidden_layer_sizes=(16,), max_iter=2, device="cpu", random_state=0)
CONV = dict(FAST, architecture="conv")
SMALL_CONV = functools.partial(
    architectures.conv, image_shape=(8, 8), channels=(4, 8), hidden_layer_sizes=(16,)
)


def tiny_builder(n_features, n_components):
    """A module-level builder: one tanh layer of 12 units, a linear decoder."""
    encoder = nn.Sequential(nn.Linear(n_features, 12), nn.Tanh())
    return encoder, nn.Linear(n_components, n_features)


@pytest.fixture(scope="module")
def pixels(digits):
    """Digits in [0, 1]: 400 training and 50 test rows of 8x8 images."""
    X_train, X_test, _, _ = digits
    return X_train[:400] / 16, X_test[:50] / 16


def synthetic_images(n=120, seed=0):
    """Smooth random 3x10x12 images, flattened."""
    rng = np.random.RandomState(seed)
    rows, cols = np.arange(10)[:, None], np.arange(12)[None, :]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 3, 1, 1))
    images = np.sin(0.5 * rows + 0.3 * cols + phase) + 0.1 * rng.normal(
        size=(n, 3, 10, 12)
    )
    return images.reshape(n, -1)


# ----------------------------------------------------------------- the builders
@pytest.mark.parametrize(
    "shape", [(28, 28), (1, 28, 28), (8, 8), (3, 10, 12), (3, 32, 32), (1, 7, 9)]
)
def test_conv_builder_shapes(shape):
    n_features = int(np.prod(shape))
    encoder, decoder = architectures.conv(n_features, 3, image_shape=shape)
    assert encoder(torch.zeros(2, n_features)).shape == (2, 256)
    assert decoder(torch.zeros(2, 3)).shape == (2, n_features)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in encoder.modules())


def test_mlp_builder_without_hidden_layers_is_linear():
    encoder, decoder = architectures.mlp(5, 2, hidden_layer_sizes=())
    x = torch.randn(3, 5)
    assert torch.equal(encoder(x), x)
    assert [type(m) for m in decoder] == [nn.Linear]


def test_mlp_keeps_its_layers_and_parameter_names(small):
    ae = AutoencoderTransformer(2, **FAST, pca_path=False).fit(small)
    assert list(ae.module_.state_dict()) == [
        f"{part}.{i}.{p}"
        for part in ("encoder", "decoder")
        for i in (0, 2)
        for p in ("weight", "bias")
    ]
    vae = VAETransformer(2, likelihood="multinomial", **FAST).fit(np.abs(small))
    assert type(vae.module_.encoder[0]).__name__ == "UnitNorm"
    assert vae.module_.mean_head.in_features == 16


# ------------------------------------------------------------ conv estimators
@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "shape, data",
    [((8, 8), "digits"), ((3, 10, 12), "synthetic")],
    ids=["digits-8x8", "synthetic-3x10x12"],
)
def test_conv_estimators_fit_and_every_method(Est, shape, data, pixels):
    X, X_test = (
        pixels if data == "digits" else (synthetic_images(), synthetic_images(20, 1))
    )
    est = Est(3, image_shape=shape, **CONV).fit(X)
    assert isinstance(est.module_.encoder[1], nn.Conv2d)
    Z = est.transform(X_test)
    assert Z.shape == (len(X_test), 3) and np.isfinite(Z).all()
    R = est.inverse_transform(Z)
    assert R.shape == X_test.shape and np.isfinite(R).all()
    assert est.sample(4, random_state=0).shape == (4, X.shape[1])
    scores = est.score_samples(X_test)
    assert scores.shape == (len(X_test),) and np.isfinite(scores).all()


def test_conv_vae_bernoulli(pixels):
    X, X_test = pixels
    vae = VAETransformer(2, image_shape=(8, 8), likelihood="bernoulli", **CONV).fit(X)
    R = vae.inverse_transform(vae.transform(X_test))
    assert ((R >= 0) & (R <= 1)).all()
    assert np.isfinite(vae.log_likelihood(X_test[:3], n_samples=5)).all()


@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_bad_image_shape(Est, pixels):
    X, _ = pixels
    with pytest.raises(ValueError, match=r"image_shape=\(7, 7\).*n_features=64"):
        Est(image_shape=(7, 7), **CONV).fit(X)
    with pytest.raises(ValueError, match="architecture='conv' needs image_shape"):
        Est(**CONV).fit(X)
    for bad in [(8,), (0, 8), (1, 2, 4, 8), ("8", 8)]:
        with pytest.raises(ValueError, match="image_shape must be"):
            Est(image_shape=bad, **CONV).fit(X)
    assert not hasattr(Est(**CONV), "module_")
    # Ignored by the MLP.
    Est(image_shape=(7, 7), **FAST).fit(X)


def test_conv_autoencoder_learns(digits):
    X_train, X_test, _, _ = digits
    ae = AutoencoderTransformer(
        8,
        architecture="conv",
        image_shape=(8, 8),
        hidden_layer_sizes=(64,),
        max_iter=8,
        batch_size=64,
        device="cpu",
        random_state=0,
    ).fit(X_train)
    error = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
    baseline = np.mean((X_train.mean(0) - X_test) ** 2)
    assert error < 0.5 * baseline, (error, baseline)


@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_conv_is_batch_invariant(Est, pixels):
    X, X_test = pixels
    X_test = X_test.astype(np.float32)
    est = Est(5, image_shape=(8, 8), **CONV).fit(X)
    Z, scores = est.transform(X_test), est.score_samples(X_test)
    R = est.inverse_transform(Z)
    for i in range(0, len(X_test), 7):
        np.testing.assert_array_equal(est.transform(X_test[i : i + 1])[0], Z[i])
        np.testing.assert_array_equal(est.inverse_transform(Z[i : i + 1])[0], R[i])
        np.testing.assert_array_equal(
            est.score_samples(X_test[i : i + 3]), scores[i : i + 3]
        )
    order = np.random.RandomState(0).permutation(len(X_test))
    np.testing.assert_array_equal(est.transform(X_test[order]), Z[order])
    np.testing.assert_array_equal(est.inverse_transform(Z[order]), R[order])


SKLEARN_CHECKS = [
    check_methods_sample_order_invariance,
    check_methods_subset_invariance,
    check_transformer_general,
    check_transformer_preserve_dtypes,
    check_estimators_pickle,
]


@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_sklearn_checks_with_conv(Est, check):
    # These checks fit on 3 features: images of 1 x 3 pixels.
    est = Est(
        architecture="conv",
        image_shape=(1, 3),
        hidden_layer_sizes=(8,),
        max_iter=3,
        device="cpu",
    )
    check(Est.__name__, est)


def test_row_bytes_count_the_conv_activations(pixels):
    X, _ = pixels
    ae = AutoencoderTransformer(2, image_shape=(8, 8), **CONV).fit(X)
    # conv 4x4x32 and 2x2x64 outputs, then the dense layer of 16 units.
    assert activation_elements(ae.module_.encoder, 64) == 512 + 256 + 16
    assert ae._row_bytes() > AutoencoderTransformer(2, **FAST).fit(X)._row_bytes()


# ------------------------------------------------------------ callable builders
@pytest.mark.parametrize(
    "builder", [tiny_builder, SMALL_CONV], ids=["function", "partial"]
)
def test_callable_architecture_clones_and_pickles(builder, pixels):
    X, X_test = pixels
    ae = AutoencoderTransformer(2, architecture=builder, max_iter=2, random_state=0)
    ae.set_params(device="cpu")
    assert clone(ae).get_params()["architecture"] is not None
    ae.fit(X)
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(X_test), ae.transform(X_test))
    again.set_params(warm_start=True).fit(X)  # the same architecture
    refit = clone(ae).fit(X)
    if next(ae.module_.parameters()).device.type == "cpu":
        np.testing.assert_array_equal(refit.transform(X_test), ae.transform(X_test))
    else:
        # cuDNN's convolution backward is not deterministic (SKAE_TEST_DEVICE):
        # the same seed gives the same model up to its rounding, not bit for bit.
        np.testing.assert_allclose(
            refit.transform(X_test), ae.transform(X_test), rtol=1e-2, atol=1e-3
        )


@pytest.mark.slow
def test_callable_architecture_in_a_parallel_grid_search(pixels):
    X, _ = pixels
    est = VAETransformer(architecture=SMALL_CONV, max_iter=1, device="cpu")
    search = GridSearchCV(est, {"n_components": [2, 3]}, cv=2, n_jobs=2).fit(X)
    assert search.best_estimator_.architecture.func is architectures.conv


def test_the_same_callable_serves_both_estimators(pixels):
    X, _ = pixels
    ae = AutoencoderTransformer(3, architecture=tiny_builder, **FAST).fit(X)
    vae = VAETransformer(3, architecture=tiny_builder, **FAST).fit(X)
    assert ae.module_.encoder[-1].in_features == 12
    assert (
        vae.module_.mean_head.in_features == vae.module_.log_var_head.in_features == 12
    )
    assert ae.transform(X).shape == vae.transform(X).shape == (len(X), 3)


def wrong_pair(n_features, n_components):
    return nn.Linear(n_features, 4)


def wrong_width(n_features, n_components):
    return nn.Identity(), nn.Linear(n_components, n_features + 1)


def wrong_rank(n_features, n_components):
    return nn.Unflatten(1, (1, n_features)), nn.Linear(n_components, n_features)


def with_buffers(n_features, n_components):
    return nn.BatchNorm1d(n_features), nn.Linear(n_components, n_features)


@pytest.mark.parametrize(
    "builder, error, message",
    [
        (wrong_pair, TypeError, "wrong_pair must return a tuple"),
        (wrong_width, ValueError, "returns rows of 7 values, expected n_features=6"),
        (
            wrong_rank,
            ValueError,
            "encoder of the architecture wrong_rank must return a 2-D",
        ),
        (with_buffers, ValueError, "holds buffers"),
    ],
)
def test_bad_builders_are_refused_clearly(builder, error, message, small):
    with pytest.raises(error, match=message):
        AutoencoderTransformer(architecture=builder, **FAST).fit(small)


@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_warm_start_refuses_a_new_architecture(Est, pixels):
    X, _ = pixels
    est = Est(2, warm_start=True, **FAST).fit(X)
    with pytest.raises(ValueError, match="cannot change the architecture"):
        est.set_params(architecture="conv", image_shape=(8, 8)).fit(X)
    est = Est(2, warm_start=True, image_shape=(8, 8), **CONV).fit(X)
    with pytest.raises(ValueError, match="cannot change the architecture"):
        est.set_params(image_shape=(1, 8, 8)).fit(X)
    est.set_params(image_shape=[8, 8]).fit(X)  # the same shape


# ------------------------------------------------------------------- save/load
@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_conv_saves_and_loads(Est, pixels, tmp_path):
    X, X_test = pixels
    est = Est(2, image_shape=(1, 8, 8), **CONV).fit(X)
    save(est, tmp_path / "conv.safetensors")
    loaded = load(tmp_path / "conv.safetensors")
    assert loaded.image_shape == (1, 8, 8) and loaded.architecture == "conv"
    assert loaded._fitted_architecture == est._fitted_architecture
    np.testing.assert_array_equal(loaded.transform(X_test), est.transform(X_test))
    np.testing.assert_array_equal(
        loaded.score_samples(X_test), est.score_samples(X_test)
    )


@pytest.mark.parametrize(
    "builder", [tiny_builder, SMALL_CONV], ids=["function", "partial"]
)
def test_callable_architecture_cannot_be_saved(builder, pixels, tmp_path):
    X, _ = pixels
    ae = AutoencoderTransformer(architecture=builder, **FAST).fit(X)
    with pytest.raises(TypeError, match=r"architecture is the callable.*Pickle"):
        save(ae, tmp_path / "ae.safetensors")
    ae.set_params(architecture="mlp")  # what was fitted is still a callable
    with pytest.raises(TypeError, match="Pickle"):
        save(ae, tmp_path / "ae.safetensors")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("Est", [AutoencoderTransformer, VAETransformer])
def test_files_from_before_the_new_params_still_load(Est, small, tmp_path):
    import json

    # An older file's model: fitted with the values load fills in.
    former = dict(learning_rate="adaptive", activation="relu")
    if Est is AutoencoderTransformer:
        former["pca_path"] = False
    est = Est(**FAST, **former).fit(small)
    path = tmp_path / "model.safetensors"
    save(est, path)
    with safe_open(path, framework="numpy") as f:
        metadata, arrays = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    attributes = json.loads(metadata["attributes"])
    old = [2, {"__tuple__": [16]}, "relu"] + (
        ["gaussian"] if Est is VAETransformer else []
    )
    attributes["_fitted_architecture"] = {"__tuple__": old}
    metadata["attributes"] = json.dumps(attributes)
    params = json.loads(metadata["params"])
    added = ["architecture", "image_shape", "learning_rate"]
    added += (
        ["binarize", "n_importance_samples"] if Est is VAETransformer else ["pca_path"]
    )
    for name in added:
        del params[name]
    metadata["params"] = json.dumps(params)
    save_file(arrays, path, metadata=as_format_1(metadata))
    with pytest.warns(UserWarning, match="digest"):
        loaded = load(path)
    assert loaded.get_params() == est.get_params()
    assert loaded._fitted_architecture == est._fitted_architecture
    np.testing.assert_array_equal(loaded.transform(small), est.transform(small))
