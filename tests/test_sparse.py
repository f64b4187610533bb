"""Sparse input: CSR/CSC/COO matrices and arrays give the model of the dense data."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skae import AutoencoderTransformer, VAETransformer
from skae._data.tiles import tile_size

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)
CASES = [
    (AutoencoderTransformer, {}),
    (VAETransformer, {}),
    (VAETransformer, dict(likelihood="multinomial", corruption="masking")),
    (AutoencoderTransformer, dict(scaling="standard", early_stopping=True)),
]


def counts(n=120, d=40, density=0.1, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.rand(n, d) < density) * rng.randint(1, 5, size=(n, d)).astype(float)


@pytest.mark.parametrize("Est, params", CASES)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array", "coo_array"])
def test_sparse_fit_is_bit_identical_to_dense(Est, params, fmt):
    X = counts()
    S = getattr(sp, fmt)(X)
    dense = Est(**FAST, **params).fit(X)
    sparse = Est(**FAST, **params).fit(S)
    assert sparse.loss_curve_ == dense.loss_curve_
    np.testing.assert_array_equal(sparse.transform(S), dense.transform(X))
    np.testing.assert_array_equal(sparse.score_samples(S), dense.score_samples(X))
    np.testing.assert_array_equal(sparse.recommend(S, 5), dense.recommend(X, 5))
    # The statistics are summed in another order: equal to float64 rounding,
    # far below the float32 rounding of the rows.
    np.testing.assert_allclose(sparse.mean_, dense.mean_, rtol=1e-13)
    np.testing.assert_allclose(sparse.scale_, dense.scale_, rtol=1e-13)


def test_scaling_statistics_of_sparse_data_are_exact():
    X = counts(density=0.3) + 0.0
    X[:, 0] = 1e6  # a constant column with a large offset
    est = AutoencoderTransformer(scaling="standard", **FAST).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(est.mean_, X.mean(0), rtol=1e-12)
    expected = X.std(0)
    expected[0] = 1.0  # constant: keeps its units
    np.testing.assert_allclose(est.scale_, expected, rtol=1e-10)


def test_non_canonical_matrix_is_summed_and_left_alone():
    # Duplicated entries add up, as scipy defines; the caller's matrix is untouched.
    rows, cols, vals = [0, 0, 1, 2, 2], [1, 1, 0, 2, 3], [1.0, 2.0, 1.0, 1.0, 4.0]
    S = sp.csr_matrix((vals, (rows, cols)), shape=(3, 4))
    S.sum_duplicates()
    S = sp.csr_matrix((S.data, S.indices, S.indptr), shape=(3, 4))  # canonical
    dup = sp.csr_matrix(
        (np.array(vals), np.array(cols), np.array([0, 2, 3, 5])), shape=(3, 4)
    )
    assert not dup.has_canonical_format
    before = dup.data.copy(), dup.indices.copy()
    a = AutoencoderTransformer(**FAST).fit(dup)
    b = AutoencoderTransformer(**FAST).fit(S.toarray())
    np.testing.assert_array_equal(a.transform(dup), b.transform(S.toarray()))
    np.testing.assert_array_equal(dup.data, before[0])
    np.testing.assert_array_equal(dup.indices, before[1])


def test_sparse_values_are_checked_like_dense_ones():
    S = sp.csr_matrix(counts())
    with pytest.raises(ValueError, match="float32"):
        AutoencoderTransformer(**FAST).fit(S * 1e39)
    bad = S.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AutoencoderTransformer(**FAST).fit(bad)
    with pytest.raises(ValueError, match=r"needs X in \[0, 1\]"):
        VAETransformer(likelihood="bernoulli", **FAST).fit(S)
    with pytest.raises(ValueError, match=r"needs X in \[0, inf\]"):
        VAETransformer(likelihood="multinomial", **FAST).fit(-S)


def test_wide_sparse_inference_uses_small_tiles():
    # 30000 columns: tiles shrink to the memory budget instead of 1024 rows.
    rng = np.random.RandomState(0)
    S = sp.random(50, 30000, density=0.001, format="csr", random_state=rng)
    est = VAETransformer(likelihood="multinomial", **FAST).fit(S)
    assert tile_size(torch.device("cpu"), est._row_bytes(est._n_score_draws)) < 64
    assert np.isfinite(est.score_samples(S)).all()
    # n_components="auto" is Mult-VAE's 200 for the multinomial likelihood.
    assert est.transform(S).shape == (50, 200)


def test_all_zero_sparse_matrix_is_in_range_for_bernoulli():
    # No stored entries at all: the range is the implicit zeros'.
    est = VAETransformer(likelihood="bernoulli", **FAST).fit(sp.csr_matrix((20, 4)))
    assert est.transform(sp.csr_matrix((3, 4))).shape == (3, 2)
