"""Mult-VAE pieces: multinomial likelihood, corruption, KL warm-up, recommend."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import skae._train.loop
from skae import AutoencoderTransformer, VAETransformer
from skae._data.scaling import Standardizer
from skae._nn.corruption import make_corruption
from skae._nn.likelihoods import MultinomialLikelihood

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)


def two_tastes(n_users=300, n_items=40, seed=0):
    """Users who like either the first or the second half of the items."""
    rng = np.random.RandomState(seed)
    group = rng.randint(2, size=n_users)
    half = n_items // 2
    X = np.zeros((n_users, n_items))
    for u, g in enumerate(group):
        items = rng.choice(half, size=6, replace=False) + g * half
        X[u, items] = 1.0
    return X, group


def test_multinomial_log_prob_is_the_count_weighted_log_softmax():
    x = torch.tensor([[2.0, 0.0, 1.0]])
    logits = torch.tensor([[0.5, -1.0, 2.0]])
    p = torch.softmax(logits, -1)
    expected = 2 * torch.log(p[0, 0]) + torch.log(p[0, 2])
    got = MultinomialLikelihood().log_prob(x, logits)
    torch.testing.assert_close(got, expected[None])


def test_multinomial_vae_reconstructs_probabilities_and_scores_counts():
    X, _ = two_tastes()
    vae = VAETransformer(likelihood="multinomial", **FAST).fit(X)
    probs = vae.inverse_transform(vae.transform(X[:5]))
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert (probs >= 0).all()
    assert vae.scaling == "auto" and (vae.scale_ == 1).all() and (vae.mean_ == 0).all()
    assert np.isfinite(vae.score_samples(X)).all()
    samples = vae.sample(4, random_state=0)
    np.testing.assert_allclose(samples.sum(1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="not allowed"):
        VAETransformer(likelihood="multinomial", scaling="global", **FAST).fit(X)


def test_mult_vae_recommends_from_the_users_own_taste():
    X, group = two_tastes()
    vae = VAETransformer(
        n_components=4,
        hidden_layer_sizes=(32,),
        likelihood="multinomial",
        corruption="masking",
        kl_warmup=5,
        beta=0.2,
        max_iter=40,
        batch_size=50,
        activation="tanh",
        random_state=0,
        device="cpu",
    ).fit(sp.csr_matrix(X))
    top = vae.recommend(sp.csr_matrix(X), n_items=5)
    assert top.shape == (300, 5) and top.dtype == np.int64
    # Never an item the user already has; almost always one of their taste.
    assert not np.take_along_axis(X, top, axis=1).any()
    same_half = (top >= 20) == group[:, None].astype(bool)
    assert same_half.mean() > 0.95, same_half.mean()


def test_recommend_ranks_the_reconstruction_and_checks_n_items():
    X, _ = two_tastes()
    ae = AutoencoderTransformer(**FAST).fit(X)
    rec = ae.inverse_transform(ae.transform(X))
    top = ae.recommend(X, n_items=3, exclude_seen=False)
    expected = np.argsort(-rec, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(np.sort(top, 1), np.sort(expected, 1))
    for bad in (0, 41, 2.5):
        with pytest.raises(ValueError, match="n_items must be an integer"):
            ae.recommend(X, n_items=bad)


def test_masking_drops_the_requested_fraction_to_the_callers_zero():
    X = np.random.RandomState(0).normal(3.0, 2.0, size=(200, 50))
    std = Standardizer(X.mean(0), X.std(0))
    xs = std.scale_rows(X)
    corrupt = make_corruption("masking", 0.3, std)
    out = corrupt(xs, torch.Generator().manual_seed(0))
    dropped = out != xs
    assert abs(dropped.float().mean().item() - 0.3) < 0.02
    np.testing.assert_allclose(std.unscale(out)[dropped].numpy(), 0.0, atol=1e-5)


def test_gaussian_noise_has_its_level_in_the_callers_units():
    X = np.random.RandomState(0).normal(0.0, 5.0, size=(400, 30))
    std = Standardizer(X.mean(0), X.std(0))
    xs = std.scale_rows(X)
    out = make_corruption("gaussian", 0.5, std)(xs, torch.Generator().manual_seed(0))
    noise = (std.unscale(out) - std.unscale(xs)).numpy()
    assert abs(noise.std() - 0.5) < 0.01


def test_callable_corruption_sees_the_callers_units_and_must_keep_the_shape():
    X = np.random.RandomState(0).uniform(10, 20, size=(60, 6))
    seen = []

    def clip_high(x, generator):
        seen.append((x.min().item(), x.max().item(), generator))
        return x.clamp(max=15.0)

    est = AutoencoderTransformer(corruption=clip_high, batch_size=60, **FAST).fit(X)
    low, high, generator = seen[0]
    assert 9.9 < low and high < 20.1 and isinstance(generator, torch.Generator)
    assert len(seen) == 3 * 1  # one batch of 60 rows per epoch, 3 epochs
    assert est.transform(X).shape == (60, 2)

    with pytest.raises(ValueError, match="must return a tensor of the batch's shape"):
        AutoencoderTransformer(corruption=lambda x, g: x[:, :2], **FAST).fit(X)
    with pytest.raises(ValueError, match="below 1"):
        AutoencoderTransformer(corruption="masking", corruption_level=1.0, **FAST).fit(
            X
        )


def test_denoising_training_changes_the_model_but_not_inference_input(digits):
    X = digits[0]
    plain = AutoencoderTransformer(**FAST).fit(X)
    denoising = AutoencoderTransformer(
        corruption="gaussian", corruption_level=4.0, **FAST
    )
    denoising.fit(X)
    assert denoising.loss_curve_ != plain.loss_curve_
    # Inference is deterministic: no corruption at transform time.
    np.testing.assert_array_equal(denoising.transform(X), denoising.transform(X))


def test_kl_warmup_ramps_the_kl_weight_per_step(monkeypatch):
    X, _ = two_tastes(n_users=100)
    weights = []
    step = skae._train.loop.train_step

    def recording_step(module, objective, optimizer, xb, generator):
        weights.append(float(objective.kl_weight))
        return step(module, objective, optimizer, xb, generator)

    monkeypatch.setattr(skae._train.loop, "train_step", recording_step)
    params = dict(FAST, batch_size=25, max_iter=4)  # 4 steps per epoch
    VAETransformer(likelihood="multinomial", kl_warmup=2, **params).fit(X)
    np.testing.assert_allclose(weights[:8], np.arange(8) / 8)
    assert weights[8:] == [1.0] * 8


def test_kl_warmup_epochs_do_not_count_towards_stopping():
    X, _ = two_tastes(n_users=100)
    # The loss rises during warm-up: without the exemption this stops at epoch 3.
    est = VAETransformer(
        likelihood="multinomial",
        kl_warmup=6,
        n_iter_no_change=1,
        tol=0.0,
        **dict(FAST, max_iter=8, batch_size=25),
    ).fit(X)
    assert est.n_iter_ > 6


def test_mult_vae_input_dropout_normalises_then_drops_and_rescales():
    """Liang et al.'s order: L2-normalise, then inverted dropout (expectation kept)."""
    X, _ = two_tastes(n_users=40)
    vae = VAETransformer(likelihood="multinomial", corruption="masking", **FAST)
    corrupt = vae._resolved(X, warm=False)._corruption(
        Standardizer(np.zeros(40), np.ones(40))
    )
    assert corrupt.after_unit_norm and corrupt.level == 0.5
    model = vae.fit(X).module_
    device = next(model.parameters()).device  # SKAE_TEST_DEVICE=cuda fits there
    # counts: the norm is divided out
    x = torch.tensor(2 * X, dtype=torch.float32, device=device)
    seen = []
    hook = model.encoder[1].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    gen = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        model.encode(x, corrupt, gen)
    hook.remove()
    unit = torch.nn.functional.normalize(x, dim=-1)
    dropped = seen[0]
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], 2 * unit[kept])
    assert 0.4 < kept.sum() / (unit != 0).sum() < 0.6
    # The input's expectation is the clean unit-norm row (mean over draws).
    draws = torch.stack([corrupt(unit[:5], gen) for _ in range(4000)]).mean(0)
    torch.testing.assert_close(draws, unit[:5], atol=0.04, rtol=0)
    # Other likelihoods keep the plain masking of the data.
    plain = VAETransformer(corruption="masking")._corruption(
        Standardizer(np.zeros(40), np.ones(40))
    )
    assert not getattr(plain, "after_unit_norm", False)
