"""Plain data <-> strict JSON, with two tags for what JSON cannot say.

The metadata of a saved model holds parameters and fitted attributes as JSON.
JSON has no tuples and no NaN or infinity, so two tags stand in for them,
each the only key of its object::

    (1, 2)        <->  {"__tuple__": [1, 2]}
    float("inf")  <->  {"__float__": "inf"}     (also "-inf" and "nan")

Any other key starting with ``"__"`` is refused both ways, so that no key
can ever be read as an instruction (``"__reduce__"``, ``"__class__"``, ...).
Nothing here imports, calls or builds anything but plain data.
"""

from __future__ import annotations

import json
import math
from numbers import Integral, Real
from typing import Any

import numpy as np

_TAGS = ("__tuple__", "__float__")
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_TAGS_HELP = (
    "keys starting with '__' are reserved for the tags "
    '{"__tuple__": [...]} and {"__float__": "nan" | "inf" | "-inf"}, '
    "each the only key of its object"
)


class Refusal(ValueError):
    """What a file holds is refused; the message says what and where."""


def _to_json(value: Any, where: str) -> Any:
    """``value`` as JSON-ready plain data, tuples and non-finite floats tagged.

    Accepts None, bool, int, float, str, their numpy scalar types, and
    lists, tuples and dicts with ``str`` keys of those. Raises ``TypeError``
    naming ``where`` (e.g. ``params['compile']['backend']``) for anything
    else, and for dict keys starting with ``"__"``.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": str(value)}
    if isinstance(value, tuple):
        return {"__tuple__": _list_to_json(value, where)}
    if isinstance(value, list):
        return _list_to_json(value, where)
    if isinstance(value, dict):
        return _dict_to_json(value, where)
    raise TypeError(
        f"{where} is {type(value).__module__}.{type(value).__qualname__} "
        f"{preview(value)}, which is not plain data: only None, bool, int, "
        "float, str and lists, tuples and dicts of them can be saved."
    )


def _list_to_json(values: list | tuple, where: str) -> list:
    return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(values)]


def _dict_to_json(value: dict, where: str) -> dict:
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{where} has the key {key!r}: only str keys can be saved.")
        if key.startswith("__"):
            raise TypeError(f"{where} has the key {key!r}: {_TAGS_HELP}.")
        out[key] = _to_json(item, f"{where}[{key!r}]")
    return out


def _from_json(obj: Any, where: str) -> Any:
    """Undo :func:`_to_json` on the output of :func:`parse_json`.

    Raises :class:`Refusal` (a ``ValueError``) for an object with a key
    starting with ``"__"`` that is not exactly one well-formed tag.
    """
    if isinstance(obj, list):
        return [_from_json(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    if not any(key.startswith("__") for key in obj):
        return {key: _from_json(v, f"{where}[{key!r}]") for key, v in obj.items()}
    if len(obj) == 1:
        [(tag, payload)] = obj.items()
        if tag == "__tuple__" and isinstance(payload, list):
            return tuple(_from_json(payload, where))
        if tag == "__float__" and isinstance(payload, str) and payload in _FLOATS:
            return _FLOATS[payload]
    # The reserved keys first, so that the message names them.
    keys = sorted(obj, key=lambda k: not k.startswith("__"))
    shown = ", ".join(repr(key[:80]) for key in keys[:4]) + ", ..." * (len(keys) > 4)
    raise Refusal(f"{where} holds the object with keys [{shown}]: {_TAGS_HELP}.")


def parse_json(text: str, where: str) -> Any:
    """Parse strict JSON: no NaN/Infinity, no overflowing numbers, no repeated keys.

    Raises :class:`Refusal` naming ``where`` for anything else.
    """

    def constant(name: str) -> None:
        raise Refusal(f"{where} holds {name}, which is not JSON.")

    def finite(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise Refusal(f"{where} holds the number {literal[:40]}, too large.")
        return value

    def unique(pairs: list[tuple[str, Any]]) -> dict:
        out = {}
        for key, value in pairs:
            if key in out:
                raise Refusal(f"{where} repeats the key {key[:80]!r}.")
            out[key] = value
        return out

    try:
        return json.loads(
            text, parse_constant=constant, parse_float=finite, object_pairs_hook=unique
        )
    except Refusal:
        raise
    except RecursionError:
        raise Refusal(f"{where} is nested too deeply.") from None
    except ValueError as error:  # JSONDecodeError, or an int of over 4300 digits
        raise Refusal(f"{where} is not valid JSON ({error}).") from None


def decode_json(text: str, where: str) -> Any:
    """:func:`parse_json` then :func:`_from_json`: what ``text`` tags, as it was."""
    try:
        return _from_json(parse_json(text, where), where)
    except RecursionError:
        raise Refusal(f"{where} is nested too deeply.") from None


def preview(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
