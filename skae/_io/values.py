"""Checks of the plain JSON values a file holds, each naming what is wrong."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import numpy as np

from .json_tags import Refusal, decode_json, preview
from .schema import _OUTPUT_CONFIGS


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
