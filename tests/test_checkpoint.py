"""Checkpoints: a fit killed mid-way resumes to the uninterrupted fit's model."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open

from skae import AutoencoderTransformer, ConditionalVAETransformer, VAETransformer
from skae._train import loop

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=8, random_state=0)


def same_model(a, b, X) -> bool:
    weights = zip(
        a.module_.state_dict().values(), b.module_.state_dict().values(), strict=True
    )
    return (
        all(torch.equal(u, v) for u, v in weights)
        and a.loss_curve_ == b.loss_curve_
        and np.array_equal(a.transform(X), b.transform(X))
    )


def die_at_epoch(monkeypatch, epoch: int) -> None:
    """Make the training loop fail when it starts epoch ``epoch`` (from 1)."""
    original = loop.Trainer.run_epoch
    calls = {"n": 0}

    def run_epoch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise RuntimeError("the process died")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(loop.Trainer, "run_epoch", run_epoch)


def interrupted(monkeypatch, estimator, *fit_args, epoch: int = 3) -> None:
    """Fit ``estimator`` until the process 'dies' at ``epoch``: its checkpoint stays."""
    with monkeypatch.context() as m:
        die_at_epoch(m, epoch)
        with pytest.raises(RuntimeError):
            estimator.fit(*fit_args)


def saved_epoch(path) -> int:
    with safe_open(path, framework="pt") as f:
        return json.loads(f.metadata()["state"])["epoch"]


@pytest.mark.parametrize(
    "Est, params",
    [
        (AutoencoderTransformer, {}),
        (AutoencoderTransformer, dict(learning_rate="cosine", corruption="gaussian")),
        (
            VAETransformer,
            dict(early_stopping=True, learning_rate="adaptive", n_iter_no_change=1),
        ),
    ],
    ids=["ae", "ae-cosine-noise", "vae-early-stopping-adaptive"],
)
def test_resumed_fit_is_the_uninterrupted_fit(
    Est, params, digits, tmp_path, monkeypatch
):
    X = digits[0][:300]
    path = tmp_path / "fit.ckpt"
    reference = Est(**SMALL, **params).fit(X)
    with monkeypatch.context() as m:
        die_at_epoch(m, 5)
        with pytest.raises(RuntimeError, match="died"):
            Est(**SMALL, **params, checkpoint=path).fit(X)
    assert saved_epoch(path) == 4
    resumed = Est(**SMALL, **params, checkpoint=path).fit(X)
    assert same_model(reference, resumed, X)
    assert not path.exists()  # removed once the fit completed


def test_checkpoint_every_and_random_state_none(digits, tmp_path, monkeypatch):
    X = digits[0][:300]
    path = tmp_path / "fit.ckpt"
    params = dict(SMALL, random_state=None, checkpoint=path, checkpoint_every=3)
    with monkeypatch.context() as m:
        die_at_epoch(m, 8)
        with pytest.raises(RuntimeError):
            AutoencoderTransformer(**params).fit(X)
    assert saved_epoch(path) == 6
    # The seeds drawn by the first run are in the file: the resumed run
    # repeats them although random_state is None.
    with safe_open(path, framework="pt") as f:
        seeds = json.loads(f.metadata()["state"])["seeds"]
    resumed = AutoencoderTransformer(**params).fit(X)
    assert resumed.n_iter_ == 8
    ref = AutoencoderTransformer(**SMALL)
    ref.set_params(random_state=None)
    monkeypatch.setattr(
        "skae._estimators.base.check_random_state", lambda _: _Seeds(seeds)
    )
    assert same_model(ref.fit(X), resumed, X)


class _Seeds:
    """A RandomState stand-in that draws the given seeds."""

    def __init__(self, seeds):
        self.seeds = np.array(seeds)

    def randint(self, high, size):
        return self.seeds


def test_conditional_vae_resumes(digits, tmp_path, monkeypatch):
    X, y = digits[0][:300], digits[2][:300]
    path = tmp_path / "fit.ckpt"
    reference = ConditionalVAETransformer(**SMALL).fit(X, y)
    interrupted(monkeypatch, ConditionalVAETransformer(**SMALL, checkpoint=path), X, y)
    resumed = ConditionalVAETransformer(**SMALL, checkpoint=path).fit(X, y)
    assert same_model(reference, resumed, X)


def test_a_checkpoint_of_other_data_or_parameters_is_refused(
    digits, tmp_path, monkeypatch
):
    X = digits[0][:300]
    path = tmp_path / "fit.ckpt"
    interrupted(monkeypatch, AutoencoderTransformer(**SMALL, checkpoint=path), X)
    for est, data in [
        (AutoencoderTransformer(**SMALL, checkpoint=path), X[:-1]),
        (AutoencoderTransformer(**{**SMALL, "max_iter": 9}, checkpoint=path), X),
        (VAETransformer(**SMALL, checkpoint=path), X),
    ]:
        with pytest.raises(ValueError, match="other data or parameters"):
            est.fit(data)
        assert not hasattr(est, "module_")
    # verbose and checkpoint_every do not change the model: resumed.
    AutoencoderTransformer(**SMALL, checkpoint=path, verbose=0, checkpoint_every=2).fit(
        X
    )
    assert not path.exists()


def test_corrupted_or_foreign_files_are_refused(digits, tmp_path, monkeypatch):
    X = digits[0][:300]
    path = tmp_path / "fit.ckpt"
    interrupted(monkeypatch, AutoencoderTransformer(**SMALL, checkpoint=path), X)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # a flipped byte in the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        AutoencoderTransformer(**SMALL, checkpoint=path).fit(X)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        AutoencoderTransformer(**SMALL, checkpoint=path).fit(X)


def test_checkpoint_is_kept_after_ctrl_c_and_not_for_warm_start(
    digits, tmp_path, monkeypatch
):
    X = digits[0][:300]
    path = tmp_path / "fit.ckpt"
    original = loop.Trainer.run_epoch
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(loop.Trainer, "run_epoch", interrupted)
        with pytest.warns(UserWarning, match="nterrupt"):
            est = AutoencoderTransformer(**SMALL, checkpoint=path).fit(X)
    assert est.n_iter_ == 3 and saved_epoch(path) == 3
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match="warm_start"):
        est.fit(X)
    with pytest.raises(ValueError, match="random_state to be an int or None"):
        AutoencoderTransformer(
            **{**SMALL, "random_state": np.random.RandomState(0)}, checkpoint=path
        ).fit(X)


def test_saved_model_with_a_checkpoint_path_and_device_mismatch(digits, tmp_path):
    import skae
    from skae._train.checkpoint import Checkpoint

    X = digits[0][:300]
    est = AutoencoderTransformer(**SMALL, checkpoint=tmp_path / "fit.ckpt").fit(X)
    skae.save(est, tmp_path / "model.safetensors")
    loaded = skae.load(tmp_path / "model.safetensors")
    assert loaded.checkpoint == str(tmp_path / "fit.ckpt")
    # A checkpoint written on another device is refused by name.
    state = loop._loop_state(
        1,
        est.module_,
        None,
        loop.Trainer(est.module_, None, _config(), 1),
        torch.Generator(),
        loop.History(),
        0,
        None,
    )
    Checkpoint(tmp_path / "a.ckpt", 1, "f", torch.device("cpu")).save(state)
    with pytest.raises(
        ValueError, match="written by a fit on cpu; this fit runs on meta"
    ):
        Checkpoint(tmp_path / "a.ckpt", 1, "f", torch.device("meta")).load()


def _config():
    return loop.TrainingConfig(
        max_iter=1,
        batch_size=1,
        learning_rate=1e-3,
        weight_decay=0.0,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=1,
    )


def test_fingerprints_of_callables():
    from skae._estimators.fingerprint import stable

    assert stable(lambda x: x + 1) != stable(lambda x: x + 2)

    class Corrupt:
        def __init__(self, level):
            self.level = level

        def __call__(self, x, generator):
            return x

    assert stable(Corrupt(0.1)) == stable(Corrupt(0.1)) != stable(Corrupt(0.2))
    assert "0x" not in stable(Corrupt(0.1))


CHILD = """
import sys, warnings
from sklearn.datasets import load_digits
from skae import AutoencoderTransformer
warnings.simplefilter("ignore")
X = load_digits().data
AutoencoderTransformer(4, hidden_layer_sizes=(64,), max_iter=60, random_state=0,
                       checkpoint=sys.argv[1]).fit(X)
"""


@pytest.mark.slow
def test_fit_killed_by_sigkill_resumes_bit_identical(tmp_path):
    from sklearn.datasets import load_digits

    X = load_digits().data
    path = tmp_path / "fit.ckpt"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)])
    try:
        deadline = time.monotonic() + 120
        while (
            not path.exists() and child.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, 0.1))  # a random epoch
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the fit ended before the kill"
    epoch = saved_epoch(path)
    assert 1 <= epoch < 60
    params = dict(n_components=4, hidden_layer_sizes=(64,), max_iter=60, random_state=0)
    resumed = AutoencoderTransformer(**params, checkpoint=path).fit(X)
    assert same_model(AutoencoderTransformer(**params).fit(X), resumed, X)
    # Nothing is left: neither the checkpoint nor a write the kill cut short.
    assert os.listdir(tmp_path) == []
