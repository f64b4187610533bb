"""What a checkpoint is bound to: the fit's estimator, parameters and data.

A checkpoint (``checkpoint=``) is resumed only by a fit of the same class
with the same parameters on the same rows; :func:`fingerprint` hashes them
to one string. Callables (a builder, a corruption) count by their name and
arguments, not by their address, which changes from process to process.
"""

from __future__ import annotations

import functools
import hashlib
from numbers import Integral

import numpy as np
import scipy.sparse as sp

# Parameters that do not change the model a fit gives.
_IGNORED = ("checkpoint", "checkpoint_every", "verbose")


def stable(value: object) -> str:
    """A description of a parameter's value that is the same in every process."""
    if isinstance(value, functools.partial):
        args = ", ".join(map(stable, value.args))
        keywords = ", ".join(
            f"{k}={stable(v)}" for k, v in sorted(value.keywords.items())
        )
        return f"partial({stable(value.func)}, {args}; {keywords})"
    if callable(value) and hasattr(value, "__code__"):
        # A function: its name and its code (two lambdas differ by their code).
        code = value.__code__
        body = hashlib.sha256(code.co_code + repr(code.co_consts).encode())
        return f"{value.__module__}.{value.__qualname__}<{body.hexdigest()[:16]}>"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    if callable(value) and hasattr(value, "__dict__"):
        # An instance of a callable class: its class and attributes.
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}({stable(vars(value))})"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{k!r}: {stable(v)}" for k, v in sorted(value.items()))
            + "}"
        )
    if isinstance(value, list | tuple):
        return "(" + ", ".join(map(stable, value)) + ")"
    if isinstance(value, np.ndarray):
        return f"array({value.tolist()!r})"
    return repr(value)


def _update_with_rows(h, X) -> None:
    if sp.issparse(X):
        h.update(f"sparse {X.format} {X.shape} {X.dtype}|".encode())
        for part in (X.data, X.indices, X.indptr):
            h.update(np.ascontiguousarray(part).view(np.uint8))
        return
    h.update(f"dense {X.shape} {X.dtype}|".encode())
    for start in range(0, X.shape[0], 65536):  # memory maps block by block
        h.update(np.ascontiguousarray(X[start : start + 65536]).view(np.uint8))


def fingerprint(estimator, X, y=None) -> str:
    """SHA-256 of ``estimator``'s class and parameters and of the rows ``X``.

    Raises ValueError when ``random_state`` is a ``RandomState`` instance,
    whose state a new process cannot repeat.
    """
    params = estimator.get_params(deep=False)
    seed = params.get("random_state")
    if seed is not None and not isinstance(seed, Integral):
        raise ValueError(
            "checkpoint needs random_state to be an int or None: a resumed fit "
            "cannot repeat the draws of a RandomState instance."
        )
    h = hashlib.sha256(type(estimator).__qualname__.encode())
    for name in sorted(params):
        if name not in _IGNORED:
            h.update(f"|{name}={stable(params[name])}".encode())
    _update_with_rows(h, X)
    if y is not None:
        h.update(b"|y|")
        h.update(np.ascontiguousarray(np.asarray(y)).view(np.uint8))
    return h.hexdigest()
