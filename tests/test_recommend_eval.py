"""benchmarks/recommend_eval.py: the split, the metrics and the baselines."""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import recommend_eval as rec


def implicit(n_users=60, n_items=40, density=0.3, seed=0):
    rng = np.random.RandomState(seed)
    return sp.csr_array((rng.rand(n_users, n_items) < density).astype(np.float64))


# ---------------------------------------------------------------- metrics


def test_perfect_ranking():
    heldout = np.array([[0, 1, 0, 1, 0], [1, 0, 0, 0, 0]])
    scores = heldout + np.linspace(0, 0.1, 5)  # held-out items first
    for k in (1, 2, 5, 10):
        np.testing.assert_allclose(rec.recall_at_k(scores, heldout, k), 1.0)
        np.testing.assert_allclose(rec.ndcg_at_k(scores, heldout, k), 1.0)


def test_one_hit_at_rank_two():
    heldout = np.array([[0, 0, 0, 1, 0, 0]])
    scores = np.array([[0.1, 0.9, 0.2, 0.8, 0.3, 0.0]])  # item 3 ranked 2nd
    assert rec.recall_at_k(scores, heldout, 1)[0] == 0.0
    assert rec.recall_at_k(scores, heldout, 2)[0] == 1.0
    assert rec.ndcg_at_k(scores, heldout, 1)[0] == 0.0
    for k in (2, 3, 6):
        np.testing.assert_allclose(rec.ndcg_at_k(scores, heldout, k), 1 / np.log2(3))


def test_hits_at_ranks_one_and_three():
    # Ranking: item 4, 0, 2, 1, 3; held out: 4, 2 and 3 (ranks 1, 3 and 5).
    scores = np.array([[0.8, 0.4, 0.6, 0.2, 1.0]])
    heldout = sp.csr_array(np.array([[0, 0, 1, 1, 1]]))
    np.testing.assert_allclose(rec.recall_at_k(scores, heldout, 3), 2 / 3)
    np.testing.assert_allclose(rec.recall_at_k(scores, heldout, 2), 1 / 2)
    dcg = 1 + 1 / np.log2(4)
    np.testing.assert_allclose(
        rec.ndcg_at_k(scores, heldout, 3), dcg / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    )
    # k=2: only rank 1 counts, the ideal list has two hits.
    np.testing.assert_allclose(
        rec.ndcg_at_k(scores, heldout, 2), 1 / (1 + 1 / np.log2(3))
    )


def test_recall_normalised_by_min_k_and_heldout():
    heldout = np.array([[1, 1, 1, 1, 0, 0]])
    scores = np.array([[6, 5, 0, 0, 4, 3]], dtype=float)
    # 2 hits in the top 2 of 4 held-out items: 2 / min(2, 4) = 1.
    assert rec.recall_at_k(scores, heldout, 2)[0] == 1.0
    # 2 hits in the top 4: 2 / min(4, 4).
    assert rec.recall_at_k(scores, heldout, 4)[0] == 0.5


def reference(scores, heldout, k):
    """Recall and NDCG by sorting each row in full (scores without ties)."""
    recall, ndcg = [], []
    for s, h in zip(scores, heldout, strict=True):
        top = np.argsort(-s)[:k]
        relevant = set(np.flatnonzero(h))
        hits = [j in relevant for j in top]
        recall.append(sum(hits) / min(k, len(relevant)))
        dcg = sum(1 / np.log2(r + 2) for r, hit in enumerate(hits) if hit)
        idcg = sum(1 / np.log2(r + 2) for r in range(min(k, len(relevant))))
        ndcg.append(dcg / idcg)
    return np.array(recall), np.array(ndcg)


@pytest.mark.parametrize("k", [1, 3, 10, 25, 40, 100])
def test_metrics_match_full_sort(k):
    rng = np.random.RandomState(k)
    scores = rng.normal(size=(30, 40))
    heldout = (rng.rand(30, 40) < 0.15).astype(float)
    heldout[np.arange(30), rng.randint(0, 40, 30)] = 1  # a held-out item each
    recall, ndcg = reference(scores, heldout, k)
    np.testing.assert_allclose(rec.recall_at_k(scores, heldout, k), recall)
    np.testing.assert_allclose(rec.ndcg_at_k(scores, sp.csr_array(heldout), k), ndcg)


def test_user_without_heldout_is_nan_and_left_out():
    heldout = np.array([[0, 1, 0], [0, 0, 0]])
    scores = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]])
    assert np.isnan(rec.recall_at_k(scores, heldout, 2)[1])
    assert np.isnan(rec.ndcg_at_k(scores, heldout, 2)[1])
    metrics = rec.evaluate(scores, heldout, recall_ks=(1,), ndcg_ks=(2,))
    assert metrics == {"Recall@1": 1.0, "NDCG@2": 1.0, "n_users": 1}
    with pytest.raises(ValueError, match="No user has a held-out item"):
        rec.evaluate(scores, np.zeros((2, 3)))


def test_exclude_seen():
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    foldin = sp.csr_array(np.array([[1, 0, 0], [0, 0, 1]]))
    out = rec.exclude_seen(scores, foldin)
    assert out is scores
    np.testing.assert_array_equal(out, [[-np.inf, 2, 1], [1, 2, -np.inf]])
    heldout = np.array([[0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(rec.recall_at_k(out, heldout, 1), [1.0, 1.0])
    ints = rec.exclude_seen(np.array([[1, 2]]), np.array([[0, 1]]))
    np.testing.assert_array_equal(ints, [[1.0, -np.inf]])
    with pytest.raises(ValueError, match="X_foldin is"):
        rec.exclude_seen(scores, foldin[:1])


@pytest.mark.parametrize(
    "scores, heldout, k, match",
    [
        (np.zeros((2, 3)), np.zeros((2, 4)), 1, "same shape"),
        (np.zeros(3), np.zeros(3), 1, "same shape"),
        (np.full((1, 2), np.nan), np.ones((1, 2)), 1, "NaN"),
        (np.zeros((1, 2)), np.ones((1, 2)), 0, "positive integer"),
        (np.zeros((1, 2)), np.ones((1, 2)), 1.5, "positive integer"),
    ],
)
def test_metric_errors(scores, heldout, k, match):
    for metric in (rec.recall_at_k, rec.ndcg_at_k):
        with pytest.raises(ValueError, match=match):
            metric(scores, heldout, k)


# ---------------------------------------------------------------- the split


@pytest.mark.parametrize("validation", [True, False])
def test_split_users(validation):
    X = implicit().toarray()
    X[[0, 1]] = 0  # two users with no interaction are dropped
    X[2, 5:] = 0  # and one with at most 5
    X = sp.csr_array(X)
    split = rec.strong_generalization_split(
        X, 10, validation=validation, random_state=0
    )
    kept = np.flatnonzero(np.diff(X.indptr) >= 5)
    groups = [split.train_users, split.test_users]
    groups += [split.val_users] if validation else []
    everyone = np.concatenate(groups)
    assert len(everyone) == len(np.unique(everyone))  # disjoint
    np.testing.assert_array_equal(np.sort(everyone), kept)
    assert len(split.test_users) == 10
    assert len(split.train_users) == len(kept) - (20 if validation else 10)
    assert (split.X_val_foldin is None) is (not validation)
    assert split.X_train.shape == (len(split.train_users), split.item_index.size)
    train_rows = X[split.train_users][:, split.item_index].toarray()
    np.testing.assert_array_equal(split.X_train.toarray(), train_rows)


def test_split_items_are_those_of_training_users():
    X = implicit(n_items=45).toarray()
    X[:, 40:] = 0
    X[-1, 40:] = 1  # items 40..44 belong to user 59 only
    split = rec.strong_generalization_split(sp.csr_array(X), 5, random_state=1)
    has = np.flatnonzero(X[split.train_users].sum(axis=0))
    np.testing.assert_array_equal(split.item_index, has)
    if 59 in split.train_users:
        assert set(range(40, 45)) <= set(split.item_index)
    else:
        assert not set(range(40, 45)) & set(split.item_index)


@pytest.mark.parametrize("test_prop", [0.2, 0.5])
def test_split_heldout_users_partition(test_prop):
    X = implicit(density=0.25, seed=3)
    X.data[:] = np.arange(1, X.nnz + 1)  # values survive the split
    split = rec.strong_generalization_split(X, 8, test_prop=test_prop, random_state=2)
    for name in ("val", "test"):
        users = split[f"{name}_users"]
        full = X[users][:, split.item_index].toarray()
        foldin = split[f"X_{name}_foldin"].toarray()
        heldout = split[f"X_{name}_heldout"].toarray()
        assert not ((foldin != 0) & (heldout != 0)).any()
        np.testing.assert_array_equal(foldin + heldout, full)
        n = (full != 0).sum(axis=1)
        expected = np.where(n >= 5, (test_prop * n).astype(int), 0)
        np.testing.assert_array_equal((heldout != 0).sum(axis=1), expected)


def test_split_small_users_all_fold_in():
    """Users with fewer than 5 items hold nothing out (the paper's rule)."""
    X = np.zeros((30, 12))
    X[:, :2] = 1  # everyone has items 0 and 1
    X[20:, 2:4] = 1  # users 20..29 have 4 items
    X[:10, 2:12] = 1  # users 0..9 have 12 items
    split = rec.strong_generalization_split(
        sp.csr_array(X), 10, validation=False, min_user_items=0, random_state=0
    )
    n = (X[split.test_users][:, split.item_index] != 0).sum(axis=1)
    n_heldout = np.diff(split.X_test_heldout.indptr)
    np.testing.assert_array_equal(n_heldout, np.where(n >= 5, int(0.2 * 12), 0))


def test_split_reproducible_and_input_untouched():
    X = implicit()
    before = X.copy()
    a = rec.strong_generalization_split(X, 10, random_state=0)
    b = rec.strong_generalization_split(X, 10, random_state=0)
    c = rec.strong_generalization_split(X, 10, random_state=1)
    assert (X != before).nnz == 0
    np.testing.assert_array_equal(a.test_users, b.test_users)
    assert (a.X_test_heldout != b.X_test_heldout).nnz == 0
    assert not np.array_equal(a.test_users, c.test_users)


def test_split_proportion_on_many_users():
    split = rec.strong_generalization_split(
        implicit(400, 100, 0.3), 100, random_state=0
    )
    n_heldout = split.X_test_heldout.nnz
    n_all = n_heldout + split.X_test_foldin.nnz
    assert 0.18 < n_heldout / n_all <= 0.2  # int() rounds each user down


def test_split_errors():
    with pytest.raises(ValueError, match="Cannot hold out 2 x 30 users"):
        rec.strong_generalization_split(implicit(), 30)
    with pytest.raises(ValueError, match="test_prop"):
        rec.strong_generalization_split(implicit(), 5, test_prop=1.0)


# ---------------------------------------------------------------- baselines


def test_popularity():
    X = np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 1, 0, 1], [1, 1, 1, 1]])
    model = rec.Popularity().fit(sp.csr_array(X))
    np.testing.assert_array_equal(model.counts_, [2, 4, 1, 3])
    foldin = np.array([[0, 1, 0, 0], [0, 0, 0, 0]])
    scores = rec.exclude_seen(model.scores(foldin), foldin)
    assert scores.shape == (2, 4)
    np.testing.assert_array_equal(np.argsort(-scores[1]), [1, 3, 0, 2])
    np.testing.assert_array_equal(np.argsort(-scores[0])[:3], [3, 0, 2])


def test_ease_matches_per_item_ridge_regressions():
    """EASE's column j is the ridge regression of item j on the other items."""
    X = implicit(12, 6, 0.5, seed=4).toarray()
    l2 = 3.0
    model = rec.EASE(l2=l2).fit(sp.csr_array(X))
    expected = np.zeros((6, 6))
    for j in range(6):
        others = [i for i in range(6) if i != j]
        A = X[:, others]
        coef = np.linalg.solve(A.T @ A + l2 * np.eye(5), A.T @ X[:, j])
        expected[others, j] = coef
    np.testing.assert_allclose(model.coef_, expected, atol=1e-12)
    # and B = I - P / diag(P) with P = (X^T X + l2 I)^-1, diagonal zeroed
    P = np.linalg.inv(X.T @ X + l2 * np.eye(6))
    direct = np.eye(6) - P / np.diag(P)[None, :]
    np.fill_diagonal(direct, 0)
    np.testing.assert_allclose(model.coef_, direct, atol=1e-12)
    foldin = X[:3]
    np.testing.assert_allclose(model.scores(sp.csr_array(foldin)), foldin @ direct)


def test_svd_full_rank_reconstructs():
    X = implicit(30, 8, 0.5, seed=5)
    model = rec.SVDRecommender(n_components=7).fit(X)
    assert model.scores(X[:4]).shape == (4, 8)
    full = rec.SVDRecommender(n_components=8).fit(X)
    np.testing.assert_allclose(full.scores(X[:4]), X[:4].toarray(), atol=1e-8)


def test_baselines_recommend_the_users_group():
    """Two taste groups: EASE and SVD recommend items of the user's own group."""
    rng = np.random.RandomState(0)
    X = np.zeros((200, 40))
    X[:100, :20] = rng.rand(100, 20) < 0.5
    X[100:, 20:] = rng.rand(100, 20) < 0.5
    split = rec.strong_generalization_split(sp.csr_array(X), 30, random_state=0)
    group = split.test_users >= 100
    item_group = split.item_index >= 20
    for model in (rec.EASE(l2=10.0), rec.SVDRecommender(n_components=2)):
        scores = model.fit(split.X_train).scores(split.X_test_foldin)
        rec.exclude_seen(scores, split.X_test_foldin)
        top = np.argsort(-scores, axis=1)[:, :5]
        assert (item_group[top] == group[:, None]).all(), model
        metrics = rec.evaluate(scores, split.X_test_heldout, recall_ks=(5,))
        assert metrics["n_users"] == 30 and metrics["Recall@5"] > 0.4
