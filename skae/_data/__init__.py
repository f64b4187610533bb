"""The data layer: rows of X on their way into the network and out of it.

Reading (:mod:`.blocks`), scaling in float64 statistics (:mod:`.scaling`),
the training rows behind one interface (:mod:`.rows`, :mod:`.sparse`,
:mod:`.streamed`) and inference in tiles of bounded memory (:mod:`.tiles`).
Nothing here imports the rest of skae or scikit-learn.
"""

from __future__ import annotations

import scipy.sparse as sp
import torch

from .blocks import is_streamable
from .rows import DenseRows, Rows
from .scaling import Standardizer
from .sparse import SparseRows
from .streamed import StreamedRows


def make_rows(X, standardizer: Standardizer, device: torch.device) -> Rows:
    """The training rows of validated ``X`` (dense, sparse or memory-mapped)."""
    if sp.issparse(X):
        return SparseRows.from_scipy(X, standardizer, device)
    if is_streamable(X):
        return StreamedRows(X, standardizer, device)
    return DenseRows.from_numpy(X, standardizer, device)
