"""Failures and faults: transactional fits, interrupts, torch state, numerics."""

import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import skae._train.loop
from skae import AutoencoderTransformer, VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=4, device="cpu", random_state=0)
BOTH = [AutoencoderTransformer, VAETransformer]


def _fitted_state(est):
    """Everything fit sets (attributes, not parameters), as comparable data."""
    state = {}
    for key, value in vars(est).items():
        if key in est.get_params():
            continue
        if isinstance(value, torch.nn.Module):
            value = {k: v.clone() for k, v in value.state_dict().items()}
        state[key] = value
    return state


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if (
            isinstance(a[key], dict)
            and a[key]
            and torch.is_tensor(next(iter(a[key].values())))
        ):
            for name in a[key]:
                assert torch.equal(a[key][name], b[key][name]), (key, name)
        elif isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] is b[key] or a[key] == b[key], key


FAILING_FITS = [
    ("divergence", dict(learning_rate_init=1e12), lambda X: X * 1e3),
    ("no training split", dict(early_stopping=True, validation_fraction=0.9), None),
    ("bernoulli outside [0, 1]", dict(likelihood="bernoulli"), None),
    ("zero-width layer", dict(hidden_layer_sizes=(0,)), None),
]


@pytest.mark.parametrize("case", FAILING_FITS, ids=lambda c: c[0])
def test_failed_fit_leaves_unfitted_estimator_unfitted(case, small):
    _, params, make_X = case
    X = small[:5] if "validation_fraction" in params else small
    X = make_X(X) if make_X else X
    est = VAETransformer(**{**FAST, **params})
    before = dict(vars(est))
    with pytest.raises(ValueError):
        est.fit(X)
    assert vars(est) == before
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        est.transform(X)


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("Est", BOTH)
def test_failed_refit_keeps_the_previous_model(Est, warm_start, small):
    est = Est(warm_start=warm_start, **FAST).fit(small)
    codes, state = est.transform(small), _fitted_state(est)
    other = small if warm_start else small[:, :4]  # warm starts need the same width
    with pytest.raises(ValueError, match="diverged"):
        est.set_params(learning_rate_init=1e12).fit(other * 1e3)
    _assert_same_state(_fitted_state(est), state)
    np.testing.assert_array_equal(est.transform(small), codes)
    assert np.isfinite(est.transform(small)).all()


def _interrupt_after(monkeypatch, n_steps):
    """Make the n-th training step raise KeyboardInterrupt, as Ctrl-C would."""
    step = skae._train.loop.train_step
    calls = []

    def interrupted_step(*args):
        calls.append(None)
        if len(calls) == n_steps:
            raise KeyboardInterrupt
        return step(*args)

    monkeypatch.setattr(skae._train.loop, "train_step", interrupted_step)


@pytest.mark.parametrize("Est", BOTH)
def test_keyboard_interrupt_keeps_the_last_completed_epoch(Est, small, monkeypatch):
    # 3 steps per epoch; a constant rate: epochs 1-2 do not depend on max_iter.
    params = {**FAST, "batch_size": 20, "max_iter": 10, "learning_rate": "constant"}
    two_epochs = Est(**{**params, "max_iter": 2}).fit(small)
    _interrupt_after(monkeypatch, 3 * 2 + 2)  # in the middle of epoch 3
    est = Est(**params)
    with pytest.warns(UserWarning, match="interrupted .* after 2 completed epochs"):
        est.fit(small)
    assert est.n_iter_ == 2 and est.loss_curve_ == two_epochs.loss_curve_
    # The weights are those at the end of epoch 2, bit for bit.
    np.testing.assert_array_equal(est.transform(small), two_epochs.transform(small))
    assert est.sample(3).shape == (3, small.shape[1])


def test_keyboard_interrupt_with_early_stopping_keeps_the_best_epoch(
    small, monkeypatch
):
    params = {**FAST, "batch_size": 20, "early_stopping": True, "max_iter": 10}
    # validation_fraction=0.1 of 60 rows leaves 54 to train on: 3 steps/epoch.
    _interrupt_after(monkeypatch, 3 * 5 + 1)
    est = AutoencoderTransformer(**params)
    with pytest.warns(UserWarning, match="keeps the weights of the best epoch"):
        est.fit(small)
    assert est.n_iter_ == 5
    assert est.best_loss_ == min(est.validation_loss_curve_)


def test_keyboard_interrupt_in_the_first_epoch_propagates(small, monkeypatch):
    est = AutoencoderTransformer(**{**FAST, "batch_size": 20})
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(small)
    with pytest.raises(NotFittedError):
        est.transform(small)


def test_second_keyboard_interrupt_aborts_and_keeps_the_old_model(small, monkeypatch):
    est = AutoencoderTransformer(**{**FAST, "batch_size": 20}).fit(small)
    codes = est.transform(small)
    _interrupt_after(monkeypatch, 3 * 2 + 1)

    def second_interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(AutoencoderTransformer, "_after_fit", second_interrupt)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est.fit(small * 2)
    np.testing.assert_array_equal(est.transform(small), codes)


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
@pytest.mark.parametrize("Est", BOTH)
def test_fit_inside_the_callers_grad_mode(Est, mode, small):
    expected = Est(**FAST).fit(small).transform(small)
    with mode():
        est = Est(**FAST).fit(small)
        np.testing.assert_array_equal(est.transform(small), expected)
    assert torch.is_grad_enabled()
    np.testing.assert_array_equal(est.fit(small).transform(small), expected)


@pytest.mark.parametrize("Est", BOTH)
def test_callers_default_dtype_does_not_matter(Est, small):
    fitted = Est(**FAST).fit(small)
    expected = fitted.transform(small), fitted.score_samples(small)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        again = Est(**FAST).fit(small)
        for est in (fitted, again):
            np.testing.assert_array_equal(est.transform(small), expected[0])
            np.testing.assert_array_equal(est.score_samples(small), expected[1])
            assert est.sample(2).shape == (2, 6)
        assert again.module_.encoder[0].weight.dtype == torch.float32
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("Est", BOTH)
def test_scores_are_finite_for_large_finite_rows(Est, digits):
    X = digits[0]
    est = Est(**FAST).fit(X)
    far = np.array([1e4, -1e4, 1e8, 1e20, -1e30, 3e38], dtype=np.float64)
    rows = np.repeat(far[:, None], X.shape[1], axis=1)
    rows[:, ::2] = 0.0
    scores = est.score_samples(rows)
    assert np.isfinite(scores).all(), scores
    assert np.all(scores < est.score_samples(X[:5]).min())
    assert np.isfinite(est.score_samples(rows.astype(np.float32))).all()
    if Est is VAETransformer:
        ll = est.log_likelihood(rows, n_samples=8)
        assert np.isfinite(ll).all(), ll


def test_centring_happens_before_rounding_to_float32(digits):
    X = digits[0]
    a = AutoencoderTransformer(**FAST).fit(X)
    b = AutoencoderTransformer(**FAST).fit(X + 1e6)
    codes = a.transform(X)
    np.testing.assert_allclose(b.transform(X + 1e6), codes, atol=1e-5 * codes.std())
    np.testing.assert_allclose(b.mean_ - 1e6, a.mean_, atol=1e-9)
    np.testing.assert_allclose(b.scale_, a.scale_, rtol=1e-9)
    rec = b.inverse_transform(codes)
    np.testing.assert_allclose(rec - 1e6, a.inverse_transform(codes), atol=1e-3)


PEAK_SCRIPT = """
import sys, numpy as np
from pathlib import Path
from skae import VAETransformer

def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024

X = np.random.RandomState(0).uniform(size=(8, 20000)).astype(np.float32)
vae = VAETransformer(2, hidden_layer_sizes=(8,), max_iter=1, device="cpu",
                     random_state=0).fit(X)
vae.score_samples(X[:1])
Path("/proc/self/clear_refs").write_text("5")
base = peak()
vae.score_samples(X[:1])
vae.log_likelihood(X[:1], n_samples=100)
print(peak() - base)
"""


@pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc"
)
@pytest.mark.slow
def test_scoring_memory_is_bounded_for_wide_data():
    # Was about 6 GB for one row of 20000 features (a padded 1024-row tile of
    # 16 draws), 12 GB for log_likelihood(n_samples=100).
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 400 * 2**20, f"{int(out.stdout) / 2**20:.0f} MiB"


def test_tiles_fit_the_memory_budget():
    from skae._data.tiles import CPU_TILE_BYTES, tile_size

    X = np.zeros((4, 20000), dtype=np.float32)
    vae = VAETransformer(2, **{**FAST, "max_iter": 1}).fit(X)
    row_bytes = vae._row_bytes(vae._n_score_draws, itemsize=8)
    rows = tile_size(torch.device("cpu"), row_bytes)
    assert 1 <= rows < 64 and rows * row_bytes <= CPU_TILE_BYTES
    assert tile_size(torch.device("cpu"), 10**12) == 1


def test_errors_name_the_users_problem(small):
    with pytest.raises(ValueError, match=r"validation_fraction=0\.9 holds out 5 of"):
        AutoencoderTransformer(
            early_stopping=True, validation_fraction=0.9, **FAST
        ).fit(small[:5])
    one = AutoencoderTransformer(**FAST).fit(small[:1])
    assert one.transform(small).shape == (60, 2)
    with pytest.raises(ValueError, match=r"fitted on a single sample.*sample\(\)"):
        one.sample(3)
    # Duplicated rows: fewer distinct codes than mixture components is fine.
    dup = AutoencoderTransformer(**FAST).fit(np.repeat(small[:3], 4, axis=0))
    assert np.isfinite(dup.sample(5)).all()


ARRAY_API_SCRIPT = """
import numpy as np, sklearn
from sklearn.datasets import load_digits
from skae import AutoencoderTransformer, VAETransformer
X, _ = load_digits(return_X_y=True)
with sklearn.config_context(array_api_dispatch=True):
    for Est in (AutoencoderTransformer, VAETransformer):
        est = Est(hidden_layer_sizes=(8,), max_iter=2, device="cpu", random_state=0)
        est.fit(X)
        assert est.transform(X).shape == (len(X), 2)
        assert np.isfinite(est.sample(4)).all()
print("ok")
"""


def test_fit_under_sklearn_array_api_dispatch():
    # SCIPY_ARRAY_API must be set before scipy is imported: a fresh process.
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(ARRAY_API_SCRIPT)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("Est", BOTH)
def test_joblib_mmap_load_is_quiet_and_exact(Est, small, tmp_path):
    est = Est(**FAST).fit(small)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = joblib.load(path, mmap_mode="r")
        assert isinstance(again.mean_, np.memmap)
        np.testing.assert_array_equal(again.transform(small), est.transform(small))
        np.testing.assert_array_equal(
            again.score_samples(small), est.score_samples(small)
        )
        np.testing.assert_array_equal(again.sample(4), est.sample(4))
        np.testing.assert_array_equal(
            again.inverse_transform(est.transform(small)),
            est.inverse_transform(est.transform(small)),
        )


def test_pickled_interrupted_fit_round_trips(small, monkeypatch):
    _interrupt_after(monkeypatch, 3 * 2 + 1)
    with pytest.warns(UserWarning, match="interrupted"):
        est = AutoencoderTransformer(**{**FAST, "batch_size": 20}).fit(small)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(small), est.transform(small))
    assert clone(est).get_params() == est.get_params()


@pytest.mark.parametrize("Est", BOTH)
def test_every_method_is_batch_invariant_at_odd_widths(Est):
    # Widths 13, 7 and 5 are where MKL's products depend on a row's position.
    X = np.random.RandomState(0).normal(size=(40, 13)).astype(np.float32)
    params = {**FAST, "n_components": 5, "hidden_layer_sizes": (7,)}
    est = Est(**params).fit(X)
    Z, rec = est.transform(X), est.inverse_transform(X[:, :5])
    scores = est.score_samples(X)
    for i in range(0, 40, 3):
        np.testing.assert_array_equal(est.transform(X[i : i + 1])[0], Z[i])
        np.testing.assert_array_equal(
            est.inverse_transform(X[i : i + 1, :5])[0], rec[i]
        )
        np.testing.assert_array_equal(est.score_samples(X[i : i + 1])[0], scores[i])
    assert np.isfinite(Z).all()


def test_fit_makes_no_float64_copy_of_the_data():
    import tracemalloc

    X = np.random.RandomState(0).uniform(size=(20000, 100))  # 16 MB of float64
    est = AutoencoderTransformer(**{**FAST, "max_iter": 1, "batch_size": 1000})
    est.fit(X[:2000])  # first-fit imports (torch's compiler stack) are traced too
    tracemalloc.start()
    try:
        est.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Blocks of 4096 rows for the statistics; no whole-X temporary.
    assert peak < X.nbytes / 2, f"{peak / 2**20:.1f} MiB"
