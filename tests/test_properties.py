"""Property-based tests: any finite matrix goes through every method safely.

Hypothesis draws shapes, dtypes and values from several regimes (plain
normal, a large common offset, tiny and huge scales, arbitrary float32
values, constant columns, duplicated rows) and checks the documented
contract of ``fit``, ``transform``, ``inverse_transform``, ``score_samples``
and ``sample`` on tiny models.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skae import AutoencoderTransformer, VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

F32_MAX = float(np.finfo(np.float32).max)
BIG = float(np.float32(1e30))  # the float32 nearest to 1e30
TINY = dict(hidden_layer_sizes=(4,), max_iter=2, device="cpu", random_state=0)
MAKERS = {
    "ae": lambda **kw: AutoencoderTransformer(**TINY, **kw),
    "vae": lambda **kw: VAETransformer(**TINY, **kw),
    "bernoulli": lambda **kw: VAETransformer(likelihood="bernoulli", **TINY, **kw),
}


def deterministic(max_examples):
    """Hypothesis settings that give the same examples on every run."""
    return settings(
        max_examples=max_examples, deadline=None, derandomize=True, database=None
    )


def assert_bitwise_equal(a, b):
    """Same dtype, shape and bytes (unlike assert_array_equal, -0.0 != 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


# ----------------------------------------------------------------- strategies
def _base(rng, kind, n, p):
    """A float64 (n, p) matrix of one value regime (NumPy-drawn)."""
    normal = rng.standard_normal((n, p))
    if kind == "normal":
        return normal
    if kind == "offset":  # float32 cannot hold 1e6 + x without centring first
        return normal + 1e6
    if kind == "tiny":
        return normal * 1e-6
    if kind == "huge":  # columns of magnitude 1e20..1e30
        return normal * 10.0 ** rng.uniform(20, 30, size=p)
    if kind == "uniform":
        return rng.uniform(size=(n, p))
    if kind == "unit_tiny":
        return rng.uniform(size=(n, p)) * 1e-6
    if kind == "binary":
        return (rng.uniform(size=(n, p)) < 0.5).astype(np.float64)
    raise AssertionError(kind)


@st.composite
def matrices(draw, unit=False, n_features=None):
    """Finite float32/float64 matrices; in [0, 1] with ``unit=True``."""
    n = draw(st.integers(1, 40))
    p = n_features or draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    kinds = ["uniform", "binary", "unit_tiny"] if unit else ["normal", "offset"]
    kinds += ["arbitrary"] if unit else ["tiny", "huge", "arbitrary"]
    kind = draw(st.sampled_from(kinds))
    if kind == "arbitrary":  # any float32-representable value up to 1e30
        elements = st.floats(0 if unit else -BIG, 1 if unit else BIG, width=32)
        X = draw(arrays(np.float64, (n, p), elements=elements))
    else:
        rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
        X = _base(rng, kind, n, p)
    if draw(st.booleans()):  # some columns constant
        mask = np.array(draw(st.lists(st.booleans(), min_size=p, max_size=p)))
        X[:, mask] = X[0, mask]
    if draw(st.booleans()):  # only k distinct rows, repeated
        X = X[np.arange(n) % draw(st.integers(1, n))]
    return X.astype(dtype)


@st.composite
def cases(draw, unit=False):
    """(X, estimator parameters, a row index, a number of samples)."""
    X = draw(matrices(unit=unit))
    n = X.shape[0]
    params = dict(
        n_components=draw(st.integers(1, 3)),
        batch_size=min(draw(st.integers(8, 32)), n),
    )
    if not unit:
        params["scaling"] = draw(st.sampled_from(["auto", "standard"]))
    return X, params, draw(st.integers(0, n - 1)), draw(st.integers(1, 5))


def far_rows(X):
    """Rows far outside the training data: X * 1e10 +- 1e20, clipped to +-1e30.

    The clip keeps float32 sums finite: sklearn's finiteness check sums the
    input and warns on inf - inf for rows near float32's max.
    """
    X64 = X.astype(np.float64) * 1e10
    far = np.vstack([X64 + 1e20, X64 - 1e20])
    return np.clip(far, -BIG, BIG).astype(X.dtype)


def corner_rows(X):
    """Extreme rows in [0, 1]: all zeros, all ones, alternating."""
    p = X.shape[1]
    return np.array([np.zeros(p), np.ones(p), np.arange(p) % 2], dtype=X.dtype)


def with_bad_value(X, data, values):
    """A copy of X with one entry, drawn by ``data``, set to a draw of ``values``."""
    X = X.copy()
    i = data.draw(st.integers(0, X.shape[0] - 1))
    j = data.draw(st.integers(0, X.shape[1] - 1))
    X[i, j] = data.draw(values)
    return X


# ------------------------------------------------------------- the contract
def check_contract(name, X, params, k, extreme):
    """Fit on X; check every method's shape, dtype and finiteness."""
    n, p = X.shape
    X_before, extreme_before = X.copy(), extreme.copy()
    est = MAKERS[name](**params).fit(X)

    Z = est.transform(X)
    assert Z.shape == (n, params["n_components"]) and Z.dtype == X.dtype
    assert np.isfinite(Z).all()
    Z_before = Z.copy()

    R = est.inverse_transform(Z)
    assert R.shape == (n, p) and R.dtype == X.dtype
    assert np.isfinite(R).all()

    for rows in (X, extreme):
        scores = est.score_samples(rows)
        assert scores.shape == (rows.shape[0],) and scores.dtype == np.float64
        assert np.isfinite(scores).all()

    if name == "ae" and n == 1:
        with pytest.raises(ValueError, match="single sample"):
            est.sample(k)
    else:
        S = est.sample(k)
        assert S.shape == (k, p) and np.isfinite(S).all()
        assert_bitwise_equal(est.sample(k), S)  # drawn from random_state
        if name == "bernoulli":  # means of Bernoulli variables
            assert ((S >= 0) & (S <= 1)).all()
    if name == "bernoulli":
        assert ((R >= 0) & (R <= 1)).all()

    # The same seed gives the same model, bit for bit.
    assert_bitwise_equal(clone(est).fit(X).transform(X), Z)

    # No input was modified.
    assert_bitwise_equal(X, X_before)
    assert_bitwise_equal(extreme, extreme_before)
    assert_bitwise_equal(Z, Z_before)
    return est


@pytest.mark.parametrize("name", ["ae", "vae"])
@deterministic(15)
@given(case=cases())
def test_any_finite_matrix(name, case):
    X, params, _, k = case
    check_contract(name, X, params, k, far_rows(X))


@deterministic(15)
@given(case=cases(unit=True))
def test_bernoulli_any_matrix_in_unit_interval(case):
    X, params, i, k = case
    est = check_contract("bernoulli", X, params, k, corner_rows(X))
    outside = X.copy()
    outside[i, 0] = 2.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        est.score_samples(outside)


def check_batch_invariance(name, X, params, i):
    """Codes are bit for bit those of each row alone, whatever the layout."""
    est = MAKERS[name](**params).fit(X)
    Z = est.transform(X)
    assert_bitwise_equal(est.transform(X[i : i + 1])[0], Z[i])
    assert_bitwise_equal(est.transform(X[::-1]), Z[::-1])
    assert_bitwise_equal(est.transform(np.asfortranarray(X)), Z)


# Minimal cases hypothesis found where a row's code depends on its position
# in the inference tile (kept as explicit examples: they run first).
POSITION_CASE = (
    np.random.RandomState(0).standard_normal((2, 5)).astype(np.float32),
    dict(n_components=1, batch_size=2, scaling="auto"),
    1,
    1,
)
UNIT_POSITION_CASE = (
    np.random.RandomState(1).uniform(size=(2, 5)).astype(np.float32),
    dict(n_components=1, batch_size=2),
    1,
    1,
)


@pytest.mark.parametrize("name", ["ae", "vae"])
@deterministic(10)
@given(case=cases())
@example(case=POSITION_CASE)
def test_transform_is_batch_invariant(name, case):
    X, params, i, _ = case
    check_batch_invariance(name, X, params, i)


@deterministic(10)
@given(case=cases(unit=True))
@example(case=UNIT_POSITION_CASE)
def test_bernoulli_transform_is_batch_invariant(case):
    X, params, i, _ = case
    check_batch_invariance("bernoulli", X, params, i)


OUTSIDE_UNIT = st.floats(-BIG, 0, exclude_max=True, width=32) | st.floats(
    1, BIG, exclude_min=True, width=32
)


@deterministic(40)
@given(X=matrices(unit=True), data=st.data())
def test_bernoulli_refuses_data_outside_unit_interval(X, data):
    est = MAKERS["bernoulli"]()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        est.fit(with_bad_value(X, data, OUTSIDE_UNIT))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# --------------------------------------------------------------- bad values
N_FEATURES = 3


@pytest.fixture(scope="module")
def fitted():
    """One fitted estimator per kind on 3 features (tests must not modify it)."""
    X = np.random.RandomState(0).uniform(size=(20, N_FEATURES))
    return {name: make(n_components=2).fit(X) for name, make in MAKERS.items()}


def bad_values_case(name, data):
    """Data the estimator accepts, with the fitted fixture's n_features."""
    return data.draw(matrices(unit=name == "bernoulli", n_features=N_FEATURES))


@pytest.mark.parametrize("name", list(MAKERS))
@deterministic(25)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), data=st.data())
def test_non_finite_input_is_refused(name, fitted, bad, data):
    X = bad_values_case(name, data)
    X_bad = with_bad_value(X, data, st.just(bad))
    est = MAKERS[name]()
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        est.fit(X_bad)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    for method in ("transform", "score_samples"):
        with pytest.raises(ValueError, match=r"NaN|infinity"):
            getattr(fitted[name], method)(X_bad)
    codes = with_bad_value(np.zeros((X.shape[0], 2), X.dtype), data, st.just(bad))
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        fitted[name].inverse_transform(codes)


TOO_LARGE = st.floats(F32_MAX, 1e308, exclude_min=True)


@pytest.mark.parametrize("name", list(MAKERS))
@deterministic(25)
@given(sign=st.sampled_from([1.0, -1.0]), data=st.data())
def test_values_beyond_float32_are_refused(name, fitted, sign, data):
    X = bad_values_case(name, data)  # only float64 holds values beyond float32
    X_big = with_bad_value(X.astype(np.float64), data, TOO_LARGE.map(sign.__mul__))
    est = MAKERS[name]()
    with pytest.raises(ValueError, match="float32"):
        est.fit(X_big)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    for method in ("transform", "score_samples"):
        with pytest.raises(ValueError, match="float32"):
            getattr(fitted[name], method)(X_big)
    codes = with_bad_value(np.zeros((X.shape[0], 2)), data, TOO_LARGE)
    with pytest.raises(ValueError, match="float32"):
        fitted[name].inverse_transform(codes)
