"""The data-adaptive defaults: what "auto" resolves to, and where."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import AutoencoderTransformer, ConditionalVAETransformer, VAETransformer
from skae._estimators import defaults
from skae._estimators.defaults import TrainingData

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
# Most fits here run a budget of 1-3 epochs, which ends with the loss falling.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize(
    "n, d, likelihood, hidden, batch, epochs",
    [
        (1347, 64, None, (1000, 500), 128, 80),  # the digits
        (60000, 784, None, (1000, 500, 250), 256, 80),  # MNIST
        (1_000_000, 784, None, (1000, 500, 250), 256, 20),
        (1_000_000, 784, "gaussian", (1000, 500), 256, 20),  # VAE: two layers
        (100, 3, None, (64, 32), 32, 80),
        (20, 5, "bernoulli", (80, 40), 20, 80),
        (742, 1447, "multinomial", (600,), 100, 100),  # MovieLens-100k
        (50, 1447, "multinomial", (600,), 50, 100),
    ],
)
def test_rules(n, d, likelihood, hidden, batch, epochs):
    data = TrainingData(n, d, likelihood)
    assert defaults.hidden_layer_sizes(data) == hidden
    assert defaults.batch_size(data) == batch
    assert defaults.max_iter(data) == epochs


def test_noise_is_in_the_data_units_and_falls_with_size():
    assert defaults.noise_factor(1347) == pytest.approx(1.126, abs=1e-3)
    assert defaults.noise_factor(60000) == pytest.approx(0.360, abs=1e-3)
    assert defaults.noise_factor(10) == 1.5  # capped on tiny data
    X = X_DIGITS[:500]
    levels = [
        AutoencoderTransformer()._resolved(X * unit, warm=False).corruption_level
        for unit in (1.0, 10.0)
    ]
    spread = np.sqrt(X.var(0).mean())
    assert levels[0] == pytest.approx(defaults.noise_factor(500) * spread)
    assert levels[1] == pytest.approx(10 * levels[0])


def test_explicit_values_are_kept():
    model = VAETransformer(
        hidden_layer_sizes=(7,), beta=2.0, corruption=None, max_iter=3
    )
    spec = model._resolved(X_DIGITS, warm=False)
    assert (spec.hidden_layer_sizes, spec.beta, spec.corruption) == ((7,), 2.0, None)
    assert spec.max_iter == 3 and spec.learning_rate == "cosine"
    assert spec.kl_warmup == 0 and spec.activation == "silu"
    assert model.activation == "auto"  # the estimator is unchanged


@pytest.mark.parametrize(
    "likelihood, beta, corruption",
    [("gaussian", 0.5, "gaussian"), ("bernoulli", 1.0, None)],
)
def test_vae_rules_follow_the_likelihood(likelihood, beta, corruption):
    spec = VAETransformer(likelihood=likelihood)._resolved(X_DIGITS / 16, warm=False)
    assert (spec.beta, spec.corruption) == (beta, corruption)


def test_the_conditional_vae_trains_on_the_evidence_lower_bound():
    # A generative model: beta 1 also for the Gaussian likelihood.
    from skae import ConditionalVAETransformer

    y = np.arange(len(X_DIGITS)) % 10
    model = ConditionalVAETransformer(2, max_iter=1, random_state=0, device="cpu")
    model.fit(X_DIGITS[:200], y[:200])
    assert model.beta_ == 1.0 and model.likelihood == "gaussian"
    multinomial = ConditionalVAETransformer(likelihood="multinomial")
    counts = np.random.default_rng(0).poisson(0.3, size=(300, 40)).astype(float)
    labelled = multinomial._training_rows(counts, np.arange(300) % 3, warm=False)
    assert multinomial._resolved(labelled, warm=False).beta == 0.2


def test_multinomial_is_mult_vae():
    counts = np.random.default_rng(0).poisson(0.3, size=(300, 40)).astype(float)
    spec = VAETransformer(likelihood="multinomial")._resolved(counts, warm=False)
    assert spec.hidden_layer_sizes == (600,) and spec.activation == "tanh"
    assert (spec.corruption, spec.corruption_level) == ("masking", 0.5)
    assert (spec.beta, spec.kl_warmup, spec.learning_rate_init) == (0.2, 10, 1e-3)


def test_conditional_sizes_from_the_data_columns_not_the_labels():
    model = ConditionalVAETransformer(max_iter=1, random_state=0, device="cpu")
    model.fit(X_DIGITS[:200, :8], Y_DIGITS[:200])
    assert model._fitted_architecture[1] == (128, 64)  # 16 * 8 features


def test_pca_path_only_where_pca_can_start():
    X = X_DIGITS[:300]
    assert AutoencoderTransformer(2)._resolved(X, warm=False).pca_path is True
    assert AutoencoderTransformer(80)._resolved(X, warm=False).pca_path is False
    mapped = AutoencoderTransformer(2, neighbor_weight=1.0)
    assert mapped._resolved(X, warm=False).pca_path is False


def test_default_fit_runs_its_budget_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = AutoencoderTransformer(2, random_state=0, device="cpu")
        model.fit(X_DIGITS[:150])
    assert model.n_iter_ == 80
    assert model._fitted_architecture == (2, (1000, 500), "silu", "mlp", None, True)


def test_warm_start_keeps_the_fitted_network():
    rng = np.random.default_rng(0)
    model = AutoencoderTransformer(
        2, max_iter=1, warm_start=True, random_state=0, device="cpu"
    )
    model.fit(rng.normal(size=(200, 3)))
    assert model._fitted_architecture[1] == (64, 32)
    # 10000 rows would resolve to three layers; the warm start keeps two.
    model.fit(rng.normal(size=(10000, 3)))
    assert model._fitted_architecture[1] == (64, 32) and model.n_iter_ == 2


def test_partial_fit_keeps_a_constant_rate():
    model = AutoencoderTransformer(2)
    spec = model._resolved(X_DIGITS, warm=False, streaming=True)
    assert spec.learning_rate == "constant"


def test_auto_defaults_save_and_load(tmp_path):
    model = AutoencoderTransformer(2, max_iter=2, random_state=0, device="cpu")
    model.fit(X_DIGITS[:100])
    skae.save(model, tmp_path / "ae.safetensors")
    loaded = skae.load(tmp_path / "ae.safetensors")
    assert loaded.hidden_layer_sizes == "auto"
    np.testing.assert_array_equal(
        loaded.transform(X_DIGITS[:5]), model.transform(X_DIGITS[:5])
    )


def test_auto_is_the_only_string():
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        AutoencoderTransformer(hidden_layer_sizes="wide").fit(X_DIGITS[:20])


def test_fit_keeps_what_auto_resolved_to():
    X = X_DIGITS[:200]
    model = VAETransformer(2, max_iter=2, beta=2.0, random_state=0, device="cpu")
    model.fit(X)
    spread = np.sqrt(X.var(0).mean())
    assert model.hidden_layer_sizes_ == (1000, 500) and model.activation_ == "silu"
    assert (model.max_iter_, model.batch_size_, model.beta_) == (2, 32, 2.0)
    assert model.learning_rate_ == "cosine" and model.learning_rate_init_ == 1e-3
    assert model.corruption_ == "gaussian" and model.kl_warmup_ == 0
    expected = defaults.noise_factor(200) * spread
    assert model.corruption_level_ == pytest.approx(expected)
    assert model.hidden_layer_sizes == "auto"  # the parameter stays "auto"
    ae = AutoencoderTransformer(2, max_iter=1, random_state=0, device="cpu").fit(X)
    assert ae.pca_path_ is True and ae.batch_size_ == 32
    streamed = AutoencoderTransformer(2, random_state=0, device="cpu")
    streamed.partial_fit(X)
    assert streamed.learning_rate_ == "constant" and streamed.max_iter_ == 80


@pytest.mark.parametrize("Est", [AutoencoderTransformer, VAETransformer])
def test_partial_fit_keeps_what_its_first_block_resolved(Est):
    """Later blocks train with the first block's values, whatever their size."""
    model = Est(2, random_state=0, device="cpu")
    model.partial_fit(X_DIGITS[:1000])
    first = {name: getattr(model, f"{name}_") for name in model._auto_params}
    assert (first["batch_size"], first["max_iter"]) == (64, 80)
    # Alone, 100 rows resolve to a batch of 32 and more noise; here they keep
    # the first block's values.
    block = X_DIGITS[1000:1100]
    spec = model._resolved(block, warm=True, streaming=True)
    assert (spec._batch_size(len(block)), spec.max_iter) == (64, 80)
    assert spec.corruption_level == pytest.approx(first["corruption_level"])
    model.partial_fit(block)
    after = {name: getattr(model, f"{name}_") for name in model._auto_params}
    np.testing.assert_equal(after, first)
    fresh = Est(2, random_state=0, device="cpu").partial_fit(block)
    assert fresh.batch_size_ == 32
    assert fresh.corruption_level_ != pytest.approx(first["corruption_level"])
    # After a (cosine) fit, partial_fit keeps its own constant rate.
    fitted = Est(2, max_iter=2, random_state=0, device="cpu").fit(X_DIGITS[:200])
    assert fitted.partial_fit(block).learning_rate_ == "constant"


def test_standard_scaling_noise_is_per_feature(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)) * np.array([1.0, 10.0, 100.0, 1000.0])
    model = AutoencoderTransformer(
        2, scaling="standard", max_iter=1, random_state=0, device="cpu"
    ).fit(X)
    level = model.corruption_level_
    assert level.shape == (4,)
    np.testing.assert_allclose(level / level[0], X.std(0) / X.std(0)[0], rtol=1e-6)
    skae.save(model, tmp_path / "m.safetensors")
    loaded = skae.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.corruption_level_, level)


@pytest.mark.parametrize("Est", [AutoencoderTransformer, VAETransformer])
def test_resolved_values_save_and_load(Est, tmp_path):
    model = Est(2, max_iter=2, random_state=0, device="cpu").fit(X_DIGITS[:100])
    skae.save(model, tmp_path / "m.safetensors")
    loaded = skae.load(tmp_path / "m.safetensors")
    for name in Est._auto_params:
        assert getattr(loaded, f"{name}_") == getattr(model, f"{name}_"), name


def test_a_budget_that_ends_still_falling_warns():
    from skae._train.loop import final_fall, still_falling

    # The last tenth (2 of 20 epochs) brought 10 of the fall of 100: 10%.
    curve = [105.0] + [20.0] * 15 + [15.0, 15.0, 5.0, 5.0]
    assert final_fall(curve) == pytest.approx(0.1)
    assert still_falling(curve)
    flat = [110.0] + [10.0] * 19
    assert final_fall(flat) == 0.0 and not still_falling(flat)
    assert not still_falling([3.0]) and not still_falling([])
    with pytest.warns(ConvergenceWarning, match="still falling"):
        AutoencoderTransformer(
            2, hidden_layer_sizes=(16,), max_iter=2, random_state=0, device="cpu"
        ).fit(X_DIGITS[:200])


def test_vae_latent_size_follows_the_likelihood(tmp_path):
    counts = np.random.default_rng(0).poisson(0.3, size=(120, 30)).astype(float)
    mult = VAETransformer(likelihood="multinomial", max_iter=1, random_state=0)
    mult.set_params(device="cpu", hidden_layer_sizes=(8,)).fit(counts)
    assert mult.n_components == "auto" and mult.n_components_ == 200
    assert mult.transform(counts).shape == (120, 200)
    assert mult.get_feature_names_out()[-1] == "vaetransformer199"
    skae.save(mult, tmp_path / "m.safetensors")
    loaded = skae.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.transform(counts), mult.transform(counts))
    gaussian = VAETransformer(max_iter=1, hidden_layer_sizes=(8,), device="cpu")
    assert gaussian.fit(X_DIGITS[:50]).n_components_ == 2
    assert VAETransformer(7, max_iter=1, device="cpu").fit(counts).n_components_ == 7


def test_scores_are_the_bound_whatever_beta():
    # The default beta=0.5 trains a weighted objective; the scores stay the
    # evidence lower bound of the fitted model (beta plays no part in them).
    vae = VAETransformer(2, hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    vae.set_params(device="cpu").fit(X_DIGITS[:100])
    assert vae.beta_ == 0.5
    scores = vae.score_samples(X_DIGITS[:20])
    bound = vae.log_likelihood(X_DIGITS[:20], n_samples=1, random_state=0)
    vae.set_params(beta=1.0)
    np.testing.assert_array_equal(vae.score_samples(X_DIGITS[:20]), scores)
    again = vae.log_likelihood(X_DIGITS[:20], n_samples=1, random_state=0)
    np.testing.assert_array_equal(again, bound)
