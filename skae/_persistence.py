"""Save fitted estimators to safetensors files and load them without running code.

A saved model is one safetensors file: the weights, ``mean_``, ``scale_`` and
the arrays of ``latent_density_`` as tensors, everything else (the class name,
the parameters and the other fitted attributes) as JSON strings in the file's
metadata, with a SHA-256 digest of the tensors and one of the metadata.
Loading checks the digests (a corrupted file is refused), reads plain numbers
and strings, checks every one of them and builds the estimator from a fixed
list of three classes: nothing in the file is imported, unpickled or called.
See ``docs/persistence.md``.

Which fitted attributes a class saves: the common ones, its entry in
``_ATTRIBUTES`` (or its nearest base class's) and the names in its class
attribute ``_saved_attributes`` (``ConditionalVAETransformer`` declares its
labels there). The other class-keyed tables also fall back on the nearest
base class, so that a subclass inherits what its base saves.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted

from ._estimators.autoencoder import AutoencoderTransformer
from ._estimators.conditional import ConditionalVAETransformer
from ._estimators.vae import ACTIVE_UNIT_THRESHOLD, VAETransformer
from ._json_tags import Refusal, _from_json, _to_json, decode_json, preview
from ._safetensors_header import Spec, read_header

__all__ = ["_from_json", "_to_json", "load", "save"]

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

# Fitted attributes kept as JSON in "attributes"; module_, mean_ and scale_ are
# tensors. The entries of _fitted_architecture are these parameters at fit time.
_ATTRIBUTES = {
    AutoencoderTransformer: ("latent_density_",),
    VAETransformer: ("posterior_mean_variance_", "active_units_"),
}
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
_ARCHITECTURE_PARAMS = (
    "n_components",
    "hidden_layer_sizes",
    "activation",
    "architecture",
    "image_shape",
)
_ARCHITECTURE = {
    AutoencoderTransformer: (*_ARCHITECTURE_PARAMS, "pca_path"),
    VAETransformer: (*_ARCHITECTURE_PARAMS, "likelihood"),
}
# Files written before architectures were a parameter: MLPs without the
# entries "architecture" and "image_shape" (inserted after "activation").
_MLP_ENTRIES_AT, _MLP_ENTRIES = 3, ("mlp", None)
# Parameters added after the format's first files, with the value that keeps
# an older file's model what it was (for a refit: today's default).
_PARAMS_ADDED = {
    "architecture": "mlp",
    "image_shape": None,
    "learning_rate": "adaptive",
    "precision": "float32",
}
_CLASS_PARAMS_ADDED = {
    AutoencoderTransformer: {"pca_path": False},
    VAETransformer: {"binarize": False, "n_importance_samples": 1},
}
# Entries appended to _fitted_architecture after its first files, with the
# value that keeps an older file's model what it was.
_ARCHITECTURE_ADDED = {AutoencoderTransformer: (False,), VAETransformer: ()}
_OUTPUT_CONFIGS = {"default", "pandas", "polars"}
# dtypes of classes_ that load rebuilds (little-endian; object for str labels
# of pandas columns, for instance).
_CLASS_DTYPES = re.compile(r"\|[biu]1|<[iu][248]|<f[248]|<U[0-9]{1,6}|\|O")
_MAX_CLASSES_BYTES = 100_000_000
_CLASS_VALUE_TYPES = {
    "b": (bool,),
    "i": (int,),
    "u": (int,),
    "f": (float,),
    "U": (str,),
}
_MIXTURE_TENSORS = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
)
_MIXTURE_ATTRIBUTES = (
    "converged_",
    "n_iter_",
    "lower_bound_",
    "lower_bounds_",
    "n_features_in_",
)


# ------------------------------------------------------------------ public API
def save(estimator, path):
    """Save a fitted estimator to a safetensors file, without pickle.

    The file holds the weights as float32 tensors (on the CPU whatever device
    the model was trained on), the scaling and ``latent_density_`` arrays as
    float64 tensors, the class name, parameters and other fitted attributes
    as JSON metadata, and a SHA-256 digest of the tensors and one of the
    metadata, which :func:`load` checks. Before writing, ``save`` checks that
    :func:`load` accepts what it is about to write, and it writes through a
    temporary file in the same folder, so a refused or interrupted save leaves
    no file behind and never half-overwrites an existing one.

    Parameters
    ----------
    estimator : AutoencoderTransformer, VAETransformer or ConditionalVAETransformer
        A fitted estimator of exactly one of these classes (not a subclass,
        whose code the file could not hold).

    path : str or path-like
        Where to write; an existing file is replaced. ``.safetensors`` is the
        usual extension.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    TypeError
        If ``estimator`` is of another class, has attributes that ``fit`` does
        not set, or has parameters that are not plain data (None, bool, int,
        float, str, and lists, tuples and dicts of them).

    ValueError
        If the file would not load, e.g. weights that are NaN or infinite.

    FileNotFoundError
        If the folder of ``path`` does not exist.

    Warns
    -----
    UserWarning
        If ``random_state`` is a ``RandomState`` instance: its state cannot be
        stored, and the file holds ``random_state=None``.

    See Also
    --------
    load : Load an estimator saved by ``save``.

    Notes
    -----
    The optimizer state is not saved: a ``warm_start`` fit after ``load``
    starts a fresh AdamW optimizer, as every ``fit`` does.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer, load, save
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(hidden_layer_sizes=(32,), max_iter=2, device="cpu")
    >>> ae = ae.fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "ae.safetensors"
    ...     save(ae, path)
    ...     loaded = load(path)
    >>> bool((loaded.transform(X) == ae.transform(X)).all())
    True
    """
    metadata, arrays = _serialize(estimator)
    specs = {name: (array.shape, array.dtype.name) for name, array in arrays.items()}
    try:
        _restore(metadata, specs, arrays.__getitem__)
    except Refusal as refusal:
        raise ValueError(
            f"cannot save this {type(estimator).__name__}, it would not load: {refusal}"
        ) from None
    _write(Path(path), arrays, metadata)


def load(path):
    """Load an estimator saved by :func:`save`, without running code from the file.

    The file must match the SHA-256 digests ``save`` recorded in it, of its
    tensors and of its metadata: a file corrupted on disk or in transfer is
    refused. Only the numbers and strings of the file are read: the class is
    one of ``AutoencoderTransformer``, ``VAETransformer`` and
    ``ConditionalVAETransformer``, looked up by name in a fixed table; the
    parameters must pass the estimator's own validation; the
    fitted attributes must have the expected types; and every tensor must
    have the name, shape and dtype of the architecture the model was fitted
    with, and finite values. Anything else in the file is refused. Pickles are
    recognised and refused without being read.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    estimator : AutoencoderTransformer, VAETransformer or ConditionalVAETransformer
        The fitted estimator, its module on the CPU in float32 and in
        evaluation mode; ``transform``, ``inverse_transform``,
        ``score_samples`` and ``sample`` give the same numbers as the saved
        estimator did on the CPU.

    Raises
    ------
    ValueError
        If the file is refused: not a safetensors file written by ``save``,
        truncated, corrupted (its tensors or metadata differ from their
        digest), or with any entry that ``save`` would not write. The
        message starts with ``cannot load '<path>':`` and names the entry at fault.

    OSError
        If the file cannot be read at all (e.g. it does not exist).

    Warns
    -----
    UserWarning
        If the file has no digest (file format 1, written by a skae that
        wrote none): it loads with the other checks, but a corruption that
        leaves it well-formed cannot be detected. Save it again to add one.

    See Also
    --------
    save : Save a fitted estimator.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer, load, save
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(hidden_layer_sizes=(32,), max_iter=2, device="cpu")
    >>> vae = vae.fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "vae.safetensors"
    ...     save(vae, path)
    ...     loaded = load(path)
    >>> loaded
    VAETransformer(device='cpu', hidden_layer_sizes=(32,), max_iter=2)
    >>> bool((loaded.posterior(X)[1] == vae.posterior(X)[1]).all())
    True
    """
    try:
        metadata, specs = read_header(path)
        try:
            with safe_open(os.fspath(path), framework="numpy") as file:
                return _restore(metadata, specs, file.get_tensor, path)
        except SafetensorError as error:
            raise Refusal(f"not a valid safetensors file ({error}).") from None
    except Refusal as refusal:
        raise ValueError(f"cannot load {os.fspath(path)!r}: {refusal}") from None


# ----------------------------------------------------------------------- save
def _serialize(estimator: Any) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The metadata and tensors of the file for ``estimator``."""
    cls = type(estimator)
    if cls not in _CLASSES.values():
        raise TypeError(
            f"only {', '.join(list(_CLASSES)[:-1])} and {list(_CLASSES)[-1]} can "
            f"be saved, not "
            f"{cls.__module__}.{cls.__qualname__}: the file holds no code, so "
            "load could not rebuild another class (subclasses included). "
            "Pickle the estimator (pickle or joblib.dump) instead, from a "
            "source you trust when loading."
        )
    check_is_fitted(estimator)
    _check_state(estimator)
    _check_architecture_is_data(estimator)
    names = _without_absent_groups(cls, vars(estimator))
    attributes = {name: getattr(estimator, name) for name in names}
    if isinstance(attributes.get("corruption_level_"), np.ndarray):
        attributes["corruption_level_"] = attributes["corruption_level_"].tolist()
    for name in _OPTIONAL_ATTRIBUTES:
        if name in vars(estimator):
            attributes[name] = getattr(estimator, name)
    for name in _LIST_ATTRIBUTES:
        if name in attributes:
            attributes[name] = attributes[name].tolist()
    if "classes_" in attributes:
        attributes["classes_"] = _classes_json(attributes["classes_"])
    arrays = _module_arrays(estimator.module_)
    arrays["mean_"] = np.ascontiguousarray(estimator.mean_)
    arrays["scale_"] = np.ascontiguousarray(estimator.scale_)
    if "latent_density_" in attributes:
        mixture = attributes["latent_density_"]
        attributes["latent_density_"] = _mixture_json(mixture)
        arrays.update(_mixture_arrays(mixture))
    from . import __version__  # not at the top: skae/__init__ imports this module

    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": cls.__name__,
        "params": _dumps(_params(estimator), "params"),
        "attributes": _dumps(attributes, "attributes"),
        "skae_version": __version__,
        "torch_version": torch.__version__,
    }
    metadata["tensors_sha256"] = _tensor_digest(arrays)
    metadata["metadata_sha256"] = _metadata_digest(metadata)
    return metadata, arrays


def _entry(table: Mapping[type, Any], cls: type) -> Any:
    """The entry of ``cls`` in a class-keyed table, or of its nearest base."""
    return next(table[base] for base in cls.__mro__ if base in table)


def _attribute_names(cls: type) -> tuple[str, ...]:
    return (
        _COMMON_ATTRIBUTES
        + _entry(_ATTRIBUTES, cls)
        + _resolved_names(cls)
        + tuple(getattr(cls, "_saved_attributes", ()))
    )


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


def _classes_json(classes: np.ndarray) -> dict[str, Any]:
    """``classes_`` as its dtype and values: the labels as fit saw them."""
    return {
        "dtype": classes.dtype.newbyteorder("<").str,
        "values": classes.tolist(),
    }


def _tensor_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the tensors: each name, dtype, shape and little-endian bytes.

    Computed from the tensors as read, not from the file's layout, so that
    it holds for any safetensors writer's file of the same tensors.
    """
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        entry = json.dumps([name, array.dtype.name, list(array.shape)]).encode()
        digest.update(len(entry).to_bytes(8, "little") + entry)
        digest.update(array.nbytes.to_bytes(8, "little"))
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _metadata_digest(metadata: Mapping[str, str]) -> str:
    """SHA-256 of every metadata entry but the digests, as canonical JSON."""
    entries = {key: value for key, value in metadata.items() if key not in _DIGESTS}
    text = json.dumps(entries, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_state(estimator: _Estimator) -> None:
    """Refuse attributes that ``fit`` does not set; require those it does."""
    cls = type(estimator)
    known = {
        *cls._get_param_names(),
        *_attribute_names(cls),
        *_OPTIONAL_ATTRIBUTES,
        *_TENSOR_ATTRIBUTES,
        *_TRAINING_STATE,
    }
    for name in vars(estimator):
        if name not in known:
            raise TypeError(
                f"cannot save the attribute {name!r} of this {cls.__name__}: "
                "save writes what fit sets and nothing else; delete it first."
            )
    for name in (*_without_absent_groups(cls, vars(estimator)), *_TENSOR_ATTRIBUTES):
        if name not in vars(estimator):
            raise ValueError(
                f"this {cls.__name__} has no {name}, which fit sets; fit it again."
            )


def _check_architecture_is_data(estimator: _Estimator) -> None:
    """Refuse a callable architecture: the file holds no code to rebuild it."""
    fitted = estimator._fitted_architecture
    for value in (estimator.architecture, fitted[_MLP_ENTRIES_AT]):
        if callable(value):
            raise TypeError(
                f"cannot save a {type(estimator).__name__} whose architecture is "
                f"the callable {value!r}: save writes no code and load runs "
                "none, so the network could not be rebuilt. Pickle the "
                "estimator (pickle or joblib.dump) instead, from a source you "
                'trust when loading; architecture="mlp" or "conv" can be saved.'
            )


def _params(estimator: _Estimator) -> dict[str, Any]:
    params = estimator.get_params(deep=False)
    if isinstance(params["random_state"], np.random.RandomState):
        warnings.warn(
            "random_state is a RandomState instance, whose state save does not "
            "store: the file holds random_state=None. Use an int seed to keep "
            "sample() and refits reproducible after load.",
            UserWarning,
            stacklevel=4,
        )
        params["random_state"] = None
    return params


def _module_arrays(module: torch.nn.Module) -> dict[str, np.ndarray]:
    arrays = {}
    for name, tensor in module.state_dict().items():
        if tensor.dtype != torch.float32:
            raise ValueError(
                f"module_ holds {name!r} as {tensor.dtype}; skae models are "
                "float32 and save writes float32 only (module_.float() converts)."
            )
        array = tensor.detach().cpu().numpy()
        arrays[f"module_.{name}"] = np.ascontiguousarray(array)
    return arrays


def _mixture_json(mixture: GaussianMixture | None) -> dict | None:
    if mixture is None:
        return None
    if type(mixture) is not GaussianMixture:
        raise TypeError(
            f"latent_density_ is a {type(mixture).__name__}; save writes a "
            "GaussianMixture (as fit sets) or None only."
        )
    fitted = (*_MIXTURE_ATTRIBUTES, *_MIXTURE_TENSORS)
    for name in vars(mixture):
        if name not in {*mixture._get_param_names(), *fitted}:
            raise TypeError(
                f"cannot save the attribute {name!r} of latent_density_: save "
                "writes what GaussianMixture.fit sets and nothing else."
            )
    for name in fitted:
        if name not in vars(mixture):
            raise ValueError(f"latent_density_ has no {name}: it is not fitted.")
    # The mixture's random_state is fit's own RandomState; sample() never uses it.
    params = dict(mixture.get_params(deep=False), random_state=None)
    attributes = {name: getattr(mixture, name) for name in _MIXTURE_ATTRIBUTES}
    return {"params": params, "attributes": attributes}


def _mixture_arrays(mixture: GaussianMixture | None) -> dict[str, np.ndarray]:
    if mixture is None:
        return {}
    return {
        f"latent_density_.{name}": np.ascontiguousarray(getattr(mixture, name))
        for name in _MIXTURE_TENSORS
    }


def _dumps(value: Any, where: str) -> str:
    return json.dumps(_to_json(value, where), allow_nan=False)


def _write(path: Path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write through a temporary file beside ``path``: never a partial ``path``."""
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to {str(path)!r}: the folder {str(path.parent)!r} "
            "does not exist."
        )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        save_file(arrays, temporary, metadata=metadata)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------- load
def _restore(
    metadata: dict[str, str],
    specs: dict[str, Spec],
    read: Callable[[str], np.ndarray],
    path: str | os.PathLike | None = None,
) -> _Estimator:
    """Build the estimator from checked metadata and tensors; ``read`` gets one.

    ``path`` names the file in the warning about a file without digests.
    """
    # The digests first: a corrupted file is refused as such, whatever entry
    # the corruption hit.
    digested = all(key in metadata for key in _DIGESTS)
    if digested:
        _check_metadata_digest(metadata)
    cls = _check_metadata(metadata)
    if digested:
        arrays = _check_tensor_digest(metadata, specs, read)
        read = arrays.__getitem__
    else:
        warnings.warn(
            f"{os.fspath(path)!r} has no digest (file format "
            f"{_UNDIGESTED_VERSION}, from a skae that wrote none): load checked "
            "what it holds, but cannot tell whether it was corrupted since it "
            "was written. Save the model again to add a digest.",
            UserWarning,
            stacklevel=3,
        )
    estimator = _restore_params(cls, metadata["params"])
    attributes = _restore_attributes(cls, metadata["attributes"])
    architecture = _restore_architecture(cls, attributes["_fitted_architecture"])
    attributes["_fitted_architecture"] = architecture._architecture()
    if attributes["n_components_"] != architecture.n_components:
        raise Refusal(
            f"n_components_={attributes['n_components_']} differs from the "
            f"n_components in _fitted_architecture, {architecture.n_components}."
        )
    n_features = width = attributes["n_features_in_"]
    if "classes_" in attributes:  # the one-hot labels follow the data's columns
        architecture.classes_ = attributes["classes_"]
        width += len(attributes["classes_"])
    module = _meta_module(architecture, width)
    expected = {f"module_.{name}": _spec(t) for name, t in module.state_dict().items()}
    expected["mean_"] = expected["scale_"] = ((n_features,), "float64")
    expected.update(_mixture_specs(attributes.get("latent_density_")))
    arrays = _read_tensors(specs, expected, read)

    state = {
        name.removeprefix("module_."): torch.from_numpy(array)
        for name, array in arrays.items()
        if name.startswith("module_.")
    }
    # The meta module's parameters become these CPU tensors: no copy.
    module.load_state_dict(state, assign=True)
    estimator.module_ = module.eval()
    estimator.mean_, estimator.scale_ = arrays["mean_"], arrays["scale_"]
    for name, value in attributes.items():
        setattr(estimator, name, value)
    if attributes.get("latent_density_") is not None:
        for name in _MIXTURE_TENSORS:
            setattr(estimator.latent_density_, name, arrays[f"latent_density_.{name}"])
    return estimator


def _check_metadata_digest(metadata: dict[str, str]) -> None:
    """Refuse metadata that differs from its digest (or malformed digests)."""
    for key in _DIGESTS:
        if not _HEX_DIGEST.fullmatch(metadata[key]):
            raise Refusal(
                f"the file is corrupted: its {key} is not a SHA-256 digest (64 "
                f"lowercase hex digits), got {preview(metadata[key])}."
            )
    if _metadata_digest(metadata) != metadata["metadata_sha256"]:
        raise Refusal(
            "the file is corrupted: its metadata (class, parameters, fitted "
            "attributes) differs from the metadata_sha256 digest save recorded."
        )


def _check_tensor_digest(
    metadata: dict[str, str],
    specs: dict[str, Spec],
    read: Callable[[str], np.ndarray],
) -> dict[str, np.ndarray]:
    """Every tensor of the file, once they match their digest."""
    arrays = {name: read(name) for name in specs}
    for name, spec in specs.items():
        if (arrays[name].shape, arrays[name].dtype.name) != spec:
            raise Refusal(f"the tensor {name!r} does not match its header entry.")
    if _tensor_digest(arrays) != metadata["tensors_sha256"]:
        raise Refusal(
            "the file is corrupted: its tensors (weights, scaling) differ "
            "from the tensors_sha256 digest save recorded."
        )
    return arrays


def _check_metadata(metadata: dict[str, str]) -> type:
    """The class the metadata names, once its keys and format are right.

    Files of the current format have digests; files of format 1 have none.
    """
    if "format" not in metadata:
        raise Refusal(
            "not a skae file: its metadata has no 'format' key (a safetensors "
            "file written by something else than skae.save?)."
        )
    if metadata["format"] != FORMAT:
        raise Refusal(
            f"not a skae file: its format is {metadata['format'][:40]!r}, not "
            f"{FORMAT!r}."
        )
    version = metadata.get("format_version", FORMAT_VERSION)
    if version not in (FORMAT_VERSION, _UNDIGESTED_VERSION):
        raise Refusal(
            f"unsupported format_version {version[:40]!r}: this skae reads "
            f"versions {_UNDIGESTED_VERSION} and {FORMAT_VERSION} (was the file "
            "written by a newer skae?)."
        )
    digested = version == FORMAT_VERSION
    required = (*_METADATA, *_DIGESTS) if digested else _METADATA
    unknown = sorted(set(metadata) - {*required, *_INFO_METADATA})
    missing = [key for key in required if key not in metadata]
    if unknown:
        raise Refusal(
            f"the metadata has keys save never writes: unknown {_names(unknown)}."
        )
    if missing:
        raise Refusal(
            f"the metadata lacks keys save writes: missing {_names(missing)}."
        )
    name = metadata["class"]
    if name not in _CLASSES:
        raise Refusal(
            f"class {name[:80]!r} is not allowed: only {sorted(_CLASSES)} are."
        )
    return _CLASSES[name]


def _restore_params(cls: type, text: str) -> _Estimator:
    """A new, unfitted estimator with the saved (and validated) parameters."""
    params = _json_object(text, "params")
    # Files from before these parameters existed hold models without them.
    added = {**_PARAMS_ADDED, **_entry(_CLASS_PARAMS_ADDED, cls)}
    params = {**added, **params}
    _check_names(params, cls._get_param_names(), "params")
    return _validated(cls(**params), "params")


def _validated(estimator: _Estimator, what: str) -> _Estimator:
    try:
        estimator._validate_params()
        estimator._architecture()  # hidden_layer_sizes and image_shape
    except (TypeError, ValueError) as error:  # sklearn's InvalidParameterError
        raise Refusal(f"{what} fail validation: {error}") from None
    return estimator


def _restore_architecture(cls: type, value: Any) -> _Estimator:
    """An estimator whose parameters are the fitted architecture's entries."""
    names = _entry(_ARCHITECTURE, cls)
    appended = _entry(_ARCHITECTURE_ADDED, cls)
    older = len(names) - len(appended)
    if isinstance(value, tuple) and len(value) in (older, older - len(_MLP_ENTRIES)):
        value = (*value, *appended)
    if isinstance(value, tuple) and len(value) == len(names) - len(_MLP_ENTRIES):
        value = (*value[:_MLP_ENTRIES_AT], *_MLP_ENTRIES, *value[_MLP_ENTRIES_AT:])
    if not (isinstance(value, tuple) and len(value) == len(names)):
        raise Refusal(
            f"_fitted_architecture must be a tuple of {len(names)} entries "
            f"({', '.join(names)}), got {preview(value)}."
        )
    architecture = cls(**dict(zip(names, value, strict=True)))
    _validated(architecture, "_fitted_architecture entries")
    if architecture._architecture() != value:
        raise Refusal(
            f"_fitted_architecture {preview(value)} is not what fit writes, "
            f"{architecture._architecture()}."
        )
    return architecture


def _restore_attributes(cls: type, text: str) -> dict[str, Any]:
    """The fitted attributes saved as JSON, each checked for its type."""
    saved = _json_object(text, "attributes")
    expected = _without_absent_groups(cls, saved)
    _check_names(saved, expected, "attributes", _OPTIONAL_ATTRIBUTES)
    attributes = {
        "n_components_": _integer(saved, "n_components_", 1),
        "n_features_in_": _integer(saved, "n_features_in_", 1),
        "loss_curve_": _floats(saved, "loss_curve_"),
        "validation_loss_curve_": _floats(saved, "validation_loss_curve_", True),
        "best_loss_": _float(saved["best_loss_"], "best_loss_"),
        "n_iter_": _integer(saved, "n_iter_", 0),
        "_fitted_architecture": saved["_fitted_architecture"],
    }
    if "feature_names_in_" in saved:
        attributes["feature_names_in_"] = _feature_names(
            saved["feature_names_in_"], attributes["n_features_in_"]
        )
    if "_sklearn_output_config" in saved:
        attributes["_sklearn_output_config"] = _output_config(
            saved["_sklearn_output_config"]
        )
    if "active_units_" in saved:
        attributes.update(_active_units(saved, attributes["n_components_"]))
    if "max_iter_" in saved:
        attributes.update(_resolved(cls, saved, attributes["n_features_in_"]))
    if "classes_" in saved:
        attributes.update(_labels(saved))
    if "latent_density_" in saved:
        attributes["latent_density_"] = _restore_mixture(
            saved["latent_density_"], attributes["n_components_"]
        )
    return attributes


def _resolved(cls: type, saved: dict, n_features: int) -> dict[str, Any]:
    """The parameters' fitted values (``max_iter_``...), checked as parameters.

    ``corruption_level_`` may be one number per feature (Gaussian noise with
    ``scaling="standard"``); the others must pass the parameters' checks.
    """
    values = {name: saved[f"{name}_"] for name in cls._auto_params}
    level = values["corruption_level"]
    if isinstance(level, list):
        if len(level) != n_features:
            raise Refusal(
                f"corruption_level_ holds {len(level)} numbers for "
                f"n_features_in_={n_features}."
            )
        per_feature = _floats(saved, "corruption_level_")
        values["corruption_level"] = max(per_feature)
    for name, value in values.items():
        if isinstance(value, str) and value == "auto":
            raise Refusal(f"{name}_ is 'auto', which fit resolves to a value.")
    _validated(cls(**values), "fitted values of the parameters")
    attributes = {f"{name}_": saved[f"{name}_"] for name in cls._auto_params}
    if isinstance(level, list):
        if min(per_feature) < 0:
            raise Refusal("corruption_level_ holds a negative number.")
        attributes["corruption_level_"] = np.array(per_feature)
    return attributes


def _active_units(saved: dict, n_components: int) -> dict[str, Any]:
    """``posterior_mean_variance_`` and ``active_units_``, checked together."""
    variance = _floats(saved, "posterior_mean_variance_")
    if len(variance) != n_components or min(variance) < 0:
        raise Refusal(
            f"posterior_mean_variance_ must hold n_components_={n_components} "
            f"non-negative numbers, got {preview(variance)}."
        )
    variance = np.array(variance, dtype=np.float64)
    count = _integer(saved, "active_units_", 0)
    expected = int(np.count_nonzero(variance > ACTIVE_UNIT_THRESHOLD))
    if count != expected:
        raise Refusal(
            f"active_units_={count} differs from the {expected} entries of "
            f"posterior_mean_variance_ above {ACTIVE_UNIT_THRESHOLD}."
        )
    return {"posterior_mean_variance_": variance, "active_units_": count}


def _labels(saved: dict) -> dict[str, Any]:
    """``classes_``, ``class_count_`` and ``class_prior_``, checked together."""
    classes = _classes(saved["classes_"])
    count = _floats(saved, "class_count_")
    if not (
        len(count) == len(classes)
        and all(math.isfinite(c) and c >= 0 and c == math.floor(c) for c in count)
        and sum(count) > 0
    ):
        raise Refusal(
            f"class_count_ must hold a whole number >= 0 for each of the "
            f"{len(classes)} classes_, not all 0, got {preview(count)}."
        )
    count = np.array(count, dtype=np.float64)
    prior = np.array(_floats(saved, "class_prior_"), dtype=np.float64)
    if prior.shape != count.shape or not np.array_equal(prior, count / count.sum()):
        raise Refusal(
            "class_prior_ differs from class_count_ / class_count_.sum(), "
            f"got {preview(prior.tolist())}."
        )
    return {"classes_": classes, "class_count_": count, "class_prior_": prior}


def _classes(value: Any) -> np.ndarray:
    """``classes_`` rebuilt from its dtype and values: sorted distinct labels."""
    entry = _object(value, "classes_")
    _check_names(entry, ("dtype", "values"), "classes_ entries")
    dtype, values = entry["dtype"], entry["values"]
    if not (isinstance(dtype, str) and _CLASS_DTYPES.fullmatch(dtype)):
        raise Refusal(
            "classes_ dtype must be a little-endian bool, integer, float, str "
            f"or object dtype, got {preview(dtype)}."
        )
    dtype = np.dtype(dtype)
    types = _CLASS_VALUE_TYPES.get(dtype.kind, (str, int, float))
    if not (
        isinstance(values, list)
        and values
        and all(type(v) in types for v in values)
        and len({type(v) for v in values}) == 1
    ):
        raise Refusal(
            f"classes_ values must be a non-empty list of labels of one type "
            f"that the dtype {dtype} holds, got {preview(values)}."
        )
    if len(values) * dtype.itemsize > _MAX_CLASSES_BYTES:
        raise Refusal(
            f"classes_ would take {len(values)} x {dtype.itemsize} bytes, more "
            f"than the {_MAX_CLASSES_BYTES} any fit makes room for."
        )
    try:
        with np.errstate(all="ignore"):
            classes = np.array(values, dtype=dtype)
        distinct = np.array_equal(np.unique(classes), classes)
    except (OverflowError, TypeError, ValueError):
        distinct = False
    if not (distinct and classes.tolist() == values):
        raise Refusal(
            f"classes_ must be distinct sorted labels that its dtype {dtype} "
            f"holds exactly (as fit sets them), got {preview(values)}."
        )
    return classes


def _restore_mixture(value: Any, n_components: int) -> GaussianMixture | None:
    """``latent_density_`` without its arrays (they are tensors), or None."""
    if value is None:
        return None
    _check_names(
        _object(value, "latent_density_"),
        ("params", "attributes"),
        "latent_density_ entries",
    )
    params = _object(value["params"], "latent_density_ params")
    _check_names(params, GaussianMixture._get_param_names(), "latent_density_ params")
    mixture = GaussianMixture(**params)
    try:
        mixture._validate_params()
    except (TypeError, ValueError) as error:
        raise Refusal(f"latent_density_ params fail validation: {error}") from None
    saved = _object(value["attributes"], "latent_density_ attributes")
    _check_names(saved, _MIXTURE_ATTRIBUTES, "latent_density_ attributes")
    if type(saved["converged_"]) is not bool:
        raise Refusal("latent_density_ converged_ must be true or false.")
    mixture.converged_ = saved["converged_"]
    mixture.n_iter_ = _integer(saved, "n_iter_", 0, "latent_density_ ")
    mixture.lower_bound_ = _float(saved["lower_bound_"], "latent_density_ lower_bound_")
    mixture.lower_bounds_ = _floats(saved, "lower_bounds_", prefix="latent_density_ ")
    mixture.n_features_in_ = _integer(saved, "n_features_in_", 1, "latent_density_ ")
    if mixture.n_features_in_ != n_components:
        raise Refusal(
            f"latent_density_ n_features_in_={mixture.n_features_in_} differs "
            f"from n_components_={n_components}."
        )
    return mixture


def _mixture_specs(mixture: GaussianMixture | None) -> dict[str, Spec]:
    """Shapes and dtypes of the arrays of a mixture (none for None)."""
    if mixture is None:
        return {}
    k, d = mixture.n_components, mixture.n_features_in_
    covariance = {
        "full": (k, d, d),
        "tied": (d, d),
        "diag": (k, d),
        "spherical": (k,),
    }[mixture.covariance_type]
    shapes = {"weights_": (k,), "means_": (k, d)}
    shapes.update(dict.fromkeys(_MIXTURE_TENSORS[2:], covariance))
    return {f"latent_density_.{name}": (s, "float64") for name, s in shapes.items()}


def _meta_module(architecture: _Estimator, n_features: int) -> torch.nn.Module:
    """The module of ``architecture``, with no memory (on the meta device)."""
    try:
        with torch.device("meta"):
            module = architecture._build_module(n_features)
    except (OverflowError, RuntimeError, TypeError, ValueError) as error:
        raise Refusal(
            f"the module of _fitted_architecture {architecture._architecture()} "
            f"for n_features_in_={n_features} cannot be built: {error}"
        ) from None
    return module.to(torch.float32)


def _spec(tensor: torch.Tensor) -> Spec:
    return tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")


def _read_tensors(
    specs: dict[str, Spec],
    expected: dict[str, Spec],
    read: Callable[[str], np.ndarray],
) -> dict[str, np.ndarray]:
    """Read the tensors once their names, shapes and dtypes are as expected."""
    _check_names(specs, expected, "tensors", extra_word="unexpected")
    for name, (shape, dtype) in expected.items():
        if specs[name] != (shape, dtype):
            found_shape, found_dtype = specs[name]
            raise Refusal(
                f"the tensor {name!r} has shape {found_shape} and dtype "
                f"{found_dtype}, expected shape {shape} and dtype {dtype}."
            )
    arrays = {}
    for name, spec in expected.items():
        array = read(name)
        if (array.shape, array.dtype.name) != spec:  # the header said otherwise
            raise Refusal(f"the tensor {name!r} does not match its header entry.")
        if not np.isfinite(array).all():
            raise Refusal(f"the tensor {name!r} holds non-finite values.")
        arrays[name] = array
    return arrays


# ------------------------------------------------------- checks of JSON values
def _json_object(text: str, where: str) -> dict[str, Any]:
    return _object(decode_json(text, where), where)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Refusal(f"{where} must be a JSON object, got {preview(value)}.")
    return value


def _check_names(
    found: Iterable[str],
    expected: Collection[str],
    what: str,
    optional: Collection[str] = (),
    extra_word: str = "unknown",
) -> None:
    found = list(found)
    extra = sorted(name for name in found if name not in {*expected, *optional})
    missing = [name for name in expected if name not in found]
    if extra:
        raise Refusal(f"{extra_word} {what} {_names(extra)}.")
    if missing:
        raise Refusal(f"missing {what} {_names(missing)}.")


def _integer(saved: dict, name: str, minimum: int, prefix: str = "") -> int:
    value = saved[name]
    if type(value) is not int or value < minimum:
        raise Refusal(
            f"{prefix}{name} must be an integer >= {minimum}, got {preview(value)}."
        )
    return value


def _float(value: Any, name: str) -> float:
    if type(value) not in (int, float):
        raise Refusal(f"{name} must be a number, got {preview(value)}.")
    return float(value)


def _floats(
    saved: dict, name: str, or_none: bool = False, prefix: str = ""
) -> list[float] | None:
    value = saved[name]
    if value is None and or_none:
        return None
    if not isinstance(value, list):
        raise Refusal(f"{prefix}{name} must be a list, got {preview(value)}.")
    return [_float(v, f"{prefix}{name}[{i}]") for i, v in enumerate(value)]


def _feature_names(value: Any, n_features: int) -> np.ndarray:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise Refusal(f"feature_names_in_ must be a list of str, got {preview(value)}.")
    if len(value) != n_features:
        raise Refusal(
            f"feature_names_in_ has {len(value)} names for n_features_in_={n_features}."
        )
    return np.array(value, dtype=object)


def _output_config(value: Any) -> dict[str, str]:
    config = _object(value, "_sklearn_output_config")
    values = config.values()
    if not (
        config.keys() <= {"transform"}
        and all(isinstance(v, str) and v in _OUTPUT_CONFIGS for v in values)
    ):
        raise Refusal(
            f"_sklearn_output_config must map 'transform' to one of "
            f"{sorted(_OUTPUT_CONFIGS)}, got {preview(config)}."
        )
    return dict(config)


def _names(names: list[str], limit: int = 5) -> str:
    shown = [name[:80] for name in names[:limit]]
    return repr(shown)[:-1] + (", ...]" if len(names) > limit else "]")
