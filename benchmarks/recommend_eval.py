"""Evaluation of top-k recommendation from implicit feedback, and baselines.

The protocol of Liang, Krishnan, Hoffman and Jebara, "Variational
autoencoders for collaborative filtering" (WWW 2018), as their public
``vae_cf`` notebook implements it (strong generalization):

* :func:`strong_generalization_split` holds out whole users; each held-out
  user's items are split into a fold-in part, shown to the model, and a
  held-out part, to be predicted;
* :func:`recall_at_k` and :func:`ndcg_at_k` score the ranking of all items
  against the held-out part, per user; :func:`evaluate` averages them;
* :class:`Popularity`, :class:`SVDRecommender` and :class:`EASE` (Steck, WWW
  2019) are the baselines: ``fit(X_train)``, then ``scores(X_foldin)``.

Only numpy, scipy and scikit-learn. ``python benchmarks/recommend_eval.py``
runs the baselines on MovieLens-100k (ratings >= 4 as positives) over several
seeds of the split and prints a table; ``--help`` lists the settings.
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "EASE",
    "Popularity",
    "SVDRecommender",
    "evaluate",
    "exclude_seen",
    "ndcg_at_k",
    "recall_at_k",
    "strong_generalization_split",
]


def no_dirs(text: str) -> str:
    """``text`` with the folders of any absolute path left out (pages carry no
    path of the machine that made them)."""
    return re.sub(r"(?<![\w.])/(?:[^\s/]+/)+", "", text)


# --------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------


def _row_counts(X: sp.csr_array) -> np.ndarray:
    return np.diff(X.indptr)


def _split_user_items(
    X: sp.csr_array, test_prop: float, rng: np.random.RandomState
) -> tuple[sp.csr_array, sp.csr_array]:
    """Each row's entries into fold-in and held-out, as the paper's code does.

    A row with at least 5 entries sends ``int(test_prop * n)`` of them, drawn
    at random without replacement, to the held-out part and the rest to the
    fold-in part; a row with fewer than 5 entries goes entirely to fold-in.
    """
    heldout = np.zeros(X.nnz, dtype=bool)
    for i, n in enumerate(_row_counts(X)):
        if n >= 5:
            chosen = rng.choice(n, size=int(test_prop * n), replace=False)
            heldout[X.indptr[i] + chosen] = True
    return _keep_entries(X, ~heldout), _keep_entries(X, heldout)


def _keep_entries(X: sp.csr_array, keep: np.ndarray) -> sp.csr_array:
    """The CSR array with only the stored entries flagged in ``keep``."""
    rows = np.repeat(np.arange(X.shape[0]), _row_counts(X))
    out = sp.csr_array(
        (X.data[keep], (rows[keep], X.indices[keep])), shape=X.shape, dtype=X.dtype
    )
    out.sort_indices()
    return out


def _as_csr(X) -> sp.csr_array:
    """A canonical CSR copy: no duplicates, no stored zeros, sorted indices."""
    X = sp.csr_array(X, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    X.sort_indices()
    return X


def strong_generalization_split(
    X,
    n_heldout_users,
    *,
    test_prop=0.2,
    validation=True,
    min_user_items=5,
    random_state=None,
):
    """Hold out users for validation and test, as in the Mult-VAE paper.

    Follows the ``vae_cf`` notebook of Liang et al. (WWW 2018):

    1. drop the users with fewer than ``min_user_items`` entries (the
       notebook's ``filter_triplets(min_uc=5)``);
    2. shuffle the users; the last ``n_heldout_users`` are the test users,
       the ``n_heldout_users`` before them (if ``validation``) the
       validation users, and all the others the training users, whose
       entries are all used for training;
    3. keep only the items that some training user has (the notebook's
       ``unique_sid``), in their original order; the held-out users' entries
       on other items are dropped;
    4. split each held-out user's entries: ``int(test_prop * n)`` of them,
       drawn at random, are held out (to be predicted) and the rest are the
       fold-in (what the model sees). A user left with fewer than 5 entries
       puts them all in the fold-in and has nothing held out
       (``split_train_test_proportion``); the metrics give such a user NaN
       and :func:`evaluate` leaves them out.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        The user-item interactions; nonzero entries are interactions and
        keep their values (binarize first for implicit feedback, e.g. with
        ``load_movielens_100k(min_rating=4)``).

    n_heldout_users : int
        How many users to hold out for test, and as many for validation.

    test_prop : float, default=0.2
        The proportion of each held-out user's entries to hold out.

    validation : bool, default=True
        Also hold out ``n_heldout_users`` validation users.

    min_user_items : int, default=5
        Users with fewer entries are dropped first; 0 keeps every user.

    random_state : int, RandomState instance or None, default=None
        Draws the user permutation and the per-user splits.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        ``X_train`` (n_train_users, n_kept_items); ``X_test_foldin`` and
        ``X_test_heldout`` (n_heldout_users, n_kept_items), which partition
        the test users' entries on the kept items; ``X_val_foldin`` and
        ``X_val_heldout`` likewise (None without ``validation``); all
        ``scipy.sparse.csr_array``. ``train_users``, ``val_users`` and
        ``test_users`` are the rows of ``X`` behind each row (in shuffled
        order), ``item_index`` the columns of ``X`` kept.

    Examples
    --------
    >>> import numpy as np
    >>> X = (np.random.RandomState(0).rand(50, 30) < 0.4).astype(float)
    >>> split = strong_generalization_split(X, 10, random_state=0)
    >>> split.X_train.shape, split.X_test_foldin.shape
    ((30, 30), (10, 30))
    """
    X = _as_csr(X)
    if not 0 <= test_prop < 1:
        raise ValueError(f"test_prop must be in [0, 1), got {test_prop!r}.")
    rng = check_random_state(random_state)
    users = np.flatnonzero(_row_counts(X) >= min_user_items)
    n_sets = 2 if validation else 1
    if not 0 < n_heldout_users * n_sets < len(users):
        raise ValueError(
            f"Cannot hold out {n_sets} x {n_heldout_users} users out of the "
            f"{len(users)} users with at least {min_user_items} entries."
        )
    users = users[rng.permutation(len(users))]
    n_train = len(users) - n_sets * n_heldout_users
    train_users, heldout = users[:n_train], users[n_train:]
    items = np.flatnonzero(np.bincount(X[train_users].indices, minlength=X.shape[1]))
    split = Bunch(
        X_train=_as_csr(X[train_users][:, items]),
        train_users=train_users,
        item_index=items,
        val_users=heldout[:n_heldout_users] if validation else None,
        test_users=heldout[-n_heldout_users:],
        X_val_foldin=None,
        X_val_heldout=None,
    )
    for name in ("val", "test") if validation else ("test",):
        rows = _as_csr(X[split[f"{name}_users"]][:, items])
        split[f"X_{name}_foldin"], split[f"X_{name}_heldout"] = _split_user_items(
            rows, test_prop, rng
        )
    return split


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def exclude_seen(scores, X_foldin):
    """Set the scores of the fold-in items to -inf, so they are never ranked.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        The scores, modified in place when a float array.

    X_foldin : {array-like, sparse matrix} of shape (n_users, n_items)
        The items each user has already (nonzero entries).

    Returns
    -------
    scores : ndarray of shape (n_users, n_items)
        float64 (or the float dtype given), with -inf on the fold-in items.
    """
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    X_foldin = sp.coo_array(X_foldin)
    if X_foldin.shape != scores.shape:
        raise ValueError(f"X_foldin is {X_foldin.shape}, scores {scores.shape}.")
    nonzero = X_foldin.data != 0
    scores[X_foldin.row[nonzero], X_foldin.col[nonzero]] = -np.inf
    return scores


def _check_scores(scores, heldout, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense float scores and the dense boolean relevance, checked."""
    scores = np.asarray(scores, dtype=np.float64)
    relevant = (heldout.toarray() if sp.issparse(heldout) else np.asarray(heldout)) != 0
    if scores.ndim != 2 or scores.shape != relevant.shape:
        raise ValueError(
            f"scores {scores.shape} and heldout {relevant.shape} must be two "
            "matrices of the same shape (n_users, n_items)."
        )
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN.")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return scores, relevant


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the k highest scores, best first.

    Ties are broken arbitrarily, as by the paper's ``argpartition``.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _per_user(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (no held-out)."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def recall_at_k(scores, heldout, k):
    """Recall@k of each user, as in the Mult-VAE paper's code.

    The number of held-out items among the k highest-scored items, divided by
    ``min(k, number of held-out items)`` (so a perfect ranking scores 1 even
    when a user has more than k held-out items).

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Higher is better; set the fold-in items to -inf first
        (:func:`exclude_seen`).

    heldout : {array-like, sparse matrix} of shape (n_users, n_items)
        The held-out items (nonzero entries are relevant).

    k : int
        The length of the recommended list.

    Returns
    -------
    recall : ndarray of shape (n_users,)
        In [0, 1]; NaN for a user with no held-out item.
    """
    scores, relevant = _check_scores(scores, heldout, k)
    top = _top_k(scores, k)
    hits = np.take_along_axis(relevant, top, axis=1).sum(axis=1)
    return _per_user(hits.astype(np.float64), np.minimum(k, relevant.sum(axis=1)))


def ndcg_at_k(scores, heldout, k):
    """NDCG@k of each user with binary relevance, as in the Mult-VAE paper's code.

    DCG@k is the sum over the ranks ``r = 1..k`` of the recommended list of
    ``1 / log2(r + 1)`` where the item at rank r is held out; it is divided
    by the ideal DCG, that of a list whose first ``min(k, n_heldout)``
    items are all held out.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Higher is better; set the fold-in items to -inf first
        (:func:`exclude_seen`).

    heldout : {array-like, sparse matrix} of shape (n_users, n_items)
        The held-out items (nonzero entries are relevant).

    k : int
        The length of the recommended list.

    Returns
    -------
    ndcg : ndarray of shape (n_users,)
        In [0, 1]; NaN for a user with no held-out item.
    """
    scores, relevant = _check_scores(scores, heldout, k)
    top = _top_k(scores, k)
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = (np.take_along_axis(relevant, top, axis=1) * discount).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])
    n_ideal = np.minimum(relevant.sum(axis=1), top.shape[1])
    return _per_user(dcg, ideal[n_ideal])


def evaluate(scores, heldout, *, recall_ks=(20, 50), ndcg_ks=(100,)):
    """Mean Recall@k and NDCG@k over the users with a held-out item.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        With the fold-in items at -inf (:func:`exclude_seen`).

    heldout : {array-like, sparse matrix} of shape (n_users, n_items)
        The held-out items.

    recall_ks, ndcg_ks : tuple of int, default=(20, 50) and (100,)
        The cut-offs.

    Returns
    -------
    metrics : dict
        ``{"Recall@20": ..., "Recall@50": ..., "NDCG@100": ...,
        "n_users": ...}``, the means over the ``n_users`` users who have at
        least one held-out item.
    """
    has_heldout = _check_scores(scores, heldout, 1)[1].any(axis=1)
    if not has_heldout.any():
        raise ValueError("No user has a held-out item.")
    metrics = {}
    for name, metric, ks in (
        ("Recall", recall_at_k, recall_ks),
        ("NDCG", ndcg_at_k, ndcg_ks),
    ):
        for k in ks:
            values = metric(scores, heldout, k)
            metrics[f"{name}@{k}"] = float(values[has_heldout].mean())
    metrics["n_users"] = int(has_heldout.sum())
    return metrics


# --------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------


class Popularity:
    """Recommend the items most training users have, to everyone.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1]])
    >>> Popularity().fit(X).scores(np.zeros((1, 3)))
    array([[1., 3., 1.]])
    """

    def fit(self, X_train):
        """Count, for each item, the training users who have it.

        Parameters
        ----------
        X_train : {array-like, sparse matrix} of shape (n_users, n_items)
            The training interactions (nonzero entries).

        Returns
        -------
        self : Popularity
        """
        X = _as_csr(X_train)
        self.counts_ = np.bincount(X.indices, minlength=X.shape[1]).astype(float)
        return self

    def scores(self, X_foldin):
        """The item counts, the same for every user.

        Parameters
        ----------
        X_foldin : {array-like, sparse matrix} of shape (n_users, n_items)
            The fold-in interactions (only their number of rows is used).

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
        """
        return np.tile(self.counts_, (X_foldin.shape[0], 1))


class SVDRecommender:
    """Truncated SVD of the training matrix; fold-in by projection.

    ``scores(X_foldin)`` is ``svd.inverse_transform(svd.transform(X_foldin))``:
    the fold-in rows projected on the top ``n_components`` right singular
    vectors of the training matrix and mapped back to the items (PureSVD,
    Cremonesi et al., RecSys 2010).

    Parameters
    ----------
    n_components : int, default=50
        The rank.

    random_state : int or None, default=0
        Seeds :class:`~sklearn.decomposition.TruncatedSVD`'s randomized solver.
    """

    def __init__(self, n_components=50, random_state=0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X_train):
        """Fit the truncated SVD on the training interactions.

        Parameters
        ----------
        X_train : {array-like, sparse matrix} of shape (n_users, n_items)
            The training interactions.

        Returns
        -------
        self : SVDRecommender
        """
        self.svd_ = TruncatedSVD(self.n_components, random_state=self.random_state)
        self.svd_.fit(_as_csr(X_train).astype(np.float64))
        return self

    def scores(self, X_foldin):
        """The rank-``n_components`` reconstruction of the fold-in rows.

        Parameters
        ----------
        X_foldin : {array-like, sparse matrix} of shape (n_users, n_items)
            The fold-in interactions.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
        """
        X = _as_csr(X_foldin).astype(np.float64)
        return self.svd_.inverse_transform(self.svd_.transform(X))


class EASE:
    """Embarrassingly shallow autoencoder (Steck, WWW 2019).

    With ``G = X^T X + l2 I`` and ``P = G^-1``, the item-item weights are
    ``B = I - P / diag(P)`` (column j divided by ``P[j, j]``), whose diagonal
    is zero: the closed-form ridge regression of each item on all the others
    with the constraint that an item does not predict itself. The scores are
    ``X_foldin @ B``.

    Parameters
    ----------
    l2 : float, default=500.0
        The ridge penalty lambda (Steck uses 500 on ML-20M; tune it on
        validation users).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]])
    >>> B = EASE(l2=1.0).fit(X).coef_
    >>> bool(np.allclose(np.diag(B), 0))
    True
    """

    def __init__(self, l2=500.0):
        self.l2 = l2

    def fit(self, X_train):
        """Compute the item-item weights ``coef_`` from the Gram matrix.

        Parameters
        ----------
        X_train : {array-like, sparse matrix} of shape (n_users, n_items)
            The training interactions.

        Returns
        -------
        self : EASE
        """
        X = _as_csr(X_train).astype(np.float64)
        gram = (X.T @ X).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        P = np.linalg.inv(gram)
        B = -P / np.diag(P)
        B[np.diag_indices_from(B)] = 0.0
        self.coef_ = B
        return self

    def scores(self, X_foldin):
        """``X_foldin @ coef_``.

        Parameters
        ----------
        X_foldin : {array-like, sparse matrix} of shape (n_users, n_items)
            The fold-in interactions.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
        """
        return np.asarray(_as_csr(X_foldin).astype(np.float64) @ self.coef_)


# --------------------------------------------------------------------------
# The baselines on MovieLens-100k
# --------------------------------------------------------------------------

BASELINES = {
    "Popularity": (Popularity, None, [None]),
    "SVD": (SVDRecommender, "n_components", [5, 10, 20, 50, 100, 200]),
    "EASE": (EASE, "l2", [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]),
}
SELECT_BY = "NDCG@100"


def _fit_score(model, split: Bunch, name: str) -> dict:
    scores = model.scores(split[f"X_{name}_foldin"])
    exclude_seen(scores, split[f"X_{name}_foldin"])
    return evaluate(scores, split[f"X_{name}_heldout"])


def _make(cls: type, param: str | None, value) -> object:
    return cls() if param is None else cls(**{param: value})


def run_baseline(name: str, split: Bunch) -> dict:
    """Tune one baseline on the validation users, then score the test users."""
    cls, param, grid = BASELINES[name]
    best, best_value = -np.inf, None
    for value in grid:
        model = _make(cls, param, value).fit(split.X_train)
        ndcg = _fit_score(model, split, "val")[SELECT_BY]
        if ndcg > best:
            best, best_value = ndcg, value
    model = _make(cls, param, best_value).fit(split.X_train)
    return {**_fit_score(model, split, "test"), "param": best_value}


def _table(results: dict[str, list[dict]], metrics: list[str]) -> str:
    lines = [
        "| model | " + " | ".join(metrics) + " | chosen on validation |",
        "|---|" + "---:|" * len(metrics) + "---|",
    ]
    for name, runs in results.items():
        cells = []
        for metric in metrics:
            values = np.array([run[metric] for run in runs])
            cells.append(f"{values.mean():.4f} ± {values.std(ddof=1):.4f}")
        param = BASELINES[name][1]
        chosen = (
            "-"
            if param is None
            else f"{param} = " + ", ".join(f"{run['param']:g}" for run in runs)
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {chosen} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--min-rating", type=float, default=4.0)
    parser.add_argument("--n-heldout-users", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    from skae.datasets import load_movielens_100k

    begin = time.perf_counter()
    ml = load_movielens_100k(args.data_home, min_rating=args.min_rating)
    print(
        f"{no_dirs(ml.source)}: ratings >= {args.min_rating:g} as positives, "
        f"{ml.data.shape[0]} users x {ml.data.shape[1]} items, {ml.data.nnz} "
        f"positives; {args.n_heldout_users} test and {args.n_heldout_users} "
        f"validation users per seed, seeds {args.seeds}; hyperparameters chosen "
        f"by validation {SELECT_BY}."
    )
    results = {name: [] for name in BASELINES}
    for seed in args.seeds:
        split = strong_generalization_split(
            ml.data, args.n_heldout_users, random_state=seed
        )
        for name in BASELINES:
            results[name].append(run_baseline(name, split))
        print(
            f"seed {seed}: {split.X_train.shape[0]} train users, "
            f"{split.item_index.size} items, "
            f"{results['EASE'][-1]['n_users']} test users with held-out items",
            flush=True,
        )
    print(_table(results, ["Recall@20", "Recall@50", "NDCG@100"]))
    print(f"{time.perf_counter() - begin:.1f} s")


if __name__ == "__main__":
    main()
