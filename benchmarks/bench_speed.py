"""Training and inference speed of skae against a hand-written loop and skorch.

One process, the same 784-512-256-30 autoencoder (mirrored decoder), AdamW
(lr 1e-3, weight decay 1e-4), batch size 256, objective (squared error summed
over features, averaged over the batch) and data (MNIST training images / 255
in float32, centred and globally scaled as skae's ``fit`` does) for every
trainer:

(a) ``AutoencoderTransformer.fit``, the public API, eager and with
    ``compile=True``;
(b) a minimal hand-written PyTorch loop over a pre-built float32 tensor, with
    AdamW as ``pytorch/examples`` writes it and with ``fused=True`` (the
    fastest loop, which is the bar skae is held to);
(c) skorch's ``NeuralNet`` with the same module (``pip install skorch``), as a
    user configures it and with ``optimizer__fused=True``.

Seconds per epoch are the per-epoch times after one warm-up epoch: skorch's
own ``history[:, "dur"]``, the loops' and skae's timed the same way (skae's
by wrapping its ``run_epoch``, inside a normal call of ``fit``). As a
cross-check, skae's marginal cost from whole ``fit`` calls, (fit with 1 + E
epochs - fit with 1 epoch) / E, is reported with the one-off work of ``fit``
(conversion, scaling, the latent density for ``sample``, compilation). The
trainers run interleaved, ``--rounds`` times, and each keeps its fastest
round, which filters out interference from other work on the machine; the
ratios within each round are reported too. Usage::

    python benchmarks/bench_speed.py                 # full run, writes docs/speed.md
    python benchmarks/bench_speed.py --epochs 1 --n-samples 5000 --no-write
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skae import AutoencoderTransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS
from skae.datasets import load_image_dataset

from common import (
    BATCH,
    LR,
    SIZES,
    WD,
    reference_module,
    skae_scaled,
    timed_epochs,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist.npz"


def load(path: Path, n_samples: int | None):
    """MNIST training and test images / 255, float32 (see skae.datasets)."""
    mnist = load_image_dataset("mnist", path if path.exists() else None)
    return mnist.X_train[:n_samples], mnist.X_test


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """Best float32 matrix-product rate in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def training_flops_per_sample() -> float:
    """Forward, weight gradients and input gradients (none for the input layer)."""
    layers = [*itertools.pairwise(SIZES), *itertools.pairwise(SIZES[::-1])]
    macs = sum(i * o for i, o in layers)
    return 2 * macs + 2 * macs + 2 * (macs - SIZES[0] * SIZES[1])


def encoder_flops_per_sample() -> float:
    return 2 * sum(i * o for i, o in itertools.pairwise(SIZES))


class SumSquaredError(nn.Module):
    """skae's autoencoder objective: squared error summed over features,
    averaged over the batch.

    ``nn.MSELoss`` averages over features too, which makes gradients 784
    times smaller; Adam is blind to that scale, but its second-moment state
    then decays into float32's subnormal range after two or three epochs and
    the optimizer step slows down by half (measured). The loops and skorch use
    this loss so that all trainers do the same arithmetic on the same values.
    """

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output - target).square().sum(-1).mean()


def reference_loop(X: np.ndarray, epochs: int, fused: bool = False) -> list[float]:
    """The hand-written loop: per-epoch seconds, first epoch included."""
    g = torch.Generator().manual_seed(0)
    model = reference_module()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, fused=fused)
    Xt = torch.from_numpy(X)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in torch.randperm(len(Xt), generator=g).split(BATCH):
            xb = Xt[idx]
            opt.zero_grad()
            loss = (model(xb) - xb).square().sum(-1).mean()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def skae_model(max_iter: int, compile: bool = False) -> AutoencoderTransformer:
    # The loop's network and step: ReLU, no noise, no PCA start (the defaults
    # before "auto"; "adaptive" keeps the rate: tol=0, n_iter_no_change=max_iter).
    params = dict(
        FORMER_AE_DEFAULTS,
        hidden_layer_sizes=(512, 256),
        batch_size=BATCH,
        learning_rate_init=LR,
        alpha=WD,
        max_iter=max_iter,
        n_iter_no_change=max_iter,
        tol=0.0,
        random_state=0,
        device="cpu",
        compile=compile,
    )
    return AutoencoderTransformer(30, **params)


def skae_fit(
    X: np.ndarray, epochs: int, compile: bool = False
) -> tuple[float, float, list[float], AutoencoderTransformer]:
    """Seconds of a 1-epoch fit and of a (1 + epochs)-epoch fit, the per-epoch
    seconds inside the latter (first included) and the fitted model.

    The epochs are timed by wrapping ``skae._train.loop.run_epoch``, which ends
    with the epoch's one host sync, as skorch times its own epochs.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        skae_model(1, compile).fit(X[:1000])  # warm-up: lazy initialisation
        t1 = _timed(lambda: skae_model(1, compile).fit(X))
        model = skae_model(1 + epochs, compile)
        with timed_epochs() as epoch_times:
            t_many = _timed(lambda: model.fit(X))
    return t1, t_many, epoch_times, model


def skorch_fit(X: np.ndarray, epochs: int, fused: bool = False) -> list[float] | None:
    try:
        from skorch import NeuralNet
    except ImportError:
        return None
    net = NeuralNet(
        reference_module,
        criterion=SumSquaredError,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=WD,
        optimizer__fused=fused,
        lr=LR,
        batch_size=BATCH,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        device="cpu",
        verbose=0,
    )
    net.fit(X, X)
    return list(net.history[:, "dur"])


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory_probe(data: str, n_samples: int | None, dtype: str) -> dict:
    """Run in a child process: peak RSS growth and largest NumPy allocation of fit."""
    import tracemalloc

    X, _ = load(Path(data), n_samples)
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        skae_model(1).fit(X[:1000])  # torch's one-off allocations are not fit's
    rss_before = _status_bytes("VmRSS")
    # Reset the peak to now: ru_maxrss would also carry the parent's peak,
    # which Linux hands to a child through fork and exec.
    Path("/proc/self/clear_refs").write_text("5")
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = skae_model(1).fit(X)
    numpy_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = _status_bytes("VmHWM")
    n_params = sum(p.numel() for p in model.module_.parameters())
    return dict(
        growth=peak - rss_before,
        numpy_peak=numpy_peak,
        x32=X.shape[0] * X.shape[1] * 4,
        model=n_params * 4,
    )


def memory(args, dtype: str) -> dict:
    cmd = [sys.executable, __file__, "--memory-probe", dtype, "--data", str(args.data)]
    if args.n_samples:
        cmd += ["--n-samples", str(args.n_samples)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def throughput(transform, X: np.ndarray, repeats: int = 5) -> float:
    """Best samples/s of ``repeats`` calls after a warm-up call."""
    transform(X)
    return len(X) / min(_timed(lambda: transform(X)) for _ in range(repeats))


def floor_ratios(transform, X: np.ndarray, pairs: int = 9) -> list[float]:
    """Encoder FLOP floor / measured throughput, each against a peak taken just before.

    On a shared machine the attainable rate drifts by tens of percent within
    a minute; pairing every throughput with a fresh peak keeps the ratio honest.
    """
    ratios = []
    for _ in range(pairs):
        floor = matmul_peak(repeats=5) * 1e9 / encoder_flops_per_sample()
        ratios.append(floor / throughput(transform, X))
    return ratios


def _best(runs: list[list[float]]) -> list[float] | None:
    """The round with the lowest mean epoch time (None if the trainer is absent)."""
    runs = [r for r in runs if r]
    return min(runs, key=statistics.mean) if runs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds")
    parser.add_argument("--no-compile", action="store_true", help="skip compile=True")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "speed.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(
            json.dumps(memory_probe(str(args.data), args.n_samples, args.memory_probe))
        )
        return

    X_train, X_test = load(args.data, args.n_samples)
    X_scaled = skae_scaled(X_train)
    n = len(X_train)
    epochs = args.epochs
    peaks = [matmul_peak()]
    runs: dict[str, list] = {}
    fits: dict[str, list[tuple[float, float]]] = {"skae": [], "compiled": []}
    for _ in range(args.rounds):
        peaks.append(matmul_peak())
        for fused in (False, True):
            key = "loop fused" if fused else "loop"
            runs.setdefault(key, []).append(reference_loop(X_scaled, 1 + epochs, fused))
        t1, t_many, times, model = skae_fit(X_train, epochs)
        fits["skae"].append((t1, t_many))
        runs.setdefault("skae", []).append(times)
        if not args.no_compile:
            t1c, t_manyc, times, _ = skae_fit(X_train, epochs, compile=True)
            fits["compiled"].append((t1c, t_manyc))
            runs.setdefault("skae compiled", []).append(times)
        for fused in (False, True):
            k = skorch_fit(X_scaled, 1 + epochs, fused)
            key = "skorch fused" if fused else "skorch"
            runs.setdefault(key, []).append(k)
    # Like the trainers, the peak is the best of measurements spread over the run.
    peak = max(peaks)
    best = {key: _best([r[1:] for r in rs if r]) for key, rs in runs.items()}

    def marginal(pairs):
        """Per-epoch cost and one-off cost from the fastest 1- and (1+E)-epoch fits."""
        if not pairs:
            return None, None
        t1, t_many = min(p[0] for p in pairs), min(p[1] for p in pairs)
        per_epoch = (t_many - t1) / epochs
        return per_epoch, t1 - per_epoch

    marginal_epoch, skae_overhead = marginal(fits["skae"])
    _, comp_overhead = marginal(fits["compiled"])
    skae_epoch = statistics.mean(best["skae"])
    comp_epoch = statistics.mean(best["skae compiled"]) if fits["compiled"] else None
    # The same ratios within each round, where all trainers met similar load.
    round_loop, round_skorch = [], []
    for i, times in enumerate(runs["skae"]):
        epoch_i = statistics.mean(times[1:])
        loops = [statistics.mean(runs[k][i][1:]) for k in ("loop", "loop fused")]
        round_loop.append(epoch_i / min(loops))
        if runs["skorch"][i]:
            round_skorch.append(statistics.mean(runs["skorch"][i][1:]) / epoch_i)
    flops = training_flops_per_sample() * n

    def row(name, times):
        sec = statistics.mean(times)
        return (
            f"| {name} | {sec:.3f} | {statistics.median(times):.3f} | {n / sec:,.0f} | "
            f"{flops / sec / 1e9:.1f} | {flops / sec / 1e9 / peak:.0%} |"
        )

    names = {
        "skae": "skae `fit`",
        "skae compiled": "skae `fit`, `compile=True`",
        "loop": "hand-written loop, AdamW",
        "loop fused": "hand-written loop, AdamW(fused=True)",
        "skorch": "skorch `NeuralNet`, AdamW",
        "skorch fused": "skorch `NeuralNet`, AdamW(fused=True)",
    }
    table = [row(name, best[key]) for key, name in names.items() if best.get(key)]

    def per_epoch(key):
        return statistics.mean(best[key]) if best.get(key) else float("nan")

    loop_best = min(per_epoch("loop"), per_epoch("loop fused"))
    mem32, mem64 = memory(args, "float32"), memory(args, "float64")
    pca = PCA(30, random_state=0).fit(X_train)
    tp_skae = throughput(model.transform, X_test, repeats=20)
    tp_pca = throughput(pca.transform, X_test, repeats=20)
    tp_floor = peak * 1e9 / encoder_flops_per_sample()
    paired = floor_ratios(model.transform, X_test)
    mib = 2.0**20

    lines = [
        "# Speed: skae against a hand-written PyTorch loop and skorch",
        "",
        "Generated by `python benchmarks/bench_speed.py` on"
        f" {time.strftime('%Y-%m-%d')}:"
        f" {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
        f" with {torch.get_num_threads()} threads, scikit-learn {sklearn.__version__}.",
        f"MNIST, {n} training images / 255 in float32; autoencoder"
        f" {'-'.join(map(str, SIZES))} (mirrored decoder), AdamW lr={LR}"
        f" weight_decay={WD}, batch {BATCH}; {epochs} timed epochs after one warm-up,"
        f" best of {args.rounds} interleaved rounds. Every trainer minimises the"
        " squared error summed over features and averaged over the batch, on"
        " the data centred and scaled as skae's `fit` scales it (see"
        " `SumSquaredError` in the script: with `nn.MSELoss`, which also"
        " averages over features, Adam's second moments fall into float32's"
        " subnormal range after two or three epochs and a plain loop's epoch"
        " slowed from 1.8 s to 2.9 s on this machine). skae's model is the"
        ' loop\'s: ReLU, no input noise, no `pca_path`, `learning_rate="adaptive"`'
        " (which keeps the rate here), the defaults before skae's data-adaptive"
        " ones.",
        f"Measured float32 matrix-product peak (2048 x 2048, best of"
        f" {len(peaks)} measurements across the run): {peak:.1f} GFLOP/s.",
        "",
        "| trainer | s/epoch (mean) | s/epoch (median) | samples/s | GFLOP/s"
        " | of peak |",
        "|---|---:|---:|---:|---:|---:|",
        *table,
        "",
        f"- skae / fastest hand-written loop: **{skae_epoch / loop_best:.3f}**;"
        f" skae / loop with default AdamW: {skae_epoch / per_epoch('loop'):.3f}.",
        f"- skorch / skae: **{per_epoch('skorch') / skae_epoch:.2f}**; skorch with"
        f" fused AdamW / skae: {per_epoch('skorch fused') / skae_epoch:.2f}.",
        "- The same ratios within each round: skae / fastest loop "
        + ", ".join(f"{r:.3f}" for r in round_loop)
        + "; skorch / skae "
        + (", ".join(f"{r:.2f}" for r in round_skorch) or "-")
        + ".",
        f"- Cross-check from whole `fit` calls, (fit of 1 + {epochs} epochs - fit of"
        f" 1 epoch) / {epochs}: {marginal_epoch:.3f} s/epoch. One-off work per `fit`"
        " outside the epochs (float32 copy, scaling, latent density for `sample`):"
        f" {skae_overhead:.2f} s.",
    ]
    if comp_epoch is not None:
        lines.append(
            f"- `compile=True`: {comp_epoch / skae_epoch:.3f} x the eager epoch;"
            f" one-off work per `fit` {comp_overhead:.2f} s (compilation is cached"
            " after the first fit of the run)."
        )
    lines += [
        f"- Peak memory growth of `fit` on float32 X: {mem32['growth'] / mib:.0f} MiB"
        f" = {mem32['growth'] / (mem32['x32'] + mem32['model']):.2f} x (float32 X"
        f" {mem32['x32'] / mib:.0f} MiB + model {mem32['model'] / mib:.1f} MiB);"
        f" on float64 X: {mem64['growth'] / mib:.0f} MiB"
        f" = {mem64['growth'] / (mem64['x32'] + mem64['model']):.2f} x.",
        f"- Largest NumPy allocation during `fit` (tracemalloc): float32 X"
        f" {mem32['numpy_peak'] / mib:.0f} MiB, float64 X"
        f" {mem64['numpy_peak'] / mib:.0f} MiB; a float64 copy of X would be"
        f" {2 * mem32['x32'] / mib:.0f} MiB.",
        f"- `transform` of {len(X_test)} test images: skae {tp_skae:,.0f} samples/s,"
        f" PCA {tp_pca:,.0f} samples/s; the encoder's FLOP floor at the measured"
        f" peak is {tp_floor:,.0f} samples/s, so skae takes"
        f" {tp_floor / tp_skae:.2f} x the floor (best against best). Paired with"
        f" a peak measured just before it, over {len(paired)} measurements:"
        f" median **{statistics.median(paired):.2f} x** the floor (range"
        f" {min(paired):.2f}-{max(paired):.2f}).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        args.output.parent.mkdir(exist_ok=True)
        args.output.write_text(text)


if __name__ == "__main__":
    main()
