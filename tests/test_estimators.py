"""Behaviour of the transformers: quality, reproducibility, units, errors."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAETransformer
from skae._estimators.defaults import FORMER_VAE_DEFAULTS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(32,), max_iter=10, device="cpu", random_state=0)
BOTH = [AutoencoderTransformer, VAETransformer]


def squared_error(est, X):
    return ((est.inverse_transform(est.transform(X)) - X) ** 2).sum(1).mean()


@pytest.mark.parametrize("n_components", [2, 8])
def test_autoencoder_beats_pca_on_digits(digits, n_components):
    X_train, X_test, _, _ = digits
    ae = AutoencoderTransformer(
        n_components, hidden_layer_sizes=(64,), max_iter=30, random_state=0
    ).fit(X_train)
    pca = PCA(n_components).fit(X_train)
    assert squared_error(ae, X_test) < 0.95 * squared_error(pca, X_test)


def test_pipeline_with_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(
        AutoencoderTransformer(16, max_iter=30, random_state=0),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


@pytest.mark.slow
def test_grid_search_parallel_uses_score(digits):
    X_train, _, _, _ = digits
    search = GridSearchCV(
        AutoencoderTransformer(**FAST), {"n_components": [1, 8]}, cv=2, n_jobs=2
    ).fit(X_train[:400])
    # score is minus the reconstruction error: more components reconstruct better.
    assert search.best_params_ == {"n_components": 8}
    assert np.all(search.cv_results_["mean_test_score"] < 0)


def test_column_transformer(digits):
    X_train, _, _, _ = digits
    ct = ColumnTransformer(
        [
            ("ae", AutoencoderTransformer(3, **FAST), slice(0, 32)),
            ("keep", "passthrough", [40]),
        ]
    )
    assert ct.fit_transform(X_train).shape == (X_train.shape[0], 4)


@pytest.mark.parametrize("Est", BOTH)
def test_same_seed_same_bits_other_seed_differs(Est, small):
    a = Est(**FAST).fit(small).transform(small)
    b = Est(**FAST).fit(small).transform(small)
    c = clone(Est(**FAST)).set_params(random_state=1).fit(small).transform(small)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("Est", BOTH)
def test_global_random_state_untouched(Est, small):
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    Est(**FAST).fit(small).sample(3)
    assert torch.equal(torch_state, torch.get_rng_state())
    np_after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(np_after[1], np_state[1])


@pytest.mark.parametrize("Est", BOTH)
def test_pickle_round_trip_is_exact(Est, small):
    est = Est(**FAST).fit(small)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est.transform(small), again.transform(small))
    np.testing.assert_array_equal(est.score_samples(small), again.score_samples(small))


@pytest.mark.parametrize("Est", BOTH)
def test_sample_shapes_and_seed(Est, small):
    est = Est(**FAST).fit(small)
    assert est.sample().shape == (1, 6)
    draws = est.sample(50, random_state=3)
    assert draws.shape == (50, 6) and np.isfinite(draws).all()
    np.testing.assert_array_equal(draws, est.sample(50, random_state=3))
    assert not np.allclose(draws, est.sample(50, random_state=4))
    with pytest.raises(ValueError, match="n_samples"):
        est.sample(0)


@pytest.mark.parametrize("Est", BOTH)
def test_transform_is_batch_invariant_bit_for_bit(Est, digits):
    X = digits[0]
    est = Est(4, **{**FAST, "max_iter": 2}).fit(X)
    full = est.transform(X)
    pieces = np.vstack([est.transform(X[i : i + 37]) for i in range(0, len(X), 37)])
    np.testing.assert_array_equal(full, pieces)
    np.testing.assert_array_equal(full[::-1], est.transform(X[::-1]))


def test_batch_invariance_at_realistic_width():
    # Wide layers take other matrix-product kernels than the tiny test nets.
    X = np.random.RandomState(0).uniform(size=(1500, 784)).astype(np.float32)
    est = AutoencoderTransformer(16, **{**FAST, "hidden_layer_sizes": (256,)})
    full = est.set_params(max_iter=1, batch_size=500).fit(X).transform(X)
    np.testing.assert_array_equal(full[1234:1235], est.transform(X[1234:1235]))
    np.testing.assert_array_equal(full[::-1], est.transform(X[::-1]))


@pytest.mark.parametrize("Est", BOTH)
def test_dtype_follows_input_and_input_not_mutated(Est, small):
    X32 = small.astype(np.float32)
    before = X32.copy()
    est = Est(**FAST).fit(X32)
    np.testing.assert_array_equal(X32, before)
    assert est.transform(X32).dtype == np.float32
    assert est.transform(small).dtype == np.float64
    assert est.inverse_transform(est.transform(X32)).dtype == np.float32
    # Scores are computed and returned in float64 (finite for outlying rows).
    assert est.score_samples(X32).dtype == np.float64
    np.testing.assert_array_equal(X32, before)


def test_units_are_the_callers(digits):
    """Internal scaling makes the model equivariant to an affine change of units."""
    X = digits[0]
    a = AutoencoderTransformer(**FAST).fit(X)
    b = AutoencoderTransformer(**FAST).fit(1000 * X + 5)
    np.testing.assert_allclose(a.transform(X), b.transform(1000 * X + 5), atol=1e-4)
    rec_a = a.inverse_transform(a.transform(X))
    rec_b = b.inverse_transform(b.transform(1000 * X + 5))
    np.testing.assert_allclose(1000 * rec_a + 5, rec_b, rtol=1e-4, atol=0.05)
    np.testing.assert_allclose(
        1e6 * a.score_samples(X), b.score_samples(1000 * X + 5), rtol=1e-3
    )


def test_vae_log_likelihood_has_jacobian_of_units(digits):
    X = digits[0]
    a = VAETransformer(**FAST).fit(X)
    b = VAETransformer(**FAST).fit(10 * X)
    shift = X.shape[1] * np.log(10)
    np.testing.assert_allclose(
        a.score_samples(X) - shift, b.score_samples(10 * X), rtol=1e-4, atol=1e-2
    )


def test_autoencoder_score_samples_is_minus_squared_error(digits):
    X = digits[1]
    ae = AutoencoderTransformer(**FAST).fit(digits[0])
    expected = -((ae.inverse_transform(ae.transform(X)) - X) ** 2).sum(1)
    np.testing.assert_allclose(ae.score_samples(X), expected, rtol=1e-5)
    assert ae.score(X) == pytest.approx(expected.mean(), rel=1e-5)


def test_vae_codes_follow_the_prior(digits):
    X = np.vstack(digits[:2])
    # The ELBO's settings (beta=1, no input noise), which pull the codes onto
    # the prior; the defaults' beta=0.5 and noise spread them wider.
    params = {**FORMER_VAE_DEFAULTS, "max_iter": 100}
    vae = VAETransformer(2, **params, random_state=0).fit(X)
    mean, std = vae.posterior(X)
    np.testing.assert_array_equal(mean, vae.transform(X))
    assert np.all(np.abs(mean.mean(0)) < 0.2)
    aggregate_var = mean.var(0) + (std**2).mean(0)
    assert np.all(np.abs(aggregate_var - 1) < 0.5), aggregate_var
    assert np.all(mean.var(0) > 0.5), "posterior collapsed onto the prior"


def test_vae_elbo_improves_with_training_and_beats_untrained(digits):
    X_train, X_test, _, _ = digits
    # The ELBO's settings (beta=1, no noise), whose score is what they train.
    elbo = {**FORMER_VAE_DEFAULTS, "random_state": 0}
    short = VAETransformer(8, **{**elbo, "max_iter": 1}).fit(X_train)
    long = VAETransformer(8, **{**elbo, "max_iter": 40}).fit(X_train)
    assert long.score(X_test) > short.score(X_test) + 20
    assert long.loss_curve_[-1] < long.loss_curve_[0]


def test_vae_bernoulli(digits):
    X = digits[0] / 16.0
    vae = VAETransformer(4, likelihood="bernoulli", **FAST).fit(X)
    scores = vae.score_samples(X)
    assert np.all(scores < 0) and np.isfinite(scores).all()
    rec = vae.inverse_transform(vae.transform(X))
    assert rec.min() >= 0 and rec.max() <= 1
    with pytest.raises(ValueError, match=r"needs X in \[0, 1\]"):
        VAETransformer(likelihood="bernoulli", **FAST).fit(digits[0])
    with pytest.raises(ValueError, match="needs X in"):
        vae.score_samples(X * 2)
    with pytest.raises(ValueError, match="scaling='standard' is not allowed"):
        VAETransformer(likelihood="bernoulli", scaling="standard", **FAST).fit(X)


@pytest.mark.parametrize("Est", BOTH)
def test_early_stopping_restores_best(Est, digits):
    # With a huge tol no epoch counts as an improvement after the first one,
    # so a constant rate stops after 1 + (n_iter_no_change + 1) epochs.
    params = {**FAST, "max_iter": 50, "tol": 1e6, "learning_rate": "constant"}
    est = Est(4, early_stopping=True, n_iter_no_change=2, **params).fit(digits[0])
    assert len(est.validation_loss_curve_) == est.n_iter_ == len(est.loss_curve_)
    assert est.n_iter_ == 4
    assert est.best_loss_ == min(est.validation_loss_curve_)


def test_warm_start_continues(small):
    est = AutoencoderTransformer(warm_start=True, **FAST).fit(small)
    first = est.loss_curve_[-1]
    est.fit(small)
    assert est.n_iter_ == 20 and est.loss_curve_[-1] < first
    with pytest.raises(ValueError, match="warm_start=True cannot change"):
        est.set_params(n_components=3).fit(small)


def test_convergence_warning_when_max_iter_reached(small):
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        AutoencoderTransformer(
            **{**FAST, "max_iter": 2, "learning_rate": "adaptive"}
        ).fit(small)


def test_divergence_is_an_error_not_nan_codes(small):
    est = AutoencoderTransformer(learning_rate_init=1e12, **FAST)
    with pytest.raises(ValueError, match="diverged"):
        est.fit(small * 1e3)
    assert not hasattr(est, "module_") and not hasattr(est, "mean_"), "half-fitted"


def test_values_beyond_float32_are_rejected(small):
    X = small.copy()
    X[0, 0] = 1e300
    with pytest.raises(ValueError, match="too large for float32"):
        AutoencoderTransformer(**FAST).fit(X)


def test_bad_hidden_layer_sizes(small):
    with pytest.raises(ValueError, match="positive integers"):
        AutoencoderTransformer(hidden_layer_sizes=(8, 0)).fit(small)


def test_linear_autoencoder_without_hidden_layers(digits):
    X_train, X_test, _, _ = digits
    ae = AutoencoderTransformer(5, hidden_layer_sizes=(), max_iter=100, random_state=0)
    ae.fit(X_train)
    pca = PCA(5).fit(X_train)
    # A linear autoencoder can at best match PCA; it should get close.
    assert squared_error(ae, X_test) < 1.15 * squared_error(pca, X_test)


def test_pandas_output_and_feature_names(digits):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(digits[0][:, :10], columns=[f"p{i}" for i in range(10)])
    ae = AutoencoderTransformer(3, **FAST).set_output(transform="pandas").fit(df)
    out = ae.transform(df)
    assert list(out.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert list(ae.feature_names_in_) == list(df.columns)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(small):
    with pytest.raises(ValueError, match="CUDA is not available"):
        AutoencoderTransformer(**{**FAST, "device": "cuda"}).fit(small)


def test_batch_size_larger_than_data_warns(small):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="batch_size=1000"):
            AutoencoderTransformer(batch_size=1000, **FAST).fit(small)


def test_vae_importance_weighted_log_likelihood(digits):
    X_train, X_test, _, _ = digits
    vae = VAETransformer(4, **{**FAST, "max_iter": 20}).fit(X_train)
    elbo = vae.score_samples(X_test)
    one = vae.log_likelihood(X_test, n_samples=1, random_state=0)
    many = vae.log_likelihood(X_test, n_samples=100, random_state=0)
    # K=1 is an unbiased estimate of the ELBO; more samples tighten the bound.
    assert one.mean() == pytest.approx(
        elbo.mean(), abs=3 * one.std() / np.sqrt(len(one))
    )
    assert many.mean() > max(elbo.mean(), one.mean())
    np.testing.assert_array_equal(many, vae.log_likelihood(X_test, 100, random_state=0))
    with pytest.raises(ValueError, match="n_samples"):
        vae.log_likelihood(X_test, n_samples=0)


@pytest.mark.parametrize("Est", BOTH)
def test_compile_traced_step_gives_the_same_bits(Est, digits):
    # The "eager" backend runs dynamo's traced graphs without code generation:
    # this checks the wiring (objective, generator, ragged last batch) fast.
    X = digits[0]
    params = {**FAST, "max_iter": 3, "batch_size": 128}
    eager = Est(4, **params).fit(X)
    traced = Est(4, compile={"backend": "eager"}, **params).fit(X)
    assert traced.loss_curve_ == eager.loss_curve_
    np.testing.assert_array_equal(traced.transform(X), eager.transform(X))
    assert pickle.loads(pickle.dumps(traced)).compile == {"backend": "eager"}


def test_compile_true_matches_eager(digits):
    # Inductor generates and compiles C++ kernels: a few seconds to a minute.
    X = digits[0]
    params = {**FAST, "max_iter": 3, "batch_size": 128}
    eager = AutoencoderTransformer(4, **params).fit(X)
    compiled = AutoencoderTransformer(4, compile=True, **params).fit(X)
    assert not isinstance(compiled.module_, torch._dynamo.eval_frame.OptimizedModule)
    np.testing.assert_allclose(compiled.loss_curve_, eager.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(
        compiled.transform(X), eager.transform(X), rtol=1e-3, atol=1e-3
    )


def test_read_only_and_reversed_input(digits):
    X = digits[0][:300]
    est = AutoencoderTransformer(4, **FAST).fit(X)
    read_only = X.copy()
    read_only.flags.writeable = False
    expected = est.transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(est.transform(read_only), expected)
    np.testing.assert_array_equal(est.transform(X[::-1]), expected[::-1])
    np.testing.assert_array_equal(est.transform(np.asfortranarray(X)), expected)


def _fit_and_count_threads(X):
    AutoencoderTransformer(2, **FAST).fit(X)
    return torch.get_num_threads()


def test_threads_follow_the_process_and_joblib(small):
    # What the user guide promises: skae never sets the thread count itself,
    # and joblib's workers each get an equal share of the cores.
    from joblib import Parallel, cpu_count, delayed

    before = torch.get_num_threads()
    assert _fit_and_count_threads(small) == before
    threads = Parallel(n_jobs=2)(delayed(_fit_and_count_threads)(small) for _ in "ab")
    assert threads == [max(1, cpu_count() // 2)] * 2
