"""Dask: distributed inference equals in-memory inference, bit for bit.

Runs on a local cluster of two single-threaded workers, in this process
(``processes=False``) but talking TCP over 127.0.0.1, so that every estimator
and every block crosses a real (serialising) connection. Needs the ``dask``
extra (``pip install -e ".[dask]"``); skipped without it.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits

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
    assert workers <= set(client.scheduler_info()["workers"])
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
