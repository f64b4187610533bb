"""Codes against PCA's on sklearn's digits, over several splits and seeds.

``skae compare`` measures one split (``random_state=0``) and one seed; its
450 test images make one image 0.0022 of accuracy, about the spread between
two seeds of one setting. This script fits ``AutoencoderTransformer`` with
the defaults of ``skae compare`` (``max_iter=100``) and some parameters
changed, at k in {2, 8, 16}, on ``N_SPLITS`` stratified 75/25 splits
(``random_state`` 0 to 4; split 0 is ``skae compare``'s) with seeds 0 and 1,
and compares the LogisticRegression and 5-NN accuracy of its codes with
PCA's on the same split, measured once in the same run (as is 5-NN on the
64 raw pixels). One JSON line per variant goes to ``--json``. Usage::

    python benchmarks/sweep_digits.py --device cpu --json out.jsonl defaults silu
    python benchmarks/sweep_digits.py --report benchmarks/results/sweep_digits_cpu.jsonl
    python benchmarks/sweep_digits.py --quick --json /tmp/out.jsonl   # smoke test
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import DIGITS_SETTING, classify, fit_counted
from sweep_mlp import device_label, sweep_main

from skae import AutoencoderTransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS

KS = (2, 8, 16)
N_SPLITS = 5
SEEDS = (0, 1)
NOISE = dict(corruption="gaussian")  # corruption_level in pixel units (0..16)
# name: overrides of AutoencoderTransformer(k, max_iter=100) with the defaults
# it was run with (FORMER_AE_DEFAULTS; the stored results predate "auto").
VARIANTS = {
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
    "noise 1": dict(NOISE, corruption_level=1.0),
    "noise 3": dict(NOISE, corruption_level=3.0),
    "noise 5": dict(NOISE, corruption_level=5.0),
    "masking 0.2": dict(corruption="masking", corruption_level=0.2),
    "neighbour term 0.3": dict(neighbor_weight=0.3),
    "silu, noise 3": dict(NOISE, activation="silu", corruption_level=3.0),
    "pca_path, noise 3": dict(NOISE, pca_path=True, corruption_level=3.0),
    "hidden 512-256, noise 5": dict(
        NOISE, hidden_layer_sizes=(512, 256), corruption_level=5.0
    ),
    "hidden 1024-512, noise 5": dict(
        NOISE, hidden_layer_sizes=(1024, 512), corruption_level=5.0
    ),
    "hidden 512-256, silu, noise 3": dict(
        NOISE, hidden_layer_sizes=(512, 256), activation="silu", corruption_level=3.0
    ),
    "silu, noise 5": dict(NOISE, activation="silu", corruption_level=5.0),
    "hidden 1024-512, silu": dict(hidden_layer_sizes=(1024, 512), activation="silu"),
    # skae compare's "Denoising AE" row
    "hidden 1024-512, silu, noise 5": dict(DIGITS_SETTING),
}


def load(path: str | None, quick: bool, first_split: int = 0) -> tuple:
    """The splits, seeds and k, with PCA's and the raw pixels' accuracies.

    ``quick``: one split and seed, k=2 only. The splits' ``random_state``
    runs from ``first_split``. The baselines are measured once here and
    written into every variant's row.
    """
    X, y = load_digits(return_X_y=True)
    first = range(first_split, first_split + (1 if quick else N_SPLITS))
    splits = [
        train_test_split(X, y, test_size=0.25, random_state=s, stratify=y)
        for s in first
    ]
    ks = KS[:1] if quick else KS
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
    return splits, SEEDS[:1] if quick else SEEDS, ks, pca, raw_knn, first_split


def run_variant(name: str, data, device: str, quick: bool) -> dict:
    """Fit one variant at every k, split and seed; its and PCA's accuracies.

    Accuracies are lists over splits (PCA, raw pixels) or over splits, then
    seeds (the autoencoder).
    """
    splits, seeds, ks, pca, raw_knn, first_split = data
    # batch_size="auto" was min(200, n): 200 on the digits' 1347 rows.
    params = dict(
        FORMER_AE_DEFAULTS, batch_size=200, max_iter=2 if quick else 100, device=device
    )
    params.update(VARIANTS[name])
    row = dict(variant=name, params=VARIANTS[name], seeds=list(seeds), by_k={})
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


def summary(by: dict, key: str) -> tuple[float, float, float]:
    """Mean accuracy, mean difference to PCA and share of fits >= PCA."""
    ae = np.array(by[key])
    pca = np.array(by[f"pca_{key}"])[:, None]
    return ae.mean(), (ae - pca).mean(), (ae >= pca).mean()


def report(path: Path) -> str:
    """The stored lines as a markdown table, in the order of ``VARIANTS``."""
    rows = {r["variant"]: r for r in map(json.loads, path.read_text().splitlines())}
    names = [v for v in VARIANTS if v in rows]
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
                for mean, diff, share in (summary(by, "logreg"), summary(by, "knn"))
            ]
            compare = f"{by['logreg'][0][0]:.3f} / {by['knn'][0][0]:.3f}"
            lines.append(
                f"| {name} | {k} | "
                + " | ".join(cells)
                + f" | {by['epochs']:.0f} | {compare} |"
            )
    return "\n".join(lines)


def main() -> None:
    sweep_main(
        __doc__,
        VARIANTS,
        ["defaults", "noise 3"],
        run_variant,
        report,
        load=load,
    )


if __name__ == "__main__":
    main()
