"""skae: autoencoders and variational autoencoders as scikit-learn transformers."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

# PEP 440: a ".devN" suffix between releases (the changelog's Unreleased
# section), so that a build from a checkout never claims a release's number.
__version__ = "0.2.0.dev0"

# Where each public name lives. They are imported on first use, so that
# ``import skae`` (and ``skae --version``) does not load torch and
# scikit-learn until an estimator is asked for.
_PUBLIC = {
    "AutoencoderTransformer": "._estimators.autoencoder",
    "ConditionalVAETransformer": "._estimators.conditional",
    "VAETransformer": "._estimators.vae",
    "load": "._io",
    "register_skl2onnx": "._io.onnx",
    "save": "._io",
    "to_onnx": "._io.onnx",
}

__all__ = [
    "AutoencoderTransformer",
    "ConditionalVAETransformer",
    "VAETransformer",
    "__version__",
    "load",
    "register_skl2onnx",
    "save",
    "to_onnx",
]

if TYPE_CHECKING:
    from ._estimators.autoencoder import AutoencoderTransformer
    from ._estimators.conditional import ConditionalVAETransformer
    from ._estimators.vae import VAETransformer
    from ._io import load, save
    from ._io.onnx import register_skl2onnx, to_onnx


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
