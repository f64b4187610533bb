"""Scale: compact input dtypes, memory-mapped (out-of-core) fits, partial_fit,
mixed precision."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer, VAETransformer
from skae._data import DenseRows, StreamedRows, blocks, make_rows
from skae._data.scaling import Standardizer, fit_scaling

FAST = dict(
    n_components=3, hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0
)
BOTH = [AutoencoderTransformer, VAETransformer]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def images(digits):
    """sklearn's digits as uint8 (values 0..16)."""
    return digits[0].astype(np.uint8)


def _memmap(tmp_path, X, name="x.dat"):
    path = tmp_path / name
    out = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    del out
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


# ------------------------------------------------------------- compact input
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.uint16, np.int16, np.bool_, np.float16]
)
def test_compact_input_is_kept_and_trains(images, dtype):
    X = (images > 8) if dtype is np.bool_ else images.astype(dtype)
    est = AutoencoderTransformer(**FAST)
    assert est._validate(X, reset=True).dtype == X.dtype
    est.fit(X)
    ref = AutoencoderTransformer(**FAST).fit(X.astype(np.float64))
    codes = est.transform(X)
    assert codes.dtype == np.float64
    # Scaled in float32 per batch instead of float64 once: equal to rounding.
    np.testing.assert_allclose(codes, ref.transform(X.astype(np.float64)), atol=1e-4)


def test_compact_rows_share_the_callers_memory(images):
    std = Standardizer(*fit_scaling(images, "global"))
    rows = make_rows(images, std, torch.device("cpu"))
    assert isinstance(rows, DenseRows)
    assert rows.data.data_ptr() == images.ctypes.data  # no copy at all
    batch = rows[torch.tensor([3, 0])]
    assert batch.dtype == torch.float32
    expected = (images[[3, 0]] - std.mean.numpy()) / std.scale.numpy()
    np.testing.assert_allclose(batch.numpy(), expected, atol=1e-6)


def test_wide_integers_are_scaled_in_float64(digits):
    # 1e12 + small integers: float32 cannot hold them, the float64 path can.
    X = digits[0].astype(np.int64) + 10**12
    a = AutoencoderTransformer(**FAST).fit(X)
    b = AutoencoderTransformer(**FAST).fit(X.astype(np.float64))
    np.testing.assert_array_equal(a.transform(X), b.transform(X.astype(np.float64)))


# ---------------------------------------------------------------- memmaps
@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2000 bytes: digits (64 uint8 features) stream in 31 rows each."""
    monkeypatch.setattr(blocks, "STREAM_BLOCK_BYTES", 2000)


@pytest.mark.parametrize("Est", BOTH)
def test_memmap_fit_streams_blocks(tmp_path, images, small_blocks, Est):
    X = _memmap(tmp_path, images)
    std = Standardizer(*fit_scaling(X, "global"))
    rows = make_rows(X, std, torch.device("cpu"))
    assert isinstance(rows, StreamedRows) and rows.reader.direct
    assert rows.reader.block_rows == 31

    est = Est(**FAST).fit(X)
    again = Est(**FAST).fit(X)
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    np.testing.assert_array_equal(est.transform(X), again.transform(X))
    # Inference on the memory map reads its file; same codes as in memory.
    np.testing.assert_array_equal(est.transform(X), est.transform(images))
    np.testing.assert_array_equal(est.score_samples(X), est.score_samples(images))
    # The scaling is the in-memory one.
    ref = Est(**FAST).fit(images)
    np.testing.assert_allclose(est.mean_, ref.mean_)
    np.testing.assert_allclose(est.scale_, ref.scale_)


def test_streamed_epoch_visits_every_row_once(tmp_path, small_blocks):
    X = _memmap(tmp_path, np.arange(500 * 8, dtype=np.uint16).reshape(500, 8))
    identity = Standardizer(np.zeros(8), np.ones(8))
    rows = make_rows(X, identity, torch.device("cpu"))
    assert rows.reader.block_rows == 125
    g = torch.Generator().manual_seed(0)
    batches = list(rows.batches(40, True, g))
    assert len(batches) == rows.n_batches(40) == 4 * 4  # 125 = 3 * 40 + 5
    seen = torch.cat(batches)[:, 0].numpy().astype(int) // 8
    assert sorted(seen) == list(range(500))
    assert not np.array_equal(seen, np.arange(500))  # shuffled
    # A subset larger than a block stays streamed, a small one is loaded.
    idx = torch.arange(0, 500, 2)
    part = rows.subset(idx)
    assert isinstance(part, StreamedRows) and part.shape == (250, 8)
    np.testing.assert_array_equal(torch.cat(list(part.split(64))).numpy(), X[::2])
    assert isinstance(rows.subset(idx[:100]), DenseRows)
    np.testing.assert_array_equal(
        rows[torch.tensor([7, 3, 499])].numpy(), X[[7, 3, 499]]
    )


def test_memmap_view_and_early_stopping(tmp_path, images, small_blocks):
    X = _memmap(tmp_path, images)[100:]  # a view: read through the mapping
    rows = make_rows(X, Standardizer(np.zeros(64), np.ones(64)), torch.device("cpu"))
    assert isinstance(rows, StreamedRows) and not rows.reader.direct
    est = AutoencoderTransformer(**FAST, early_stopping=True).fit(X)
    assert len(est.validation_loss_curve_) == est.n_iter_
    np.testing.assert_array_equal(est.transform(X), est.transform(images[100:]))


def test_small_memmap_fits_like_memory(tmp_path, images):
    X = _memmap(tmp_path, images)
    a = AutoencoderTransformer(**FAST).fit(X)
    b = AutoencoderTransformer(**FAST).fit(images)
    np.testing.assert_array_equal(a.transform(images), b.transform(images))


# ------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("Est", BOTH)
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_partial_fit_passes_equal_fit_epochs(images, Est, schedule):
    params = dict(FAST, learning_rate=schedule, tol=0.0, n_iter_no_change=50)
    fitted = Est(**params).fit(images)
    stream = Est(**params)
    for _ in range(params["max_iter"]):
        stream.partial_fit(images)
    assert stream.n_iter_ == fitted.n_iter_ == 3
    np.testing.assert_allclose(stream.loss_curve_, fitted.loss_curve_, rtol=1e-12)
    np.testing.assert_array_equal(stream.transform(images), fitted.transform(images))


def test_partial_fit_over_blocks_keeps_state(images):
    blocks = np.array_split(images, 4)
    est = AutoencoderTransformer(**FAST)
    for block in blocks:
        est.partial_fit(block)
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4
    # The scaling is the first block's.
    first = AutoencoderTransformer(**FAST).partial_fit(blocks[0])
    np.testing.assert_array_equal(est.mean_, first.mean_)
    # A pickled stream goes on exactly as the original.
    copy = pickle.loads(pickle.dumps(est))
    est.partial_fit(blocks[0])
    copy.partial_fit(blocks[0])
    np.testing.assert_array_equal(est.transform(images), copy.transform(images))
    assert est.sample(3).shape == (3, 64)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(images[:, :10])
    # After fit: continues the fitted model (one more iteration).
    fitted = AutoencoderTransformer(**FAST).fit(images)
    assert fitted.partial_fit(blocks[1]).n_iter_ == fitted.n_iter_ == 4


def test_partial_fit_cannot_change_the_architecture(images):
    est = AutoencoderTransformer(**FAST).partial_fit(images)
    before = est.transform(images)
    est.set_params(n_components=5)
    with pytest.raises(ValueError, match="cannot change the architecture"):
        est.partial_fit(images)
    np.testing.assert_array_equal(
        est.set_params(n_components=3).transform(images), before
    )


# ---------------------------------------------------------- mixed precision
def test_bf16_training_is_close_to_float32(images):
    X = images.astype(np.float32)
    params = dict(FAST, max_iter=5)
    mixed = AutoencoderTransformer(**params, precision="bf16").fit(X)
    full = AutoencoderTransformer(**params).fit(X)
    assert mixed.transform(X).dtype == np.float32
    assert mixed.loss_curve_[-1] < mixed.loss_curve_[0]
    assert abs(mixed.loss_curve_[-1] / full.loss_curve_[-1] - 1) < 0.1
