"""The VampPrior: prior="vamp" of VAETransformer (Tomczak & Welling, 2018)."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.datasets import load_digits

from skae import ConditionalVAETransformer, VAETransformer, load, save
from skae._io.digests import _metadata_digest, _tensor_digest
from skae._nn.builders import build_vae
from skae._nn.layers import init_parameters
from skae._nn.objectives import NegativeELBO, NegativeIWAEBound, elbo_common_noise
from skae._nn.priors import VampPrior

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def vamp_model(n_features=8, n_components=3, n_pseudo_inputs=5):
    model = build_vae(
        n_features,
        n_components,
        lambda n_in, n_out: (
            torch.nn.Sequential(torch.nn.Linear(n_in, 6), torch.nn.Tanh()),
            torch.nn.Linear(n_out, n_in),
        ),
        "gaussian",
        prior="vamp",
        n_pseudo_inputs=n_pseudo_inputs,
    )
    init_parameters(model, gen(3))
    return model.eval()


def mixture_of(prior):
    """p(z) as a torch.distributions mixture of the components q(z|u_k)."""
    mean, log_var = prior.components()
    components = torch.distributions.Independent(
        torch.distributions.Normal(mean, (0.5 * log_var).exp()), 1
    )
    weights = torch.distributions.Categorical(logits=torch.zeros(len(mean)))
    return torch.distributions.MixtureSameFamily(weights, components)


def test_the_mixture_of_the_encoders_posteriors_at_the_pseudo_inputs():
    model = vamp_model()
    prior = model.prior
    assert isinstance(prior, VampPrior) and prior.n_modes == 5
    # Bound to the model's encoder; its weights are held once.
    mean, log_var = prior.components()
    torch.testing.assert_close(mean, model.encode(prior.pseudo_inputs)[0])
    assert [n for n, _ in model.named_parameters()].count("prior.pseudo_inputs") == 1
    names = list(model.state_dict())
    assert not any(n.startswith("prior.") and "encoder" in n for n in names)
    p = mixture_of(prior)
    z = 2.0 * torch.randn((4, 7, 3), generator=gen(1))  # draws x rows x k
    torch.testing.assert_close(prior.log_prob(z), p.log_prob(z))
    # Far from every component, the log-sum-exp stays finite.
    assert torch.isfinite(prior.log_prob(torch.full((2, 3), 1e3))).all()
    # Draws of chosen components: m_k + s_k eps.
    eps = torch.randn((6, 3), generator=gen(2))
    index = torch.tensor([0, 4, 4, 1, 2, 3])
    drawn = mean[index] + (0.5 * log_var[index]).exp() * eps
    torch.testing.assert_close(prior.draw_of(eps, index), drawn)


def test_the_kl_term_is_estimated_from_the_posterior_draws():
    model = vamp_model()
    x = torch.rand((7, 8), generator=gen(1))
    mu, log_var = model.encode(x)
    z = model.reparameterize(mu, log_var, torch.randn((2, 7, 3), generator=gen(2)))
    q = torch.distributions.Independent(
        torch.distributions.Normal(mu, (0.5 * log_var).exp()), 1
    )
    expected = (q.log_prob(z) - mixture_of(model.prior).log_prob(z)).mean(0)
    torch.testing.assert_close(model.prior.kl(mu, log_var, x, z), expected)
    # One draw: the ELBO is log p(x|z) + log p(z) - log q(z|x) at that draw,
    # which is the one-sample IWAE bound with the same draw.
    elbo = NegativeELBO()(model, x, gen(4))
    iwae = NegativeIWAEBound(1)(model, x, gen(4))
    torch.testing.assert_close(elbo, iwae)


def test_gradients_reach_the_pseudo_inputs():
    model = vamp_model().train()
    x = torch.rand((7, 8), generator=gen(1))
    NegativeELBO()(model, x, gen(4)).mean().backward()
    grad = model.prior.pseudo_inputs.grad
    assert grad is not None and grad.abs().sum() > 0


def test_a_rows_score_does_not_depend_on_the_other_rows():
    """The mixture's products are padded as inference's (batch invariance)."""
    model = vamp_model(n_components=5, n_pseudo_inputs=37)
    x = torch.rand((300, 8), generator=gen(1))
    eps = torch.randn((16, 5), generator=gen(2))
    with torch.no_grad():
        alone = elbo_common_noise(model, x[:1], eps)
        among = elbo_common_noise(model, x, eps)
    assert torch.equal(alone, among[:1])


@pytest.fixture(scope="module")
def digits():
    return load_digits().data


@pytest.fixture(scope="module")
def fitted(digits):
    vae = VAETransformer(
        4,
        prior="vamp",
        n_pseudo_inputs=20,
        hidden_layer_sizes=(32,),
        max_iter=8,
        random_state=0,
    )
    return vae.fit(digits[:600])


def test_fit_starts_the_pseudo_inputs_at_training_rows_and_learns_them(digits):
    params = dict(
        n_pseudo_inputs=20, hidden_layer_sizes=(32,), max_iter=1, random_state=0
    )
    start = VAETransformer(4, prior="vamp", **params, learning_rate_init=1e-12)
    start.fit(digits[:600])
    scaled = (digits[:600] - start.mean_) / start.scale_
    u = start.module_.prior.pseudo_inputs.detach().double().numpy()
    # Each pseudo-input is a distinct training row (as the encoder reads it).
    distance = np.abs(u[:, None, :] - scaled[None]).max(-1)
    nearest = distance.argmin(1)
    assert distance.min(1).max() < 1e-5 and len(set(nearest)) == 20
    moved = VAETransformer(4, prior="vamp", **params).fit(digits[:600])
    u_moved = moved.module_.prior.pseudo_inputs.detach().double().numpy()
    assert np.abs(u_moved - u).max() > 1e-3
    # Fewer rows than pseudo-inputs: rows drawn with replacement.
    few = VAETransformer(4, prior="vamp", **params).fit(digits[:10])
    assert few.module_.prior.pseudo_inputs.shape == (20, 64)


def test_sample_draws_a_component_then_a_code(fitted):
    rng = np.random.RandomState(7)
    eps = rng.standard_normal((6, 4))
    index = rng.randint(20, size=6)
    prior = fitted.module_.prior
    with torch.no_grad():
        mean, log_var = (t.double().numpy() for t in prior.components())
    codes = mean[index] + np.exp(0.5 * log_var[index]) * eps
    np.testing.assert_allclose(
        fitted.sample(6, random_state=7),
        fitted.inverse_transform(codes),
        rtol=1e-5,
        atol=1e-5,
    )


def test_scores_use_the_mixture(fitted, digits):
    """score_samples and log_likelihood change when the prior is N(0, I)."""
    X = digits[600:640]
    normal = VAETransformer(4, hidden_layer_sizes=(32,), max_iter=8, random_state=0)
    normal.fit(digits[:600])
    normal.module_.load_state_dict(
        {
            k: v
            for k, v in fitted.module_.state_dict().items()
            if not k.startswith("prior.")
        }
    )
    scores = fitted.score_samples(X)
    assert np.isfinite(scores).all()
    assert not np.allclose(scores, normal.score_samples(X))
    ll = fitted.log_likelihood(X, n_samples=64, random_state=0)
    # Importance weighting tightens the ELBO.
    assert (ll > scores - 1.0).mean() > 0.9


def test_round_trips_bit_identical(fitted, digits, tmp_path):
    X = digits[600:650]
    path = tmp_path / "vamp.safetensors"
    save(fitted, path)
    loaded = load(path)
    assert loaded.get_params() == fitted.get_params()
    for method in ("transform", "score_samples"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(fitted, method)(X)
        )
    np.testing.assert_array_equal(
        loaded.sample(5, random_state=0), fitted.sample(5, random_state=0)
    )
    # A refit with warm_start keeps training the same pseudo-inputs.
    loaded.set_params(warm_start=True, max_iter=1).fit(digits[:600])
    assert loaded.module_.prior.pseudo_inputs.shape == (20, 64)


def test_refused_where_it_does_not_apply(digits):
    y = np.arange(100) % 3
    with pytest.raises(ValueError, match="prior='vamp' is a mixture"):
        ConditionalVAETransformer(2, prior="vamp", max_iter=1).fit(digits[:100], y)
    with pytest.raises(ValueError, match="n_pseudo_inputs"):
        VAETransformer(2, prior="vamp", n_pseudo_inputs=0).fit(digits[:100])


def test_files_from_before_the_vamp_prior_load_as_they_were(digits, tmp_path):
    """A file whose architecture and parameters lack ``n_pseudo_inputs``
    (written before it existed, with or without ``prior``) loads."""
    vae = VAETransformer(2, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    vae.fit(digits[:200])
    path = tmp_path / "now.safetensors"
    save(vae, path)
    with safe_open(path, framework="numpy") as f:
        metadata = dict(f.metadata())
        arrays = {key: f.get_tensor(key) for key in f.keys()}
    for dropped in (1, 2):  # n_pseudo_inputs; then prior too
        old = dict(metadata)
        params = json.loads(old["params"])
        attributes = json.loads(old["attributes"])
        for name in ("n_pseudo_inputs", "prior")[:dropped]:
            del params[name]
        entries = attributes["_fitted_architecture"]["__tuple__"]
        attributes["_fitted_architecture"]["__tuple__"] = entries[:-dropped]
        old["params"], old["attributes"] = json.dumps(params), json.dumps(attributes)
        old["tensors_sha256"] = _tensor_digest(arrays)
        old["metadata_sha256"] = _metadata_digest(old)
        save_file(arrays, tmp_path / "old.safetensors", metadata=old)
        loaded = load(tmp_path / "old.safetensors")
        assert loaded.prior == "auto" if dropped == 1 else loaded.prior == "normal"
        assert loaded.n_pseudo_inputs == 500
        np.testing.assert_array_equal(
            loaded.score_samples(digits[:20]), vae.score_samples(digits[:20])
        )


def test_traverse_starts_at_the_mean_of_the_prior(fitted, digits):
    with torch.no_grad():
        mean, _ = fitted.module_.prior.components()
    origin = mean.double().numpy().mean(0)
    values = [-1.0, 0.5]
    codes = np.repeat(origin[None], 2, axis=0)
    codes[:, 1] = values
    np.testing.assert_allclose(
        fitted.traverse(dims=[1], values=values)[0],
        fitted.inverse_transform(codes),
        rtol=1e-6,
        atol=1e-6,
    )
    y = np.arange(300) % 3
    for prior in ("class", "normal"):
        cvae = ConditionalVAETransformer(
            2, prior=prior, hidden_layer_sizes=(16,), max_iter=3, random_state=0
        ).fit(digits[:300], y)
        means = cvae.module_.prior.mean.double().numpy() if prior == "class" else 0
        origin = (cvae.class_prior_ @ means) if prior == "class" else np.zeros(2)
        codes = np.stack([origin, origin])
        codes[:, 0] = values
        np.testing.assert_allclose(
            cvae.traverse(dims=[0], values=values)[0],
            cvae.inverse_transform(codes),
            rtol=1e-6,
            atol=1e-6,
        )
