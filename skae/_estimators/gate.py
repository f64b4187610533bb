"""How many inference calls of one fitted model run at once.

A call on a few rows is mostly Python (validation, tiling), which holds the
GIL, between small torch operations, each of which releases and takes it
back. Many request threads calling one model at once then hand the GIL to
each other at every operation (a convoy): on 2 CPU cores, 8 threads
answered fewer calls per second than 1 (``docs/serving.md``). The gate lets
``max(1, cpus // (2 * torch threads))`` calls of a model run at once (each
running call needs its torch threads and a core for its Python); the others
wait on a lock (a semaphore for more than one call), which neither holds
the GIL nor spins. On 2 cores that
is one call at a time, while the waiting threads' own work (a server's
parsing, a pool's bookkeeping) runs beside it. A model's gate is sized at
its first gated call (set ``torch.set_num_threads`` before serving) and
kept for as long as the estimator lives; a forked child starts with new,
open gates.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)

_GATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CREATE = threading.Lock()
_INSIDE = threading.local()  # the models whose gate this thread holds


@functools.cache
def _cpus() -> int:
    """CPUs this process may run on (read once)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gate_size(cpus: int | None = None, threads: int | None = None) -> int:
    """Calls of one model that run at once: ``cpus // (2 * threads)``, at least 1.

    ``cpus`` defaults to the CPUs this process may run on, ``threads`` to
    torch's intra-op threads now.
    """
    cpus = _cpus() if cpus is None else cpus
    threads = torch.get_num_threads() if threads is None else threads
    return max(1, cpus // (2 * threads))


def _gate(owner: object):
    """``owner``'s gate, made at its first call: a lock for one call at a time
    (taken in C, without a semaphore's Python), else a semaphore. Kept
    outside the estimator: a pickle, a clone or ``vars(estimator)`` never
    see it."""
    gate = _GATES.get(owner)
    if gate is not None:
        return gate
    with _CREATE:
        size = gate_size()
        made = threading.Lock() if size == 1 else threading.BoundedSemaphore(size)
        return _GATES.setdefault(owner, made)


def _after_fork() -> None:
    # A lock copied into a child while a thread of the parent held it would
    # never be released there.
    global _CREATE, _INSIDE
    _GATES.clear()
    _CREATE = threading.Lock()
    _INSIDE = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def gated(method: F) -> F:
    """``method`` of an estimator run under the estimator's gate.

    A call made from inside another gated call of the same estimator (``score``
    calls ``score_samples``) runs at once.
    """

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        held = getattr(_INSIDE, "owners", None)
        if held is None:
            held = _INSIDE.owners = set()
        if id(self) in held:
            return method(self, *args, **kwargs)
        with _gate(self):
            held.add(id(self))
            try:
                return method(self, *args, **kwargs)
            finally:
                held.discard(id(self))

    return call  # type: ignore[return-value]
