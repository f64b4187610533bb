"""What a fit trains: "auto" resolved from the data, the network, the
training configuration, and how the end of training is reported.
"""

from __future__ import annotations

import copy
import warnings
from functools import partial
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .. import architectures
from .._data import Rows
from .._data.scaling import fit_scaling
from .._nn.layers import Builder
from .._train.loop import (
    STILL_FALLING_SHARE,
    TrainingConfig,
    final_fall,
)
from . import defaults
from .checks import (
    AUTO,
    _is_auto,
)


class _SetupMixin:
    """What a fit trains, for :class:`skae._estimators.base._BaseAutoencoder`."""

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
            # The schedule stays partial_fit's own ("constant", also after a
            # cosine fit); values saved by older versions may be absent: those
            # resolve anew.
            fitted.update(
                (name, getattr(self, f"{name}_"))
                for name in self._auto_params
                if name != "learning_rate" and hasattr(self, f"{name}_")
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
