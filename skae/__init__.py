"""skae: autoencoders and variational autoencoders as scikit-learn transformers."""

from ._autoencoder import AutoencoderTransformer
from ._conditional import ConditionalVAETransformer
from ._persistence import load, save
from ._vae import VAETransformer

__version__ = "0.1.0"

__all__ = [
    "AutoencoderTransformer",
    "ConditionalVAETransformer",
    "VAETransformer",
    "__version__",
    "load",
    "save",
]
