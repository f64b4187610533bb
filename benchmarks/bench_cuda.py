"""skae on a CUDA GPU: epoch speed against a hand-written loop, and MNIST fits.

Run where CUDA is available (the figures in docs/speed.md's CUDA section came
from one run on a lent H200 or H100; see that page). Parts, each appended to
``--json`` as one JSON object per line as soon as it is measured, so that an
interrupted run keeps what it measured:

* ``speed``: seconds per epoch of the bench_speed.py autoencoder
  (784-512-256-30, batch 256, AdamW) on MNIST: a hand-written loop over a
  float32 tensor on the GPU (AdamW fused), and skae's ``fit`` eager, with
  ``compile=True``, with ``precision="bf16"`` and with both; peak GPU memory
  of fitting from uint8 and from float32 input.
* ``fits``: seconds of ``AutoencoderTransformer(30).fit`` with the defaults,
  of the documented "best" MLP and conv settings (bench_quality.py), and
  their MNIST test squared error per image.

``--report`` turns the JSON lines into the markdown section of
docs/speed.md (printed). Usage::

    python benchmarks/bench_cuda.py --json results.jsonl          # on the GPU
    python benchmarks/bench_cuda.py --report results.jsonl         # anywhere
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS
from skae.datasets import load_image_dataset

from common import (
    BATCH,
    LR,
    WD,
    ae30_model,
    conv_model,
    reference_module,
    skae_scaled,
    timed_epochs,
)

DEVICE = torch.device("cuda")


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def loop_epochs(X: np.ndarray, epochs: int) -> list[float]:
    """The hand-written loop on the GPU (fused AdamW): seconds per epoch."""
    device = DEVICE
    g = torch.Generator(device=device).manual_seed(0)
    model = reference_module().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, fused=True)
    Xt = torch.from_numpy(X).to(device)
    times = []
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        for idx in torch.randperm(len(Xt), generator=g, device=device).split(BATCH):
            xb = Xt[idx]
            opt.zero_grad()
            loss = (model(xb) - xb).square().sum(-1).mean()
            loss.backward()
            opt.step()
        sync()
        times.append(time.perf_counter() - start)
    return times


def skae_epochs(X: np.ndarray, epochs: int, **params) -> tuple[list[float], float]:
    """skae's fit on the GPU: seconds per epoch (run_epoch timed), whole fit."""
    # The loop's network and step, as bench_speed.skae_model (former defaults).
    settings = dict(
        FORMER_AE_DEFAULTS,
        hidden_layer_sizes=(512, 256),
        batch_size=BATCH,
        learning_rate_init=LR,
        alpha=WD,
        max_iter=epochs,
        n_iter_no_change=epochs,
        tol=0.0,
        random_state=0,
        device=DEVICE.type,
    )
    model = AutoencoderTransformer(30, **{**settings, **params})
    with timed_epochs() as times:
        start = time.perf_counter()
        model.fit(X)
        total = time.perf_counter() - start
    return times, total


def peak_memory(X: np.ndarray) -> int:
    """Peak GPU memory allocated by a 1-epoch fit on X, in bytes."""
    if DEVICE.type != "cuda":
        return 0
    sync()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    params = dict(
        FORMER_AE_DEFAULTS,  # as stored, with the former batch_size="auto"
        hidden_layer_sizes=(512, 256),
        max_iter=1,
        batch_size=min(200, len(X)),
        device="cuda",
        random_state=0,
    )
    AutoencoderTransformer(30, **params).fit(X)
    sync()
    return torch.cuda.max_memory_allocated() - base


def part_speed(data, emit, epochs: int) -> None:
    X = data.X_train
    X_scaled = skae_scaled(X)
    variants = {
        "skae": {},
        "skae compile": dict(compile=True),
        "skae bf16": dict(precision="bf16"),
        "skae compile+bf16": dict(compile=True, precision="bf16"),
    }
    loop_epochs(X_scaled, 2)  # CUDA context and kernels warm
    for round_ in range(2):
        times = loop_epochs(X_scaled, 1 + epochs)
        emit(dict(part="speed", trainer="loop fused", round=round_, epochs=times))
        for name, params in variants.items():
            times, total = skae_epochs(X, 1 + epochs, **params)
            emit(
                dict(part="speed", trainer=name, round=round_, epochs=times, fit=total)
            )
    raw = data.X_train_raw
    emit(
        dict(
            part="memory",
            uint8=peak_memory(raw),
            float32=peak_memory(raw.astype(np.float32) / np.float32(255)),
            x_uint8=raw.nbytes,
        )
    )


def test_error(model, X_test: np.ndarray) -> float:
    return float(
        ((model.inverse_transform(model.transform(X_test)) - X_test) ** 2).sum(1).mean()
    )


def part_fits(data, emit, epochs: dict) -> None:
    X, X_test = data.X_train, data.X_test
    # The stored "defaults" row is the former defaults (batch_size="auto" was
    # then min(200, n)); the label is the stored rows' key.
    former = dict(FORMER_AE_DEFAULTS, batch_size=200, random_state=0)
    models = {
        "AutoencoderTransformer(30), defaults": AutoencoderTransformer(30, **former),
        f"best MLP, {epochs['mlp']} epochs": ae30_model(epochs["mlp"], 0),
        f"conv k=64, {epochs['conv']} epochs": conv_model(epochs["conv"], 0),
    }
    for model in models.values():
        model.set_params(device=DEVICE.type)
    for name, model in models.items():
        sync()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
        sync()
        seconds = time.perf_counter() - start
        emit(
            dict(
                part="fits",
                model=name,
                seconds=seconds,
                n_iter=model.n_iter_,
                test_error=test_error(model, X_test),
            )
        )


def report(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    info = next(r for r in rows if r.get("part") == "info")
    speed: dict[str, list[float]] = {}
    for r in rows:
        if r.get("part") == "speed":
            per_epoch = statistics.mean(r["epochs"][1:])
            speed.setdefault(r["trainer"], []).append(per_epoch)
    best = {k: min(v) for k, v in speed.items()}
    loop = best["loop fused"]
    lines = [
        f"Measured with `python benchmarks/bench_cuda.py` on {info['device']},"
        f" torch {info['torch']}, scikit-learn {info['sklearn']}.",
        "",
        "| trainer | s/epoch (best of 2 rounds) | / hand-written loop |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v:.3f} | {v / loop:.2f} |" for k, v in best.items()]
    mem = next((r for r in rows if r.get("part") == "memory"), None)
    if mem:
        mib = 2.0**20
        lines += [
            "",
            f"Peak GPU memory of a 1-epoch fit: uint8 input {mem['uint8'] / mib:.0f}"
            f" MiB, float32 input {mem['float32'] / mib:.0f} MiB (X as uint8:"
            f" {mem['x_uint8'] / mib:.0f} MiB).",
        ]
    fits = [r for r in rows if r.get("part") == "fits"]
    if fits:
        lines += [
            "",
            "| MNIST fit on CUDA | seconds | epochs | test error / image |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['model']} | {r['seconds']:.1f} | {r['n_iter']} |"
            f" {r['test_error']:.2f} |"
            for r in fits
        ]
    lines += [
        "",
        "Best MLP: bench_quality.py's `ae30` setting at the time of the run"
        ' (a 784-1000-500-250-30 ReLU network, `learning_rate="cosine"`,'
        " batch 256, rate 1e-3; since then SiLU, `pca_path=True`, Gaussian"
        " input noise 0.1 and rate 2e-3, which reach 2.97 in 80 epochs, 832 s,"
        " on the 2-core CPU of"
        " docs/quality.md); conv k=64: its `conv64` setting. The defaults stop"
        " on their own (`tol`). They are the defaults before skae's"
        " data-adaptive ones (hidden (256, 128), ReLU, no input noise, adaptive"
        " schedule, `max_iter=200`), as is the rest of the speed rows'"
        " 784-512-256-30 network. On that CPU the two settings of the run took"
        " 893 s (3.63) and 908 s (1.66).",
    ]
    suite = next((r for r in rows if r.get("part") == "pytest"), None)
    if suite:
        lines += [
            "",
            f"The test suite on the GPU, `{suite['command']}`: {suite['passed']}"
            f" passed, {suite['failed']} failed, {suite['skipped']} skipped in"
            f" {suite['seconds']:.0f} s. Failed: "
            + ", ".join(f"`{name.split('::')[-1]}`" for name in suite["failures"])
            + ". "
            + suite.get("note", ""),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=Path("cuda.jsonl"))
    parser.add_argument("--parts", default="speed,fits")
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs")
    parser.add_argument("--mlp-epochs", type=int, default=80)
    parser.add_argument("--conv-epochs", type=int, default=50)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n-samples", type=int, default=None)
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.report:
        print(report(args.report))
        return
    import sklearn

    data = load_image_dataset("mnist", args.data)
    data.X_train = data.X_train[: args.n_samples]
    data.X_train_raw = np.rint(data.X_train * 255).astype(np.uint8)

    def emit(record: dict) -> None:
        print(json.dumps(record), flush=True)
        with args.json.open("a") as f:
            f.write(json.dumps(record) + "\n")

    emit(
        dict(
            part="info",
            device=torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu",
            torch=torch.__version__,
            sklearn=sklearn.__version__,
        )
    )
    parts = args.parts.split(",")
    if "speed" in parts:
        part_speed(data, emit, args.epochs)
    if "fits" in parts:
        part_fits(data, emit, dict(mlp=args.mlp_epochs, conv=args.conv_epochs))


if __name__ == "__main__":
    main()
