"""What each ``"auto"`` parameter resolves to, from the training data.

The defaults of :class:`~skae.AutoencoderTransformer`,
:class:`~skae.VAETransformer` and :class:`~skae.ConditionalVAETransformer`
are data-adaptive, as scikit-learn's ``batch_size="auto"`` is: ``fit``
resolves every parameter left at ``"auto"`` from the training rows' count
``n``, width ``d`` and spread ``s`` (the root mean feature variance, in the
data's units) and the likelihood. The rules were chosen by measurement
(``benchmarks/sweep_defaults.py`` on digits splits 0-4 and Fashion-MNIST,
``benchmarks/sweep_recommend.py`` on MovieLens-100k seed 0's validation
users) and reported on other data (``docs/quality.md``):

* the VAE's latent size: 2, and Mult-VAE's 200 for the multinomial
  likelihood (the autoencoder's ``n_components=2`` is a plain default);
* a wide network with a smooth activation: hidden widths ``(w, w/2)`` below
  10000 rows and for the VAE, ``(w, w/2, w/4)`` for the autoencoder from
  10000 rows, ``w = min(1000, max(64,
  16 d))``, SiLU; Mult-VAE's one hidden layer of 600 and tanh for the
  multinomial likelihood (Liang et al., 2018);
* the autoencoder starts at PCA's solution (``pca_path``) for dense networks;
* Gaussian input noise of ``c(n) s``, ``c(n) = min(1.5, (2000 / n)^0.3)``: a
  denoising fit, stronger on small data (1.1 s on the 1347 digits, 0.36 s
  on MNIST's 60000 images); masking of half the entries for the multinomial
  likelihood; none for the Bernoulli likelihood, a density model;
* a fixed budget with a cosine learning-rate schedule (peak 2e-3; 1e-3 for
  the VAE): 80 epochs (100 multinomial) up to 60000 rows,
  then ``80 sqrt(60000 / n)`` (at least 10), so that the number of steps grows
  like ``sqrt(n)``; batches of ``min(256, max(32, 2^floor(log2(n / 10))))``
  rows (at least 10 steps per epoch; 100 for the multinomial likelihood).
  ``partial_fit`` does not know how many passes will come: there "auto" is a
  constant learning rate;
* the VAE's KL weight ``beta``: 0.5 for the Gaussian likelihood (codes that
  classify; 1 for the conditional VAE, whose product is its samples), 1 for
  the Bernoulli likelihood (an evidence lower bound), 0.2 with a 10-epoch
  warm-up for the multinomial likelihood (Mult-VAE's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AUTO = "auto"

# Epochs of the cosine schedule up to this many rows, then fewer.
_EPOCH_ROWS = 60_000


@dataclass(frozen=True)
class TrainingData:
    """What the defaults depend on: the training rows and the likelihood.

    ``likelihood`` is None for the autoencoder (squared error).
    """

    n_samples: int
    n_features: int
    likelihood: str | None = None

    @property
    def vae(self) -> bool:
        return self.likelihood is not None

    @property
    def multinomial(self) -> bool:
        return self.likelihood == "multinomial"


def n_components(data: TrainingData) -> int:
    """The VAE's latent size: 2 (a map), Mult-VAE's 200 for user-item data."""
    return 200 if data.multinomial else 2


def hidden_layer_sizes(data: TrainingData) -> tuple[int, ...]:
    """Hidden widths of the encoder (the decoder mirrors them).

    Three layers for the autoencoder from 10000 rows; two for the VAE, whose
    deeper network diverged (see :func:`learning_rate_init`).
    """
    if data.multinomial:
        return (600,)
    width = min(1000, max(64, 16 * data.n_features))
    depth = 2 if data.n_samples < 10_000 or data.vae else 3
    return tuple(width >> i for i in range(depth))


def activation(data: TrainingData) -> str:
    """SiLU; tanh for the multinomial likelihood."""
    return "tanh" if data.multinomial else "silu"


def max_iter(data: TrainingData) -> int:
    """Epochs of the cosine schedule."""
    epochs = 100 if data.multinomial else 80
    if data.n_samples <= _EPOCH_ROWS:
        return epochs
    return max(10, round(epochs * math.sqrt(_EPOCH_ROWS / data.n_samples)))


def batch_size(data: TrainingData) -> int:
    """Rows per step: at least 10 steps per epoch, 32 to 256 rows."""
    if data.multinomial:
        return min(100, data.n_samples)
    tenth = max(data.n_samples // 10, 1)
    return int(min(data.n_samples, 256, max(32, 2 ** math.floor(math.log2(tenth)))))


def learning_rate(streaming: bool) -> str:
    """Cosine over a known budget; constant for ``partial_fit`` (a stream)."""
    return "constant" if streaming else "cosine"


def learning_rate_init(data: TrainingData) -> float:
    """Peak learning rate of Adam: lower for the VAE.

    The VAE's learned Gaussian scale makes its loss much stiffer than the
    squared error: on MNIST (60000 rows, 80 epochs, k=30) the three-layer
    network at 2e-3 jumped from a loss of -351 to 3e14 at epoch 15 and never
    recovered (test error 50.2, the mean image); two layers at 1e-3 trained
    smoothly to 4.64 (``benchmarks/diag_vae_blowup.py``).
    """
    return 1e-3 if data.vae else 2e-3


def corruption(data: TrainingData) -> str | None:
    """Input noise for codes that generalise; masking for user-item data."""
    if data.multinomial:
        return "masking"
    if data.likelihood == "bernoulli":
        return None
    return "gaussian"


def noise_factor(n_samples: int) -> float:
    """Gaussian noise in units of the data's spread, falling with its size."""
    return min(1.5, (2000.0 / n_samples) ** 0.3)


def corruption_level(kind: object, data: TrainingData, spread) -> float:
    """Noise standard deviation in the data's units, or a drop probability.

    ``spread`` (a number, or one per feature) is used for Gaussian noise only.
    """
    if kind == "gaussian":
        return noise_factor(data.n_samples) * spread
    return 0.5


def beta(data: TrainingData, conditional: bool = False) -> float:
    """Weight of the KL term of the VAE; 1 for a conditional VAE's Gaussian one.

    The conditional VAE is a generative model: with the evidence lower bound
    (beta 1) its codes carry less of the class, and samples drawn from each
    class's prior are more often of that class (MNIST training rows
    50000-59999, a CNN judge: 0.958 against 0.944 at 16 latent dimensions,
    0.960 against 0.954 at 32).
    """
    if conditional and data.likelihood == "gaussian":
        return 1.0
    return {"multinomial": 0.2, "bernoulli": 1.0}.get(data.likelihood, 0.5)


def kl_warmup(data: TrainingData) -> int:
    """Epochs over which the KL weight rises from 0."""
    return 10 if data.multinomial else 0


# The defaults before "auto" (skae 0.x up to issue 29), for scripts that
# reproduce results measured with them: AutoencoderTransformer's; the VAE's
# add FORMER_VAE_DEFAULTS and drop pca_path.
FORMER_DEFAULTS = dict(
    hidden_layer_sizes=(256, 128),
    activation="relu",
    corruption=None,
    corruption_level=0.5,
    max_iter=200,
    learning_rate="adaptive",
    learning_rate_init=1e-3,
)
FORMER_AE_DEFAULTS = dict(FORMER_DEFAULTS, pca_path=False)
FORMER_VAE_DEFAULTS = dict(FORMER_DEFAULTS, beta=1.0, kl_warmup=0)
