"""Shared estimator logic of the autoencoder transformers."""

from __future__ import annotations

import copy
import math
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _defaults as defaults
from . import architectures
from ._data import DenseRows, Rows, make_rows
from ._data.scaling import Standardizer, fit_scaling
from ._data.tiles import TilePlan, map_tiles, plan_tiles, tile_size
from ._latent import _LatentMixin
from ._memo import ModelMemo, model_memo
from ._neighbors.graph import NeighborGraph
from ._neighbors.layout import umap_layout
from ._neighbors.loss import LayoutRows, NeighborPreserving
from ._nn.builders import activation_elements
from ._nn.corruption import CORRUPTIONS, make_corruption
from ._nn.invariant import batch_invariant
from ._nn.layers import ACTIVATIONS, Builder, init_parameters
from ._train.loop import (
    STILL_FALLING_SHARE,
    Trainer,
    TrainingConfig,
    diverged,
    final_fall,
    fit_module,
)
from ._train.schedules import SCHEDULES

AUTO = defaults.AUTO


def _is_auto(value) -> bool:
    """Whether a parameter's value is the string "auto"."""
    return isinstance(value, str) and value == AUTO


def _resolve_device(device: str) -> torch.device:
    """Map the ``device`` parameter to a ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available in this "
            "PyTorch installation; use device='cpu' or device='auto'."
        )
    return torch.device(device)


# Input dtypes kept as they are: float64 first, what anything else becomes.
INPUT_DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.uint32,
    np.int32,
    np.uint64,
    np.int64,
    np.bool_,
]


# The dtypes of INPUT_DTYPES that validate_data keeps as they are.
_PLAIN_DTYPES = frozenset(INPUT_DTYPES)


def output_dtype(X) -> np.dtype:
    """dtype of results computed from rows of X: float32 for float32, else float64."""
    return np.dtype(np.float32 if X.dtype == np.float32 else np.float64)


def _check_float32_range(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Reject finite values that float32, the precision of the model, cannot hold."""
    limit = np.finfo(np.float32).max
    values = X.data if sp.issparse(X) else X
    # min and max, not abs: no temporary copy of X.
    if (
        X.dtype == np.float64
        and values.size
        and max(-values.min(), values.max()) > limit
    ):
        raise ValueError(
            f"{name} contains values too large for float32, the precision the "
            "model computes in; rescale the data."
        )
    return X


def _check_n_samples(n_samples) -> int:
    if not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


def _module_device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _available(device: torch.device) -> bool:
    """Whether this process can put tensors on ``device`` (CPU, CUDA or MPS)."""
    if device.type == "cuda":
        index = device.index or 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return device.type == "cpu"


@contextmanager
def _transaction(estimator: BaseEstimator) -> Iterator[None]:
    """Put back every attribute of ``estimator`` if the block raises.

    Any exception counts, ``KeyboardInterrupt`` included: an unfitted
    estimator stays unfitted, a fitted one keeps its previous model.
    """
    before = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise


class _BaseAutoencoder(
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

    # ------------------------------------------------------------- defaults
    # Parameters of the network that "auto" resolves (a warm start keeps the
    # fitted ones), in the order of _architecture()'s entries.
    _architecture_params: ClassVar[tuple[str, ...]] = (
        "n_components",
        "hidden_layer_sizes",
        "activation",
        "architecture",
        "image_shape",
    )

    # Parameters that accept "auto": fit keeps the values it trained with as
    # fitted attributes ``<name>_`` (explicit values as they are).
    _auto_params: ClassVar[tuple[str, ...]] = (
        "hidden_layer_sizes",
        "activation",
        "corruption",
        "corruption_level",
        "max_iter",
        "batch_size",
        "learning_rate",
        "learning_rate_init",
    )

    def _keep_resolved(self, spec, architecture: tuple, batch_size: int) -> None:
        """Set ``<name>_`` to what each of :attr:`_auto_params` trained with."""
        fitted = dict(zip(self._architecture_params, architecture, strict=True))
        for name in self._auto_params:
            setattr(self, f"{name}_", fitted.get(name, getattr(spec, name)))
        self.batch_size_ = getattr(spec, "_kept_batch_size", batch_size)

    def _likelihood(self) -> str | None:
        """The likelihood the defaults depend on (None: squared error)."""
        return None

    def _data_columns(self, X):
        """The columns of training rows ``X`` that are the data (not labels)."""
        return X

    def _auto_rules(self, data: defaults.TrainingData, streaming: bool) -> dict:
        """What each parameter left at "auto" resolves to (callables)."""
        return {
            "hidden_layer_sizes": partial(defaults.hidden_layer_sizes, data),
            "activation": partial(defaults.activation, data),
            "max_iter": partial(defaults.max_iter, data),
            "learning_rate": partial(defaults.learning_rate, streaming),
            "learning_rate_init": partial(defaults.learning_rate_init, data),
            "corruption": partial(defaults.corruption, data),
        }

    def _resolved(self, X, warm: bool, streaming: bool = False):
        """A shallow copy of this estimator whose "auto" parameters are values.

        ``X`` holds the training rows (validated); a warm start keeps the
        fitted network's "auto" entries; ``streaming`` is for ``partial_fit``,
        whose later blocks keep every value the first one resolved (batch,
        budget, noise level). Otherwise ``batch_size="auto"`` stays: it is
        resolved on the rows trained on (after ``early_stopping``'s split).
        """
        columns = self._data_columns(X)
        data = defaults.TrainingData(*columns.shape, self._likelihood())
        fitted = {}
        if warm:
            names = self._architecture_params
            fitted = dict(zip(names, self._fitted_architecture, strict=True))
        if warm and streaming:
            # Values saved by older versions may be absent: those resolve anew.
            fitted.update(
                (name, getattr(self, f"{name}_"))
                for name in self._auto_params
                if hasattr(self, f"{name}_")
            )
        values = {}
        for name, rule in self._auto_rules(data, streaming).items():
            if _is_auto(getattr(self, name)):
                values[name] = fitted[name] if name in fitted else rule()
        if _is_auto(self.corruption_level) and "corruption_level" in fitted:
            values["corruption_level"] = fitted["corruption_level"]
        spec = copy.copy(self)
        vars(spec).update(values)
        if _is_auto(self.batch_size) and "batch_size" in fitted:
            spec._kept_batch_size = fitted["batch_size"]  # see _batch_size
        if _is_auto(spec.corruption_level):
            # The spread (a pass over X) only where the level is a multiple of it.
            gaussian = spec.corruption == "gaussian"
            spread = spec._spread(columns) if gaussian else None
            spec.corruption_level = defaults.corruption_level(
                spec.corruption, data, spread
            )
        return spec

    def _spread(self, columns) -> float | np.ndarray:
        """The data's spread that "auto" Gaussian noise is a multiple of.

        The root mean feature variance; each feature's standard deviation
        with ``scaling="standard"``, whose features may differ by orders of
        magnitude (one level for all would drown the small ones).
        """
        if self._resolved_scaling() == "standard":
            return fit_scaling(columns, "standard")[1]
        return float(fit_scaling(columns, "global")[1][0])

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if _is_auto(sizes):
            return []  # resolved by fit (_resolved)
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must contain positive integers only, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _image_shape(self) -> tuple[int, ...] | None:
        """``image_shape`` as a tuple for ``architecture="conv"``; None otherwise.

        Checked here (two or three positive ints, required by "conv") and
        against the data by :func:`skae.architectures.conv`.
        """
        if not (isinstance(self.architecture, str) and self.architecture == "conv"):
            return None
        if self.image_shape is None:
            raise ValueError(
                "architecture='conv' needs image_shape, the shape of one row as "
                "an image: (height, width) or (channels, height, width), e.g. "
                "image_shape=(28, 28) for MNIST."
            )
        shape = self.image_shape
        shape = list(shape) if hasattr(shape, "__iter__") else [shape]
        if not (
            len(shape) in (2, 3)
            and all(
                isinstance(s, Integral) and not isinstance(s, bool) and s >= 1
                for s in shape
            )
        ):
            raise ValueError(
                "image_shape must be (height, width) or (channels, height, "
                f"width) of positive integers, got {self.image_shape!r}."
            )
        return tuple(int(s) for s in shape)

    def _architecture(self) -> tuple:
        """What defines the module's layers (``warm_start`` may not change it)."""
        return (
            self.n_components,
            tuple(self._hidden_sizes()),
            self.activation,
            self.architecture,
            self._image_shape(),
        )

    def _builder(self) -> Builder:
        """The ``builder(n_features, n_components)`` of the ``architecture``."""
        if not isinstance(self.architecture, str):
            return self.architecture
        options = dict(
            hidden_layer_sizes=self._hidden_sizes(), activation=self.activation
        )
        if self.architecture == "conv":
            options["image_shape"] = self._image_shape()
            return partial(architectures.conv, **options)
        return partial(architectures.mlp, **options)

    def _check_fit(self, X, warm: bool) -> tuple:
        """Reject data and parameters that cannot be fitted; the architecture."""
        self._check_X(X)
        self._check_params()
        architecture = self._architecture()
        if warm and architecture != self._fitted_architecture:
            raise ValueError(
                "warm_start=True cannot change the architecture (nor can "
                f"partial_fit): fitted with {self._fitted_architecture}, now "
                f"{architecture}. Fit a new model instead."
            )
        if self.corruption in ("masking", "salt_pepper") and self.corruption_level >= 1:
            raise ValueError(
                f"corruption={self.corruption!r} replaces each entry with "
                "probability corruption_level, which must be below 1; got "
                f"{self.corruption_level}."
            )
        return architecture

    def _check_params(self) -> None:
        """Reject combinations of parameters that cannot be fitted."""

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

    def _training_config(self, n_samples: int, partial: bool = False):
        return TrainingConfig(
            max_iter=self.max_iter,
            batch_size=self._batch_size(n_samples),
            learning_rate=self.learning_rate_init,
            weight_decay=self.alpha,
            shuffle=self.shuffle,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=0 if partial else self.verbose,
            desc=type(self).__name__,
            compile_options=self._compile_options(),
            autocast=self.precision == "bf16",
            warmup_epochs=self._warmup_epochs(),
            schedule=self.learning_rate,
        )

    def _fit(self, X: np.ndarray, warm: bool) -> None:
        spec = self._resolved(X, warm)
        architecture = spec._check_fit(X, warm)
        device = _resolve_device(self.device)
        rng = check_random_state(self.random_state)
        init_seed, train_seed, post_seed = rng.randint(np.iinfo(np.int32).max, size=3)
        generator = torch.Generator(device=device).manual_seed(int(train_seed))
        (mean, scale), standardizer, Xt, module = spec._start(
            X, warm, int(init_seed), device
        )
        X_train, X_val = spec._split(Xt, generator)
        config = spec._training_config(X_train.shape[0])
        corrupt = spec._corruption(standardizer.to(device))
        objective = spec._objective(corrupt)
        loss, X_train = spec._with_neighbors(
            objective, X_train, generator, module if warm else None
        )
        history = fit_module(
            module,
            loss,
            X_train,
            config,
            generator,
            X_val,
            spec._schedule(objective, X_train.n_batches(config.batch_size)),
        )
        spec._warn_about(history)

        self.module_ = module
        self.mean_, self.scale_ = mean, scale
        self.n_components_ = architecture[0]
        self._fitted_architecture = architecture
        previous = self.loss_curve_ if warm else []
        self.loss_curve_ = previous + history.loss_curve
        self.validation_loss_curve_ = history.validation_loss_curve
        self.best_loss_ = history.best_loss
        self.n_iter_ = len(self.loss_curve_)
        self._partial_state = None
        self._keep_resolved(spec, architecture, config.batch_size)
        self._after_fit(X, Xt, int(post_seed))

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
            objective, Xt, generator, module if warm else None
        )
        trainer = Trainer(module, loss, config, steps, state)
        loss = trainer.run_epoch(rows, generator, spec._schedule(objective, steps))
        module.eval()
        if not math.isfinite(loss):
            raise diverged("in this partial_fit pass", loss)

        self.module_ = module
        self.mean_, self.scale_ = mean, scale
        self.n_components_ = architecture[0]
        self._fitted_architecture = architecture
        self.loss_curve_ = [*getattr(self, "loss_curve_", []), loss]
        self.validation_loss_curve_ = None
        self.best_loss_ = min(getattr(self, "best_loss_", math.inf), loss)
        self.n_iter_ = len(self.loss_curve_)
        self._partial_state = dict(trainer.state(generator), post_seed=post_seed)
        self._keep_resolved(spec, architecture, config.batch_size)
        self._after_fit(X, Xt, post_seed)

    def _with_neighbors(self, objective, X_train, generator, warm_module=None):
        """``objective`` and ``X_train`` with the neighbour-preserving term.

        When ``neighbor_weight`` > 0: the objective adds the term and the
        rows' batches come with their places in a UMAP layout of the
        neighbour graph of ``X_train`` (both built here, once). A
        ``warm_module`` (``warm_start``, ``partial_fit``) starts the layout
        from its own codes, so that successive fits keep the same map.
        """
        if not self.neighbor_weight:
            return objective, X_train
        if not isinstance(X_train, DenseRows):
            raise ValueError(
                f"neighbor_weight={self.neighbor_weight} needs dense data held "
                "in memory (its neighbour graph compares all rows); got sparse "
                "or out-of-core memory-mapped X. Densify X, load it into "
                "memory, or set neighbor_weight=0."
            )
        n = X_train.shape[0]
        if n < 2:
            raise ValueError(
                f"neighbor_weight={self.neighbor_weight} needs at least 2 "
                f"training samples to find neighbours, got {n} sample(s); set "
                "neighbor_weight=0 or pass more samples."
            )
        with torch.no_grad():
            graph = NeighborGraph.of_rows(X_train, min(self.n_neighbors, n - 1))
            start = None
            if warm_module is not None:
                start = torch.cat([warm_module.embed(b) for b in X_train.split(4096)])
            targets = umap_layout(graph, self.n_components, generator, start)
        weight = self.neighbor_weight * self.n_features_in_
        return NeighborPreserving(objective, weight), LayoutRows(X_train, targets)

    def _warn_about(self, history) -> None:
        """Say how training ended when it did not converge."""
        name = type(self).__name__
        if history.interrupted:
            n = len(history.loss_curve)
            kept = (
                "the weights of the best epoch"
                if history.validation_loss_curve is not None
                else "the weights of the last completed epoch"
            )
            warnings.warn(
                f"{name}.fit was interrupted (KeyboardInterrupt) after {n} "
                f"completed epochs; the model keeps {kept}. Interrupt again "
                "to abort the fit.",
                UserWarning,
                stacklevel=5,
            )
        elif not history.converged:
            detail = ""
            if self.learning_rate == "cosine":
                share = final_fall(history.loss_curve)
                detail = (
                    f" The training loss was still falling: the last tenth of "
                    f"the epochs brought {share:.0%} of its fall (more than "
                    f"{STILL_FALLING_SHARE:.0%}); raise max_iter."
                )
            warnings.warn(
                f"{name}: maximum iterations ({self.max_iter}) "
                f"reached and the optimization hasn't converged yet.{detail}",
                ConvergenceWarning,
                stacklevel=5,
            )

    def _compile_options(self) -> dict | None:
        """Keyword arguments for ``torch.compile``, or None not to compile."""
        if isinstance(self.compile, dict):
            return dict(self.compile)
        return {} if self.compile else None

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

    def _split(self, Xt: Rows, generator: torch.Generator) -> tuple[Rows, Rows | None]:
        if not self.early_stopping:
            return Xt, None
        n = Xt.shape[0]
        n_val = int(np.ceil(self.validation_fraction * n))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping=True with validation_fraction="
                f"{self.validation_fraction} holds out {n_val} of the {n} samples "
                "for validation, leaving none to train on; lower "
                "validation_fraction, pass more samples or set "
                "early_stopping=False."
            )
        order = torch.randperm(n, generator=generator, device=generator.device)
        order = order.to(Xt.device)
        return Xt.subset(order[n_val:]), Xt.subset(order[:n_val])

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == AUTO:
            kept = getattr(self, "_kept_batch_size", None)  # partial_fit's
            if kept is not None:
                return min(kept, n_samples)
            data = defaults.TrainingData(n_samples, 1, self._likelihood())
            return defaults.batch_size(data)
        if self.batch_size > n_samples:
            warnings.warn(
                f"batch_size={self.batch_size} is larger than the {n_samples} "
                "training samples; batches will hold all samples.",
                UserWarning,
                stacklevel=5,
            )
            return n_samples
        return self.batch_size

    # -------------------------------------------------------------- inference
    def _validate(self, X, reset: bool = False) -> np.ndarray:
        """Validated X: an ndarray or CSR matrix in canonical form.

        Real and bool dtypes are kept as they are (uint8 images are not
        copied to float64; each batch is scaled to float32 where it is
        used); anything else is converted to float64. A memory-mapped array
        stays memory-mapped (see :mod:`skae._data.streamed`).
        """
        if not reset and self._is_plain_rows(X):
            return _check_float32_range(X)
        X_in = X
        X = validate_data(self, X, dtype=INPUT_DTYPES, accept_sparse="csr", reset=reset)
        if isinstance(X_in, np.memmap) and X.base is X_in:
            X = X_in
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()  # the caller's matrix is left as it is
            X.sum_duplicates()
        return _check_float32_range(X)

    def _is_plain_rows(self, X) -> bool:
        """Whether ``validate_data(reset=False)`` would return X as it is.

        The serving path: a finite 2-D ndarray of a kept dtype and of the
        fitted width, for a model fitted without feature names. Anything
        else (lists, frames, sparse or memory-mapped input, NaN, a wrong
        width) goes through ``validate_data`` and its messages.
        """
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.dtype.type in _PLAIN_DTYPES
            and X.shape[1] == getattr(self, "n_features_in_", -1)
            and not hasattr(self, "feature_names_in_")
            and not (X.dtype.kind == "f" and not np.isfinite(X).all())
        )

    def _device(self) -> torch.device:
        return _module_device(self.module_)

    def _memo(self) -> ModelMemo:
        """What inference computes once per fitted model (:func:`model_memo`)."""
        return model_memo(self, self.module_, (id(self.mean_), id(self.scale_)))

    def _standardizer(self) -> Standardizer:
        """The fitted scaling of the data's features."""
        return self._memo().get(
            "standardizer", lambda: Standardizer(self.mean_, self.scale_)
        )

    def _row_standardizer(self) -> Standardizer:
        """The fitted scaling of the rows the module reads (see ``_row_scaling``)."""
        return self._memo().get(
            "row_standardizer",
            lambda: Standardizer(*self._row_scaling(self.mean_, self.scale_)),
        )

    def _row_bytes(self, n_draws: int = 1, itemsize: int = 4) -> int:
        """Bytes one input row takes in inference with ``n_draws`` decoder passes.

        An estimate of the live tensors per row (input, the encoder's layer
        outputs and, per draw, the decoder's layer outputs, its output and
        the terms of its likelihood) that sizes the tiles to the memory
        budget of :mod:`skae._data.tiles`. The layer outputs are counted once
        per model by a dry run of the fitted module on the meta device
        (:func:`skae._nn.builders.activation_elements`), so convolutional and
        user-defined architectures are sized as well as the MLP.
        """
        encoder, decoder = self._memo().get("activations", self._activations)
        n_features = self.n_features_in_
        per_draw = 3 * n_features + 2 * (decoder + self.n_components_)
        return itemsize * (2 * n_features + encoder + n_draws * per_draw)

    def _activations(self) -> tuple[int, int]:
        """Elements per row of the encoder's and the decoder's layer outputs."""
        return (
            activation_elements(self.module_.encoder, self.n_features_in_),
            activation_elements(self.module_.decoder, self._code_width()),
        )

    def _code_width(self) -> int:
        """Width of the codes the decoder reads."""
        return self.n_components_

    def _inference_module(self, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        """The fitted module for inference in ``dtype``, batch-invariant.

        Its linear layers multiply with inner dimensions padded to a multiple
        of 16 and summed in chunks (see :func:`skae._nn.invariant.batch_invariant`),
        so that a row's result depends neither on its position in a tile nor
        on the tile's size. Built once per fitted model and dtype.
        """

        def build() -> torch.nn.Module:
            module = self.module_
            if dtype != torch.float32:
                module = copy.deepcopy(module).to(dtype)
            return batch_invariant(module)

        return self._memo().get(("module", dtype), build)

    def _map_scaled(
        self,
        fn,
        X,
        out_shape,
        dtype,
        *,
        op: Hashable | None,
        row_bytes: int,
        compute_dtype: torch.dtype = torch.float32,
        scaled: bool = True,
        finish=None,
    ) -> np.ndarray:
        """``map_tiles`` over the rows of X, scaled by the row standardizer
        (``scaled``) or as they are (codes, raw rows).

        ``op`` names what ``fn`` computes (with everything ``fn`` depends on
        besides the fitted model) so that its :class:`TilePlan` is checked
        once (:func:`skae._data.tiles.plan_tiles`); None runs every tile at
        the largest size (for ``fn`` whose results depend on the tiles, such
        as random draws taken tile by tile).
        """
        prepare = self._row_standardizer().scale_into if scaled else None
        device = self._device()
        plan = None
        if op is not None:
            plan = self._tile_plan(op, fn, X.shape[1], row_bytes, compute_dtype)
        return map_tiles(
            fn,
            X,
            out_shape,
            dtype,
            device,
            row_bytes=row_bytes,
            compute_dtype=compute_dtype,
            prepare=prepare,
            finish=finish,
            plan=plan,
        )

    def _tile_plan(
        self, op: Hashable, fn, n_in: int, row_bytes: int, compute_dtype: torch.dtype
    ) -> TilePlan:
        """The tiles of ``op``, checked once per model, device and thread count."""
        device = self._device()
        largest = tile_size(device, row_bytes)
        key = ("plan", op, n_in, compute_dtype, largest, torch.get_num_threads())
        return self._memo().get(
            key, lambda: plan_tiles(fn, n_in, device, largest, compute_dtype)
        )

    def _decode_to(self, Z: np.ndarray, dtype) -> np.ndarray:
        """Decode codes ``Z`` into the caller's units (unscaled in float64)."""
        module = self._inference_module()
        return self._map_scaled(
            module.reconstruct,
            Z,
            (self.n_features_in_,),
            dtype,
            op="reconstruct",
            row_bytes=self._row_bytes(),
            scaled=False,
            finish=self._standardizer().unscale,
        )

    def transform(self, X):
        """Encode X into the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units it was fitted in.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Latent codes, of X's dtype for float32 and float64 input.
        """
        check_is_fitted(self)
        X = self._validate(X)
        return self._codes(X, output_dtype(X))

    def _codes(self, X, dtype) -> np.ndarray:
        """What ``transform`` returns for validated rows ``X``, of ``dtype``."""
        module = self._inference_module()

        def encode(xs: torch.Tensor) -> torch.Tensor:
            return self._encode(module, xs)

        return self._map_scaled(
            encode,
            X,
            (self.n_components_,),
            dtype,
            op="encode",
            row_bytes=self._row_bytes(),
        )

    def inverse_transform(self, X):
        """Decode latent codes back to the data space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, for example the output of ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstructions in the units of the training data (the mean of
            the decoder's distribution for the VAE).
        """
        check_is_fitted(self)
        Z = self._check_codes(X)
        return self._decode_to(Z, Z.dtype)

    def _check_codes(self, X) -> np.ndarray:
        """Latent codes ``X`` of ``inverse_transform``, validated."""
        Z = check_array(
            X, dtype=[np.float64, np.float32], input_name="X", estimator=self
        )
        Z = _check_float32_range(Z)
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting n_components_={self.n_components_}"
                " features as input."
            )
        return Z

    def score_samples(self, X):
        """Score of each sample: higher means more typical of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units it was fitted in.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Per-sample score (see the class documentation for its meaning),
            float64. Rows whose float32 score overflows (far outside the
            training data) are scored again in float64, so every finite row
            gets a finite score.
        """
        check_is_fitted(self)
        X = self._validate(X)
        self._check_X(X)
        return self._finite_scores(X)

    def _finite_scores(self, X) -> np.ndarray:
        """``score_samples`` of validated rows: float32, float64 where it overflows."""
        scores = self._scores(X, torch.float32)
        overflow = ~np.isfinite(scores)
        if overflow.any():
            # Which rows take this path depends on each row alone: batch
            # invariance holds.
            scores[overflow] = self._scores(X[overflow], torch.float64)
        return scores

    def _scores(self, X: np.ndarray, dtype: torch.dtype) -> np.ndarray:
        """``score_samples`` of validated rows, computed in ``dtype``."""
        module = self._inference_module(dtype)

        def score(xs: torch.Tensor) -> torch.Tensor:
            return self._score(module, xs)

        itemsize = torch.finfo(dtype).bits // 8
        return self._map_scaled(
            score,
            X,
            (),
            np.float64,
            op="score",
            row_bytes=self._row_bytes(self._n_score_draws, itemsize),
            compute_dtype=dtype,
        )

    def score(self, X, y=None):
        """Mean of ``score_samples`` over X (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units it was fitted in.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Mean per-sample score.
        """
        return float(np.mean(self.score_samples(X), dtype=np.float64))

    def sample(self, n_samples=1, random_state=None):
        """Generate new samples in the data space.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. None uses the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Decoded samples (decoder means), in the units of the training data.
        """
        check_is_fitted(self)
        n_samples = _check_n_samples(n_samples)
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        Z = self._sample_codes(int(n_samples), rng)
        return self._decode_to(Z, np.float64)

    def recommend(self, X, n_items=10, *, exclude_seen=True):
        """Top ``n_items`` features of each row's reconstruction, best first.

        For a user-item matrix (rows are users, features are items, entries
        are counts, ratings or 1 for an interaction) these are the items to
        recommend: each row is encoded, decoded, and its features ranked by
        the reconstruction (the decoder's mean, in the caller's units).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to recommend for, e.g. users' known interactions.

        n_items : int, default=10
            Number of features (items) to return per row.

        exclude_seen : bool, default=True
            Leave out the features that are non-zero in the row (items the
            user has already interacted with). A row with fewer than
            ``n_items`` unseen features ends with seen ones.

        Returns
        -------
        items : ndarray of shape (n_samples, n_items), dtype int64
            Feature indices, highest reconstruction first.
        """
        check_is_fitted(self)
        X = self._validate(X)
        if not isinstance(n_items, Integral) or not 1 <= n_items <= X.shape[1]:
            raise ValueError(
                f"n_items must be an integer in [1, n_features={X.shape[1]}], "
                f"got {n_items!r}."
            )
        standardizer = self._memo().get(
            "device_standardizer", lambda: self._standardizer().to(self._device())
        )
        module = self._inference_module()

        def top(x: torch.Tensor) -> torch.Tensor:
            xs = standardizer.scale_into(x, torch.empty_like(x, dtype=torch.float32))
            scores = standardizer.unscale(module.reconstruct(self._encode(module, xs)))
            if exclude_seen:
                scores = scores.masked_fill(x != 0, -math.inf)
            return torch.topk(scores, int(n_items), dim=1).indices

        return self._map_scaled(
            top,
            X,
            (int(n_items),),
            np.int64,
            op=("recommend", int(n_items), bool(exclude_seen)),
            row_bytes=self._row_bytes(itemsize=8),
            compute_dtype=torch.float64,
            scaled=False,
        )

    @property
    def _n_features_out(self):
        return self.n_components_

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
