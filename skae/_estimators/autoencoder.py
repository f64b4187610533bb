"""Deterministic autoencoder transformer."""

from __future__ import annotations

import copy
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from sklearn import config_context
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import StrOptions
from threadpoolctl import threadpool_limits

from .._nn.builders import build_autoencoder
from .._nn.layers import final_layer
from .._nn.objectives import SquaredError
from .._nn.principal import principal_axes
from .base import _BaseAutoencoder
from .checks import AUTO
from .defaults import TrainingData


class AutoencoderTransformer(_BaseAutoencoder):
    """Autoencoder dimensionality reduction, a non-linear drop-in for PCA.

    A multilayer perceptron encoder maps each sample to ``n_components``
    numbers and a mirrored decoder maps them back; both are trained together
    with Adam (decoupled weight decay) to minimise the squared reconstruction
    error. ``transform`` returns the codes, ``inverse_transform`` the
    reconstructions in the caller's units.

    Input is first centred per feature and divided by one global scale
    (``scaling="auto"``), so the training loss is proportional to the squared
    error in the caller's units, as for PCA, while the network sees data of
    unit scale. Computation is in float32 on the chosen ``device``; output
    follows the input dtype for float32 and float64.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the latent code.

    hidden_layer_sizes : array-like of int or "auto", default="auto"
        Widths of the encoder's hidden layers; the decoder mirrors them. An
        empty tuple gives a linear autoencoder. "auto" is ``(w, w // 2)``
        below 10000 training rows and ``(w, w // 2, w // 4)`` from there, with
        ``w = min(1000, max(64, 16 * n_features))`` (see Notes).

    activation : {"relu", "tanh", "logistic", "identity", "elu", "gelu", \
            "silu"} or "auto", default="auto"
        Activation between layers (dense and convolutional). "auto" is
        "silu".

    architecture : {"mlp", "conv"} or callable, default="mlp"
        The network. "mlp" is a multilayer perceptron of ``hidden_layer_sizes``
        (:func:`skae.architectures.mlp`). "conv" treats each row as an image of
        ``image_shape`` (flattened in channels, height, width order) with a
        convolutional encoder and a transposed-convolutional decoder,
        ``hidden_layer_sizes`` being the dense layers between them
        (:func:`skae.architectures.conv`, with channels (32, 64)). A callable
        ``builder(n_features, n_components)`` returns ``(encoder, decoder)``,
        two ``torch.nn.Module``: the encoder maps ``(batch, n_features)`` to
        features of any width, to which the linear code layer is appended, the
        decoder maps ``(batch, n_components)`` to ``(batch, n_features)`` (the
        reconstruction); ``hidden_layer_sizes``, ``activation`` and
        ``image_shape`` are then unused. Use a module-level function or a
        :func:`functools.partial` of one, e.g.
        ``partial(skae.architectures.conv, image_shape=(28, 28), channels=(64,
        128))``: these clone, pickle and run in parallel grid searches (a lambda
        does not pickle), but :func:`skae.save` cannot store them (pickle or
        joblib the estimator instead).

    image_shape : tuple of int or None, default=None
        Shape of one row as an image, ``(height, width)`` or ``(channels,
        height, width)``, e.g. ``(28, 28)`` for MNIST; required by
        ``architecture="conv"`` and ignored by the other architectures.

    pca_path : bool or "auto", default="auto"
        Build the autoencoder on PCA: the code is the projection of the
        (scaled, centred) row on ``n_components`` axes plus the encoder's
        output, and the reconstruction is the code mapped back along the same
        axes plus the decoder's output. The axes and the centre start at the
        training rows' principal axes and mean (and are trained with the
        rest), the final layers of encoder and decoder at zero, so the fit
        starts at PCA's solution and only improves on it. On MNIST this
        gives lower reconstruction error and codes that classify better for
        the same epochs (``docs/quality.md``). Any architecture whose
        decoder ends in a linear or convolutional layer. "auto" is True for
        ``architecture="mlp"`` without ``neighbor_weight`` when
        ``n_components`` is at most the number of features and of rows.

    scaling : {"auto", "global", "standard"} or None, default="auto"
        Internal scaling of the input. "global" (what "auto" means here)
        centres each feature and divides by the root mean feature variance;
        "standard" divides each feature by its own standard deviation; None
        feeds the data as it is. Outputs of ``inverse_transform``, ``sample``
        and ``score_samples`` are always in the caller's units.

    corruption : {"masking", "salt_pepper", "gaussian"}, callable, None or \
            "auto", default="auto"
        Train to reconstruct each clean batch from a corrupted copy
        (denoising). "masking" sets each entry to zero with probability
        ``corruption_level`` (Mult-VAE's input dropout for user-item data);
        "salt_pepper" sets each entry with probability ``corruption_level``
        to 0 or 1 in the data's units (half each), the minimum and maximum
        of images scaled to [0, 1];
        "gaussian" adds noise of standard deviation ``corruption_level`` in
        the data's units; a callable ``fn(X_batch, generator)`` returns a
        corrupted copy of a float32 torch batch in the data's units (draw
        from ``generator`` to stay reproducible; e.g. downsample and upsample
        for super-resolution). ``transform`` and the other methods always
        see clean input. "auto" is "gaussian": a denoising fit, whose codes
        generalise better (see Notes).

    corruption_level : float or "auto", default="auto"
        Drop probability for "masking" and replacement probability for
        "salt_pepper" (both below 1), noise standard deviation for
        "gaussian"; unused otherwise. "auto" is 0.5 for "masking" and
        "salt_pepper" and, for "gaussian", ``c * s`` in the data's units:
        ``s`` the root mean feature variance of the training rows (with
        ``scaling="standard"``, each feature's standard deviation) and ``c =
        min(1.5, (2000 / n_samples) ** 0.3)`` (stronger on small data).

    neighbor_weight : float, default=0.0
        Weight of a neighbour-preserving term added to the training loss
        (UMAP's map with an encoder and a decoder; 0 turns it off). Before
        training, the fit builds UMAP's graph of the ``n_neighbors`` nearest
        neighbours of the training rows (``metric``: Euclidean distances in
        the model's input scaling, or cosine distances; exact up to 192
        features, beyond that the nearest of
        candidates found among 96 principal components, which miss 2% of the
        neighbours on Fashion-MNIST; UMAP's fuzzy memberships) and lays it out in
        ``n_components`` dimensions with UMAP's own optimisation (spectral
        start, fuzzy cross-entropy with negative sampling, ``min_dist``),
        all once per fit on ``device``. The term is then a robust distance
        (smooth L1) between each row's code and its place in that layout,
        multiplied by ``neighbor_weight`` times the number of features, so that
        1 weighs it like a reconstruction error of one unit of variance per
        feature. ``transform`` gives a map whose neighbourhoods follow the
        data's (readable 2-D maps), while ``inverse_transform`` and ``sample``
        decode it; new rows are mapped by the encoder without refitting. A
        ``corruption`` (e.g. ``"gaussian"``) helps the encoder place new rows
        (see the user guide). With ``early_stopping`` the validation loss is
        the reconstruction objective alone; ``warm_start`` and ``partial_fit``
        start the layout from the fitted codes, so the map keeps its
        orientation.

    n_neighbors : int, default=15
        Neighbours per row in the graph of ``neighbor_weight`` (the row itself
        not included); unused when ``neighbor_weight=0``.

    min_dist : float, default=0.1
        UMAP's ``min_dist`` for the layout of ``neighbor_weight``: how close
        neighbours may sit in the map, in units of the clusters' spread (0:
        tight clumps; 1: rows spread evenly); unused when
        ``neighbor_weight=0``.

    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between rows in the graph of ``neighbor_weight``.
        "euclidean": in the model's input scaling (``scaling``); "cosine":
        one minus the cosine similarity of the rows in the caller's units
        (their directions: documents, counts, embeddings), as umap-learn's
        ``metric="cosine"``; an all-zero row is at distance 1/2 from every
        other row. Unused when ``neighbor_weight=0``.

    max_iter : int or "auto", default="auto"
        Maximum number of epochs (with ``learning_rate="cosine"``: the
        number of epochs). "auto" is 80 up to 60000 training rows, then
        ``80 * sqrt(60000 / n_samples)`` (at least 10): the number of steps
        grows like the square root of the data's size.

    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(256, max(32, 2 ** floor(log2(n /
        10))))`` rows for ``n`` training rows (at least 10 steps per epoch),
        and at most ``n``.

    learning_rate : {"adaptive", "cosine", "constant"} or "auto", \
            default="auto"
        Learning-rate schedule. "adaptive" keeps ``learning_rate_init`` while
        the monitored loss improves and divides it by 10 at each plateau
        (``n_iter_no_change`` epochs without a relative improvement of
        ``tol``); the third plateau ends training, so fits stop on their own
        once converged. "cosine" warms up linearly over the first 5% of the
        steps, then decays to zero at ``max_iter`` epochs: the best use of a
        fixed budget of epochs (set ``max_iter`` to it). "constant" keeps
        the rate and stops at the first plateau. "auto" is "cosine" for
        ``fit`` and "constant" for ``partial_fit`` (which cannot know how
        many passes will come).

    learning_rate_init : float or "auto", default="auto"
        Initial (for "cosine": peak) Adam learning rate. "auto" is 2e-3.

    alpha : float, default=1e-4
        Decoupled weight decay (AdamW).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its loss stops
        improving and keep the best weights. Otherwise stop on the training
        loss.

    validation_fraction : float, default=0.1
        Fraction of the data held out when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` that make a
        plateau (see ``learning_rate``).

    tol : float, default=5e-3
        Minimum relative improvement of the monitored mean loss per sample:
        an epoch improves when it lowers the best loss so far by more than
        ``tol`` times its magnitude, whatever the data's units.

    shuffle : bool, default=True
        Shuffle the samples every epoch.

    random_state : int, RandomState instance or None, default=None
        Seed of the weight initialisation, shuffling and sampling. An int
        gives bit-identical results on the CPU.

    verbose : int, default=0
        Show a progress bar over epochs when positive.

    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``, keeping
        the fitted scaling.

    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to train; "auto" picks CUDA when available. Inference runs
        where the fitted module lives. Pickles hold CPU tensors and the
        module's device: unpickling puts the module back there when the
        machine has that device, on the CPU otherwise. Files of
        :func:`skae.save` load on the CPU.

    compile : bool or dict, default=False
        Compile the training step (forward pass, loss and backward pass) with
        :func:`torch.compile`; a dict is passed to it as keyword arguments,
        e.g. ``{"mode": "max-autotune"}``. Compiling takes seconds to a minute
        on the first batch (and once more for a smaller last batch) and pays
        off where many small kernels dominate a step, typically on CUDA. On a
        CPU the layers' matrix products dominate and it does not help (see
        the speed page). Inference and the fitted ``module_`` are never
        compiled, so pickling is unaffected.

    precision : {"float32", "bf16"}, default="float32"
        Arithmetic of training. "bf16" runs the forward pass and the loss
        under :func:`torch.autocast` with bfloat16 (mixed precision: the
        weights, their gradients and Adam's state stay float32); on CUDA
        GPUs with bfloat16 tensor cores it speeds up wide layers. Inference
        (``transform``, ``score_samples``...) always computes in float32.
        Measured on MNIST, see the speed page.

    checkpoint : str or path-like, default=None
        A file where ``fit`` writes its whole training state every
        ``checkpoint_every`` epochs (safetensors, written atomically): the
        weights, the optimizer's and the schedule's state, the random
        generator and the loss curves. A ``fit`` that finds the file resumes
        from it instead of starting again: run the same script again after a
        process was killed and the fit goes on from the last checkpoint, to
        the model the uninterrupted fit gives (the same bits on the CPU). A
        file written by a fit with other data or parameters is refused
        (delete it). The file is removed when ``fit`` completes; it is kept
        when training is interrupted (Ctrl-C). Not for ``partial_fit``, nor
        for a ``warm_start`` fit of a fitted model.

    checkpoint_every : int, default=1
        Epochs between two writes of ``checkpoint``.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained autoencoder, with ``encode`` and ``decode`` methods
        working on scaled data.

    n_components_ : int
        Dimension of the latent code.

    mean_ : ndarray of shape (n_features,)
        Per-feature offset of the internal scaling.

    scale_ : ndarray of shape (n_features,)
        Per-feature scale of the internal scaling.

    latent_density_ : GaussianMixture or None
        Density of the training codes (up to 10 full-covariance components
        fitted to at most 2000 of them), used by ``sample``; None after a fit
        on a single sample.

    loss_curve_ : list of float
        Mean training loss per sample (scaled units) at each epoch.

    validation_loss_curve_ : list of float or None
        Mean validation loss per epoch when ``early_stopping=True``.

    best_loss_ : float
        Best monitored loss.

    n_iter_ : int
        Number of epochs run (each ``partial_fit`` call counts as one).

    hidden_layer_sizes_, activation_, corruption_, corruption_level_, \
            max_iter_, batch_size_, learning_rate_, learning_rate_init_, \
            pca_path_
        What the parameters of the same names trained with: the value fit
        resolved a parameter left at "auto" to (see Notes), an explicit
        value as it is. ``corruption_level_`` holds one noise level per
        feature for Gaussian noise with ``scaling="standard"``;
        ``batch_size_`` is the number of rows per step (at most the number
        of training rows).

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``. Defined only when ``X``
        has feature names that are all strings.

    See Also
    --------
    VAETransformer : Variational autoencoder with a probabilistic latent space.
    sklearn.decomposition.PCA : Linear dimensionality reduction.

    Notes
    -----
    ``score_samples`` is the negative squared reconstruction error of each
    sample in the caller's units; ``sample`` draws codes from a Gaussian
    mixture fitted to the training codes and decodes them.

    The defaults are data-adaptive: ``fit`` resolves each parameter left at
    "auto" from the number ``n`` and width of the training rows, their
    spread and the likelihood (:mod:`skae._estimators.defaults` states the rules). They
    were chosen by measurement on the digits' splits 0-4 and Fashion-MNIST
    and reported on other data (``docs/quality.md``): a wide network with
    SiLU, input noise in units of the data's spread, a cosine learning rate
    over a budget of epochs that shrinks on very large data, so that default
    fits run to their budget. A fit with ``learning_rate="cosine"`` warns
    (``ConvergenceWarning``) only when its loss was still falling fast at the
    end: when the mean training loss of the last tenth of the epochs is below
    that of the tenth before by more than 5% of the run's whole fall (first
    epoch's loss minus the lowest); default fits on the digits end at
    0.2-0.7%. The autoencoder starts at PCA's
    solution (``pca_path``). A warm start keeps the
    fitted network; ``partial_fit`` resolves "auto" on its first block.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=2, max_iter=5, random_state=0)
    >>> ae.fit_transform(X).shape
    (1797, 2)
    >>> ae.inverse_transform(ae.transform(X[:3])).shape
    (3, 64)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseAutoencoder._parameter_constraints,
        "pca_path": ["boolean", StrOptions({AUTO})],
    }
    _max_density_samples = 2000

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes="auto",
        activation="auto",
        architecture="mlp",
        image_shape=None,
        pca_path="auto",
        scaling="auto",
        corruption="auto",
        corruption_level="auto",
        neighbor_weight=0.0,
        n_neighbors=15,
        min_dist=0.1,
        metric="euclidean",
        max_iter="auto",
        batch_size="auto",
        learning_rate="auto",
        learning_rate_init="auto",
        alpha=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=5e-3,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        device="auto",
        compile=False,
        precision="float32",
        checkpoint=None,
        checkpoint_every=1,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.architecture = architecture
        self.image_shape = image_shape
        self.pca_path = pca_path
        self.scaling = scaling
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.neighbor_weight = neighbor_weight
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.device = device
        self.compile = compile
        self.precision = precision
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every

    _architecture_params: ClassVar[tuple[str, ...]] = (
        *_BaseAutoencoder._architecture_params,
        "pca_path",
    )
    # skae.save (see _BaseAutoencoder): files from before pca_path are
    # models without the PCA path.
    _saved_attributes: ClassVar[tuple[str, ...]] = ("latent_density_",)
    _params_added: ClassVar[dict] = {"pca_path": False}
    _architecture_added: ClassVar[tuple] = (False,)

    _auto_params: ClassVar[tuple[str, ...]] = (
        *_BaseAutoencoder._auto_params,
        "pca_path",
    )

    def _auto_rules(self, data: TrainingData, streaming: bool) -> dict:
        rules = super()._auto_rules(data, streaming)
        rules["pca_path"] = partial(self._default_pca_path, data)
        return rules

    def _default_pca_path(self, data: TrainingData) -> bool:
        """Start at PCA: dense networks whose codes PCA can give."""
        return (
            isinstance(self.architecture, str)
            and self.architecture == "mlp"
            and not self.neighbor_weight
            and self.n_components <= min(data.n_samples, data.n_features)
        )

    def _build_module(self, n_features: int) -> torch.nn.Module:
        return build_autoencoder(
            n_features, self.n_components, self._builder(), self.pca_path
        )

    def _architecture(self) -> tuple:
        return (*super()._architecture(), self.pca_path)

    def _init_from_data(self, module: torch.nn.Module, X_train, seed: int) -> None:
        """With ``pca_path``: the path at the rows' mean and principal axes, the
        networks' ends at 0.

        ``seed`` starts the subspace iteration of very wide data.
        """
        if not self.pca_path:
            return
        ends = [final_layer(module.encoder), final_layer(module.decoder)]
        if ends[1] is None:
            raise ValueError(
                "pca_path=True needs a decoder whose output is that of a linear or "
                "convolutional layer (followed by nothing but reshaping), so that "
                "the fit can start at PCA; this architecture's decoder ends in "
                "something else. Use pca_path=False or end the decoder in a layer."
            )
        generator = torch.Generator(device=X_train.device).manual_seed(seed)
        mean, axes = principal_axes(X_train, self.n_components, generator)
        with torch.no_grad():
            module.path.weight.copy_(axes)
            module.path.offset.copy_(mean)
            for layer in ends:
                for p in layer.parameters():
                    p.zero_()

    def _objective(self, corrupt) -> SquaredError:
        return SquaredError(corrupt)

    def _score(self, module: torch.nn.Module, xs: torch.Tensor) -> torch.Tensor:
        scale = self._memo().get(
            ("scale", xs.dtype, xs.device),
            lambda: torch.tensor(
                np.asarray(self.scale_), dtype=xs.dtype, device=xs.device
            ),
        )
        error = (module(xs) - xs) * scale
        return -error.square().sum(1)

    def _after_fit(self, X, Xs, seed: int) -> None:
        rng = np.random.RandomState(seed)
        n = Xs.shape[0]
        if n > self._max_density_samples:
            rows = rng.choice(n, self._max_density_samples, replace=False)
        else:
            rows = np.arange(n)
        # Indexing gives dense rows whether Xs is a tensor or SparseRows.
        Xs = Xs[torch.from_numpy(rows).to(Xs.device)]
        with torch.inference_mode():
            codes = self._encode(self.module_, Xs).cpu().numpy().astype(np.float64)
        if codes.shape[0] < 2:
            self.latent_density_ = None
            return
        # No more components than distinct codes (duplicated rows).
        n_distinct = np.unique(codes, axis=0).shape[0]
        density = GaussianMixture(min(10, n_distinct), random_state=rng)
        # Multithreaded BLAS only adds overhead on these small matrices; the
        # mixture is NumPy's whatever sklearn's array API setting.
        with threadpool_limits(1, user_api="blas"), _numpy_only():
            self.latent_density_ = density.fit(codes)

    def _latent_origin(self) -> np.ndarray:
        if self.latent_density_ is None:
            raise ValueError(
                f"{type(self).__name__} was fitted on a single sample, so it has "
                "no mean training code to traverse from; pass x=..."
            )
        density = self.latent_density_
        return density.weights_ @ density.means_

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        if self.latent_density_ is None:
            raise ValueError(
                f"{type(self).__name__} was fitted on a single sample, so "
                "sample() has no density of the codes to draw from (it needs "
                "at least 2 samples); refit on more data."
            )
        density = copy.copy(self.latent_density_).set_params(random_state=rng)
        with _numpy_only():
            codes, _ = density.sample(n_samples)
        return codes[rng.permutation(n_samples)]


def _numpy_only():
    """Run sklearn's internal estimators on NumPy even under array API dispatch."""
    return config_context(array_api_dispatch=False)
