"""What the benchmark scripts share; each script imports it, none imports another.

Run a script from anywhere as ``python benchmarks/<script>.py``: Python puts
``benchmarks/`` on the import path, so ``from common import ...`` finds this
module without any change to ``sys.path``. ``benchmarks/README.md`` lists
which script writes which page from which stored results.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from skae import AutoencoderTransformer, VAETransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS, FORMER_VAE_DEFAULTS
from skae._train import loop
from skae._train.loop import run_epoch
from skae.datasets import load_image_dataset

ROOT = Path(__file__).resolve().parents[1]
# The shared data of the development machines (../shared/data/); scripts
# also take --data (or OpenML's cached copies through skae.datasets).
DATA = ROOT.parent / "shared" / "data"
MNIST = DATA / "mnist.npz"
RESULTS = ROOT / "benchmarks" / "results"


# ---------------- the settings of the quality pages; how codes are measured

# The small-data setting sweep_digits.py chose (the user guide's and, before the
# data-adaptive defaults, ``skae compare``'s "Denoising AE"); pixels 0..16.
DIGITS_SETTING = dict(
    hidden_layer_sizes=(1024, 512),
    activation="silu",
    corruption="gaussian",
    corruption_level=5.0,
)


DIGITS_SETTING_TEXT = ", ".join(f"{k}={v!r}" for k, v in DIGITS_SETTING.items())


def mlp_model(k: int, epochs: int, seed: int) -> AutoencoderTransformer:
    """The documented "best" setting for an MLP autoencoder, built on PCA."""
    return AutoencoderTransformer(
        k,
        hidden_layer_sizes=(1000, 500, 250),
        activation="silu",
        pca_path=True,
        corruption="gaussian",
        corruption_level=0.1,
        learning_rate="cosine",
        learning_rate_init=2e-3,
        max_iter=epochs,
        batch_size=256,
        random_state=seed,
    )


def ae30_model(epochs: int, seed: int) -> AutoencoderTransformer:
    """The "best" MLP setting at 30 components, against Hinton & Salakhutdinov."""
    return mlp_model(30, epochs, seed)


def conv_model(epochs: int, seed: int, k: int = 64) -> AutoencoderTransformer:
    """The documented "best" setting for a convolutional autoencoder."""
    # The rest as stored: the defaults before "auto" (ReLU, no noise, 1e-3).
    params = dict(
        FORMER_AE_DEFAULTS,
        architecture="conv",
        image_shape=(28, 28),
        hidden_layer_sizes=(),
        learning_rate="cosine",
        max_iter=epochs,
        batch_size=256,
        random_state=seed,
    )
    return AutoencoderTransformer(k, **params)


def vae_model(epochs: int, seed: int, n_importance: int = 1) -> VAETransformer:
    """Bernoulli VAE, 50 latent units, dynamic binarization."""
    # The rest as stored: the defaults before "auto" (ReLU, beta 1, 1e-3).
    params = dict(
        FORMER_VAE_DEFAULTS,
        hidden_layer_sizes=(500, 500),
        likelihood="bernoulli",
        binarize=True,
        n_importance_samples=n_importance,
        learning_rate="cosine",
        max_iter=epochs,
        batch_size=128,
        random_state=seed,
    )
    return VAETransformer(50, **params)


def scaling_of(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The internal scaling ``model.fit(X)`` will use (mean_, scale_)."""
    from skae._data.scaling import fit_scaling

    return fit_scaling(X, model._resolved_scaling())


def test_error(model, X_test: np.ndarray) -> float:
    rec = model.inverse_transform(model.transform(X_test))
    return float(((rec - X_test) ** 2).sum(1).mean())


def classify(codes_train, codes_test, y_train, y_test) -> tuple[float, float]:
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    knn = KNeighborsClassifier(5)
    return (
        float(logreg.fit(codes_train, y_train).score(codes_test, y_test)),
        float(knn.fit(codes_train, y_train).score(codes_test, y_test)),
    )


def binarized(X: np.ndarray, seed: int) -> np.ndarray:
    """One Bernoulli draw of images in [0, 1] (the fixed binary test set)."""
    return (np.random.RandomState(seed).random_sample(X.shape) < X).astype(np.float32)


def mnist_like(n_rows: int) -> np.ndarray:
    """MNIST images in [0, 1] when the shared copy is there, else uniform noise."""
    if MNIST.exists():
        with np.load(MNIST) as data:
            return (data["X_train"][:n_rows] / 255.0).astype(np.float32)
    return np.random.RandomState(0).uniform(size=(n_rows, 784)).astype(np.float32)


def best_ms(fn, calls: int) -> float:
    """Best wall time of ``calls`` calls of ``fn``, in milliseconds."""
    best = np.inf
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def fit_counted(model, X) -> tuple[float, bool]:
    """Fit; return the seconds and whether it stopped without ConvergenceWarning."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X)
    stopped = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return time.perf_counter() - start, stopped


# ---------------- the command line of the sweep scripts


def device_label(model) -> str:
    """Where ``model`` was fitted, and with which torch."""
    device = next(model.module_.parameters()).device
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    return f"{name}, torch {torch.__version__}"


def load_mnist(path: str | None, quick: bool) -> tuple:
    """MNIST's training and test images, then their labels (2000 if ``quick``)."""
    n = 2000 if quick else None
    mnist = load_image_dataset("mnist", path)
    m = n and n // 5
    return mnist.X_train[:n], mnist.X_test[:m], mnist.y_train[:n], mnist.y_test[:m]


def sweep_main(doc: str, variants, quick_names, measure, report, load=load_mnist):
    """The command line of a sweep script: run variants, or print a report.

    ``measure(name, data, device, quick)`` returns one variant's JSON row
    from ``data = load(args.data, quick)`` (by default MNIST's training and
    test images, then their labels).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("variants", nargs="*", help="names of VARIANTS (default all)")
    parser.add_argument("--data", default=str(MNIST) if MNIST.exists() else None)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", type=Path, help="append one JSON line per variant")
    parser.add_argument(
        "--report", type=Path, nargs="+", help="print the table of stored runs"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    args = parser.parse_args()
    if args.report:
        print(report(*args.report))
        return
    unknown = sorted(set(args.variants) - set(variants))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(variants)}")
    names = args.variants or list(variants)
    if args.quick and not args.variants:
        names = quick_names
    data = load(args.data, args.quick)
    for name in names:
        row = measure(name, data, args.device, args.quick)
        print(json.dumps(row), flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(row) + "\n")


def script_report(script: str, *paths: Path) -> str:
    """The table ``python benchmarks/<script> --report PATH...`` prints.

    Each sweep script owns its table; a page that shows it runs the script
    rather than importing it.
    """
    command = [sys.executable, str(ROOT / "benchmarks" / script), "--report"]
    done = subprocess.run(
        [*command, *map(str, paths)], check=True, capture_output=True, text=True
    )
    return done.stdout.rstrip("\n")


# ---------------- the digits: variants against PCA on each split

DIGIT_KS = (2, 8, 16)


DIGIT_SPLITS = 5


DIGIT_SEEDS = (0, 1)


DIGIT_NOISE = dict(corruption="gaussian")  # corruption_level in pixel units (0..16)


# name: overrides of AutoencoderTransformer(k, max_iter=100) with the defaults
# it was run with (FORMER_AE_DEFAULTS; the stored results predate "auto").
DIGIT_VARIANTS = {
    "defaults": {},
    "200 epochs": dict(max_iter=200),
    "early stopping, 200 epochs": dict(early_stopping=True, max_iter=200),
    "silu": dict(activation="silu"),
    "tanh": dict(activation="tanh"),
    "hidden 512-256": dict(hidden_layer_sizes=(512, 256)),
    "hidden 64": dict(hidden_layer_sizes=(64,)),
    "alpha=1e-2": dict(alpha=1e-2),
    "batch 32": dict(batch_size=32),
    "scaling standard": dict(scaling="standard"),
    "pca_path": dict(pca_path=True),
    "noise 1": dict(DIGIT_NOISE, corruption_level=1.0),
    "noise 3": dict(DIGIT_NOISE, corruption_level=3.0),
    "noise 5": dict(DIGIT_NOISE, corruption_level=5.0),
    "masking 0.2": dict(corruption="masking", corruption_level=0.2),
    "neighbour term 0.3": dict(neighbor_weight=0.3),
    "silu, noise 3": dict(DIGIT_NOISE, activation="silu", corruption_level=3.0),
    "pca_path, noise 3": dict(DIGIT_NOISE, pca_path=True, corruption_level=3.0),
    "hidden 512-256, noise 5": dict(
        DIGIT_NOISE, hidden_layer_sizes=(512, 256), corruption_level=5.0
    ),
    "hidden 1024-512, noise 5": dict(
        DIGIT_NOISE, hidden_layer_sizes=(1024, 512), corruption_level=5.0
    ),
    "hidden 512-256, silu, noise 3": dict(
        DIGIT_NOISE,
        hidden_layer_sizes=(512, 256),
        activation="silu",
        corruption_level=3.0,
    ),
    "silu, noise 5": dict(DIGIT_NOISE, activation="silu", corruption_level=5.0),
    "hidden 1024-512, silu": dict(hidden_layer_sizes=(1024, 512), activation="silu"),
    # skae compare's "Denoising AE" row
    "hidden 1024-512, silu, noise 5": dict(DIGITS_SETTING),
}


def load_digit_splits(path: str | None, quick: bool, first_split: int = 0) -> tuple:
    """The splits, seeds and k, with PCA's and the raw pixels' accuracies.

    ``quick``: one split and seed, k=2 only. The splits' ``random_state``
    runs from ``first_split``. The baselines are measured once here and
    written into every variant's row.
    """
    X, y = load_digits(return_X_y=True)
    first = range(first_split, first_split + (1 if quick else DIGIT_SPLITS))
    splits = [
        train_test_split(X, y, test_size=0.25, random_state=s, stratify=y)
        for s in first
    ]
    ks = DIGIT_KS[:1] if quick else DIGIT_KS
    raw_knn = [
        KNeighborsClassifier(5).fit(X_train, y_train).score(X_test, y_test)
        for X_train, X_test, y_train, y_test in splits
    ]
    pca = {}
    for k in ks:
        scores = []
        for X_train, X_test, y_train, y_test in splits:
            model = PCA(k, random_state=0).fit(X_train)
            codes = model.transform(X_train), model.transform(X_test)
            scores.append(classify(*codes, y_train, y_test))
        pca[k] = dict(pca_logreg=[s[0] for s in scores], pca_knn=[s[1] for s in scores])
    return (
        splits,
        DIGIT_SEEDS[:1] if quick else DIGIT_SEEDS,
        ks,
        pca,
        raw_knn,
        first_split,
    )


def run_digit_variant(name: str, data, device: str, quick: bool) -> dict:
    """Fit one variant at every k, split and seed; its and PCA's accuracies.

    Accuracies are lists over splits (PCA, raw pixels) or over splits, then
    seeds (the autoencoder).
    """
    splits, seeds, ks, pca, raw_knn, first_split = data
    # batch_size="auto" was min(200, n): 200 on the digits' 1347 rows.
    params = dict(
        FORMER_AE_DEFAULTS, batch_size=200, max_iter=2 if quick else 100, device=device
    )
    params.update(DIGIT_VARIANTS[name])
    row = dict(variant=name, params=DIGIT_VARIANTS[name], seeds=list(seeds), by_k={})
    row["raw_knn"] = raw_knn
    row["first_split"] = first_split
    start = time.perf_counter()
    for k in ks:
        ae, epochs, stopped = [], [], []
        for X_train, X_test, y_train, y_test in splits:
            ae.append([])
            for seed in seeds:
                model = AutoencoderTransformer(k, random_state=seed, **params)
                stopped.append(fit_counted(model, X_train)[1])
                codes = model.transform(X_train), model.transform(X_test)
                ae[-1].append(classify(*codes, y_train, y_test))
                epochs.append(model.n_iter_)
        ae = np.array(ae)
        row["by_k"][str(k)] = dict(
            logreg=ae[..., 0].tolist(),
            knn=ae[..., 1].tolist(),
            **pca[k],
            epochs=float(np.mean(epochs)),
            stopped=float(np.mean(stopped)),
        )
    row["seconds"] = round(time.perf_counter() - start, 1)
    row["device"] = device_label(model)
    return row


def digit_summary(by: dict, key: str) -> tuple[float, float, float]:
    """Mean accuracy, mean difference to PCA and share of fits >= PCA."""
    ae = np.array(by[key])
    pca = np.array(by[f"pca_{key}"])[:, None]
    return ae.mean(), (ae - pca).mean(), (ae >= pca).mean()


def digits_report(path: Path) -> str:
    """The stored lines as a markdown table, in the order of ``DIGIT_VARIANTS``."""
    rows = {r["variant"]: r for r in map(json.loads, path.read_text().splitlines())}
    names = [v for v in DIGIT_VARIANTS if v in rows]
    first = rows[names[0]]
    split = first.get("first_split", 0)
    last = "`skae compare`" if split == 0 else f"split {split}, seed 0"
    lines = [
        "| variant | k | logreg | vs PCA | fits >= PCA | 5-NN | vs PCA "
        f"| fits >= PCA | epochs | {last} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in first["by_k"]:
        by = first["by_k"][k]
        lines.append(
            f"| PCA | {k} | {np.mean(by['pca_logreg']):.4f} | | "
            f"| {np.mean(by['pca_knn']):.4f} | | | "
            f"| {by['pca_logreg'][0]:.3f} / {by['pca_knn'][0]:.3f} |"
        )
    lines.append(
        f"| 5-NN on the 64 pixels | | | | | {np.mean(first['raw_knn']):.4f} | | | | |"
    )
    for name in names:
        for k, by in rows[name]["by_k"].items():
            cells = [
                f"{mean:.4f} | {diff:+.4f} | {share:.0%}"
                for mean, diff, share in (
                    digit_summary(by, "logreg"),
                    digit_summary(by, "knn"),
                )
            ]
            compare = f"{by['logreg'][0][0]:.3f} / {by['knn'][0][0]:.3f}"
            lines.append(
                f"| {name} | {k} | "
                + " | ".join(cells)
                + f" | {by['epochs']:.0f} | {compare} |"
            )
    return "\n".join(lines)


# ---------------- the reference training loop of the speed pages

SIZES = [784, 512, 256, 30]
BATCH, LR, WD = 256, 1e-3, 1e-4


def reference_module() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
        nn.Linear(256, 30),
        nn.Linear(30, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
        nn.Linear(512, 784),
    )  # fmt: skip


def skae_scaled(X: np.ndarray) -> np.ndarray:
    """X centred per feature and divided by one global scale, as skae's
    ``scaling="auto"`` does inside ``fit``; the loops and skorch get this
    array, prepared outside their timing."""
    X64 = X.astype(np.float64)
    Xs = (X64 - X64.mean(0)) / np.sqrt(X64.var(0).mean())
    return Xs.astype(np.float32)


@contextmanager
def timed_epochs() -> Iterator[list[float]]:
    """The seconds of every ``skae._train.loop.run_epoch`` called inside the block.

    ``run_epoch`` ends with the epoch's one host sync, as skorch times its
    own epochs.
    """
    times: list[float] = []

    def timed(*args, **kwargs):
        start = time.perf_counter()
        loss = run_epoch(*args, **kwargs)
        times.append(time.perf_counter() - start)
        return loss

    with mock.patch.object(loop, "run_epoch", timed):
        yield times
