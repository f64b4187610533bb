"""Shared estimator logic of the autoencoder transformers."""

from __future__ import annotations

import copy
import warnings
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
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._inference import map_tiles
from ._modules import ACTIVATIONS, init_parameters
from ._training import TrainingConfig, fit_module


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


def _check_float32_range(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Reject finite values that float32, the precision of the model, cannot hold."""
    limit = np.finfo(np.float32).max
    if X.dtype == np.float64 and X.size and max(-X.min(), X.max()) > limit:
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


class _BaseAutoencoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
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
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "scaling": [StrOptions({"auto", "global", "standard"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
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
    }

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, n_features: int) -> torch.nn.Module:
        """Return a new, uninitialised torch module for ``n_features`` inputs."""

    @abstractmethod
    def _objective(self) -> Callable:
        """Return the training objective (see :mod:`skae._losses`)."""

    @abstractmethod
    def _encode(self, xs: torch.Tensor) -> torch.Tensor:
        """Codes of scaled rows ``xs`` (what ``transform`` returns)."""

    @abstractmethod
    def _score(self, x: torch.Tensor) -> torch.Tensor:
        """Per-row score of raw float32 rows ``x`` (what ``score_samples`` returns)."""

    @abstractmethod
    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        """Draw ``n_samples`` latent codes to decode in ``sample``."""

    def _check_X(self, X: np.ndarray) -> None:
        """Reject input the model cannot represent (e.g. Bernoulli outside [0, 1])."""

    def _resolved_scaling(self) -> str | None:
        return "global" if self.scaling == "auto" else self.scaling

    def _after_fit(self, Xs: torch.Tensor, seed: int) -> None:
        """Fit anything else that depends on the (scaled) training data."""

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
        warm = self.warm_start and hasattr(self, "module_")
        self._fit(self._validate(X, reset=not warm), warm)
        return self

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must contain positive integers only, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _architecture(self) -> tuple:
        return (self.n_components, tuple(self._hidden_sizes()), self.activation)

    def _fit(self, X: np.ndarray, warm: bool) -> None:
        self._check_X(X)
        architecture = self._architecture()
        if warm and architecture != self._fitted_architecture:
            raise ValueError(
                "warm_start=True cannot change the architecture: fitted with "
                f"{self._fitted_architecture}, now {architecture}. "
                "Set warm_start=False to fit a new model."
            )
        device = _resolve_device(self.device)
        rng = check_random_state(self.random_state)
        init_seed, train_seed, post_seed = rng.randint(np.iinfo(np.int32).max, size=3)

        Xt = torch.from_numpy(np.array(X, dtype=np.float32, order="C"))
        mean, scale = (self.mean_, self.scale_) if warm else self._fit_scaling(Xt)
        Xt = Xt.sub_(torch.from_numpy(mean).float()).div_(
            torch.from_numpy(scale).float()
        )
        Xt = Xt.to(device)
        generator = torch.Generator(device=device).manual_seed(int(train_seed))
        X_train, X_val = self._split(Xt, generator)
        if warm:
            module = self.module_.to(device)
        else:
            module = self._new_module(X.shape[1], int(init_seed)).to(device)

        config = TrainingConfig(
            max_iter=self.max_iter,
            batch_size=self._batch_size(X_train.shape[0]),
            learning_rate=self.learning_rate_init,
            weight_decay=self.alpha,
            shuffle=self.shuffle,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            desc=type(self).__name__,
            compile_options=self._compile_options(),
        )
        history = fit_module(
            module, self._objective(), X_train, config, generator, X_val
        )
        if not history.converged:
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

        self.module_ = module
        self.mean_, self.scale_ = mean, scale
        self.n_components_ = self.n_components
        self._fitted_architecture = architecture
        previous = self.loss_curve_ if warm else []
        self.loss_curve_ = previous + history.loss_curve
        self.validation_loss_curve_ = history.validation_loss_curve
        self.best_loss_ = history.best_loss
        self.n_iter_ = len(self.loss_curve_)
        self._after_fit(Xt, int(post_seed))

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
            module = self._build_module(n_features)
        module = module.to_empty(device="cpu")
        init_parameters(module, torch.Generator().manual_seed(seed))
        return module

    def _fit_scaling(self, Xt: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature offset and scale that bring the data to unit scale."""
        n_features = Xt.shape[1]
        scaling = self._resolved_scaling()
        if scaling is None:
            return np.zeros(n_features), np.ones(n_features)
        var, mean = torch.var_mean(Xt, dim=0, correction=0)
        var, mean = var.double().numpy(), mean.double().numpy()
        if scaling == "global":
            scale = np.full(n_features, np.sqrt(var.mean()))
            tiny = 10 * np.finfo(np.float32).eps * np.abs(mean).max()
        else:
            scale = np.sqrt(var)
            tiny = 10 * np.finfo(np.float32).eps * np.abs(mean)
        # Constant features (up to float32 rounding) keep their units.
        scale[(scale <= tiny) | (scale == 0.0)] = 1.0
        return mean, scale

    def _split(
        self, Xt: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.early_stopping:
            return Xt, None
        n = Xt.shape[0]
        n_val = int(np.ceil(self.validation_fraction * n))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples, got n_samples={n}."
            )
        order = torch.randperm(n, generator=generator, device=generator.device)
        order = order.to(Xt.device)
        return Xt[order[n_val:]], Xt[order[:n_val]]

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
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
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=reset)
        return _check_float32_range(X)

    def _device(self) -> torch.device:
        return _module_device(self.module_)

    def _scale(self, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """``(x - mean_) / scale_`` in ``x``'s dtype; in ``x`` itself if ``inplace``."""
        mean = torch.as_tensor(self.mean_, dtype=x.dtype, device=x.device)
        scale = torch.as_tensor(self.scale_, dtype=x.dtype, device=x.device)
        if inplace:
            return x.sub_(mean).div_(scale)
        return (x - mean) / scale

    def _unscale(self, xs: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean_, dtype=xs.dtype, device=xs.device)
        scale = torch.as_tensor(self.scale_, dtype=xs.dtype, device=xs.device)
        return xs * scale + mean

    def _encode_raw(self, x: torch.Tensor) -> torch.Tensor:
        # x is map_tiles' scratch tile: scaling it in place saves two
        # tile-sized allocations per tile (about 7% of transform on a CPU).
        return self._encode(self._scale(x, inplace=True))

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._unscale(self.module_.reconstruct(z))

    def _map(self, fn, X, out_shape, dtype) -> np.ndarray:
        return map_tiles(fn, X, out_shape, dtype, self._device())

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
        return self._map(self._encode_raw, X, (self.n_components_,), X.dtype)

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
        Z = _check_float32_range(check_array(X, dtype=[np.float64, np.float32]))
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting n_components_={self.n_components_}"
                " features as input."
            )
        return self._map(self._decode, Z, (self.n_features_in_,), Z.dtype)

    def score_samples(self, X):
        """Score of each sample: higher means more typical of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units it was fitted in.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Per-sample score (see the class documentation for its meaning).
        """
        check_is_fitted(self)
        X = self._validate(X)
        self._check_X(X)
        return self._map(self._score, X, (), X.dtype)

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
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer, got {n_samples!r}."
            )
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        Z = self._sample_codes(int(n_samples), rng)
        return self._map(self._decode, Z, (self.n_features_in_,), np.float64)

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and _module_device(module).type != "cpu":
            state = dict(state, module_=copy.deepcopy(module).cpu())
        return state
