"""``skae.load``: a safetensors file to an estimator, running nothing from the file."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open

from .._estimators.posterior import ACTIVE_UNIT_THRESHOLD
from .digests import _check_metadata_digest, _check_tensor_digest
from .json_tags import Refusal, preview
from .labels import _labels
from .mixture import _MIXTURE_TENSORS, _mixture_specs, _restore_mixture
from .safetensors_header import Spec, read_header
from .schema import (
    _CLASSES,
    _DIGESTS,
    _INFO_METADATA,
    _METADATA,
    _MLP_ENTRIES,
    _MLP_ENTRIES_AT,
    _OPTIONAL_ATTRIBUTES,
    _PARAMS_ADDED,
    _UNDIGESTED_VERSION,
    FORMAT,
    FORMAT_VERSION,
    _Estimator,
    _without_absent_groups,
)
from .values import (
    _check_names,
    _feature_names,
    _float,
    _floats,
    _integer,
    _json_object,
    _names,
    _output_config,
)


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
    added = {**_PARAMS_ADDED, **cls._params_added}
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
    names = cls._architecture_params
    appended = cls._architecture_added
    older = len(names) - len(appended)
    if isinstance(value, tuple) and older <= len(value) < len(names):
        value = (*value, *appended[len(value) - older :])  # the entries it lacks
    elif isinstance(value, tuple) and len(value) == older - len(_MLP_ENTRIES):
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
