"""The estimator skeleton: ``fit`` and ``partial_fit`` of every autoencoder.

:class:`_BaseAutoencoder` composes the mixins of this package (what a fit
trains: :mod:`.setup`; inference: :mod:`.inference`; the neighbour term:
:mod:`.neighbors`; :mod:`.recommend`; :mod:`.latent`) and leaves the model
to its subclasses through hooks. ``fit`` calls, in this order:

1. ``_training_rows(X, y, warm)``: the rows to train on (the conditional
   VAE appends the one-hot labels);
2. ``_resolved(X, warm)`` (:mod:`.setup`): a copy whose "auto" parameters
   are values, then ``_check_fit`` (with ``_check_X`` and ``_check_params``);
3. ``_start``: ``_fit_scaling`` and ``_row_scaling`` (the statistics of X),
   then, unless warm, ``_build_module`` (on the meta device) and
   ``_init_from_data`` (e.g. the PCA path);
4. ``_corruption`` and ``_objective`` (the loss), ``_with_neighbors``
   (:mod:`.neighbors`), ``_schedule`` and ``_warmup_epochs`` (per-step
   weights of the objective), then the training loop of :mod:`skae._train`;
5. ``_warn_about``, then ``_commit``, shared with ``partial_fit``: the
   fitted attributes, then ``_keep_resolved`` (``max_iter_``, ...) and
   ``_after_fit`` (anything else fitted on the training rows).

Inference calls ``_check_X``, ``_encode``, ``_score`` (with
``_n_score_draws``) and ``_sample_codes``.
"""

from __future__ import annotations

import copy
import math
import os
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._data import make_rows
from .._data.scaling import Standardizer, fit_scaling
from .._nn.corruption import CORRUPTIONS, make_corruption
from .._nn.layers import ACTIVATIONS, init_parameters
from .._train.checkpoint import Checkpoint, LoopState
from .._train.loop import History, Trainer, diverged, fit_module
from .._train.schedules import SCHEDULES
from .checks import AUTO, _available, _module_device, _resolve_device, _transaction
from .fingerprint import fingerprint
from .inference import _InferenceMixin
from .latent import _LatentMixin
from .neighbors import _NeighborMixin
from .recommend import _RecommendMixin
from .setup import _SetupMixin


class _BaseAutoencoder(
    _InferenceMixin,
    _SetupMixin,
    _NeighborMixin,
    _RecommendMixin,
    _LatentMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of the autoencoder transformers.

    Warning: This class should not be used directly. Use derived classes
    instead. Subclasses build the module (``_build_module``), choose the
    training objective (``_objective``) and define how rows are encoded,
    scored and how latent codes are drawn for ``sample``.
    """

    # What skae.save writes of this class beyond what all share (skae._io):
    # its fitted attributes, and for files written before a parameter or an
    # entry of _fitted_architecture existed, the values that keep their model.
    _saved_attributes: ClassVar[tuple[str, ...]] = ()
    _params_added: ClassVar[dict] = {}
    _architecture_added: ClassVar[tuple] = ()

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            StrOptions({AUTO}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({AUTO, *ACTIVATIONS})],
        "architecture": [StrOptions({"mlp", "conv"}), callable],
        "image_shape": ["array-like", None],
        "scaling": [StrOptions({"auto", "global", "standard"}), None],
        "max_iter": [StrOptions({AUTO}), Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({AUTO, *SCHEDULES})],
        "learning_rate_init": [
            StrOptions({AUTO}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "compile": ["boolean", dict],
        "precision": [StrOptions({"float32", "bf16"})],
        "corruption": [StrOptions({AUTO, *CORRUPTIONS}), callable, None],
        "corruption_level": [
            StrOptions({AUTO}),
            Interval(Real, 0, None, closed="left"),
        ],
        "neighbor_weight": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "min_dist": [Interval(Real, 0, 1, closed="both")],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "checkpoint": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    }

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, n_features: int) -> torch.nn.Module:
        """Return a new, uninitialised torch module for ``n_features`` inputs."""

    @abstractmethod
    def _objective(self, corrupt: Callable | None) -> Callable:
        """Return the training objective (see :mod:`skae._nn.objectives`)."""

    def _schedule(self, objective, steps_per_epoch: int) -> Callable | None:
        """Per-step schedule of ``objective``'s weights, or None."""
        return None

    def _warmup_epochs(self) -> int:
        """Epochs during which the objective changes (not monitored)."""
        return 0

    def _corruption(self, standardizer: Standardizer) -> Callable | None:
        """The corruption of the encoder's input in training, or None."""
        return make_corruption(self.corruption, self.corruption_level, standardizer)

    def _encode(self, module: torch.nn.Module, xs: torch.Tensor) -> torch.Tensor:
        """Codes of scaled rows ``xs`` by ``module`` (what ``transform`` returns)."""
        return module.embed(xs)

    @abstractmethod
    def _score(self, module: torch.nn.Module, xs: torch.Tensor) -> torch.Tensor:
        """Per-row score of scaled rows ``xs`` by ``module`` (of ``xs``'s dtype)."""

    _n_score_draws = 1

    @abstractmethod
    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        """Draw ``n_samples`` latent codes to decode in ``sample``."""

    def _check_X(self, X: np.ndarray) -> None:
        """Reject input the model cannot represent (e.g. Bernoulli outside [0, 1])."""

    def _resolved_scaling(self) -> str | None:
        return "global" if self.scaling == "auto" else self.scaling

    def _init_from_data(self, module: torch.nn.Module, X_train, seed: int) -> None:
        """Adjust a new, initialised module to the scaled training rows (not warm).

        ``seed`` seeds any draw this needs (on the rows' device).
        """

    def _after_fit(self, X, Xs, seed: int) -> None:
        """Fit anything else that depends on the training data ``X`` (validated)
        or its scaled rows ``Xs`` (:class:`skae._data.rows.Rows`)."""

    # ---------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model with X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, where `n_samples` is the number of samples and
            `n_features` is the number of features.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        # Whatever the caller's grad mode: training needs autograd.
        with _transaction(self), torch.inference_mode(False), torch.enable_grad():
            warm = self.warm_start and hasattr(self, "module_")
            self._architecture()  # checks hidden_layer_sizes and image_shape
            X = self._validate(X, reset=not warm)
            self._fit(self._training_rows(X, y, warm), warm)
        return self

    def _training_rows(self, X, y, warm: bool):
        """The rows to train on, from validated ``X`` and the ``y`` of ``fit``."""
        return X

    def _start(self, X, warm: bool, init_seed: int, device: torch.device):
        """Scaling, training rows and the module to train (a copy when warm)."""
        if warm:
            mean, scale = self.mean_, self.scale_
        else:
            mean, scale = self._fit_scaling(X)
        standardizer = Standardizer(mean, scale)
        Xt = make_rows(X, Standardizer(*self._row_scaling(mean, scale)), device)
        if warm:
            # A copy: a failed warm start must leave the fitted model as it was.
            module = copy.deepcopy(self.module_).to(device)
        else:
            module = self._new_module(X.shape[1], init_seed).to(device)
            self._init_from_data(module, Xt, init_seed)
        return (mean, scale), standardizer, Xt, module

    def _fit_scaling(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Offset and scale of the data's features, fitted on training rows ``X``."""
        return fit_scaling(X, self._resolved_scaling())

    def _row_scaling(self, mean, scale) -> tuple[np.ndarray, np.ndarray]:
        """Offset and scale of the rows the module reads, from the data's."""
        return mean, scale

    def _fit(self, X: np.ndarray, warm: bool) -> None:
        spec = self._resolved(X, warm)
        architecture = spec._check_fit(X, warm)
        device = _resolve_device(self.device)
        checkpoint, resume = self._open_checkpoint(X, warm, device)
        if resume is not None:
            init_seed, train_seed, post_seed = checkpoint.seeds
        else:
            rng = check_random_state(self.random_state)
            seeds = rng.randint(np.iinfo(np.int32).max, size=3)
            init_seed, train_seed, post_seed = (int(s) for s in seeds)
            if checkpoint is not None:
                checkpoint.seeds = (init_seed, train_seed, post_seed)
        generator = torch.Generator(device=device).manual_seed(int(train_seed))
        (mean, scale), standardizer, Xt, module = spec._start(
            X, warm, int(init_seed), device
        )
        X_train, X_val = spec._split(Xt, generator)
        config = spec._training_config(X_train.shape[0])
        corrupt = spec._corruption(standardizer.to(device))
        objective = spec._objective(corrupt)
        loss, X_train = spec._with_neighbors(
            objective, X_train, generator, standardizer, module if warm else None
        )
        history = fit_module(
            module,
            loss,
            X_train,
            config,
            generator,
            X_val,
            spec._schedule(objective, X_train.n_batches(config.batch_size)),
            checkpoint,
            resume,
        )
        spec._warn_about(history)
        self._commit(spec, architecture, module, (mean, scale), history, warm)
        self._keep_resolved(spec, architecture, config.batch_size)
        self._after_fit(X, Xt, int(post_seed))
        if checkpoint is not None and not history.interrupted:
            checkpoint.remove()

    def _open_checkpoint(
        self, X, warm: bool, device: torch.device
    ) -> tuple[Checkpoint | None, LoopState | None]:
        """The fit's checkpoint (None without ``checkpoint``) and what it holds."""
        if self.checkpoint is None:
            return None, None
        if warm:
            raise ValueError(
                "checkpoint resumes fits from scratch: a warm_start fit continues "
                "from the fitted weights, which a new process does not have. Set "
                "checkpoint=None or warm_start=False."
            )
        checkpoint = Checkpoint(
            self.checkpoint, self.checkpoint_every, fingerprint(self, X), device
        )
        return checkpoint, checkpoint.load()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on X for one pass, continuing from the previous call.

        For data that arrive in blocks (a stream, files, dask-ml's
        ``Incremental``): each call is one epoch over its block. The first
        call (on an unfitted estimator) fits the scaling on its block and
        builds the model; later calls keep that scaling, the optimizer's
        state (Adam's moments), the step count of the ``learning_rate``
        schedule and the random generator, so that a stream of blocks trains
        like epochs over the data. After :meth:`fit`, ``partial_fit``
        continues from the fitted model with a fresh optimizer.

        Each call counts as one iteration (``n_iter_``, ``loss_curve_``):
        ``learning_rate="cosine"`` decays over ``max_iter`` calls of the
        first block's size (and stays at zero beyond), ``"adaptive"`` and
        ``"constant"`` keep ``learning_rate_init``; ``early_stopping``,
        ``tol`` and ``n_iter_no_change`` do not apply (as for
        scikit-learn's ``MLPRegressor.partial_fit``). A pickled estimator
        keeps the optimizer's state; :func:`skae.save` writes the model
        only, so a loaded one goes on with a fresh optimizer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One block of training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        with _transaction(self), torch.inference_mode(False), torch.enable_grad():
            warm = hasattr(self, "module_")
            self._architecture()
            X = self._validate(X, reset=not warm)
            self._partial_fit(self._training_rows(X, y, warm), warm)
        return self

    def _partial_fit(self, X, warm: bool) -> None:
        spec = self._resolved(X, warm, streaming=True)
        architecture = spec._check_fit(X, warm)
        state = getattr(self, "_partial_state", None) if warm else None
        device = _resolve_device(self.device)
        generator = torch.Generator(device=device)
        init_seed = 0
        if state is None:
            # The seeds of fit: passes over one block equal fit's epochs.
            rng = check_random_state(self.random_state)
            seeds = rng.randint(np.iinfo(np.int32).max, size=3)
            init_seed, train_seed, post_seed = (int(seed) for seed in seeds)
            generator.manual_seed(train_seed)
        else:
            generator.set_state(state["generator"])
            post_seed = (state["post_seed"] + 1) % np.iinfo(np.int32).max
        (mean, scale), standardizer, Xt, module = spec._start(
            X, warm, int(init_seed), device
        )
        config = spec._training_config(Xt.shape[0], partial=True)
        objective = spec._objective(spec._corruption(standardizer.to(device)))
        steps = Xt.n_batches(config.batch_size)
        loss, rows = spec._with_neighbors(
            objective, Xt, generator, standardizer, module if warm else None
        )
        trainer = Trainer(module, loss, config, steps, state)
        loss = trainer.run_epoch(rows, generator, spec._schedule(objective, steps))
        module.eval()
        if not math.isfinite(loss):
            raise diverged("in this partial_fit pass", loss)

        best = min(getattr(self, "best_loss_", math.inf), loss)
        history = History(loss_curve=[loss], best_loss=best)
        state = dict(trainer.state(generator), post_seed=post_seed)
        self._commit(spec, architecture, module, (mean, scale), history, warm, state)
        self._keep_resolved(spec, architecture, config.batch_size)
        self._after_fit(X, Xt, post_seed)

    def _commit(
        self,
        spec: _BaseAutoencoder,
        architecture: tuple,
        module: torch.nn.Module,
        scaling: tuple[np.ndarray, np.ndarray],
        history: History,
        warm: bool,
        partial_state: dict | None = None,
    ) -> None:
        """Set the fitted attributes of a finished ``fit`` or ``partial_fit`` pass.

        Nothing is set before training has succeeded: a fit that raises
        leaves the estimator as it was (see ``_transaction``). A warm pass
        extends ``loss_curve_``; ``partial_state`` is what the next
        ``partial_fit`` continues from (None after ``fit``).
        """
        self.module_ = module
        self.mean_, self.scale_ = scaling
        self.n_components_ = architecture[0]
        self._fitted_architecture = architecture
        previous = self.loss_curve_ if warm else []
        self.loss_curve_ = previous + history.loss_curve
        self.validation_loss_curve_ = history.validation_loss_curve
        self.best_loss_ = history.best_loss
        self.n_iter_ = len(self.loss_curve_)
        self._partial_state = partial_state

    def _new_module(self, n_features: int, seed: int) -> torch.nn.Module:
        """Build on the meta device, then initialise on the CPU from ``seed``.

        No global random state is consumed by the layers' default
        initialisation.
        """
        with torch.device("meta"):
            # float32 whatever the caller's torch.get_default_dtype().
            module = self._build_module(n_features).float()
        module = module.to_empty(device="cpu")
        init_parameters(module, torch.Generator().manual_seed(seed))
        return module

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # The neighbour graph compares dense rows (see neighbor_weight).
        tags.input_tags.sparse = not self.neighbor_weight
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        module = state.get("module_")
        device = None if module is None else _module_device(module)
        if device is not None and device.type != "cpu":
            # CPU tensors and the device's name: any machine can unpickle,
            # and one that has the device puts the module back on it.
            state = dict(state, module_=copy.deepcopy(module).cpu())
            state["_pickled_from"] = str(device)
            partial = state.get("_partial_state")
            if partial is not None:
                # Adam's moments too, so that a CPU-only machine can unpickle;
                # the next partial_fit moves them to the module's device.
                state["_partial_state"] = torch.utils._pytree.tree_map(
                    lambda v: v.cpu() if torch.is_tensor(v) else v, partial
                )
        return state

    def __setstate__(self, state):
        state = dict(state)
        device = state.pop("_pickled_from", None)
        super().__setstate__(state)
        if device is not None and _available(torch.device(device)):
            self.module_.to(device)
