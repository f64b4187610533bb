"""VAE objectives: importance-weighted bound, dynamic binarization, output bias."""

import math
from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

import skae._nn.models
from skae import VAETransformer, architectures, load, save
from skae._data import SparseRows
from skae._data.rows import feature_mean
from skae._data.scaling import Standardizer
from skae._nn.builders import build_vae
from skae._nn.corruption import Binarize, make_corruption
from skae._nn.layers import init_parameters, output_layer
from skae._nn.likelihoods import BernoulliLikelihood
from skae._nn.objectives import (
    NegativeELBO,
    NegativeIWAEBound,
    importance_weighted_log_likelihood,
    training_target,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(32,), max_iter=10, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def pixels(digits):
    """The digits' intensities in [0, 1] (train, test)."""
    X_train, X_test, _, _ = digits
    return X_train / 16, X_test / 16


def tiny_vae(n_features=8, likelihood="bernoulli", seed=0):
    builder = partial(architectures.mlp, hidden_layer_sizes=[16], activation="tanh")
    module = build_vae(n_features, 3, builder, likelihood)
    init_parameters(module, torch.Generator().manual_seed(seed))
    return module


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------ importance weighting
def test_one_draw_is_the_elbo_with_a_sampled_kl():
    model = tiny_vae().eval()
    x = torch.rand((5, 8), generator=gen(1))
    iwae = NegativeIWAEBound(1)(model, x, gen())
    elbo = NegativeELBO()(model, x, gen())
    # The same draw: the two differ by the one-draw KL estimate minus the KL.
    mu, log_var = model.encode(x)
    eps = torch.randn(mu.shape, generator=gen())
    z = model.reparameterize(mu, log_var, eps)
    log_q = torch.distributions.Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    kl = model.prior.kl(mu, log_var, x)
    torch.testing.assert_close(iwae - elbo, log_q - log_p - kl)
    # ... which is zero in expectation.
    many = x.repeat(4000, 1)
    diff = NegativeIWAEBound(1)(model, many, gen(2)) - NegativeELBO()(
        model, many, gen(3)
    )
    assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(len(diff))


def test_one_draw_is_the_elbo_with_a_sampled_kl_under_a_class_prior():
    """The same identity with a Gaussian per class, p(z|y), full covariance."""
    builder = partial(architectures.mlp, hidden_layer_sizes=[16], activation="tanh")
    model = build_vae(8, 3, builder, "bernoulli", n_classes=4, prior="class")
    init_parameters(model, gen(0))
    with torch.no_grad():  # away from N(0, I), different for each class
        model.prior.mean.normal_(generator=gen(5))
        model.prior.tril.normal_(std=0.5, generator=gen(6))
    model.eval()
    labels = torch.arange(5) % 4
    x = torch.cat([torch.rand((5, 8), generator=gen(1)), F.one_hot(labels, 4)], 1)
    iwae = NegativeIWAEBound(1)(model, x, gen())
    elbo = NegativeELBO()(model, x, gen())
    mu, log_var = model.encode(x)
    eps = torch.randn(mu.shape, generator=gen())
    z = model.reparameterize(mu, log_var, eps)
    q = torch.distributions.MultivariateNormal(
        mu, scale_tril=torch.diag_embed((0.5 * log_var).exp())
    )
    p = torch.distributions.MultivariateNormal(
        model.prior.mean[labels], scale_tril=model.prior.scale_tril()[labels]
    )
    kl = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(model.prior.kl(mu, log_var, x), kl)
    torch.testing.assert_close(model.prior.log_prob(z, x), p.log_prob(z))
    expected = q.log_prob(z) - p.log_prob(z) - kl
    torch.testing.assert_close(iwae - elbo, expected)
    # Draws: m_y + L_y eps.
    drawn = model.prior.mean[labels] + (p.scale_tril @ eps[..., None])[..., 0]
    torch.testing.assert_close(model.prior.draw(eps, x), drawn)
    # match() sets a class's mean and covariance.
    cov = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    model.prior.match(2, torch.tensor([1.0, -1.0, 0.0]), cov)
    scale = model.prior.scale_tril()[2]
    torch.testing.assert_close(scale @ scale.T, cov)
    torch.testing.assert_close(model.prior.mean[2], torch.tensor([1.0, -1.0, 0.0]))


def test_exemplar_prior_is_normal_until_matched_then_a_mixture_per_class():
    """prior="exemplars": N(0, I) in closed form for training, then each
    class's mixture of its exemplars' posteriors, with a sampled KL term."""
    builder = partial(architectures.mlp, hidden_layer_sizes=[16], activation="tanh")
    model = build_vae(
        8, 3, builder, "bernoulli", n_classes=4, prior="exemplars", n_pseudo_inputs=5
    )
    init_parameters(model, gen(0))
    model.eval()
    prior = model.prior
    labels = torch.arange(6) % 4
    x = torch.cat([torch.rand((6, 8), generator=gen(1)), F.one_hot(labels, 4)], 1)
    mu, log_var = model.encode(x)
    z = model.reparameterize(mu, log_var, torch.randn((7, *mu.shape), generator=gen(2)))
    normal = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    q = torch.distributions.Normal(mu, (0.5 * log_var).exp())
    closed = torch.distributions.kl_divergence(q, normal).sum(-1)
    assert not prior._matched
    torch.testing.assert_close(prior.kl(mu, log_var, x, z), closed)
    torch.testing.assert_close(prior.log_prob(z, x), normal.log_prob(z).sum(-1))
    # match() sets class 2's exemplars; the others stay N(0, I) (a mixture of
    # identical standard normals).
    means = torch.randn((5, 3), generator=gen(3))
    log_vars = 0.3 * torch.randn((5, 3), generator=gen(4))
    prior.match(2, means, log_vars)
    assert prior._matched and prior.matched.item() == 1.0
    parts = torch.distributions.Normal(means, (0.5 * log_vars).exp())
    mixture = torch.logsumexp(parts.log_prob(z[..., None, :]).sum(-1), -1) - math.log(5)
    expected = torch.where(labels == 2, mixture, normal.log_prob(z).sum(-1))
    torch.testing.assert_close(prior.log_prob(z, x), expected)
    sampled = (q.log_prob(z).sum(-1) - expected).mean(0)
    torch.testing.assert_close(prior.kl(mu, log_var, x, z), sampled)
    # A row's log-density does not depend on the other rows.
    index = torch.tensor([2, 2, 0, 2])
    full = prior.log_prob_of(z[0, :4], index)
    assert all(
        torch.equal(
            prior.log_prob_of(z[0, i : i + 1], index[i : i + 1]), full[i : i + 1]
        )
        for i in range(4)
    )
    # Modes c * M + m: class 2's exemplar 3 is means[3] + std * eps.
    eps = torch.randn((1, 3), generator=gen(5))
    drawn = prior.draw_of(eps, torch.tensor([2 * 5 + 3]))
    torch.testing.assert_close(drawn, means[3] + (0.5 * log_vars[3]).exp() * eps)
    # The matched flag travels with the state (a loaded model is matched).
    again = build_vae(
        8, 3, builder, "bernoulli", n_classes=4, prior="exemplars", n_pseudo_inputs=5
    )
    assert not again.prior._matched
    again.load_state_dict(model.state_dict())
    assert again.prior._matched
    torch.testing.assert_close(again.prior.log_prob(z, x), expected)


def test_bound_is_the_log_likelihood_estimate_with_the_same_draws():
    model = tiny_vae().eval()
    x = torch.rand((6, 8), generator=gen(1))
    bound = -NegativeIWAEBound(7)(model, x, gen())
    estimate = importance_weighted_log_likelihood(model, x, 7, gen())
    torch.testing.assert_close(bound, estimate)


def test_kl_weight_scales_the_prior_ratio_inside_the_weights():
    model = tiny_vae().eval()
    x = torch.rand((6, 8), generator=gen(1))
    objective = NegativeIWAEBound(4, beta=2.0)
    objective.kl_weight.fill_(0.0)
    # Without the ratio p(z)/q(z|x): minus the log-mean-exp of p(x|z_k).
    mu, log_var = model.encode(x)
    eps = torch.randn((4, *mu.shape), generator=gen())
    out = model.decode(model.reparameterize(mu, log_var, eps).reshape(-1, 3))
    log_px = model.likelihood.log_prob(x.repeat(4, 1), out).reshape(4, -1)
    expected = math.log(4) - torch.logsumexp(log_px, 0)
    torch.testing.assert_close(objective(model, x, gen()), expected)
    objective.kl_weight.fill_(0.5)  # beta * kl_weight = 1: the bound itself
    torch.testing.assert_close(
        objective(model, x, gen()), NegativeIWAEBound(4)(model, x, gen())
    )


def test_more_draws_give_a_tighter_bound_on_a_trained_model(pixels):
    X_train, X_test = pixels
    vae = VAETransformer(4, **FAST).fit(X_train)
    model = vae.module_.cpu().eval()
    x = vae._standardizer().scale_rows(X_test).repeat(10, 1)
    with torch.no_grad():
        elbo = -NegativeELBO()(model, x, gen(0))
        iwae = -NegativeIWAEBound(10)(model, x, gen(1))
    gap = (iwae - elbo).double()
    assert gap.mean() > 4 * gap.std() / math.sqrt(len(gap))


def test_training_with_importance_samples(pixels, monkeypatch):
    X_train, X_test = pixels
    decoded = []
    decode = skae._nn.models.VariationalAutoencoder.decode

    def recording_decode(self, z, x=None):
        decoded.append(z.shape[0])
        return decode(self, z, x)

    VAE = skae._nn.models.VariationalAutoencoder
    monkeypatch.setattr(VAE, "decode", recording_decode)
    params = dict(FAST, n_importance_samples=5, kl_warmup=1, batch_size=100)
    vae = VAETransformer(4, likelihood="bernoulli", **params).fit(X_train)
    # One decoder call per step, for all K * batch_size draws.
    assert decoded[0] == 500
    assert np.all(np.isfinite(vae.loss_curve_))
    assert vae.loss_curve_[-1] < vae.loss_curve_[1]
    ll = vae.log_likelihood(X_test, n_samples=20, random_state=0)
    assert np.isfinite(ll).all()
    # Evaluation does not depend on the training objective's K.
    vae.set_params(n_importance_samples=1)
    np.testing.assert_array_equal(
        ll, vae.log_likelihood(X_test, n_samples=20, random_state=0)
    )


def test_one_importance_sample_keeps_the_elbo():
    objective = VAETransformer(beta=0.5)._objective(None)
    assert type(objective) is NegativeELBO and objective.beta == 0.5
    objective = VAETransformer(n_importance_samples=3)._objective(None)
    assert type(objective) is NegativeIWAEBound and objective.n_samples == 3


# ------------------------------------------------------- dynamic binarization
def test_binarize_replaces_the_target_in_training_only():
    model = tiny_vae()
    x = torch.rand((50, 8), generator=gen(1))
    target = training_target(model.train(), x, gen(), Binarize())
    assert set(target.unique().tolist()) == {0.0, 1.0}
    assert abs(target.mean() - x.mean()) < 0.05
    assert training_target(model.eval(), x, gen(), Binarize()) is x
    assert training_target(model.train(), x, gen(), None) is x


def test_the_encoder_corrupts_the_draw(monkeypatch):
    model = tiny_vae().train()
    seen = []
    encode = type(model).encode

    def recording_encode(self, x, corrupt=None, generator=None):
        seen.append((x, corrupt(x, gen(2))))
        return encode(self, x, corrupt, generator)

    monkeypatch.setattr(type(model), "encode", recording_encode)
    identity = Standardizer(np.zeros(8), np.ones(8))
    mask = make_corruption("masking", 0.5, identity)
    x = torch.rand((50, 8), generator=gen(1))
    NegativeELBO(corrupt=mask, resample=Binarize())(model, x, gen())
    target, inp = seen[0]
    assert set(target.unique().tolist()) == {0.0, 1.0}
    # The corruption acts on the draw: masked entries of the binary target.
    assert ((inp == target) | (inp == 0)).all() and (inp != target).any()


def test_binarize_fits_binary_draws_and_validates_on_the_data(pixels, monkeypatch):
    X_train, _ = pixels
    seen = {True: [], False: []}
    log_prob = BernoulliLikelihood.log_prob

    def recording_log_prob(self, x, out):
        seen[torch.is_grad_enabled()].append(x.detach().clone())
        return log_prob(self, x, out)

    monkeypatch.setattr(BernoulliLikelihood, "log_prob", recording_log_prob)
    params = dict(FAST, max_iter=2, early_stopping=True)
    VAETransformer(4, likelihood="bernoulli", binarize=True, **params).fit(X_train)
    training, validation = torch.cat(seen[True]), torch.cat(seen[False])
    assert set(training.unique().tolist()) == {0.0, 1.0}
    assert len(validation.unique()) > 2  # the grey levels as given


@pytest.mark.parametrize("likelihood", ["gaussian", "multinomial"])
def test_binarize_needs_the_bernoulli_likelihood(likelihood, pixels):
    with pytest.raises(ValueError, match=r"binarize=True .* likelihood='bernoulli'"):
        VAETransformer(likelihood=likelihood, binarize=True, **FAST).fit(pixels[0])


def test_binarize_with_bernoulli_keeps_the_identity_scaling(pixels):
    X_train, _ = pixels
    vae = VAETransformer(likelihood="bernoulli", binarize=True, **FAST)
    assert vae._resolved_scaling() is None
    with pytest.raises(ValueError, match="not allowed"):
        vae.set_params(scaling="global").fit(X_train)


def test_binarize_composes_with_corruption_and_sparse_input(pixels):
    X_train, X_test = pixels
    params = dict(FAST, max_iter=3)
    vae = VAETransformer(
        4, likelihood="bernoulli", binarize=True, corruption="masking", **params
    )
    dense = vae.fit(X_train).transform(X_test)
    sparse = vae.fit(sp.csr_matrix(X_train)).transform(X_test)
    np.testing.assert_array_equal(dense, sparse)


def test_new_params_round_trip_through_save(pixels, tmp_path):
    X_train, X_test = pixels
    vae = VAETransformer(
        4, likelihood="bernoulli", n_importance_samples=3, binarize=True, **FAST
    ).fit(X_train)
    save(vae, tmp_path / "vae.safetensors")
    loaded = load(tmp_path / "vae.safetensors")
    assert loaded.get_params() == vae.get_params()
    np.testing.assert_array_equal(loaded.transform(X_test), vae.transform(X_test))


# ------------------------------------------------------------ output bias init
def untrained(likelihood, X, **params):
    """A VAE fitted with a negligible learning rate: the weights as initialised."""
    params = dict(FAST, max_iter=1, learning_rate_init=1e-12, **params)
    return VAETransformer(4, likelihood=likelihood, **params).fit(X)


def bias(vae):
    return vae.module_.decoder[-1].bias.detach().double().cpu().numpy()


@pytest.mark.parametrize("sparse", [False, True])
def test_bernoulli_output_bias_is_the_logit_of_the_mean(pixels, sparse):
    X_train, _ = pixels
    vae = untrained("bernoulli", sp.csr_matrix(X_train) if sparse else X_train)
    p = np.clip(X_train.mean(0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(bias(vae), np.log(p / (1 - p)), rtol=1e-5, atol=1e-6)


def test_multinomial_output_bias_is_the_log_of_the_mean_counts():
    X = np.random.RandomState(0).poisson(2.0, size=(80, 10)).astype(float)
    X[:, 3] = 0  # never seen: clamped to a thousandth of uniform
    vae = untrained("multinomial", X)
    p = X.mean(0) / X.mean(0).sum()
    expected = np.log(np.maximum(p, 1e-3 / 10))
    np.testing.assert_allclose(bias(vae), expected, rtol=1e-5)


@pytest.mark.parametrize("scaling", ["auto", None])
def test_gaussian_output_bias_is_the_mean_of_the_scaled_data(pixels, scaling):
    X_train, _ = pixels
    vae = untrained("gaussian", X_train, scaling=scaling)
    expected = (X_train.mean(0) - vae.mean_) / vae.scale_
    np.testing.assert_allclose(bias(vae), expected, atol=1e-6)


def test_feature_mean_is_taken_block_by_block(pixels):
    X = pixels[0]
    dense = torch.as_tensor(X, dtype=torch.float32)
    identity = Standardizer(np.zeros(X.shape[1]), np.ones(X.shape[1]))
    rows = SparseRows.from_scipy(sp.csr_matrix(X), identity, "cpu")
    for block_elements in (1, 1000, 1 << 22):
        for data in (dense, rows):
            mean = feature_mean(data, block_elements)
            assert mean.dtype == torch.float64
            np.testing.assert_allclose(mean.numpy(), X.mean(0), rtol=1e-6, atol=1e-7)


def test_warm_start_keeps_the_trained_bias(pixels, monkeypatch):
    X_train, _ = pixels
    calls = []
    init = VAETransformer._init_from_data
    monkeypatch.setattr(
        VAETransformer,
        "_init_from_data",
        lambda self, module, X, seed: calls.append(1) or init(self, module, X, seed),
    )
    vae = VAETransformer(4, likelihood="bernoulli", warm_start=True, **FAST)
    vae.fit(X_train).fit(X_train)
    assert calls == [1]


def test_output_layer_is_found_only_where_the_bias_is_per_feature():
    model = tiny_vae()
    assert output_layer(model, 8) is model.decoder[-1]
    assert output_layer(model, 9) is None
    model.decoder.append(nn.Sigmoid())
    assert output_layer(model, 8) is None
    model.decoder = nn.Sequential(
        nn.Linear(3, 8), nn.Unflatten(1, (2, 2, 2)), nn.ConvTranspose2d(2, 1, 3)
    )
    assert output_layer(model, 8) is None
    model.decoder = nn.Sequential(nn.Linear(3, 8), nn.Unflatten(1, (2, 4)))
    assert output_layer(model, 8) is model.decoder[0]
    assert output_layer(nn.Linear(3, 8), 8) is None
