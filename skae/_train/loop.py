"""Training loop: batches by index, one host sync per epoch.

The stages follow skorch's shape (``train_step`` -> ``run_epoch`` ->
``fit_module``) without its per-sample ``DataLoader``: the training set is
held on the target device (:class:`skae._data.rows.Rows`: in its own dtype,
sparse, or streamed from a memory map), each epoch draws one permutation from a local
``torch.Generator`` and takes batches by index, the loss is summed on the
device and brought to the host once per epoch. :class:`Trainer` holds the
optimizer and schedule: ``fit_module`` runs its epochs, ``partial_fit`` one
per call.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .._data.rows import Rows
from .checkpoint import Checkpoint, LoopState
from .schedules import make_schedule

Objective = Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one training run (see the estimators' parameters)."""

    max_iter: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    shuffle: bool
    tol: float
    n_iter_no_change: int
    verbose: int = 0
    desc: str = "fit"
    compile_options: dict | None = None
    autocast: bool = False
    warmup_epochs: int = 0
    schedule: str = "constant"


@dataclass
class History:
    """What happened during training: per-epoch mean losses per sample."""

    loss_curve: list[float] = field(default_factory=list)
    validation_loss_curve: list[float] | None = None
    best_loss: float = math.inf
    converged: bool = False
    interrupted: bool = False


def make_optimizer(
    module: torch.nn.Module, config: TrainingConfig
) -> torch.optim.Optimizer:
    """AdamW with decoupled weight decay, fused into one kernel where supported.

    The fused implementation (CUDA, and the CPU from torch 2.4) updates all
    parameters in a single pass, which takes about a sixth off a CPU epoch of
    a 784-512-256-30 autoencoder; older builds fall back to the default one.
    """
    params = list(module.parameters())
    kwargs = dict(lr=config.learning_rate, weight_decay=config.weight_decay)
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except RuntimeError:
        return torch.optim.AdamW(params, **kwargs)


def flush_subnormal_state(optimizer: torch.optim.Optimizer) -> None:
    """Set optimizer-state values in float32's subnormal range to zero.

    Adam's moment estimates of parameters with tiny gradients decay into the
    subnormal range, where CPU arithmetic is many times slower: a
    784-512-256-30 autoencoder on MNIST accumulates about 20,000 such values
    by its fourth epoch and its epochs slow by about 10%. Zeroing them is
    exact for the updates: a second moment below 1.2e-38 is invisible next
    to ``eps`` (1e-8) in float32, and a first moment below it moves a weight
    by less than 1e-30.
    """
    with torch.no_grad():
        for state in optimizer.state.values():
            for value in state.values():
                # The step counter is a 0-d tensor: left alone.
                if torch.is_tensor(value) and value.is_floating_point() and value.dim():
                    value.masked_fill_(value.abs() < torch.finfo(value.dtype).tiny, 0)


def autocast_objective(objective: Objective, enabled: bool) -> Objective:
    """``objective`` under bfloat16 autocast (mixed precision), or as is.

    The weights and the optimizer stay float32; the per-sample losses are
    returned in float32.
    """
    if not enabled:
        return objective

    def mixed(
        module: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return objective(module, x, generator).float()

    return mixed


def compile_objective(objective: Objective, options: dict | None) -> Objective:
    """``objective`` compiled with ``torch.compile(**options)``, or as is for None.

    The whole objective is compiled, the module's forward pass and the loss
    together, so the backward graph is compiled as well; the module is an
    argument, so the fitted module itself stays a plain, picklable one.
    """
    if options is None:
        return objective

    def step_objective(
        module: torch.nn.Module, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        return objective(module, x, generator)

    return torch.compile(step_objective, **options)


def train_step(
    module: torch.nn.Module,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    xb: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """One gradient step on batch ``xb``; returns the summed loss (on device)."""
    optimizer.zero_grad(set_to_none=True)
    losses = objective(module, xb, generator)
    losses.mean().backward()
    optimizer.step()
    return losses.detach().sum()


def run_epoch(
    module: torch.nn.Module,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    X: Rows,
    config: TrainingConfig,
    generator: torch.Generator,
    on_step: Callable[[], None] | None = None,
) -> float:
    """One pass over ``X``; returns the mean loss per sample (one host sync).

    ``X`` is training rows (:class:`skae._data.rows.Rows`), which hand out
    scaled float32 batches. ``on_step`` runs before every step
    (schedules).
    """
    module.train()
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for xb in X.batches(config.batch_size, config.shuffle, generator):
        if on_step is not None:
            on_step()
        total += train_step(module, objective, optimizer, xb, generator)
    return total.item() / X.shape[0]


def evaluate(
    module: torch.nn.Module,
    objective: Objective,
    X: Rows,
    seed: int,
    batch_size: int = 4096,
) -> float:
    """Mean loss per sample on ``X`` with a fixed noise seed (comparable epochs)."""
    module.eval()
    generator = torch.Generator(device=X.device).manual_seed(seed)
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    with torch.inference_mode():
        for xb in X.split(batch_size):
            total += objective(module, xb, generator).sum()
    return total.item() / X.shape[0]


class Snapshot:
    """A copy of a module's parameters and buffers, refreshed in place."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.state = copy.deepcopy(module.state_dict())

    def update(self, module: torch.nn.Module) -> None:
        with torch.no_grad():
            for name, value in module.state_dict().items():
                self.state[name].copy_(value)

    def restore(self, module: torch.nn.Module) -> None:
        module.load_state_dict(self.state)


def fit_module(
    module: torch.nn.Module,
    objective: Objective,
    X: Rows,
    config: TrainingConfig,
    generator: torch.Generator,
    X_val: Rows | None = None,
    on_step: Callable[[int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    resume: LoopState | None = None,
) -> History:
    """Train ``module`` in place; stop early as scikit-learn's MLP does.

    ``on_step(step)`` runs before every gradient step with the step's index
    (a schedule, e.g. KL warm-up). Epochs up to ``config.warmup_epochs`` are
    not monitored: the objective still changes during them.

    ``checkpoint`` writes the loop's state every ``checkpoint.every``
    epochs; ``resume`` (a state it wrote) goes on from there, to the end an
    uninterrupted run reaches: the same bits on the CPU.

    Without ``X_val`` training stops when the training loss has not improved
    by ``tol`` for ``n_iter_no_change`` epochs. With ``X_val`` the validation
    loss is monitored instead and the best weights are restored at the end.

    A ``KeyboardInterrupt`` after at least one completed epoch ends training
    there: the module gets the weights of the last completed epoch (of the
    best one with ``X_val``), ``History.interrupted`` is set and the curves
    hold the completed epochs only. One in the first epoch propagates.

    Raises
    ------
    ValueError
        If the loss becomes NaN or infinite (the run diverged).
    """
    steps_per_epoch = X.n_batches(config.batch_size)
    trainer = Trainer(module, objective, config, steps_per_epoch, _trainer(resume))
    history = History(validation_loss_curve=[] if X_val is not None else None)
    # The weights to fall back on: the best epoch's with X_val, else the last's.
    kept = Snapshot(module)
    no_improvement = 0
    # Drawn only for validation: without it the generator's draws are the
    # epochs' alone (as in partial_fit), so fit and partial_fit agree.
    val_seed = None
    if X_val is not None:
        val_seed = int(
            torch.randint(
                2**31 - 1, (1,), generator=generator, device=generator.device
            ).item()
        )
    start = 0
    if resume is not None:
        start, no_improvement, val_seed = _resume(
            resume, module, kept, trainer, generator, history
        )
    epochs = tqdm(
        range(start, config.max_iter),
        desc=config.desc,
        disable=not config.verbose,
        leave=config.verbose > 1,
    )
    for epoch in epochs:
        try:
            loss = trainer.run_epoch(X, generator, on_step)
            monitored = loss
            if X_val is not None:
                monitored = evaluate(module, objective, X_val, val_seed)
        except KeyboardInterrupt:
            if not history.loss_curve:
                epochs.close()
                raise
            history.interrupted = True
            break
        if not (math.isfinite(loss) and math.isfinite(monitored)):
            epochs.close()
            raise diverged(f"at epoch {epoch + 1}", loss)
        history.loss_curve.append(loss)
        if X_val is not None:
            history.validation_loss_curve.append(monitored)
        epochs.set_postfix(loss=f"{loss:.4g}", refresh=False)
        warming_up = epoch < config.warmup_epochs
        improved = not warming_up and monitored < history.best_loss
        if X_val is None or warming_up or improved:
            kept.update(module)
        stop = False
        if not warming_up:
            margin = config.tol * abs(history.best_loss)
            if math.isfinite(margin) and monitored > history.best_loss - margin:
                no_improvement += 1
            else:
                no_improvement = 0
            if improved:
                history.best_loss = monitored
            if no_improvement > config.n_iter_no_change:
                no_improvement = 0
                stop = not trainer.schedule.on_plateau()
        if stop:
            history.converged = True
            break
        if checkpoint is not None and checkpoint.due(epoch + 1):
            checkpoint.save(
                _loop_state(
                    epoch + 1,
                    module,
                    kept if X_val is not None else None,
                    trainer,
                    generator,
                    history,
                    no_improvement,
                    val_seed,
                )
            )
    else:
        # A fixed-length schedule has converged when it has run its course,
        # unless its loss was still falling fast at the end.
        history.converged = trainer.schedule.fixed_length and not still_falling(
            history.loss_curve
        )
    epochs.close()
    if X_val is not None or history.interrupted:
        kept.restore(module)
    module.eval()
    return history


def _trainer(resume: LoopState | None) -> dict | None:
    """The :class:`Trainer`'s part of a saved loop state."""
    if resume is None:
        return None
    return dict(
        optimizer=resume.optimizer, step=resume.step, total_steps=resume.total_steps
    )


def _resume(
    state: LoopState,
    module: torch.nn.Module,
    kept: Snapshot,
    trainer: Trainer,
    generator: torch.Generator,
    history: History,
) -> tuple[int, int, int | None]:
    """Put the loop where ``state`` was; its first epoch, counter and seed."""
    module.load_state_dict(state.module)
    kept.update(module)
    if state.kept is not None:
        kept.state = {k: v.clone() for k, v in state.kept.items()}
    trainer.schedule.load_state(state.schedule)
    generator.set_state(state.generator)
    history.loss_curve = list(state.loss_curve)
    if state.validation_loss_curve is not None:
        history.validation_loss_curve = list(state.validation_loss_curve)
    history.best_loss = state.best_loss
    return state.epoch, state.no_improvement, state.val_seed


def _loop_state(
    epoch: int,
    module: torch.nn.Module,
    kept: Snapshot | None,
    trainer: Trainer,
    generator: torch.Generator,
    history: History,
    no_improvement: int,
    val_seed: int | None,
) -> LoopState:
    return LoopState(
        epoch=epoch,
        module=module.state_dict(),
        kept=None if kept is None else kept.state,
        **trainer.state(generator),  # optimizer, step, total_steps, generator
        schedule=trainer.schedule.state(),
        loss_curve=history.loss_curve,
        validation_loss_curve=history.validation_loss_curve,
        best_loss=history.best_loss,
        no_improvement=no_improvement,
        val_seed=val_seed,
    )


# A fixed budget counts as unfinished when the last tenth of its epochs still
# brought more than this share of the whole run's fall of the training loss.
STILL_FALLING_SHARE = 0.05


def final_fall(curve: list[float]) -> float:
    """The last tenth's share of the fall of ``curve`` (epochs' mean losses).

    The mean loss of the last ``m = max(1, len(curve) // 10)`` epochs is
    compared with that of the ``m`` epochs before; the difference is divided
    by the whole run's fall, the first epoch's loss minus the lowest. 0 when
    the curve did not fall or is too short to compare.
    """
    m = max(1, len(curve) // 10)
    total = curve[0] - min(curve) if curve else 0.0
    if len(curve) < 2 * m or not total > 0:
        return 0.0
    before = sum(curve[-2 * m : -m]) / m
    last = sum(curve[-m:]) / m
    return max(0.0, (before - last) / total)


def still_falling(curve: list[float]) -> bool:
    """Whether a fixed budget ended while the loss still fell fast."""
    return final_fall(curve) > STILL_FALLING_SHARE


def diverged(when: str, loss: float) -> ValueError:
    """The error of a run whose loss became NaN or infinite ``when``."""
    return ValueError(
        f"Training diverged {when}: the loss is {loss}. Lower "
        "learning_rate_init, check the input for extreme values, or keep the "
        "internal scaling on."
    )


class Trainer:
    """The optimizer, schedule and step count of one training run, epoch by epoch.

    :func:`fit_module` runs its epochs; ``partial_fit`` runs one per call,
    resuming from ``state``, what :meth:`state` returned after the previous
    epoch (None for the first): Adam's moments, the index of the next
    gradient step and (kept by the caller) the generator's state. The
    learning-rate schedule spans ``config.max_iter`` epochs of
    ``steps_per_epoch`` steps.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        objective: Objective,
        config: TrainingConfig,
        steps_per_epoch: int,
        state: dict | None = None,
    ) -> None:
        self.module = module
        self.objective = compile_objective(
            autocast_objective(objective, config.autocast), config.compile_options
        )
        self.config = config
        self.optimizer = make_optimizer(module, config)
        self.step = 0
        state = state or {}
        self.total_steps = state.get("total_steps", config.max_iter * steps_per_epoch)
        # Before the saved state: the schedule scales the initial rate.
        self.schedule = make_schedule(config.schedule, self.optimizer, self.total_steps)
        if state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.step = state["step"]

    def run_epoch(
        self,
        X: Rows,
        generator: torch.Generator,
        on_step: Callable[[int], None] | None = None,
    ) -> float:
        """One pass over ``X``; its mean loss per sample (NaN if it diverged).

        ``on_step(step)`` runs before every gradient step with the step's
        index, after the learning-rate schedule (e.g. KL warm-up).
        """

        def step_hook() -> None:
            self.schedule.on_step(self.step)
            if on_step is not None:
                on_step(self.step)
            self.step += 1

        loss = run_epoch(
            self.module,
            self.objective,
            self.optimizer,
            X,
            self.config,
            generator,
            step_hook,
        )
        flush_subnormal_state(self.optimizer)
        return loss

    def state(self, generator: torch.Generator) -> dict:
        """What the next epoch resumes from."""
        return dict(
            optimizer=self.optimizer.state_dict(),
            step=self.step,
            total_steps=self.total_steps,
            generator=generator.get_state(),
        )
