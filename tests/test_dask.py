"""Dask: distributed inference equals in-memory inference, bit for bit.

Runs on a local cluster of two single-threaded workers, in this process
(``processes=False``) but talking TCP over 127.0.0.1, so that every estimator
and every block crosses a real (serialising) connection. Needs the ``dask``
extra (``pip install -e ".[dask]"``); skipped without it.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils.validation import check_is_fitted

from skae import AutoencoderTransformer, VAETransformer

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=5, random_state=0)
BOTH = [AutoencoderTransformer, VAETransformer]
# Blocks of 400 rows: none is a multiple of the inference tile (1024 rows on
# the CPU), the last one (197 rows) is shorter than the others.
CHUNK = 400


@pytest.fixture(scope="module")
def client():
    """Two workers of one thread each on 127.0.0.1, no dashboard."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def X():
    return load_digits().data


@pytest.fixture(scope="module")
def fitted(X):
    """One fitted estimator per class, shared: tests must not modify them."""
    return {Est: Est(**FAST).fit(X) for Est in BOTH}


def ran_on_cluster(client, compute):
    """``compute()``'s result, after checking that its tasks ran on the workers."""
    with distributed.get_task_stream(client) as stream:
        result = compute()
    workers = {task["worker"] for task in stream.data}
    assert workers, "no task ran on the cluster"
    # A fresh query of the live workers: scheduler_info()'s "workers" is a
    # cache that distributed's periodic update may leave empty (seen in CI).
    assert workers <= set(client.nthreads())
    return result


@pytest.mark.parametrize("Est", BOTH)
def test_parallel_post_fit_transform(client, X, fitted, Est):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    est = fitted[Est]
    # Chunked along the columns too: ParallelPostFit rechunks to whole rows.
    Xd = da.from_array(X, chunks=(CHUNK, 32))
    codes = wrappers.ParallelPostFit(est).transform(Xd)
    assert isinstance(codes, da.Array)
    # Only the rows: dask-ml's map_blocks is given no chunks, so the lazy
    # array claims X's 64 columns (docs/dask.md); the computed one is right.
    assert codes.shape[0] == X.shape[0]
    result = ran_on_cluster(client, codes.compute)
    np.testing.assert_array_equal(result, est.transform(X), strict=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("Est", BOTH)
def test_map_blocks(client, X, fitted, Est, dtype):
    est = fitted[Est]
    X = X.astype(dtype)
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    assert Xd.numblocks[0] > 1
    k = est.n_components_

    codes = Xd.map_blocks(est.transform, chunks=(Xd.chunks[0], (k,)), dtype=dtype)
    expected = est.transform(X)
    np.testing.assert_array_equal(
        ran_on_cluster(client, codes.compute), expected, strict=True
    )

    scores = Xd.map_blocks(est.score_samples, drop_axis=1, dtype=np.float64)
    np.testing.assert_array_equal(
        ran_on_cluster(client, scores.compute), est.score_samples(X), strict=True
    )

    # Decoding: the codes as a dask array, blocked like X.
    Zd = da.from_array(expected, chunks=(CHUNK, -1))
    decoded = Zd.map_blocks(
        est.inverse_transform, chunks=(Zd.chunks[0], (X.shape[1],)), dtype=dtype
    )
    np.testing.assert_array_equal(
        ran_on_cluster(client, decoded.compute),
        est.inverse_transform(expected),
        strict=True,
    )


def _transform(est, block):
    return est.transform(block)


@pytest.mark.parametrize("Est", BOTH)
def test_scatter_model_once(client, X, fitted, Est):
    """The model is sent to every worker once, the blocks go where they are."""
    est = fitted[Est]
    [model] = client.scatter([est], broadcast=True)
    assert set(client.who_has([model])[model.key]) == set(
        client.scheduler_info()["workers"]
    )
    blocks = client.scatter(np.array_split(X, 4))
    codes = client.gather(client.map(_transform, [model] * len(blocks), blocks))
    np.testing.assert_array_equal(np.vstack(codes), est.transform(X), strict=True)


def _blocks(X, chunks):
    """The row blocks of ``X`` that ``chunks`` (a dask array's row chunks) cut."""
    stops = np.cumsum(chunks)
    return [X[stop - size : stop] for stop, size in zip(stops, chunks, strict=True)]


@pytest.mark.parametrize("Est", BOTH)
def test_incremental_equals_partial_fit_by_hand(client, X, Est):
    """dask-ml's Incremental trains: one partial_fit per block, in block order.

    Between calls the estimator may move from worker to worker, pickled; by
    hand it is pickled after every call, so the two agree only if the state
    partial_fit keeps (optimizer, schedule, generator) survives pickling.
    """
    wrappers = pytest.importorskip("dask_ml.wrappers")
    params = dict(FAST, batch_size=32)
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    n_blocks = Xd.numblocks[0]

    inc = wrappers.Incremental(Est(**params), shuffle_blocks=False)
    ran_on_cluster(client, lambda: inc.fit(Xd))
    ran_on_cluster(client, lambda: inc.partial_fit(Xd))  # a second pass
    est = inc.estimator_
    check_is_fitted(est)
    assert est.n_iter_ == len(est.loss_curve_) == 2 * n_blocks
    # The loss goes down: the second pass over the same blocks is lower,
    # block for block.
    first, second = np.split(np.asarray(est.loss_curve_), 2)
    assert (second < first).all()

    by_hand = Est(**params)
    for _ in range(2):
        for block in _blocks(X, Xd.chunks[0]):
            by_hand = pickle.loads(pickle.dumps(by_hand.partial_fit(block)))
    assert est.loss_curve_ == by_hand.loss_curve_
    np.testing.assert_array_equal(est.mean_, by_hand.mean_)
    np.testing.assert_array_equal(est.scale_, by_hand.scale_)
    for name, value in by_hand.module_.state_dict().items():
        torch.testing.assert_close(
            est.module_.state_dict()[name], value, rtol=0, atol=0
        )

    # The trained model transforms, in memory and on the cluster (Incremental
    # is a ParallelPostFit), identically.
    codes = by_hand.transform(X)
    np.testing.assert_array_equal(est.transform(X), codes, strict=True)
    np.testing.assert_array_equal(
        ran_on_cluster(client, inc.transform(Xd).compute), codes, strict=True
    )
