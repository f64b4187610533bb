"""Learning-rate schedules: how the step size moves during one training run.

A schedule sets the optimizer's learning rate before every gradient step
(``on_step``) and decides what a plateau of the monitored loss means
(``on_plateau``): stop, or go on with a smaller step size. The training loop
in :mod:`skae._train.loop` only calls these two methods.

* ``"constant"``: the initial rate throughout; the first plateau stops.
* ``"adaptive"``: as scikit-learn's MLP, the rate is divided (by 10 here)
  at each plateau; the third plateau stops. A fit runs as long as it keeps
  improving, then refines and stops on its own.
* ``"cosine"``: a linear warm-up over the first 5% of the steps, then a
  cosine decay to zero at ``max_iter`` epochs (Loshchilov & Hutter, 2017):
  the best use of a known budget of epochs, which it always runs whole
  (plateaus do not stop it; reaching ``max_iter`` is its convergence).
"""

from __future__ import annotations

import math

import torch

SCHEDULES = ("constant", "adaptive", "cosine")


class ConstantRate:
    """The initial learning rate throughout; a plateau ends training."""

    # Whether the schedule ends at max_iter by design (no early stop).
    fixed_length = False

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int) -> None:
        self.optimizer = optimizer
        self.base_lr = [group["lr"] for group in optimizer.param_groups]
        self.total_steps = total_steps

    def set_factor(self, factor: float) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.base_lr, strict=True):
            group["lr"] = lr * factor

    def on_step(self, step: int) -> None:
        """Set the learning rate of gradient step ``step`` (from 0)."""

    def on_plateau(self) -> bool:
        """The monitored loss stopped improving: True to go on, False to stop."""
        return False

    def state(self) -> dict:
        """What the schedule has counted (for a checkpoint)."""
        return {}

    def load_state(self, state: dict) -> None:
        """Go on from :meth:`state` (the optimizer holds the current rate)."""


class AdaptiveRate(ConstantRate):
    """Divide the rate by ``factor`` at each plateau; stop at the last one."""

    factor = 10.0
    max_reductions = 2

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int) -> None:
        super().__init__(optimizer, total_steps)
        self.reductions = 0

    def on_plateau(self) -> bool:
        if self.reductions == self.max_reductions:
            return False
        self.reductions += 1
        self.set_factor(self.factor**-self.reductions)
        return True

    def state(self) -> dict:
        return {"reductions": self.reductions}

    def load_state(self, state: dict) -> None:
        self.reductions = int(state["reductions"])


class CosineRate(ConstantRate):
    """Linear warm-up over ``warmup`` of the steps, then cosine decay to 0."""

    warmup = 0.05
    fixed_length = True

    def on_step(self, step: int) -> None:
        n_warmup = max(1, round(self.warmup * self.total_steps))
        if step < n_warmup:
            factor = (step + 1) / n_warmup
        else:
            progress = (step - n_warmup) / max(1, self.total_steps - n_warmup)
            factor = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        self.set_factor(factor)

    def on_plateau(self) -> bool:
        return True


_CLASSES = {"constant": ConstantRate, "adaptive": AdaptiveRate, "cosine": CosineRate}


def make_schedule(
    name: str, optimizer: torch.optim.Optimizer, total_steps: int
) -> ConstantRate:
    """The schedule ``name`` (one of :data:`SCHEDULES`) driving ``optimizer``."""
    return _CLASSES[name](optimizer, total_steps)
