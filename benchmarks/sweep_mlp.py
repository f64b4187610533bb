"""Which parts of the "best" MLP setting matter: one change at a time on MNIST.

Each variant is ``common.mlp_model`` (1000-500-250, SiLU,
``pca_path=True``, Gaussian input noise 0.1, cosine schedule from 2e-3, batch
256) with some parameters overridden; ``relu`` is the setting before SiLU,
noise and the higher rate (3.63 at 30 components on the 2-core CPU). Each
variant's test and training squared error per image (and, at 64 components,
5-NN and LogisticRegression accuracy of its codes) is appended to ``--json``
as one line as soon as it is measured. Fitting seconds are only comparable
between variants run alone on the same machine: the published file was run
as 5 or 6 processes at once on one H100. Usage::

    python benchmarks/sweep_mlp.py --device cuda --json out.jsonl relu silu
    python benchmarks/sweep_mlp.py --report benchmarks/results/sweep_mlp_h100.jsonl
    python benchmarks/sweep_mlp.py --quick --json /tmp/out.jsonl   # smoke test
"""

from __future__ import annotations

import json
from pathlib import Path

from common import (
    classify,
    device_label,
    fit_counted,
    mlp_model,
    sweep_main,
    test_error,
)

RELU = dict(activation="relu", corruption=None, learning_rate_init=1e-3)
NOISE = dict(corruption="gaussian", corruption_level=0.1)
SILU = {**RELU, "activation": "silu"}
SILU_NOISE = {**SILU, **NOISE}
# name: (n_components, epochs, overrides of mlp_model)
VARIANTS = {
    "relu": (30, 80, RELU),
    "relu, 150 epochs": (30, 150, RELU),
    "relu, alpha=1e-3": (30, 80, {**RELU, "alpha": 1e-3}),
    "relu, alpha=0": (30, 80, {**RELU, "alpha": 0.0}),
    "relu, rate 3e-3": (30, 80, {**RELU, "learning_rate_init": 3e-3}),
    "relu, batch 128, 60 epochs": (30, 60, {**RELU, "batch_size": 128}),
    "relu, masking 0.1": (30, 80, {**RELU, "corruption": "masking"}),
    "relu, noise 0.1": (30, 80, {**RELU, **NOISE}),
    "silu": (30, 80, SILU),
    "gelu": (30, 80, {**RELU, "activation": "gelu"}),
    "elu": (30, 80, {**RELU, "activation": "elu"}),
    "silu, noise 0.05": (30, 80, {**SILU_NOISE, "corruption_level": 0.05}),
    "silu, noise 0.075": (30, 80, {**SILU_NOISE, "corruption_level": 0.075}),
    "silu, noise 0.1": (30, 80, SILU_NOISE),
    "silu, noise 0.1, seed 1": (30, 80, {**SILU_NOISE, "random_state": 1}),
    "silu, noise 0.2": (30, 80, {**SILU_NOISE, "corruption_level": 0.2}),
    "gelu, noise 0.1": (30, 80, {**RELU, **NOISE, "activation": "gelu"}),
    "best": (30, 80, {}),
    "best, 100 epochs, rate 1e-3": (30, 100, {"learning_rate_init": 1e-3}),
    "best, 100 epochs, batch 512": (30, 100, {"batch_size": 512}),
    "k=64: relu, 20 epochs": (64, 20, RELU),
    "k=64: relu, 30 epochs": (64, 30, RELU),
    "k=64: relu, alpha=1e-3": (64, 20, {**RELU, "alpha": 1e-3}),
    "k=64: relu, noise 0.1": (64, 20, {**RELU, **NOISE}),
    "k=64: relu, masking 0.1": (64, 20, {**RELU, "corruption": "masking"}),
    "k=64: silu, 20 epochs": (64, 20, SILU),
    "k=64: silu, noise 0.1": (64, 20, SILU_NOISE),
}


def run_variant(name: str, data, device: str, epochs: int | None) -> dict:
    """Fit one variant on the training images; its errors and code accuracies."""
    X_train, X_test, y_train, y_test = data
    k, default_epochs, overrides = VARIANTS[name]
    model = mlp_model(k, epochs or default_epochs, 0).set_params(
        device=device, **overrides
    )
    seconds, _ = fit_counted(model, X_train)
    row = dict(
        variant=name,
        k=k,
        epochs=model.n_iter_,
        seconds=round(seconds, 1),
        test_error=round(test_error(model, X_test), 4),
        train_error=round(test_error(model, X_train[:10000]), 4),
        device=device_label(model),
    )
    if k == 64:
        codes = model.transform(X_train), model.transform(X_test)
        row["logreg"], row["knn"] = classify(*codes, y_train, y_test)
    return row


def report(path: Path) -> str:
    """The stored lines as a markdown table, in the order of ``VARIANTS``."""
    rows = {r["variant"]: r for r in map(json.loads, path.read_text().splitlines())}
    lines = [
        "| variant | k | epochs | test error | train error | 5-NN | logreg |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in [v for v in VARIANTS if v in rows]:
        r = rows[name]
        accuracies = [f"{r[key]:.4f}" if key in r else "-" for key in ("knn", "logreg")]
        lines.append(
            f"| {name} | {r['k']} | {r['epochs']} | {r['test_error']:.2f} "
            f"| {r['train_error']:.2f} | " + " | ".join(accuracies) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    sweep_main(
        __doc__,
        VARIANTS,
        ["relu", "k=64: silu, noise 0.1"],
        lambda name, data, device, quick: run_variant(
            name, data, device, 1 if quick else None
        ),
        report,
    )


if __name__ == "__main__":
    main()
