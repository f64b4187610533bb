"""Scale: memory of compact input, an out-of-core fit, partial_fit over blocks.

Parts (each writes its figures to ``--json``; ``--report`` prints the
markdown section of docs/scale.md from them):

* ``memory``: peak resident memory (VmHWM) growth and seconds per epoch of
  ``AutoencoderTransformer(30, hidden_layer_sizes=(512, 256))`` fitted on
  MNIST's 60,000 training images given as uint8, float32 and float64, each
  in a fresh child process.
* ``outofcore``: the same model fitted for one epoch on a uint8
  ``np.memmap`` of ``--rows`` rows (MNIST's images repeated in a shuffled
  order; 2,000,000 rows are 1.5 GB on disk and 6.3 GB as float32), in a
  child process: peak resident memory and seconds per epoch, against the
  in-memory fit's seconds per row.
* ``partial``: ``partial_fit`` over 10 blocks of MNIST for ``--passes``
  passes against ``fit`` with as many epochs (both ``learning_rate=
  "cosine"``): MNIST test squared error per image.

Usage::

    python benchmarks/bench_scale.py                  # all parts, ~10 min
    python benchmarks/bench_scale.py --quick --json /tmp/s.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS
from skae.datasets import load_image_dataset

from common import script_report, timed_epochs

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def model(max_iter: int, **params) -> AutoencoderTransformer:
    # The rest as stored: the defaults before "auto" (ReLU, no noise, adaptive).
    settings = dict(
        FORMER_AE_DEFAULTS,
        hidden_layer_sizes=(512, 256),
        batch_size=256,
        max_iter=max_iter,
        tol=0.0,
        random_state=0,
        device="cpu",
    )
    return AutoencoderTransformer(30, **{**settings, **params})


def mnist_uint8(n: int | None = None):
    data = load_image_dataset("mnist", SHARED if SHARED.exists() else None)
    X_train = np.rint(data.X_train[:n] * 255).astype(np.uint8)
    return X_train, data.X_test


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def probe(kind: str, arg: str, epochs: int, n: int | None) -> dict:
    """In a child process: peak RSS growth and seconds per epoch of one fit."""
    import torch

    torch.set_num_threads(2)
    if kind == "memmap":
        path, rows = arg.split(":")
        X = np.memmap(path, dtype=np.uint8, mode="r", shape=(int(rows), 784))
    else:
        X, _ = mnist_uint8(n)
        X = X if arg == "uint8" else X.astype(arg) / 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model(1).fit(np.zeros((300, 784), np.uint8))  # torch's one-off memory
    rss_before = _status_bytes("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to now
    start = time.perf_counter()
    with warnings.catch_warnings(), timed_epochs() as epoch_times:
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = model(epochs).fit(X)
    seconds = time.perf_counter() - start
    return dict(
        growth=_status_bytes("VmHWM") - rss_before,
        peak=_status_bytes("VmHWM"),
        seconds_per_epoch=min(epoch_times),
        fit_seconds=seconds,
        rows=X.shape[0],
        x_bytes=X.nbytes,
        loss=fitted.loss_curve_[-1],
    )


def run_probe(
    kind: str, arg: str, epochs: int, n: int | None, block_bytes: int | None = None
) -> dict:
    cmd = [sys.executable, __file__, "--probe", kind, arg, str(epochs)]
    if n:
        cmd += ["--n-samples", str(n)]
    if block_bytes:
        cmd += ["--block-bytes", str(block_bytes)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def part_memory(args) -> dict:
    return {
        dtype: run_probe("array", dtype, args.epochs, args.n_samples)
        for dtype in ("uint8", "float32", "float64")
    }


def write_memmap(path: Path, rows: int, seed: int = 0) -> None:
    """MNIST's training images repeated in a shuffled order, ``rows`` of them."""
    X, _ = mnist_uint8()
    rng = np.random.RandomState(seed)
    out = np.memmap(path, dtype=np.uint8, mode="w+", shape=(rows, 784))
    for start in range(0, rows, len(X)):
        stop = min(start + len(X), rows)
        out[start:stop] = X[rng.permutation(len(X))[: stop - start]]
    out.flush()
    del out


def part_outofcore(args) -> dict:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "mnist_repeated.u8"
        start = time.perf_counter()
        write_memmap(path, args.rows)
        written = time.perf_counter() - start
        result = run_probe("memmap", f"{path}:{args.rows}", 1, None, args.block_bytes)
    return dict(result, write_seconds=written, file_bytes=args.rows * 784)


def test_error(est, X_test) -> float:
    return float(
        ((est.inverse_transform(est.transform(X_test)) - X_test) ** 2).sum(1).mean()
    )


def part_partial(args) -> dict:
    X, X_test = mnist_uint8(args.n_samples)
    X = X.astype(np.float32) / 255  # same units as the test images
    blocks = np.array_split(X, 10)
    passes = args.passes
    start = time.perf_counter()
    fitted = model(passes, learning_rate="cosine").fit(X)
    fit_seconds = time.perf_counter() - start
    stream = model(passes * len(blocks), learning_rate="cosine")
    start = time.perf_counter()
    for _ in range(passes):
        for block in blocks:
            stream.partial_fit(block)
    stream_seconds = time.perf_counter() - start
    result = dict(
        passes=passes,
        blocks=len(blocks),
        fit_error=test_error(fitted, X_test),
        partial_error=test_error(stream, X_test),
        fit_seconds=fit_seconds,
        partial_seconds=stream_seconds,
    )
    result.update(incremental(X, X_test, len(blocks), passes))
    return result


def incremental(X, X_test, n_blocks: int, passes: int) -> dict:
    """dask-ml's ``Incremental`` on a LocalCluster, the same blocks in order."""
    try:
        import dask.array as da
        from dask.distributed import Client, LocalCluster
        from dask_ml.wrappers import Incremental
    except ImportError:
        return {}
    block = -(-len(X) // n_blocks)
    Xd = da.from_array(X, chunks=(block, X.shape[1]))
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        start = time.perf_counter()
        inc = Incremental(
            model(passes * n_blocks, learning_rate="cosine"), shuffle_blocks=False
        )
        for _ in range(passes):
            inc.partial_fit(Xd)
        seconds = time.perf_counter() - start
    return dict(
        incremental_error=test_error(inc.estimator_, X_test),
        incremental_seconds=seconds,
    )


INTRO = """# Scale: compact input, out-of-core fits, partial_fit and the GPU

Generated by `python benchmarks/bench_scale.py` (figures of this 2-core
machine, torch's 2 threads) and `python benchmarks/bench_cuda.py` (run on a
lent GPU machine; its output is kept in `benchmarks/results/` and turned
into the last section by `bench_scale.py --report`). The model is
`AutoencoderTransformer(30, hidden_layer_sizes=(512, 256), batch_size=256)`
on MNIST's 60,000 training images unless said otherwise. How it works: the
user guide's "Large data" section; Dask: {doc}`dask`. Its other parameters
are the defaults before skae's data-adaptive ones: ReLU, no input noise, no
`pca_path`, learning rate 1e-3 with the adaptive schedule (cosine where said).
"""


def report(results: dict, cuda_runs: list[Path]) -> str:
    mib = 2.0**20
    lines = [INTRO]
    mem = results.get("memory")
    if mem:
        lines += [
            "## Memory of compact input",
            "",
            "Peak resident memory (VmHWM) of a fresh process, less its memory"
            " just before `fit` (after a tiny warm-up fit, so torch's one-off"
            " allocations are not counted), and the fastest epoch, for X given"
            " as uint8 (0-255), float32 and float64 (both / 255):",
            "",
        ]
        lines += [
            "| input dtype | X in memory | peak RSS growth of `fit` | s/epoch |",
            "|---|---:|---:|---:|",
        ]
        for dtype, r in mem.items():
            lines.append(
                f"| {dtype} | {r['x_bytes'] / mib:.0f} MiB |"
                f" {r['growth'] / mib:.0f} MiB | {r['seconds_per_epoch']:.2f} |"
            )
    if mem:
        lines += [
            "",
            "uint8 and float32 rows are used where they are (no copy); float64"
            " is scaled to a float32 copy once. Before this change every input"
            " was scaled into a float32 copy (docs/speed.md measured 193 MiB of"
            " growth for float32 and for float64 X, a float32 copy of X being"
            " 179 MiB), and uint8 input was first converted to float64 (359 MiB)"
            " by the input validation.",
        ]
    ooc = results.get("outofcore")
    if ooc:
        lines += ["", "## Out-of-core fit on a memory map"]
        per_row_mem = (
            mem["uint8"]["seconds_per_epoch"] / mem["uint8"]["rows"] if mem else None
        )
        per_row = ooc["seconds_per_epoch"] / ooc["rows"]
        lines += [
            "",
            f"Out-of-core: a uint8 `np.memmap` of {ooc['rows']:,} x 784"
            f" ({ooc['file_bytes'] / 2**30:.2f} GiB on disk,"
            f" {ooc['rows'] * 784 * 4 / 2**30:.1f} GiB as float32): peak resident"
            f" memory of the process {ooc['peak'] / mib:.0f} MiB (growth during"
            f" `fit` {ooc['growth'] / mib:.0f} MiB), {ooc['seconds_per_epoch']:.0f}"
            f" s per epoch = {per_row * 1e6:.1f} us per row"
            + (
                f", against {per_row_mem * 1e6:.1f} us per row in memory"
                f" ({per_row / per_row_mem:.2f} x)."
                if per_row_mem
                else "."
            ),
        ]
    part = results.get("partial")
    if part:
        lines += [
            "",
            "## partial_fit over blocks",
            "",
            f"`partial_fit` over {part['blocks']} blocks, {part['passes']} passes:"
            f" test error {part['partial_error']:.2f} per image"
            f" ({part['partial_seconds']:.0f} s) against `fit` with"
            f" {part['passes']} epochs: {part['fit_error']:.2f}"
            f" ({part['fit_seconds']:.0f} s); ratio"
            f" {part['partial_error'] / part['fit_error']:.3f}.",
        ]
        if "incremental_error" in part:
            lines.append(
                f"dask-ml `Incremental(..., shuffle_blocks=False)` on a"
                f" `LocalCluster`, the same blocks and passes: test error"
                f" {part['incremental_error']:.2f}"
                f" ({part['incremental_seconds']:.0f} s), ratio to `fit`"
                f" {part['incremental_error'] / part['fit_error']:.3f}."
            )
    for run in cuda_runs:
        lines += ["", "## On a GPU", "", script_report("bench_cuda.py", run)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="memory,outofcore,partial")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json"
    )
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--tmp", default=None, help="folder for the memmap file")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "scale.md")
    parser.add_argument("--block-bytes", type=int, default=None, help="stream blocks")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--probe", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.block_bytes:
        from skae._data import blocks

        blocks.STREAM_BLOCK_BYTES = args.block_bytes
    if args.probe:
        kind, arg, epochs = args.probe
        print(json.dumps(probe(kind, arg, int(epochs), args.n_samples)))
        return
    if args.quick:
        args.rows, args.epochs, args.passes, args.n_samples = 20_000, 1, 1, 2000
        args.block_bytes = 4 * 2**20  # streamed in 4 blocks
        args.output = None
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    if not args.report:
        parts = {
            "memory": part_memory,
            "outofcore": part_outofcore,
            "partial": part_partial,
        }
        for name in args.parts.split(","):
            results[name] = parts[name](args)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1))
            print(name, json.dumps(results[name]), flush=True)
    runs = sorted((ROOT / "benchmarks" / "results").glob("cuda_*.jsonl"))
    text = report(results, runs)
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
