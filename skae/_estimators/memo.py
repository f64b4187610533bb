"""What inference computes once per fitted model (tile plans, the padded
copy of the network), kept outside the estimator by :func:`model_memo`."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

from torch import nn


class ModelMemo:
    """What inference computes once per fitted model, by key.

    Belongs to ``module`` with its weights as they are now and to ``extra``
    (e.g. the identities of the fitted scaling arrays); see
    :func:`model_memo`. Two threads may build the same value at once; one of
    the two equal results is kept.
    """

    def __init__(self, module: nn.Module, extra: tuple) -> None:
        self.module = module
        self.extra = extra
        self.tensors = [*module.parameters(), *module.buffers()]
        self.versions = self._versions()
        self.values: dict[Hashable, Any] = {}

    def _versions(self) -> list[tuple[int, int]]:
        # Where each weight lives and its version counter: they change
        # whenever a weight is modified in place or moved.
        return [(t.data_ptr(), t._version) for t in self.tensors]

    def matches(self, module: nn.Module, extra: tuple) -> bool:
        """Whether the memo still describes ``module`` and ``extra``."""
        return (
            module is self.module
            and extra == self.extra
            and self._versions() == self.versions
        )

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value of ``key``, built by ``build()`` the first time."""
        try:
            return self.values[key]
        except KeyError:
            value = self.values[key] = build()
            return value


_MEMOS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_memo(owner: object, module: nn.Module, extra: tuple = ()) -> ModelMemo:
    """The :class:`ModelMemo` of ``owner`` (an estimator) for its fitted ``module``.

    Kept outside the estimator (a pickle, a clone or ``vars(estimator)``
    never see it) for as long as the estimator lives; a refit, weights
    changed in place or moved to another device, or another ``extra``
    start a new memo.
    """
    memo = _MEMOS.get(owner)
    if memo is None or not memo.matches(module, extra):
        memo = _MEMOS[owner] = ModelMemo(module, extra)
    return memo
