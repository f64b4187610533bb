"""ConditionalVAETransformer: labels in, samples of chosen classes out."""

import inspect
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, ndtr
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import skae
from skae import ConditionalVAETransformer, VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Measured on digits (seeds 0-2): 30 epochs give conditional samples that a
# logistic regression assigns to the requested digit 99.8-100% of the time.
PARAMS = dict(
    n_components=2,
    hidden_layer_sizes=(128,),
    max_iter=30,
    learning_rate_init=3e-3,
    device="cpu",
    random_state=0,
)
FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, _, y_train, _ = digits
    return ConditionalVAETransformer(**PARAMS).fit(X_train, y_train)


@pytest.fixture(scope="module")
def classifier(digits):
    X_train, _, y_train, _ = digits
    return LogisticRegression(max_iter=2000).fit(X_train / 16, y_train)


def test_samples_are_of_the_requested_class(fitted, classifier):
    requested = np.repeat(np.arange(10), 50)
    samples = fitted.sample(500, y=requested, random_state=0)
    assert samples.shape == (500, 64)
    predicted = classifier.predict(samples / 16)
    assert np.mean(predicted == requested) >= 0.9
    per_class = [np.mean(predicted[requested == c] == c) for c in range(10)]
    assert min(per_class) >= 0.6
    # The bar can fail: the same samples against other labels are near 0.
    assert np.mean(predicted == (requested + 1) % 10) < 0.2


def test_sample_labels_broadcast_and_prior(fitted, classifier):
    sevens = fitted.sample(40, y=7, random_state=1)
    assert np.mean(classifier.predict(sevens / 16) == 7) >= 0.9
    # Same seed, same codes whatever the labels.
    a = fitted.sample(5, y=[1, 2, 3, 4, 5], random_state=3)
    assert np.array_equal(a[:1], fitted.sample(1, y=[1], random_state=3))
    # y=None draws the labels from class_prior_: every digit shows up.
    drawn = classifier.predict(fitted.sample(400, random_state=0) / 16)
    assert len(np.unique(drawn)) == 10
    assert np.isclose(fitted.class_prior_.sum(), 1.0)
    assert np.array_equal(fitted.classes_, np.arange(10))


def test_class_posterior_classifies(fitted, digits):
    _, X_test, _, y_test = digits
    proba = fitted.class_posterior(X_test)
    assert proba.shape == (len(X_test), 10)
    assert np.allclose(proba.sum(axis=1), 1.0)
    # A generative classifier: measured 0.956-0.967 over seeds 0-2.
    assert np.mean(fitted.classes_[proba.argmax(axis=1)] == y_test) >= 0.85


def test_transform_with_and_without_y(fitted, digits):
    _, X_test, _, y_test = digits
    X = X_test[:60]
    Z_y = fitted.transform(X, y=y_test[:60])
    Z = fitted.transform(X)
    assert Z.shape == Z_y.shape == (60, 2)
    # Without y: the posterior means of all classes weighted by q(y|x).
    proba = fitted.class_posterior(X)
    per_class = np.stack([fitted.transform(X, y=c) for c in range(10)], axis=1)
    assert np.allclose(Z, np.einsum("nc,ncd->nd", proba, per_class), atol=1e-6)
    sure = proba.max(axis=1) > 0.999
    assert sure.sum() > 30
    # There the mixture is the likeliest class's code, up to the others' share.
    best = per_class[sure, proba[sure].argmax(axis=1)]
    spread = np.abs(per_class[sure] - best[:, None]).max(axis=1)
    others = 1 - proba[sure].max(axis=1, keepdims=True)
    assert (np.abs(Z[sure] - best) <= others * spread + 1e-6).all()
    # The label matters: another label gives other codes.
    assert not np.allclose(Z_y, fitted.transform(X, y=(y_test[:60] + 1) % 10))
    mean, std = fitted.posterior(X)
    assert np.allclose(mean, Z) and (std > 0).all()
    assert np.allclose(fitted.posterior(X, y=y_test[:60])[0], Z_y)
    # float32 in, float32 out; one label for all rows.
    assert fitted.transform(X.astype(np.float32)).dtype == np.float32
    assert np.allclose(fitted.transform(X, y=3), per_class[:, 3])


def test_score_samples(fitted, digits):
    _, X_test, _, y_test = digits
    X, y = X_test[:60], y_test[:60]
    with_y = fitted.score_samples(X, y=y)
    assert np.isfinite(with_y).all()
    # The true label explains the data better than a wrong one.
    assert with_y.mean() > fitted.score_samples(X, y=(y + 1) % 10).mean() + 5
    per_class = np.stack([fitted.score_samples(X, y=c) for c in range(10)], axis=1)
    expected = logsumexp(per_class + np.log(fitted.class_prior_), axis=1)
    assert np.allclose(fitted.score_samples(X), expected)
    assert np.isclose(fitted.score(X, y), with_y.mean())
    ll = fitted.log_likelihood(X[:10], n_samples=20, random_state=0, y=y[:10])
    assert np.isfinite(ll).all() and ll.mean() > with_y[:10].mean() - 1
    ll_x = fitted.log_likelihood(X[:10], n_samples=20, random_state=0)
    assert np.isfinite(ll_x).all()


def test_inverse_transform(fitted, digits):
    _, X_test, _, y_test = digits
    Z = fitted.transform(X_test[:20], y=y_test[:20])
    X_rec = fitted.inverse_transform(Z, y=y_test[:20])
    assert X_rec.shape == (20, 64)
    assert np.mean((X_rec - X_test[:20]) ** 2) < np.var(X_test[:20])
    per_class = np.stack([fitted.inverse_transform(Z, y=c) for c in range(10)])
    # Without y: classes weighted by p(y|z), proportional to p(y) p(z|y).
    log_w = np.log(fitted.class_prior_) + np.stack(
        [exemplar_log_density(fitted, Z, c) for c in range(10)], axis=1
    )
    weights = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    mixture = np.einsum("nc,cnf->nf", weights, per_class)
    assert np.allclose(fitted.inverse_transform(Z), mixture)
    # Not p(y) alone: the prior weighs the classes by the code.
    assert np.abs(weights - fitted.class_prior_).max() > 0.05


def exemplar_log_density(model, Z, c):
    """log p(z|y=c) of the exemplar prior: its M Gaussians' mean density."""
    prior = model.module_.prior
    mean = prior.mean[c].detach().double().numpy()
    std = np.exp(0.5 * prior.log_var[c].detach().double().numpy())
    densities = norm.logpdf(Z[:, None], mean[None], std[None]).sum(-1)
    return logsumexp(densities, axis=1) - np.log(len(mean))


def test_exemplar_prior_holds_training_rows_posteriors_and_is_sampled(fitted, digits):
    """The default prior p(z|y): the posteriors of M of class y's training rows."""
    X_train, _, y_train, _ = digits
    prior = fitted.module_.prior
    mean = prior.mean.detach().double().numpy()
    std = np.exp(0.5 * prior.log_var.detach().double().numpy())
    n_per_class = np.bincount(y_train)
    assert mean.shape == (10, 500, 2) and n_per_class.max() < 500
    mu, sd = fitted.posterior(X_train, y=y_train)
    for c in (0, 7):
        rows = y_train == c
        # Every row of the class is an exemplar, each as often (up to one).
        hit = np.abs(mean[c][:, None] - mu[rows][None]).max(-1) < 1e-5
        assert (hit.sum(1) == 1).all()
        counts = hit.sum(0)
        assert counts.max() - counts.min() <= 1 and counts.sum() == 500
        assert np.allclose(std[c], sd[rows][hit.argmax(1)], atol=1e-5)
    # sample(y=c) decodes an exemplar's mean + std * eps: the seed's draws
    # give eps (first columns) and the exemplar (last column, uniform).
    y = np.array([0, 3, 3, 9])
    draws = np.random.RandomState(5).standard_normal((4, 3))
    m = np.minimum((ndtr(draws[:, 2]) * 500).astype(int), 499)
    codes = mean[y, m] + std[y, m] * draws[:, :2]
    expected = fitted.inverse_transform(codes, y=y)
    assert np.allclose(fitted.sample(4, y=y, random_state=5), expected, atol=1e-6)
    # The exemplars raise the training rows' ELBO above N(0, I)'s and the
    # class Gaussian's (the same networks: the prior is fitted after them).
    X, yy = X_train[:300], y_train[:300]
    other = {
        p: clone(fitted).set_params(prior=p).fit(X_train, y_train)
        for p in ("normal", "class")
    }
    for model in other.values():
        assert np.allclose(
            model.transform(X, y=yy), fitted.transform(X, y=yy), atol=1e-4
        )
    elbo = fitted.score_samples(X, y=yy)
    assert (elbo - other["class"].score_samples(X, y=yy)).mean() > 0.1
    assert (elbo - other["normal"].score_samples(X, y=yy)).mean() > 0.1


@pytest.fixture(scope="module")
def gaussian(digits):
    X_train, _, y_train, _ = digits
    return ConditionalVAETransformer(**PARAMS, prior="class").fit(X_train, y_train)


def prior_moments(model):
    """Means and covariances of the conditional model's p(z|y), float64."""
    prior = model.module_.prior
    scale = prior.scale_tril().detach().double().numpy()
    return prior.mean.detach().double().numpy(), scale @ scale.transpose(0, 2, 1)


def test_class_prior_is_fitted_to_the_codes_and_sampled(gaussian, digits):
    """prior="class": each class's codes' Gaussian, where sample draws."""
    fitted = gaussian
    X_train, _, y_train, _ = digits
    mean, cov = prior_moments(fitted)
    assert mean.shape == (10, 2) and cov.shape == (10, 2, 2)
    # The aggregate posterior's moments: mean of the means, their covariance
    # plus the mean posterior variance.
    mu, std = fitted.posterior(X_train, y=y_train)
    for c in (0, 7):
        rows = y_train == c
        expected = np.cov(mu[rows].T, bias=True) + np.diag((std[rows] ** 2).mean(0))
        assert np.allclose(mean[c], mu[rows].mean(0), atol=1e-5)
        assert np.allclose(cov[c], expected, atol=1e-5)
    assert np.linalg.norm(mean[:, None] - mean[None], axis=-1).max() > 0.5
    # sample(y=c) decodes m_c + L_c eps, eps the seed's standard draws.
    y = np.array([0, 3, 3, 9])
    eps = np.random.RandomState(5).standard_normal((4, 2))
    scale = np.linalg.cholesky(cov)
    codes = mean[y] + np.einsum("nij,nj->ni", scale[y], eps)
    expected = fitted.inverse_transform(codes, y=y)
    assert np.allclose(fitted.sample(4, y=y, random_state=5), expected, atol=1e-6)
    # The fitted prior raises the training rows' ELBO above N(0, I)'s.
    normal = clone(fitted).set_params(prior="normal").fit(X_train, y_train)
    assert np.allclose(
        normal.transform(X_train[:50], y=y_train[:50]),
        fitted.transform(X_train[:50], y=y_train[:50]),
        atol=1e-4,
    )
    gain = fitted.score_samples(X_train, y=y_train) - normal.score_samples(
        X_train, y=y_train
    )
    assert gain.mean() > 0.1


def test_normal_prior_and_the_vae_refusing_class(digits):
    X_train, _, y_train, _ = digits
    cvae = ConditionalVAETransformer(prior="normal", **FAST).fit(X_train, y_train)
    assert len(list(cvae.module_.prior.parameters())) == 0
    Z = cvae.transform(X_train[:5], y=y_train[:5])
    per_class = np.stack([cvae.inverse_transform(Z, y=c) for c in range(10)])
    # Under N(0, I) the code says nothing of the label: p(y|z) = p(y).
    mixture = np.tensordot(cvae.class_prior_, per_class, axes=1)
    assert np.allclose(cvae.inverse_transform(Z), mixture)
    eps = np.random.RandomState(2).standard_normal((3, cvae.n_components_))
    expected = cvae.inverse_transform(eps, y=[1, 2, 3])
    assert np.allclose(cvae.sample(3, y=[1, 2, 3], random_state=2), expected)
    with pytest.raises(ValueError, match=r"prior='class'.*needs labels"):
        VAETransformer(prior="class", **FAST).fit(X_train)


def positional(method):
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(method).parameters.values()
    return [p.name for p in parameters if p.kind in kinds]


def test_overrides_keep_the_positional_parameters_of_the_base_class():
    # A positional argument means the same for the conditional model as for
    # the VAE: y is added after the base's parameters, keyword-only, except
    # where the base itself takes y positionally (fit, partial_fit, score).
    overridden = [
        name
        for name, value in vars(ConditionalVAETransformer).items()
        if callable(value)
        and not name.startswith("_")
        and hasattr(VAETransformer, name)
    ]
    assert {"sample", "log_likelihood", "transform", "score_samples"} <= {*overridden}
    for name in overridden:
        ours = positional(getattr(ConditionalVAETransformer, name))
        base = positional(getattr(VAETransformer, name))
        assert ours[: len(base)] == base, name
        assert "y" not in ours[len(base) :], name
        parameters = inspect.signature(getattr(ConditionalVAETransformer, name))
        if "y" in parameters.parameters and "y" not in base:
            kind = parameters.parameters["y"].kind
            assert kind is inspect.Parameter.KEYWORD_ONLY, name


def test_positional_arguments_mean_what_they_mean_for_the_vae(fitted, digits):
    _, X_test, _, y_test = digits
    # The estimator's random_state is 0: seed 1 differs from the default draw.
    assert fitted.random_state == 0
    np.testing.assert_array_equal(fitted.sample(5, 1), fitted.sample(5, random_state=1))
    assert not np.array_equal(fitted.sample(5, 1), fitted.sample(5, y=1))
    X = X_test[:4]
    np.testing.assert_array_equal(
        fitted.log_likelihood(X, 5, 1),
        fitted.log_likelihood(X, n_samples=5, random_state=1),
    )
    for method, args in [
        ("transform", (X, y_test[:4])),
        ("score_samples", (X, y_test[:4])),
        ("posterior", (X, y_test[:4])),
        ("inverse_transform", (np.zeros((4, 2)), y_test[:4])),
        ("sample", (4, 0, y_test[:4])),
    ]:
        with pytest.raises(TypeError, match="positional argument"):
            getattr(fitted, method)(*args)


@pytest.mark.parametrize(
    "method", ["transform", "score_samples", "posterior", "inverse_transform"]
)
def test_unseen_labels_raise(fitted, digits, method):
    _, X_test, _, _ = digits
    X = X_test[:3] if method != "inverse_transform" else np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"previously unseen labels.*classes"):
        getattr(fitted, method)(X, y=[1, 2, 10])
    with pytest.raises(ValueError, match="2 labels for 3 samples"):
        getattr(fitted, method)(X, y=[1, 2])


def test_label_validation(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:100], y_train[:100]
    cvae = ConditionalVAETransformer(**FAST)
    with pytest.raises(ValueError, match="requires y to be passed"):
        cvae.fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        cvae.fit(X, X[:, 10] + 0.5)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        cvae.fit(X, y[:50])
    assert not hasattr(cvae, "classes_")
    cvae.fit(X, y)
    with pytest.raises(ValueError, match="previously unseen labels"):
        cvae.sample(2, y=[0, 42])
    with pytest.raises(ValueError, match="1-D"):
        cvae.sample(2, y=[[0, 1]])
    # Labels are not cast to the classes' dtype: neither "7" nor 7.5 is 7.
    for label in ["7", 7.5, [7, 7.5]]:
        with pytest.raises(ValueError, match="previously unseen labels: \\["):
            cvae.sample(2, y=label)
    assert np.array_equal(cvae.sample(2, y=7.0), cvae.sample(2, y=7))
    # Unseen labels in a warm start: the fitted model is kept.
    cvae.set_params(warm_start=True)
    before = cvae.transform(X)
    with pytest.raises(ValueError, match="previously unseen labels"):
        cvae.fit(X, y + 100)
    assert np.array_equal(cvae.transform(X), before)


def test_string_labels_and_sparse_input(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], np.where(y_train[:200] < 5, "low", "high")
    cvae = ConditionalVAETransformer(**FAST).fit(sp.csr_matrix(X), y)
    assert list(cvae.classes_) == ["high", "low"]
    assert np.allclose(cvae.transform(sp.csr_matrix(X), y=y), cvae.transform(X, y=y))
    assert cvae.sample(3, y="low", random_state=0).shape == (3, 64)
    with pytest.raises(ValueError, match=r"fit saw the classes \['high', 'low'\]"):
        cvae.transform(X[:1], y=["medium"])


def test_partial_fit(digits):
    X_train, _, y_train, _ = digits
    cvae = ConditionalVAETransformer(**FAST)
    cvae.partial_fit(X_train[:100], y_train[:100] % 3, classes=[0, 1, 2, 3])
    cvae.partial_fit(X_train[100:200], y_train[100:200] % 4)
    assert cvae.n_iter_ == 2
    assert list(cvae.classes_) == [0, 1, 2, 3]
    assert cvae.class_count_.sum() == 200
    with pytest.raises(ValueError, match="previously unseen labels"):
        cvae.partial_fit(X_train[:10], np.full(10, 7))
    with pytest.raises(ValueError, match="differs from classes_"):
        cvae.partial_fit(X_train[:10], np.zeros(10), classes=[0, 1])
    assert cvae.class_count_.sum() == 200


def test_pipeline_clone_pickle(digits):
    X_train, X_test, y_train, y_test = digits
    params = dict(PARAMS, n_components=8, max_iter=10)
    pipe = make_pipeline(
        ConditionalVAETransformer(**params), LogisticRegression(max_iter=1000)
    )
    # fit_transform passes no label to transform: the codes a pipeline trains
    # on are those it computes at prediction time.
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.5
    cvae = pipe[0]
    assert np.allclose(cvae.transform(X_train[:20]), pipe[:-1].transform(X_train[:20]))
    assert clone(cvae).get_params() == cvae.get_params()
    assert not hasattr(clone(cvae), "classes_")
    restored = pickle.loads(pickle.dumps(cvae))
    assert np.array_equal(restored.transform(X_test), cvae.transform(X_test))
    assert np.array_equal(
        restored.sample(5, y=3, random_state=0), cvae.sample(5, y=3, random_state=0)
    )


def test_save_and_load(digits, tmp_path):
    # More in test_persistence_conditional.py.
    X_train, _, y_train, _ = digits
    cvae = ConditionalVAETransformer(**FAST).fit(X_train[:50], y_train[:50])
    skae.save(cvae, tmp_path / "cvae.safetensors")
    loaded = skae.load(tmp_path / "cvae.safetensors")
    np.testing.assert_array_equal(
        loaded.sample(5, 0, y=3), cvae.sample(5, random_state=0, y=3)
    )


def test_exemplars_follow_n_pseudo_inputs_and_a_warm_start_keeps_its_prior(
    digits, tmp_path
):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]
    cvae = ConditionalVAETransformer(**FAST, n_pseudo_inputs=7).fit(X, y)
    assert cvae.module_.prior.mean.shape == (10, 7, cvae.n_components_)
    skae.save(cvae, tmp_path / "cvae.safetensors")
    loaded = skae.load(tmp_path / "cvae.safetensors")
    assert loaded.module_.prior.mean.shape == (10, 7, cvae.n_components_)
    np.testing.assert_array_equal(
        loaded.sample(6, 0, y=3), cvae.sample(6, random_state=0, y=3)
    )
    np.testing.assert_array_equal(
        loaded.score_samples(X[:9], y=y[:9]), cvae.score_samples(X[:9], y=y[:9])
    )
    # A model fitted when "auto" meant a Gaussian per class (prior="class")
    # goes on training with it.
    older = ConditionalVAETransformer(**FAST, prior="class").fit(X, y)
    older.set_params(prior="auto", warm_start=True).fit(X, y)
    assert type(older.module_.prior).__name__ == "LabelGaussianPrior"
    assert older.n_iter_ == 6


def test_recommend_is_not_available(digits):
    X_train, _, y_train, _ = digits
    cvae = ConditionalVAETransformer(**FAST).fit(X_train[:50], y_train[:50])
    with pytest.raises(NotImplementedError, match="does not recommend"):
        cvae.recommend(X_train[:5])


@pytest.mark.parametrize(
    "options",
    [
        dict(likelihood="bernoulli", binarize=True),
        dict(architecture="conv", image_shape=(8, 8), hidden_layer_sizes=(8,)),
        dict(corruption="masking", n_importance_samples=3, kl_warmup=1),
    ],
    ids=["bernoulli", "conv", "denoising-iwae"],
)
def test_options_work_with_labels(digits, options):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200] / 16, y_train[:200]
    cvae = ConditionalVAETransformer(**dict(FAST, **options)).fit(X, y)
    assert np.isfinite(cvae.loss_curve_).all()
    assert np.isfinite(cvae.score_samples(X[:5])).all()
    assert cvae.sample(4, y=[0, 1, 2, 3], random_state=0).shape == (4, 64)
    assert cvae.mean_.shape == cvae.scale_.shape == (64,)


def test_convergence_warning_names_the_class(digits):
    X_train, _, y_train, _ = digits
    with pytest.warns(ConvergenceWarning, match="ConditionalVAETransformer"):
        # A schedule that can stop early warns when it runs out of epochs.
        ConditionalVAETransformer(**FAST, learning_rate="adaptive").fit(
            X_train[:50], y_train[:50]
        )
