"""The neighbour graph and the neighbour-preserving objective."""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from skae import AutoencoderTransformer, VAETransformer
from skae._data import DenseRows
from skae._neighbors.graph import (
    NeighborGraph,
    fuzzy_union,
    memberships,
    nearest_neighbors,
    principal_directions,
    projected_neighbors,
)
from skae._neighbors.layout import (
    curve_parameters,
    optimize_layout,
    spectral_layout,
    umap_layout,
)
from skae._neighbors.loss import LayoutRows, Targeted, layout_distance


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def rows_of(X):
    return DenseRows(torch.from_numpy(X), None)


def test_nearest_neighbors_are_exact(digits):
    X, _ = digits
    # Blocks smaller than the data, not dividing it: every block path runs.
    d, i = nearest_neighbors(rows_of(X), 10, query_block=300, key_block=700)
    ref_d, ref_i = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    np.testing.assert_allclose(d.numpy(), ref_d[:, 1:], atol=1e-3)
    assert not (i.numpy() == np.arange(len(X))[:, None]).any()  # never itself
    # Ties aside, the same neighbours.
    agree = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(i.numpy(), ref_i, strict=True)]
    )
    assert agree > 0.99


@pytest.fixture(scope="module")
def wide_digits(digits):
    """The digits at 16x16 pixels (256 features, wider than 2 * PROJECTED_DIMS)."""
    X, y = digits
    big = np.kron(X.reshape(-1, 8, 8), np.ones((2, 2), np.float32))
    noise = np.random.RandomState(0).normal(0, 0.5, big.shape).astype(np.float32)
    return (big + noise).reshape(len(X), -1), y


def test_principal_directions_match_pca(wide_digits):
    from sklearn.decomposition import PCA

    X, _ = wide_digits
    mean, directions = principal_directions(rows_of(X), 10, torch.Generator())
    reference = PCA(10).fit(X)
    np.testing.assert_allclose(mean.numpy(), reference.mean_, atol=1e-3)
    # The same subspace: each direction lies in the reference's span (to the
    # precision of two power iterations), the leading ones closest.
    inside = np.linalg.norm(reference.components_ @ directions.numpy(), axis=0)
    np.testing.assert_allclose(inside, 1.0, atol=5e-3)
    np.testing.assert_allclose(inside[:3], 1.0, atol=1e-4)


def test_projected_neighbors_are_nearly_exact_with_exact_distances(wide_digits):
    X, _ = wide_digits
    gen = torch.Generator().manual_seed(0)
    d, i = projected_neighbors(rows_of(X), 10, gen, query_block=300)
    _, ref_i = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    recall = np.mean(
        [len(set(a) & set(b[1:])) / 10 for a, b in zip(i.numpy(), ref_i, strict=True)]
    )
    assert recall > 0.98
    assert not (i.numpy() == np.arange(len(X))[:, None]).any()
    # The distances are the exact ones of the neighbours found, nearest first.
    exact = np.linalg.norm(X[:, None] - X[i.numpy()], axis=-1)
    np.testing.assert_allclose(d.numpy(), exact, rtol=1e-4, atol=1e-3)
    assert (np.diff(d.numpy(), axis=1) >= 0).all()
    # Few candidates from a poor projection miss more neighbours.
    _, poor = projected_neighbors(rows_of(X), 10, gen, n_dims=2, n_candidates=10)
    poor_recall = np.mean(
        [
            len(set(a) & set(b[1:])) / 10
            for a, b in zip(poor.numpy(), ref_i, strict=True)
        ]
    )
    assert poor_recall < recall - 0.2


def test_graph_of_wide_rows_is_projected_and_reproducible(wide_digits):
    X, _ = wide_digits
    rows = rows_of(X[:500])
    one, two = (
        NeighborGraph.of_rows(rows, 10, torch.Generator().manual_seed(3))
        for _ in range(2)
    )
    for a, b in zip(
        (one.indptr, one.columns, one.values),
        (two.indptr, two.columns, two.values),
        strict=True,
    ):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="k must be"):
        projected_neighbors(rows, 500, torch.Generator())


def test_nearest_neighbors_rejects_k_beyond_the_rows():
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbors(rows_of(np.zeros((3, 2), np.float32)), 3)


def test_memberships_follow_umap(digits):
    X, _ = digits
    d, _ = nearest_neighbors(rows_of(X), 15)
    w = memberships(d)
    # Nearest neighbour at membership 1, each row's memberships sum to log2(k).
    np.testing.assert_allclose(w[:, 0].numpy(), 1.0)
    np.testing.assert_allclose(w.sum(1).numpy(), math.log2(15), rtol=1e-4)
    assert (w[:, 1:] <= w[:, :-1] + 1e-6).all()


def test_fuzzy_union_is_symmetric_and_probabilistic(digits):
    X, _ = digits
    d, i = nearest_neighbors(rows_of(X), 5)
    indptr, columns, values = fuzzy_union(i, memberships(d))
    n = len(X)
    A = torch.zeros(n, n)
    rows = torch.arange(n).repeat_interleave(indptr.diff())
    A[rows, columns] = values
    assert torch.equal(A, A.T)
    assert values.min() > 0 and values.max() <= 1
    # a + b - ab: an edge found in both directions weighs more than either.
    a = memberships(d)[0, 0]
    assert A[0, i[0, 0]] >= a - 1e-6


def five_nn(Z, y):
    return cross_val_score(KNeighborsClassifier(5), Z, y, cv=3).mean()


def test_umap_layout_separates_the_digits(digits):
    X, y = digits
    graph = NeighborGraph.of_rows(rows_of(X / 16), 15, torch.Generator())
    generator = torch.Generator().manual_seed(0)
    start = spectral_layout(graph, 2, generator)
    assert start.abs().max() == pytest.approx(10, rel=1e-3)  # umap-learn's range
    a, b = curve_parameters(0.1)
    Z = optimize_layout(graph, start, 200, a, b, generator)
    # Measured: 5-NN 0.75 on the spectral start, 0.97-0.98 after (umap-learn's
    # own layout of the digits: 0.97).
    assert five_nn(start.numpy(), y) < 0.85 < 0.95 < five_nn(Z.numpy(), y)


def test_umap_layout_is_reproducible_standardised_and_starts_where_told(digits):
    X, _ = digits
    graph = NeighborGraph.of_rows(rows_of(X[:300]), 10, torch.Generator())

    def layout(seed, start=None):
        generator = torch.Generator().manual_seed(seed)
        return umap_layout(graph, 2, generator, start)

    Z = layout(0)
    assert torch.equal(Z, layout(0)) and not torch.equal(Z, layout(1))
    torch.testing.assert_close(Z.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    assert Z.square().mean().item() == pytest.approx(1.0, rel=1e-5)
    # From a given start (a fitted encoder's codes) the layout stays close to
    # it, up to scale: a mirrored start gives a mirrored map.
    mirrored = layout(0, start=-Z)
    assert (
        torch.nn.functional.cosine_similarity(mirrored.flatten(), -Z.flatten(), 0) > 0.9
    )


def test_layout_rows_pair_each_row_with_its_target(digits):
    X, _ = digits
    rows = rows_of(X)
    targets = torch.arange(len(X), dtype=torch.float32)[:, None].repeat(1, 2)
    batches = list(
        LayoutRows(rows, targets).batches(500, True, torch.Generator().manual_seed(0))
    )
    assert all(isinstance(b, Targeted) for b in batches)
    seen = torch.cat([b.targets[:, 0] for b in batches]).long()
    assert sorted(seen.tolist()) == list(range(len(X)))  # each row once
    for batch in batches:
        torch.testing.assert_close(batch.rows, rows[batch.targets[:, 0].long()])


def test_curve_parameters_match_umap():
    a, b = curve_parameters(0.1)
    assert a == pytest.approx(1.577, abs=0.01) and b == pytest.approx(0.895, abs=0.01)


def test_layout_distance_is_quadratic_near_and_linear_far():
    z = torch.zeros(1, 2)
    near = layout_distance(z, torch.tensor([[0.05, 0.0]]))
    far, farther = (layout_distance(z, torch.tensor([[d, 0.0]])) for d in (5.0, 10.0))
    assert near.item() == pytest.approx(0.5 * 0.05**2 / 0.1)
    # Twice as far costs twice as much (a squared error would cost 4 times).
    assert (farther / far).item() == pytest.approx(2.0, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_neighbour_term_draws_neighbours_together(Estimator, digits):
    X, _ = digits
    X = X[:400]
    _, i = nearest_neighbors(rows_of(X), 10)
    rng = np.random.RandomState(0)

    def closeness(weight):
        """Mean code distance of neighbours over that of random pairs."""
        model = Estimator(
            2,
            neighbor_weight=weight,
            max_iter=60,
            batch_size=50,
            learning_rate="cosine",
            learning_rate_init=1e-2,
        )
        Z = model.set_params(random_state=0).fit_transform(X)
        near = np.linalg.norm(Z[:, None] - Z[i.numpy()], axis=-1).mean()
        far = np.linalg.norm(Z - Z[rng.permutation(len(Z))], axis=-1).mean()
        return near / far, model

    plain, _ = closeness(0.0)
    mapped, model = closeness(1.0)
    # Measured: 0.12-0.13 against 0.19-0.21 without the term.
    assert mapped < 0.75 * plain
    # The map still decodes and samples.
    assert model.inverse_transform(model.transform(X[:5])).shape == (5, 64)
    assert np.isfinite(model.sample(3, random_state=0)).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_neighbour_term_is_reproducible_and_picklable(digits):
    X, _ = digits
    model = AutoencoderTransformer(2, neighbor_weight=0.5, max_iter=3, random_state=0)
    a = model.fit_transform(X[:300])
    b = clone(model).fit_transform(X[:300])
    np.testing.assert_array_equal(a, b)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(X[:10]), a[:10])


def test_neighbour_term_needs_two_dense_samples(digits):
    X, _ = digits
    model = AutoencoderTransformer(2, neighbor_weight=1.0, max_iter=2)
    with pytest.raises(ValueError, match="1 sample"):
        model.fit(X[:1])
    with pytest.raises(ValueError, match="needs dense data"):
        model.fit(sp.csr_matrix(X[:50]))


def test_partial_fit_with_the_neighbour_term(digits):
    X, _ = digits
    model = VAETransformer(2, neighbor_weight=0.5, random_state=0)
    for block in np.array_split(X[:600], 3):
        model.partial_fit(block)
    assert model.n_iter_ == 3 and np.isfinite(model.loss_curve_).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_keeps_the_map(digits):
    X, _ = digits
    X = X[:400]
    model = AutoencoderTransformer(
        2, neighbor_weight=1.0, max_iter=40, learning_rate_init=1e-2, random_state=0
    )
    before = model.fit_transform(X)
    after = model.set_params(warm_start=True, max_iter=10).fit_transform(X)
    # The second layout starts from the fitted codes: the map keeps its
    # orientation instead of being redrawn (a fresh layout is any rotation).
    before, after = before - before.mean(0), after - after.mean(0)
    cosine = (before * after).sum() / np.linalg.norm(before) / np.linalg.norm(after)
    assert cosine > 0.8


def test_min_dist_sets_how_close_the_layout_packs_neighbours(digits, monkeypatch):
    import skae._estimators.neighbors as term

    X, _ = digits
    graph = NeighborGraph.of_rows(rows_of(X[:300] / 16), 10, torch.Generator())
    _, i = nearest_neighbors(rows_of(X[:300]), 1)

    def nearest_gap(min_dist):
        codes = umap_layout(graph, 2, torch.Generator().manual_seed(0), None, min_dist)
        return (codes - codes[i[:, 0]]).norm(dim=1).median().item()

    assert nearest_gap(0.9) > 2 * nearest_gap(0.0)
    # The estimators hand their min_dist to the layout.
    seen = []
    monkeypatch.setattr(
        term, "umap_layout", lambda *args: seen.append(args[-1]) or umap_layout(*args)
    )
    for Estimator in (AutoencoderTransformer, VAETransformer):
        Estimator(2, neighbor_weight=1.0, min_dist=0.4, max_iter=1, random_state=0).fit(
            X[:100]
        )
    assert seen == [0.4, 0.4]


def test_cosine_metric_compares_the_rows_directions(digits, monkeypatch):
    import skae._estimators.neighbors as term

    X, _ = digits
    X = X[:300]
    lengths = np.random.default_rng(0).uniform(0.1, 10.0, size=(300, 1))
    stretched = (X * lengths).astype(np.float32)
    generator = torch.Generator()
    cosine = NeighborGraph.of_rows(rows_of(X), 10, generator, "cosine")
    # Rows stretched to other lengths: the same cosine graph, another
    # Euclidean one.
    again = NeighborGraph.of_rows(rows_of(stretched), 10, generator, "cosine")
    assert torch.equal(cosine.columns, again.columns)
    torch.testing.assert_close(cosine.values, again.values, atol=1e-4, rtol=1e-4)
    euclidean = NeighborGraph.of_rows(rows_of(stretched), 10, generator)
    assert not torch.equal(euclidean.columns, again.columns)
    # The neighbours are those of scikit-learn's cosine distance.
    _, ref = NearestNeighbors(n_neighbors=11, metric="cosine").fit(X).kneighbors(X)
    found = [
        set(cosine.columns[a:b].tolist())
        for a, b in zip(cosine.indptr[:-1], cosine.indptr[1:], strict=True)
    ]
    assert (
        np.mean([len(set(r[1:]) & f) / 10 for r, f in zip(ref, found, strict=True)])
        > 0.99
    )
    with pytest.raises(ValueError, match="unknown metric"):
        NeighborGraph.of_rows(rows_of(X), 10, generator, "manhattan")
    # The estimators build the cosine graph of the rows in the caller's units
    # (not of their scaled, centred copies, whose directions differ).
    seen = []
    real = NeighborGraph.of_rows

    def of_rows(rows, k, generator, metric):
        seen.append((torch.cat(list(rows.split(4096))), metric))
        return real(rows, k, generator, metric)

    monkeypatch.setattr(term.NeighborGraph, "of_rows", of_rows)
    for Estimator in (AutoencoderTransformer, VAETransformer):
        Estimator(
            2, neighbor_weight=1.0, metric="cosine", max_iter=1, random_state=0
        ).fit(X[:100])
    assert [metric for _, metric in seen] == ["cosine", "cosine"]
    for rows, _ in seen:
        np.testing.assert_allclose(rows.numpy(), X[:100], atol=1e-4)
    with pytest.raises(ValueError, match="metric"):
        AutoencoderTransformer(2, neighbor_weight=1.0, metric="l1").fit(X[:50])
