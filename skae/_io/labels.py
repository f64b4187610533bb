"""``classes_`` of the conditional VAE and its counts, written and checked."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .json_tags import Refusal, preview
from .values import _check_names, _floats, _object

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


def _classes_json(classes: np.ndarray) -> dict[str, Any]:
    """``classes_`` as its dtype and values: the labels as fit saw them."""
    return {
        "dtype": classes.dtype.newbyteorder("<").str,
        "values": classes.tolist(),
    }


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
