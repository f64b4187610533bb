"""Variational autoencoder transformer."""

from __future__ import annotations

import math
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._data.blocks import row_blocks
from .._data.rows import feature_mean
from .._nn.builders import build_vae
from .._nn.corruption import Binarize, InputDropout
from .._nn.layers import output_layer
from .._nn.likelihoods import LIKELIHOODS
from .._nn.objectives import (
    NegativeELBO,
    NegativeIWAEBound,
    elbo_common_noise,
)
from .._nn.priors import LABEL_PRIORS, PRIORS
from . import defaults
from .autoencoder import AutoencoderTransformer
from .base import _BaseAutoencoder
from .checks import AUTO, _is_auto
from .defaults import TrainingData
from .docstrings import with_entries
from .posterior import _PosteriorMixin

# Likelihoods that model the data as they are: their range, and what to do.
_DATA_RANGES = {
    "bernoulli": (
        0.0,
        1.0,
        "divide pixel data by its maximum (e.g. X / 255) or use likelihood='gaussian'.",
    ),
    "multinomial": (
        0.0,
        np.inf,
        "the multinomial likelihood models non-negative counts or weights.",
    ),
}


def _value_range(X) -> tuple[float, float]:
    """Smallest and largest value of X, the implicit zeros of a sparse X included."""
    lowest, highest = math.inf, -math.inf
    # Block by block: a memory-mapped X is read from its file.
    for block in [X.data] if sp.issparse(X) else row_blocks(X):
        if block.size:
            lowest = min(lowest, float(block.min()))
            highest = max(highest, float(block.max()))
    if lowest > highest:
        lowest = highest = 0.0
    if sp.issparse(X) and X.nnz < X.shape[0] * X.shape[1]:
        lowest, highest = min(lowest, 0.0), max(highest, 0.0)
    return lowest, highest


class VAETransformer(_PosteriorMixin, _BaseAutoencoder):
    """Variational autoencoder (Kingma & Welling, 2014) as a transformer.

    The encoder outputs the mean and log-variance of a diagonal Gaussian
    posterior q(z|x); a code is drawn with the reparameterisation trick
    z = mu + sigma * eps and decoded into the parameters of p(x|z). Training
    minimises the reconstruction term plus ``beta`` times the KL divergence
    from q(z|x) to the prior N(0, I), which keeps the latent space continuous
    and complete: every point near the origin decodes to a plausible sample.

    ``transform`` returns the posterior mean (deterministic),
    ``inverse_transform`` decodes codes into the mean of p(x|z), ``sample``
    decodes draws from the prior and ``score_samples`` is the evidence lower
    bound (ELBO) of each sample, a lower bound on its log-likelihood.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Dimension of the latent code. "auto" is 2, and 200 for
        ``likelihood="multinomial"`` (Mult-VAE's latent size: a taste takes
        more than two numbers; on MovieLens-100k 2 gave NDCG@100 0.388 where
        200 gave 0.457, ``benchmarks/sweep_recommend.py``).

    hidden_layer_sizes : array-like of int or "auto", default="auto"
        Widths of the encoder's hidden layers; the decoder mirrors them. An
        empty tuple gives a linear autoencoder. "auto" is ``(w, w // 2)``
        with ``w = min(1000, max(64, 16 * n_features))`` (a third layer
        made the Gaussian VAE diverge on MNIST); ``(600,)`` for
        ``likelihood="multinomial"`` (see Notes).

    activation : {"relu", "tanh", "logistic", "identity", "elu", "gelu", \
            "silu"} or "auto", default="auto"
        Activation between layers (dense and convolutional). "auto" is
        "silu" ("tanh" for ``likelihood="multinomial"``).

    architecture : {"mlp", "conv"} or callable, default="mlp"
        The network. "mlp" is a multilayer perceptron of ``hidden_layer_sizes``
        (:func:`skae.architectures.mlp`). "conv" treats each row as an image of
        ``image_shape`` (flattened in channels, height, width order) with a
        convolutional encoder and a transposed-convolutional decoder,
        ``hidden_layer_sizes`` being the dense layers between them
        (:func:`skae.architectures.conv`, with channels (32, 64)). A callable
        ``builder(n_features, n_components)`` returns ``(encoder, decoder)``,
        two ``torch.nn.Module``: the encoder maps ``(batch, n_features)`` to
        features of any width, to which the posterior mean and log-variance
        heads are appended, the decoder maps ``(batch, n_components)`` to
        ``(batch, n_features)`` (the mean for the Gaussian likelihood, the
        logits for the others); ``hidden_layer_sizes``, ``activation`` and
        ``image_shape`` are then unused. Use a module-level function or a
        :func:`functools.partial` of one, e.g.
        ``partial(skae.architectures.conv, image_shape=(28, 28), channels=(64,
        128))``: these clone, pickle and run in parallel grid searches (a lambda
        does not pickle), but :func:`skae.save` cannot store them (pickle or
        joblib the estimator instead).

    {image_shape}

    likelihood : {"gaussian", "bernoulli", "multinomial"}, default="gaussian"
        Distribution of the data given the code. "gaussian" has a learned
        per-feature scale; "bernoulli" needs data in [0, 1] (e.g. pixel
        intensities); "multinomial" models non-negative counts over the
        features, e.g. a user's items (Mult-VAE: its encoder sees each row
        at unit L2 norm and ``inverse_transform`` returns the feature
        probabilities). Both turn the internal scaling off.

    beta : float or "auto", default="auto"
        Weight of the KL term (beta-VAE); 1 gives the evidence lower bound.
        "auto" is 0.5 for the Gaussian likelihood (1 for the conditional
        VAE), 1 for the Bernoulli one and 0.2 for the multinomial one.

    kl_warmup : int or "auto", default="auto"
        Epochs over which the KL weight rises linearly (step by step) from 0
        to ``beta`` (KL annealing: Bowman et al., 2016; Mult-VAE). These
        epochs are not monitored for stopping. "auto" is 10 for the
        multinomial likelihood and 0 for the others.

    prior : {"auto", "normal", "class", "exemplars", "vamp"}, default="auto"
        The prior p(z) of the codes. "normal" is N(0, I). "vamp" (not for
        :class:`ConditionalVAETransformer`) is the VampPrior (Tomczak &
        Welling, 2018): the mixture (1/K) sum_k q(z|u_k) of the encoder's
        posteriors at ``n_pseudo_inputs`` pseudo-inputs u_k, learnt with
        the networks (they start at K training rows drawn with the fit's
        seed). The KL term then has no closed form and is estimated from the
        posterior draw, and each training step also encodes the K
        pseudo-inputs. ``sample`` draws a component, then a code from it. "class"
        (:class:`ConditionalVAETransformer` only) is a Gaussian with full
        covariance for each class y, N(m_y, S_y): the model trains with
        N(0, I), then each class's Gaussian is set to the mean and
        covariance of its training rows' codes (the aggregate posterior's,
        which maximises the training rows' ELBO for the trained networks;
        a warm start or ``partial_fit`` trains with the prior fitted last,
        and refits it on its rows, classes without rows keeping theirs).
        Codes drawn for class y then land where the decoder learnt class y,
        also where the codes carry the class (at 8 or more latent
        dimensions they do). "exemplars" (:class:`ConditionalVAETransformer`
        only) trains the same way, then sets p(z|y) to the uniform mixture
        of the posteriors q(z|x, y) of ``n_pseudo_inputs`` of class y's
        training rows (drawn with the fit's seed; all of them, repeated
        evenly, if the class has fewer): an estimate of the class's
        aggregate posterior, the prior that maximises the training rows'
        ELBO, whose draws also follow the clusters within a class that a
        single Gaussian bridges. Its KL term is then estimated from the
        posterior draws, as for "vamp"; ``sample`` draws an exemplar, then
        a code from its posterior. "auto" is "exemplars" for the
        conditional VAE and "normal" otherwise. ``sample``,
        ``score_samples`` and ``log_likelihood`` use the prior.

    n_pseudo_inputs : int, default=500
        Number K of pseudo-inputs of ``prior="vamp"`` (the VampPrior
        paper's 500 for MNIST), and of exemplars per class of
        ``prior="exemplars"``; ignored by the other priors.

    n_importance_samples : int, default=1
        Number K of posterior draws per sample in the training objective.
        1 trains on the ELBO (one draw, KL term in closed form). K > 1 trains
        on the importance-weighted bound of Burda et al. (2015), ``log (1/K)
        sum_k p(x|z_k) p(z_k) / q(z_k|x)``, a tighter lower bound on log p(x)
        that usually gives a better test log-likelihood (``log_likelihood``)
        and more active latent dimensions, at about K times the decoder's
        cost per step: it pays off in long fits, while a short fit with a
        fixed time budget often does better with K=1 and more epochs.
        ``beta`` and the KL warm-up weight multiply ``log p(z_k) - log
        q(z_k|x)`` inside each importance weight (the bound itself for
        ``beta=1`` after warm-up). ``score_samples`` remains the ELBO, which
        K > 1 does not maximise: compare such models with ``log_likelihood``.

    binarize : bool, default=False
        Dynamic binarization, for ``likelihood="bernoulli"`` only: each
        training batch of values in [0, 1] (grey levels) is replaced by a
        fresh Bernoulli draw of 0s and 1s with those probabilities, used as
        the encoder's input and as the likelihood's target, so the model is
        fit to binary data sampled anew at every epoch (the usual protocol
        on binarized MNIST, e.g. Burda et al., 2015), which regularises
        better than one fixed binarization. Unlike ``corruption``, which
        only changes the input and still scores the data, it changes the
        data; a corruption is applied to the draw. The validation loss
        (``early_stopping``) and every other method see the data as given.
        Requires the identity internal scaling, which "bernoulli" implies.

    scaling : {"auto", "global", "standard"} or None, default="auto"
        Internal scaling of the input. "auto" means "global" for the
        Gaussian likelihood and None for the others. "global"
        centres each feature and divides by the root mean feature variance;
        "standard" divides each feature by its own standard deviation; None
        feeds the data as it is. Outputs of ``inverse_transform``, ``sample``
        and ``score_samples`` are always in the caller's units.

    corruption : {"masking", "salt_pepper", "gaussian"}, callable, None or \
            "auto", default="auto"
        Train to reconstruct each clean batch from a corrupted copy
        (denoising). "masking" sets each entry to zero with probability
        ``corruption_level``; with ``likelihood="multinomial"`` it is
        Mult-VAE's input dropout (Liang et al., 2018): the encoder scales
        each row to unit L2 norm, then zeroes entries and divides the kept
        ones by ``1 - corruption_level``, so the input's expectation is the
        clean normalised row that ``transform`` sees;
        "salt_pepper" sets each entry with probability ``corruption_level``
        to 0 or 1 in the data's units (half each), the minimum and maximum
        of images scaled to [0, 1];
        "gaussian" adds noise of standard deviation ``corruption_level`` in
        the data's units; a callable ``fn(X_batch, generator)`` returns a
        corrupted copy of a float32 torch batch in the data's units (draw
        from ``generator`` to stay reproducible; e.g. downsample and upsample
        for super-resolution). ``transform`` and the other methods always
        see clean input. "auto" is "gaussian" for the Gaussian likelihood
        (a denoising fit, whose codes generalise better), "masking" for the
        multinomial one (Mult-VAE) and None for the Bernoulli one.

    {corruption_level}

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
        (smooth L1) between each row's posterior mean and its place in that
        layout, multiplied by ``neighbor_weight`` times the number of features,
        so that 1 weighs it like a reconstruction error of one unit of variance
        per feature. ``transform`` gives a map whose neighbourhoods follow the
        data's (readable 2-D maps), while ``inverse_transform`` and ``sample``
        decode it; new rows are mapped by the encoder without refitting. A
        ``corruption`` (e.g. ``"gaussian"``) helps the encoder place new rows
        (see the user guide). With ``early_stopping`` the validation loss is
        the reconstruction objective alone; ``warm_start`` and ``partial_fit``
        start the layout from the fitted codes, so the map keeps its
        orientation.

    {n_neighbors}

    {min_dist}

    {metric}

    max_iter : int or "auto", default="auto"
        Maximum number of epochs (with ``learning_rate="cosine"``: the
        number of epochs). "auto" is ``E = 80`` (100 for
        ``likelihood="multinomial"``) up to 60000 training rows, then ``E *
        sqrt(60000 / n_samples)`` (at least 10): the number of steps grows
        like the square root of the data's size.

    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(256, max(32, 2 ** floor(log2(n /
        10))))`` rows for ``n`` training rows (at least 10 steps per epoch),
        and at most ``n``; 100 for ``likelihood="multinomial"``.

    {learning_rate}

    learning_rate_init : float or "auto", default="auto"
        Initial (for "cosine": peak) Adam learning rate. "auto" is 1e-3
        (the autoencoder's 2e-3 made the Gaussian VAE diverge on MNIST).

    {alpha}

    {early_stopping}

    {validation_fraction}

    {n_iter_no_change}

    {tol}

    {shuffle}

    random_state : int, RandomState instance or None, default=None
        Seed of the weight initialisation, shuffling, the reparameterisation
        noise and sampling. An int
        gives bit-identical results on the CPU.

    {verbose}

    {warm_start}

    {device}

    {compile}

    {precision}

    {checkpoint}

    {checkpoint_every}

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained VAE, with ``encode``, ``reparameterize`` and ``decode``
        methods working on scaled data.

    n_components_ : int
        Dimension of the latent code.

    mean_ : ndarray of shape (n_features,)
        Per-feature offset of the internal scaling.

    scale_ : ndarray of shape (n_features,)
        Per-feature scale of the internal scaling.

    loss_curve_ : list of float
        Mean training loss per sample (scaled units, nats) at each epoch:
        the negative ELBO, or the negative importance-weighted bound when
        ``n_importance_samples > 1``.

    validation_loss_curve_ : list of float or None
        Mean validation loss per epoch when ``early_stopping=True``.

    best_loss_ : float
        Best monitored loss.

    n_iter_ : int
        Number of epochs run (each ``partial_fit`` call counts as one).

    posterior_mean_variance_ : ndarray of shape (n_components,)
        Variance over the training rows of the posterior means (what
        ``transform`` returns), per latent dimension: the activity of each
        dimension (Burda et al., 2015). A dimension with a variance near 0
        encodes nothing about the data (posterior collapse): its posterior
        is the prior whatever the input.

    active_units_ : int
        Number of latent dimensions whose ``posterior_mean_variance_``
        exceeds 0.01, Burda et al.'s (2015) count of active units.

    hidden_layer_sizes_, activation_, corruption_, corruption_level_, \
            max_iter_, batch_size_, learning_rate_, learning_rate_init_, \
            beta_, kl_warmup_
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
    AutoencoderTransformer : Deterministic autoencoder.
    sklearn.decomposition.PCA : Linear dimensionality reduction.

    Notes
    -----
    ``score_samples`` estimates the ELBO in nats with 16 draws of eps shared
    by all rows, so it is deterministic and each row's score does not depend
    on the other rows. For the Gaussian likelihood it is a bound on the log
    density in the caller's units: the log-determinant of the internal
    scaling is subtracted. The posterior log-variance is clipped to
    [-30, 30], so rows far from the training data get a finite, very low
    score.

    A new fit (not a warm start) sets the bias of the decoder's last linear
    layer so that the untrained decoder predicts the training data's
    per-feature mean: the logits of the mean intensity for "bernoulli", the
    log of the normalised mean counts for "multinomial", the mean of the
    scaled data (about 0) for "gaussian". Training then starts from the
    marginal distribution rather than from noise, which saves the first
    epochs the work of learning it; the gain shrinks as training goes on.

    The defaults are data-adaptive, as :class:`AutoencoderTransformer`'s
    Notes describe (the rules are in :mod:`skae._estimators.defaults`; two hidden
    layers and a peak rate of 1e-3 here, no ``pca_path``). ``beta`` is 0.5
    for the Gaussian likelihood (codes that also serve classifiers; the
    prior samples then match the training data less closely than with 1),
    1 for the Bernoulli one and Mult-VAE's recipe for the multinomial one
    (Liang et al., 2018: 200 latent dimensions, one hidden layer of 600,
    tanh, input dropout 0.5, ``beta=0.2`` reached over 10 epochs, batches of
    100). ``score_samples`` and ``log_likelihood`` are the model's evidence
    lower bound whatever ``beta`` is.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(n_components=2, max_iter=5, random_state=0)
    >>> vae.fit_transform(X).shape
    (1797, 2)
    >>> vae.sample(4, random_state=0).shape
    (4, 64)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseAutoencoder._parameter_constraints,
        "n_components": [
            StrOptions({AUTO}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "beta": [StrOptions({AUTO}), Interval(Real, 0, None, closed="left")],
        "kl_warmup": [StrOptions({AUTO}), Interval(Integral, 0, None, closed="left")],
        "prior": [StrOptions({AUTO, *PRIORS})],
        "n_pseudo_inputs": [Interval(Integral, 1, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "binarize": ["boolean"],
    }
    _n_score_draws = 16

    def __init__(
        self,
        n_components="auto",
        *,
        hidden_layer_sizes="auto",
        activation="auto",
        architecture="mlp",
        image_shape=None,
        likelihood="gaussian",
        beta="auto",
        kl_warmup="auto",
        prior="auto",
        n_pseudo_inputs=500,
        n_importance_samples=1,
        binarize=False,
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
        self.likelihood = likelihood
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.prior = prior
        self.n_pseudo_inputs = n_pseudo_inputs
        self.n_importance_samples = n_importance_samples
        self.binarize = binarize
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

    def _build_module(self, n_features: int) -> torch.nn.Module:
        return build_vae(
            n_features,
            self.n_components,
            self._builder(),
            self.likelihood,
            prior=self._prior(),
            n_pseudo_inputs=self.n_pseudo_inputs,
        )

    _conditional = False  # whether the model reads labels

    def _prior(self) -> str:
        """The prior ``prior`` names ("auto": N(0, I))."""
        return "normal" if _is_auto(self.prior) else self.prior

    def _architecture(self) -> tuple:
        return (
            *super()._architecture(),
            self.likelihood,
            self._prior(),
            self.n_pseudo_inputs,
        )

    _architecture_params: ClassVar[tuple[str, ...]] = (
        *_BaseAutoencoder._architecture_params,
        "likelihood",
        "prior",
        "n_pseudo_inputs",
    )
    # Entries added since the first files, oldest first: files written before
    # the prior was a parameter hold N(0, I) models (whose pseudo-inputs, a
    # later parameter, are ignored).
    _architecture_added: ClassVar[tuple] = ("normal", 500)
    # skae.save (see _BaseAutoencoder).
    _saved_attributes: ClassVar[tuple[str, ...]] = (
        "posterior_mean_variance_",
        "active_units_",
    )
    _params_added: ClassVar[dict] = {
        "binarize": False,
        "n_importance_samples": 1,
        "prior": "normal",
        "n_pseudo_inputs": 500,
    }

    def _likelihood(self) -> str:
        return self.likelihood

    _auto_params: ClassVar[tuple[str, ...]] = (
        *_BaseAutoencoder._auto_params,
        "beta",
        "kl_warmup",
    )

    def _auto_rules(self, data: TrainingData, streaming: bool) -> dict:
        rules = super()._auto_rules(data, streaming)
        rules["n_components"] = partial(defaults.n_components, data)
        rules["beta"] = partial(defaults.beta, data)
        rules["kl_warmup"] = partial(defaults.kl_warmup, data)
        return rules

    def _check_params(self) -> None:
        if self._prior() in LABEL_PRIORS and not self._conditional:
            raise ValueError(
                f"prior={self._prior()!r} learns a distribution for each class and "
                "needs labels: use ConditionalVAETransformer, or prior='normal'."
            )
        if self._prior() == "vamp" and self._conditional:
            raise ValueError(
                "prior='vamp' is a mixture over pseudo-inputs without labels; the "
                "conditional VAE takes prior='exemplars', 'class' or 'normal'."
            )
        if self.binarize and self.likelihood != "bernoulli":
            raise ValueError(
                "binarize=True draws binary data from values in [0, 1] and needs "
                f"likelihood='bernoulli', got likelihood={self.likelihood!r}."
            )

    def _after_fit(self, X, Xs, seed: int) -> None:
        self._keep_activity(self._posterior_moments(X)[0])

    def _objective(self, corrupt) -> NegativeELBO | NegativeIWAEBound:
        # Bernoulli data are in [0, 1] and unscaled (_check_X refuses any
        # other scaling), so the draw is taken on the batch as it comes.
        resample = Binarize() if self.binarize else None
        if self.n_importance_samples > 1:
            return NegativeIWAEBound(
                self.n_importance_samples,
                beta=self.beta,
                corrupt=corrupt,
                resample=resample,
            )
        return NegativeELBO(beta=self.beta, corrupt=corrupt, resample=resample)

    def _init_from_data(self, module: torch.nn.Module, X_train, seed: int) -> None:
        """Set the decoder's output bias to the output for the data's mean.

        With zero weights the decoder then predicts the per-feature mean of
        the training rows (Bernoulli: its logits, clamped to [1e-3, 1 -
        1e-3]; multinomial: the log of the normalised mean counts; Gaussian:
        the mean of the scaled rows). A decoder whose last layer is not a
        linear layer with one bias per feature is left as it is.
        """
        if self._prior() == "vamp":
            self._init_pseudo_inputs(module.prior, X_train, seed)
        layer = output_layer(module, self.n_features_in_)
        if layer is None:
            return
        bias = module.likelihood.output_for_mean(feature_mean(X_train))
        with torch.no_grad():
            layer.bias.copy_(bias)

    @staticmethod
    def _init_pseudo_inputs(prior: torch.nn.Module, X_train, seed: int) -> None:
        """The VampPrior's pseudo-inputs at K training rows drawn with ``seed``.

        Without replacement when there are K rows or more.
        """
        n_rows, k = X_train.shape[0], prior.n_modes
        generator = torch.Generator().manual_seed(seed)
        if n_rows >= k:
            index = torch.randperm(n_rows, generator=generator)[:k]
        else:
            index = torch.randint(n_rows, (k,), generator=generator)
        with torch.no_grad():
            prior.pseudo_inputs.copy_(X_train[index.to(X_train.device)])

    def _warmup_epochs(self) -> int:
        return self.kl_warmup

    def _corruption(self, standardizer):
        """Mult-VAE's input dropout for "masking" with the multinomial likelihood."""
        if self.likelihood == "multinomial" and self.corruption == "masking":
            return InputDropout(self.corruption_level)
        return super()._corruption(standardizer)

    def _schedule(
        self, objective: NegativeELBO | NegativeIWAEBound, steps_per_epoch: int
    ):
        """KL warm-up: the KL weight rises linearly from 0 over ``kl_warmup`` epochs."""
        if not self.kl_warmup:
            return None
        n_steps = self.kl_warmup * steps_per_epoch

        def warm_up(step: int) -> None:
            objective.kl_weight.fill_(min(1.0, step / n_steps))

        return warm_up

    def _resolved_scaling(self) -> str | None:
        if self.scaling == "auto":
            return None if self.likelihood in _DATA_RANGES else "global"
        return self.scaling

    def _check_X(self, X) -> None:
        if self.likelihood not in _DATA_RANGES:
            return
        low, high, hint = _DATA_RANGES[self.likelihood]
        if self._resolved_scaling() is not None:
            raise ValueError(
                f"likelihood={self.likelihood!r} models the data as they are; "
                f"scaling={self.scaling!r} is not allowed with it (use 'auto')."
            )
        lowest, highest = _value_range(X)
        if lowest < low or highest > high:
            raise ValueError(
                f"likelihood={self.likelihood!r} needs X in [{low:g}, {high:g}], "
                f"got values in [{lowest:g}, {highest:g}]; {hint}"
            )

    def _score(self, module: torch.nn.Module, xs: torch.Tensor) -> torch.Tensor:
        eps, log_det = self._memo().get(
            ("score_noise", xs.dtype, xs.device), lambda: self._score_noise(xs)
        )
        return elbo_common_noise(module, xs, eps) - log_det

    def _score_noise(self, xs: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The draws every row's score shares (from seed 0) and log|det| of the
        scaling: what ``_score`` needs besides the rows, for ``xs``'s dtype."""
        generator = torch.Generator().manual_seed(0)
        eps = torch.randn(
            (self._n_score_draws, self.n_components_),
            generator=generator,
            dtype=xs.dtype,
        )
        return eps.to(xs.device), float(np.log(self.scale_).sum())

    def _prior_elements(self) -> int:
        return self.module_.prior.elements_per_code

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        eps = rng.standard_normal((n_samples, self.n_components_))
        prior = self._inference_module(torch.float64).prior
        if prior.n_modes == 1:  # N(0, I)
            return eps
        index = rng.randint(prior.n_modes, size=n_samples)
        device = self._device()
        with torch.no_grad():
            codes = prior.draw_of(
                torch.as_tensor(eps, device=device), torch.as_tensor(index)
            )
        return codes.cpu().numpy()

    def _latent_origin(self) -> np.ndarray:
        """The prior's mean: its modes' centres weighted as the prior weighs them."""
        return self._mode_weights() @ self._mode_centres()

    def _mode_weights(self) -> np.ndarray:
        """The prior's weight of each mode (component): uniform."""
        n_modes = self.module_.prior.n_modes
        return np.full(n_modes, 1.0 / n_modes)

    def _mode_centres(self) -> np.ndarray:
        """The code at the centre of each mode of the prior, in float64.

        0 for N(0, I), each component's mean for the VampPrior, each
        class's mean for the conditional VAE's Gaussians.
        """
        prior = self._inference_module(torch.float64).prior
        shape = (prior.n_modes, self.n_components_)
        eps = torch.zeros(shape, dtype=torch.float64, device=self._device())
        with torch.no_grad():
            centres = prior.draw_of(eps, torch.arange(prior.n_modes))
        return centres.cpu().numpy()


if VAETransformer.__doc__ and AutoencoderTransformer.__doc__:  # not under -OO
    VAETransformer.__doc__ = with_entries(
        VAETransformer.__doc__, AutoencoderTransformer.__doc__
    )
