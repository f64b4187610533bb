"""Learning-rate schedules and the relative tolerance of the training loop."""

import math
import warnings

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer
from skae._data import DenseRows
from skae._train import loop
from skae._train.loop import TrainingConfig, fit_module
from skae._train.schedules import make_schedule

FAST = dict(hidden_layer_sizes=(16,), device="cpu", random_state=0)


def _optimizer(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _rates(name, total_steps, lr=0.1):
    optimizer = _optimizer(lr)
    schedule = make_schedule(name, optimizer, total_steps)
    rates = []
    for step in range(total_steps):
        schedule.on_step(step)
        rates.append(optimizer.param_groups[0]["lr"])
    return np.array(rates), schedule, optimizer


def test_cosine_warms_up_then_decays_to_zero():
    rates, _, _ = _rates("cosine", 1000)
    n_warmup = 50  # 5% of the steps
    assert rates[0] == pytest.approx(0.1 / n_warmup)
    assert np.all(np.diff(rates[:n_warmup]) > 0)
    assert rates[n_warmup - 1] == pytest.approx(0.1)
    assert np.all(np.diff(rates[n_warmup:]) < 0)
    assert rates[-1] < 1e-6
    # Half-way through the decay the rate is half the peak.
    assert rates[n_warmup + 475] == pytest.approx(0.05, rel=1e-2)


def test_adaptive_divides_by_ten_then_stops():
    rates, schedule, optimizer = _rates("adaptive", 10)
    assert np.all(rates == 0.1)
    assert schedule.on_plateau()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    assert schedule.on_plateau()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.001)
    assert not schedule.on_plateau()


def test_constant_stops_at_first_plateau():
    rates, schedule, _ = _rates("constant", 10)
    assert np.all(rates == 0.1) and not schedule.on_plateau()


def _run_with_losses(monkeypatch, losses, tol, schedule="constant", n_iter_no_change=2):
    """fit_module on a dummy module whose epochs report ``losses``."""
    values = iter(losses)
    monkeypatch.setattr(loop, "run_epoch", lambda *args: next(values))
    config = TrainingConfig(
        max_iter=len(losses),
        batch_size=4,
        learning_rate=1e-3,
        weight_decay=0.0,
        shuffle=False,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        schedule=schedule,
    )
    module = torch.nn.Linear(2, 2)
    X = DenseRows(torch.zeros(8, 2), None)
    return fit_module(module, None, X, config, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("unit", [1e-6, 1.0, 1e6, -1.0])
def test_tol_is_relative(monkeypatch, unit):
    # Improvements of 0.05% per epoch after the fifth: below tol=1e-3
    # relative, so a plateau whatever the loss's units (and sign).
    losses = [100.0, 90.0, 80.0, 70.0, 60.0] + [60.0 * 0.9995**i for i in range(1, 20)]
    if unit < 0:
        losses = [v - 200.0 for v in losses]  # negative losses (e.g. a VAE's)
        unit = 1.0
    history = _run_with_losses(monkeypatch, [v * unit for v in losses], tol=1e-3)
    assert history.converged
    assert len(history.loss_curve) == 5 + 3  # n_iter_no_change + 1 flat epochs


def test_tol_zero_never_plateaus_while_improving(monkeypatch):
    losses = [100.0 * 0.9999**i for i in range(30)]
    history = _run_with_losses(monkeypatch, losses, tol=0.0)
    assert not history.converged and len(history.loss_curve) == 30


def test_adaptive_plateaus_three_times(monkeypatch):
    history = _run_with_losses(monkeypatch, [1.0] * 30, tol=1e-3, schedule="adaptive")
    assert history.converged and len(history.loss_curve) == 1 + 3 * 3


def test_default_fit_stops_once_flat(digits):
    # The adaptive rate with the default relative tol stops well before max_iter.
    params = dict(FAST, learning_rate="adaptive")
    est = AutoencoderTransformer(2, max_iter=500, **params).fit(digits[0])
    assert est.n_iter_ < 300
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_cosine_fit_runs_its_budget_without_warning(digits):
    # Every epoch is a plateau with this tol; the cosine schedule still runs
    # its max_iter epochs, and reaching them is its convergence.
    est = AutoencoderTransformer(
        2, learning_rate="cosine", max_iter=6, tol=1e6, n_iter_no_change=1, **FAST
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.fit(digits[0])
    assert est.n_iter_ == 6 and math.isfinite(est.loss_curve_[-1])
