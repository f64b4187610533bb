"""Inference on a fitted model: validation of X, tiles of bounded memory,
the padded batch-invariant network, ``transform``, ``inverse_transform``,
``score_samples``, ``score`` and ``sample``.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._data.scaling import Standardizer
from .._data.tiles import MIN_TILE, map_tiles, plan_tiles, tile_size
from .._nn.builders import activation_elements
from .._nn.invariant import batch_invariant, products
from .checks import (
    _PLAIN_DTYPES,
    INPUT_DTYPES,
    _check_float32_range,
    _check_n_samples,
    _module_device,
    output_dtype,
)
from .gate import gated
from .memo import ModelMemo, model_memo


class _InferenceMixin(TransformerMixin):
    """Inference of :class:`skae._estimators.base._BaseAutoencoder`.

    A :class:`~sklearn.base.TransformerMixin`, so that scikit-learn wraps the
    ``transform`` defined here for ``set_output`` (it wraps only the methods
    a subclass of the mixin defines itself).
    """

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

    def __sklearn_is_fitted__(self) -> bool:
        # What check_is_fitted asks on every call, without scanning vars():
        # module_ is set by a fit that succeeded, with the other attributes.
        return hasattr(self, "module_")

    def _device(self) -> torch.device:
        return self._memo().get("device", lambda: _module_device(self.module_))

    def _memo(self) -> ModelMemo:
        """What inference computes once per fitted model (:func:`model_memo`)."""
        return model_memo(self, self.module_, (id(self.mean_), id(self.scale_)))

    def _standardizer(self) -> Standardizer:
        """The fitted scaling of the data's features."""
        return self._memo().get(
            "standardizer", lambda: Standardizer(self.mean_, self.scale_)
        )

    def _row_standardizer(self, memo: ModelMemo | None = None) -> Standardizer:
        """The fitted scaling of the rows the module reads (see ``_row_scaling``)."""
        return (memo or self._memo()).get(
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
        per_draw = (
            3 * n_features + 2 * (decoder + self.n_components_) + self._prior_elements()
        )
        return itemsize * (2 * n_features + encoder + n_draws * per_draw)

    def _prior_elements(self) -> int:
        """Elements per code that the prior's log-density allocates (none here)."""
        return 0

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
        besides the fitted model) so that its
        :class:`~skae._data.tiles.TilePlan` is checked
        once per model, device and thread count
        (:func:`skae._data.tiles.plan_tiles`); None runs every tile at
        the largest size (for ``fn`` whose results depend on the tiles, such
        as random draws taken tile by tile).
        """
        memo = self._memo()  # once per call: it checks the weights' versions
        prepare = self._row_standardizer(memo).scale_into if scaled else None
        device = memo.get("device", lambda: _module_device(self.module_))
        plan = None
        if op is not None:
            largest = tile_size(device, row_bytes)
            key = (
                "plan",
                op,
                X.shape[1],
                compute_dtype,
                largest,
                torch.get_num_threads(),
            )
            floor_key = ("floor", compute_dtype, largest, torch.get_num_threads())
            smallest = memo.get(
                floor_key, lambda: self._product_floor(device, largest, compute_dtype)
            )
            plan = memo.get(
                key,
                lambda: plan_tiles(
                    fn, X.shape[1], device, largest, compute_dtype, smallest
                ),
            )
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

    def _product_floor(
        self, device: torch.device, largest: int, dtype: torch.dtype
    ) -> int:
        """The smallest tile every matrix product of the inference module may
        run on: the largest of their plans' smallest sizes.

        Each product is checked on its own (:func:`skae._nn.invariant.products`):
        what an operation returns (a score summed over many terms, the top
        items) can hide a changed bit that a later call would show.
        """
        module = self._inference_module(dtype)
        smallest = MIN_TILE
        for product, width in products(module):
            plan = plan_tiles(product, width, device, largest, dtype, smallest)
            smallest = plan.sizes[0]
        return smallest

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

    @gated
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

    @gated
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

    @gated
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

    @gated
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

    @gated
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

    @property
    def _n_features_out(self):
        return self.n_components_
