"""What a skae file holds: the format, the allowed classes, the fitted attributes.

Each estimator class declares what it adds next to its code
(``_saved_attributes``, ``_architecture_params``, ``_params_added``,
``_architecture_added``); this module holds what all of them share and reads
those declarations. A subclass inherits its base's.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .._estimators.autoencoder import AutoencoderTransformer
from .._estimators.conditional import ConditionalVAETransformer
from .._estimators.vae import VAETransformer

# Format 2 adds the digests (and ConditionalVAETransformer); files of format 1
# have none and still load, with a warning.
FORMAT, FORMAT_VERSION, _UNDIGESTED_VERSION = "skae", "2", "1"


_CLASSES = {
    cls.__name__: cls
    for cls in (AutoencoderTransformer, VAETransformer, ConditionalVAETransformer)
}


_Estimator = AutoencoderTransformer | VAETransformer


_METADATA = ("format", "format_version", "class", "params", "attributes")


_INFO_METADATA = ("skae_version", "torch_version")  # for people, not read back


# SHA-256 of the tensors (names, dtypes, shapes and bytes) and of the other
# metadata entries (see _tensor_digest and _metadata_digest).
_DIGESTS = ("tensors_sha256", "metadata_sha256")


_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


# Attributes that files written before they existed lack: such files load
# into models without them (they cannot be computed without the data).
_ATTRIBUTES_ADDED = ("posterior_mean_variance_", "active_units_")


_COMMON_ATTRIBUTES = (
    "n_components_",
    "n_features_in_",
    "loss_curve_",
    "validation_loss_curve_",
    "best_loss_",
    "n_iter_",
    "_fitted_architecture",
)


_OPTIONAL_ATTRIBUTES = ("feature_names_in_", "_sklearn_output_config")


# Arrays saved as JSON lists.
_LIST_ATTRIBUTES = (
    "feature_names_in_",
    "posterior_mean_variance_",
    "class_count_",
    "class_prior_",
)


_TENSOR_ATTRIBUTES = ("module_", "mean_", "scale_")


# State of an unfinished training (partial_fit's optimizer), not written: a
# loaded model goes on with partial_fit from a fresh optimizer.
_TRAINING_STATE = ("_partial_state",)


# Files written before architectures were a parameter: MLPs without the
# entries "architecture" and "image_shape" (inserted after "activation").
_MLP_ENTRIES_AT, _MLP_ENTRIES = 3, ("mlp", None)


# Parameters added after the format's first files, with the value that keeps
# an older file's model what it was (for a refit: today's default).
_PARAMS_ADDED = {
    "architecture": "mlp",
    "checkpoint": None,
    "checkpoint_every": 1,
    "image_shape": None,
    "learning_rate": "adaptive",
    "metric": "euclidean",
    "min_dist": 0.1,
    "precision": "float32",
}


_OUTPUT_CONFIGS = {"default", "pandas", "polars"}


def _attribute_names(cls: type) -> tuple[str, ...]:
    return _COMMON_ATTRIBUTES + tuple(cls._saved_attributes) + _resolved_names(cls)


def _resolved_names(cls: type) -> tuple[str, ...]:
    """The fitted values of the parameters that accept "auto" (``max_iter_``...).

    Files written before "auto" existed lack them; such files load into
    models without them, which save again without them.
    """
    return tuple(f"{name}_" for name in cls._auto_params)


def _without_absent_groups(cls: type, names: Collection[str]) -> tuple[str, ...]:
    """Attribute names of ``cls`` less the groups that older files lack.

    A group (attributes added to the format together) is left out when none
    of its names is in ``names``.
    """
    expected = _attribute_names(cls)
    for group in (_ATTRIBUTES_ADDED, _resolved_names(cls)):
        if not any(name in names for name in group):
            expected = tuple(name for name in expected if name not in group)
    return expected
