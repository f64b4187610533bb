"""The neighbour graph and the neighbour-preserving objective."""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

from skae import AutoencoderTransformer, VAETransformer
from skae._neighbor_loss import curve_parameters, fuzzy_cross_entropy
from skae._neighbors import (
    GraphRows,
    NeighborGraph,
    Pairs,
    fuzzy_union,
    memberships,
    nearest_neighbors,
)
from skae._rows import DenseRows


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


def test_sampled_neighbours_follow_the_edge_weights():
    # Row 0 has edges to 1 (weight 0.75) and 2 (weight 0.25).
    indptr = torch.tensor([0, 2, 3, 4])
    graph = NeighborGraph(
        indptr, torch.tensor([1, 2, 0, 0]), torch.tensor([0.75, 0.25, 0.75, 0.25])
    )
    generator = torch.Generator().manual_seed(0)
    tails = graph.sample(torch.zeros(20000, dtype=torch.long), generator)
    assert set(tails.tolist()) == {1, 2}
    assert abs((tails == 1).float().mean().item() - 0.75) < 0.02
    # Rows drawn as heads weigh as their edges do, relative to the mean row.
    np.testing.assert_allclose(graph.row_weights.numpy(), [1.5, 1.125, 0.375])


def test_graph_rows_pair_each_row_with_a_neighbour(digits):
    X, _ = digits
    rows = rows_of(X)
    graph = NeighborGraph.of_rows(rows, 5)
    pairs = list(
        GraphRows(rows, graph).batches(500, True, torch.Generator().manual_seed(0))
    )
    assert all(isinstance(p, Pairs) for p in pairs)
    assert sum(p.heads.shape[0] for p in pairs) == len(X)
    _, i = nearest_neighbors(rows, 5)
    # Every tail is a neighbour of its head in one direction or the other.
    heads = pairs[0].heads
    row_of = {tuple(r): j for j, r in enumerate(X[:, :].tolist())}
    for h, t in zip(heads[:50].tolist(), pairs[0].tails[:50].tolist(), strict=True):
        a, b = row_of[tuple(h)], row_of[tuple(t)]
        assert b in i[a].tolist() or a in i[b].tolist()


def test_curve_parameters_match_umap():
    a, b = curve_parameters(0.1)
    assert a == pytest.approx(1.577, abs=0.01) and b == pytest.approx(0.895, abs=0.01)


def test_fuzzy_cross_entropy_pulls_neighbours_and_pushes_others():
    a, b = curve_parameters(0.1)
    z = torch.zeros(1, 2)
    near, far = torch.tensor([[0.1, 0.0]]), torch.tensor([[5.0, 0.0]])
    # A close neighbour and far non-neighbours cost little; swapped, a lot.
    good = fuzzy_cross_entropy(z, near, far[:, None], a, b)
    bad = fuzzy_cross_entropy(z, far, near[:, None], a, b)
    assert good < 0.2 < 2 < bad
    # Finite for coinciding codes.
    assert torch.isfinite(fuzzy_cross_entropy(z, z, z[:, None], a, b)).all()


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
