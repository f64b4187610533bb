"""Serving: per-model work done once, small calls on small tiles, threads."""

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer, VAETransformer
from skae._data.tiles import MIN_TILE, TilePlan, plan_tiles, tile_ladder
from skae._estimators import gate
from skae._estimators.gate import gate_size

ROOT = Path(__file__).resolve().parent.parent
FAST = dict(max_iter=1, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def wide():
    X = np.random.RandomState(0).uniform(size=(700, 784)).astype(np.float32)
    return X


def test_tile_ladder_and_plan():
    assert tile_ladder(1024) == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    assert tile_ladder(40) == (1, 2, 4, 8, 16, 32, 40)
    assert tile_ladder(MIN_TILE) == (MIN_TILE,)
    plan = TilePlan(tile_ladder(100)[2:])
    assert [plan.tile_for(n) for n in (1, 4, 5, 16, 17, 33, 65, 100)] == [
        4,
        4,
        8,
        16,
        32,
        64,
        100,
        100,
    ]


def test_plan_keeps_the_largest_tile_for_results_that_depend_on_the_tile():
    def depends_on_the_tile(x: torch.Tensor) -> torch.Tensor:
        return x.sum(1) + x.shape[0]

    def row_by_row(x: torch.Tensor) -> torch.Tensor:
        return x.sum(1)

    def differs_below_8_rows(x: torch.Tensor) -> torch.Tensor:
        return x.sum(1) + (x.shape[0] < 8)

    cpu = torch.device("cpu")
    assert plan_tiles(depends_on_the_tile, 5, cpu, 256).sizes == (256,)
    assert plan_tiles(row_by_row, 5, cpu, 256).sizes == tile_ladder(256)
    # The ladder ends at the first size that fails, from the largest down.
    assert plan_tiles(differs_below_8_rows, 5, cpu, 256).sizes == tile_ladder(256)[3:]


@pytest.mark.parametrize("Est", [AutoencoderTransformer, VAETransformer])
def test_small_calls_equal_large_ones_at_realistic_width(Est, wide):
    est = Est(30, **{**FAST, "hidden_layer_sizes": (600, 128)}).fit(wide[:500])
    X = wide[500:]
    Z, scores = est.transform(X), est.score_samples(X)
    rec = est.inverse_transform(Z)
    for i, n in [(0, 1), (17, 1), (3, 15), (40, 33), (100, 100)]:
        np.testing.assert_array_equal(est.transform(X[i : i + n]), Z[i : i + n])
        np.testing.assert_array_equal(
            est.score_samples(X[i : i + n]), scores[i : i + n]
        )
        np.testing.assert_array_equal(
            est.inverse_transform(Z[i : i + n]), rec[i : i + n]
        )
    # The checked plan lets small calls run on tiles of at most 4 rows here
    # (MKL on x86; 16 before the ladder went below 16 rows).
    plans = [v for k, v in _memo_values(est) if k[0] == "plan"]
    assert plans and all(plan.sizes[0] <= 4 for plan in plans)


def _memo_values(est):
    return list(est._memo().values.items())


def test_weights_changed_in_place_are_seen(wide):
    est = AutoencoderTransformer(4, **FAST).fit(wide[:200])
    before = est.transform(wide[:3])
    with torch.no_grad():
        est.module_.encoder[0].weight.mul_(2.0)
    after = est.transform(wide[:3])
    assert not np.array_equal(before, after)
    est.fit(wide[200:400])  # a refit starts a new memo
    assert est._memo().module is est.module_


@pytest.mark.parametrize("Est", [AutoencoderTransformer, VAETransformer])
def test_threads_get_the_single_threaded_answers(Est, wide):
    est = Est(8, **FAST).fit(wide[:300])
    rng = np.random.RandomState(1)
    work = [wide[rng.randint(0, 700, size=rng.randint(1, 65))] for _ in range(60)]

    def answer(rows):
        return est.transform(rows), est.score_samples(rows)

    expected = [answer(rows) for rows in work]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(answer, work))
    for (z, s), (z0, s0) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(z, z0)
        np.testing.assert_array_equal(s, s0)


def test_validation_fast_path_keeps_the_checks(wide):
    est = AutoencoderTransformer(4, **FAST).fit(wide[:200])
    bad = wide[:2].copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.transform(bad)
    with pytest.raises(ValueError, match="784 features"):
        est.transform(wide[:2, :10])
    rows = wide[:2].astype(np.float64)
    assert est.transform(rows).dtype == np.float64


@pytest.mark.slow
def test_bench_serving_quick(tmp_path):
    page = tmp_path / "serving.md"
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_serving.py"),
            "--quick",
            "--output",
            str(page),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    text = page.read_text()
    row = f"| AutoencoderTransformer | {torch.get_num_threads()} | {gate_size()} | 8 |"
    assert row in text
    # 2 models x 1 and 8 request threads x the machine's torch threads and 1.
    settings = 1 if torch.get_num_threads() == 1 else 2
    assert "| NO |" not in text and text.count("| yes |") == 4 * settings
    assert "/work" not in text and "/root" not in text


@pytest.mark.parametrize("layer", [torch.nn.SiLU(), torch.nn.Sigmoid(), torch.nn.ELU()])
def test_inference_activations_give_an_element_the_same_bits_anywhere(layer):
    # torch's own kernels compute the last elements of a tensor with a scalar
    # formula: a row of 500 units in a 4-row tile could differ from the same
    # row in a large tile. The inference copies must not, and must stay
    # within a few ulps of torch's.
    from skae._nn.invariant import batch_invariant

    inference = batch_invariant(torch.nn.Sequential(layer))
    assert type(inference[0]) is not type(layer)
    x = torch.randn(1024, 500, generator=torch.Generator().manual_seed(0)) * 5
    large = inference(x.clone())
    for size in (1, 2, 3, 4, 8, 100):
        for start in range(0, 1024 - size, 97):
            small = inference(x[start : start + size].clone())
            assert torch.equal(small, large[start : start + size])
    torch.testing.assert_close(large, layer(x.clone()), rtol=5e-7, atol=1e-30)


def test_small_score_calls_where_the_scores_own_probe_is_blind():
    # The score of a random probe row is dominated by terms so large that a
    # changed bit of the encoder's 1- and 2-row products vanished in it, so
    # its own plan let 1-row tiles through, and 9 of these 200 one-row calls
    # differed from the large call. Every matrix product is now checked on
    # its own first.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((400, 64)).astype(np.float32)
    X *= rng.uniform(0.1, 5, size=64).astype(np.float32)
    est = VAETransformer(30, **{**FAST, "hidden_layer_sizes": (1000, 500)})
    est.set_params(batch_size=64).fit(X[:200])
    scores = est.score_samples(X[200:])
    for i in range(200):
        np.testing.assert_array_equal(
            est.score_samples(X[200 + i : 201 + i]), scores[i]
        )


def test_gate_size_leaves_a_core_for_each_calls_python():
    assert gate_size(cpus=2, threads=1) == 1
    assert gate_size(cpus=2, threads=2) == 1  # never 0
    assert gate_size(cpus=16, threads=1) == 8
    assert gate_size(cpus=16, threads=4) == 2
    assert gate_size(cpus=16, threads=16) == 1


@pytest.mark.parametrize("size", [1, 2])
def test_gate_bounds_the_calls_of_a_model_that_run_at_once(monkeypatch, size):
    """Eight threads, exactly ``size`` calls of a model inside at once (a
    barrier of ``size`` parties proves that many get in, the count that no
    more do); another model's calls run beside them; answers unchanged."""
    X = np.random.RandomState(0).uniform(size=(300, 12))
    model = VAETransformer(2, hidden_layer_sizes=(8,), **FAST).fit(X)
    other = VAETransformer(2, hidden_layer_sizes=(8,), **FAST).fit(X)
    expected = model.transform(X[:5]), model.score(X[:5])
    gate._GATES.clear()  # gates are sized at a model's first call
    monkeypatch.setattr(gate, "gate_size", lambda: size)
    inside, most, lock = {}, {}, threading.Lock()
    barrier = [threading.Barrier(size, timeout=30)]
    codes = VAETransformer._codes

    def counted_codes(self, *args):
        with lock:
            inside[id(self)] = inside.get(id(self), 0) + 1
            most[id(self)] = max(most.get(id(self), 0), inside[id(self)])
        barrier[0].wait()  # raises if fewer calls than its parties get in
        with lock:
            inside[id(self)] -= 1
        return codes(self, *args)

    monkeypatch.setattr(VAETransformer, "_codes", counted_codes)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: model.transform(X[:5]), range(16)))
        assert most == {id(model): size}
        # Each model has a gate of its own: size calls of each at once.
        barrier[0] = threading.Barrier(2 * size, timeout=30)
        list(pool.map(lambda m: m.transform(X[:5]), [model, other] * 8))
    assert most == {id(model): size, id(other): size}
    assert all(np.array_equal(g, expected[0]) for g in got)
    barrier[0] = threading.Barrier(1)  # one call at a time from here
    # score calls score_samples inside the gate: a nested call does not wait.
    assert model.score(X[:5]) == expected[1]
    assert "gate" not in str(vars(model))  # nothing of the gate is pickled
    assert pickle.loads(pickle.dumps(model)).transform(X[:5]).shape == (5, 2)


def _transform_in_child(model, X, queue):
    queue.put(model.transform(X))


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="no fork here")
def test_a_forked_child_does_not_inherit_a_held_gate():
    """A process forked while a thread is inside a call serves in the child."""
    X = np.random.RandomState(0).uniform(size=(300, 12))
    model = VAETransformer(2, hidden_layer_sizes=(8,), **FAST).fit(X)
    expected = model.transform(X[:5])
    held = gate._gate(model)
    held.acquire()  # as a request thread inside a call when the fork comes
    try:
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_transform_in_child, args=(model, X[:5], queue))
        child.start()
        got = queue.get(timeout=120)
        child.join(120)
    finally:
        held.release()
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)
