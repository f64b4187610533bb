"""``skae.save``: a fitted estimator to a safetensors file, without pickle."""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save as serialize
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .digests import _metadata_digest, _tensor_digest
from .json_tags import Refusal, _to_json
from .labels import _classes_json
from .load import _restore
from .mixture import _mixture_arrays, _mixture_json
from .schema import (
    _CLASSES,
    _LIST_ATTRIBUTES,
    _MLP_ENTRIES_AT,
    _OPTIONAL_ATTRIBUTES,
    _TENSOR_ATTRIBUTES,
    _TRAINING_STATE,
    FORMAT,
    FORMAT_VERSION,
    _attribute_names,
    _Estimator,
    _without_absent_groups,
)


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
    if params.get("checkpoint") is not None:
        params["checkpoint"] = os.fspath(params["checkpoint"])  # a Path, as text
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
        # Our own write (not safetensors' save_file, whose own temporary file
        # a kill would leave behind under a name nobody knows).
        data = serialize(arrays, metadata=metadata)
        with open(temporary, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
