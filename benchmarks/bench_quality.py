"""What the models learn on MNIST, against PCA and the published tables.

Each part fits on the 60000 training images / 255 and measures on the 10000
test images; it stores its numbers in ``benchmarks/results/quality.json``
(parts can be run one at a time), and ``--report`` (implied by running all
parts) writes ``docs/quality.md`` with the tables and a plot of test error
against fitting seconds.

Parts:

* ``ae30``: the "best" MLP autoencoder setting (1000-500-250, SiLU, built on
  PCA with ``pca_path=True``, Gaussian input noise 0.1, cosine schedule) at
  30 components against Hinton & Salakhutdinov
  (Science 2006): 3.00 squared error per image, PCA 13.87;
* ``conv30``: the convolutional setting at 30 components, against the same;
* ``conv64``: ``architecture="conv"`` at 64 components against the
  convolutional autoencoder of Parametric UMAP (Sainburg et al., 2021): 1.27;
* ``classify``: the same MLP setting (20 epochs) at k in {2, 8, 16, 30, 64},
  its codes before LogisticRegression and 5-NN against PCA's; and
  ``AutoencoderTransformer(30)`` with every default, with the epochs the
  default ``tol`` ran;
* ``vae``: a Bernoulli VAE with 50 latent units on dynamically binarized
  images; test log-likelihood by importance sampling against Burda et al.
  (2015): -86.76 (VAE), -84.78 (IWAE, k=50);
* ``digits``: the same defaults on scikit-learn's digits (``skae compare``)
  and the epochs run there.

The test-error curves are measured after every epoch outside the fitting
clock (the fit's own clock excludes them). Usage::

    python benchmarks/bench_quality.py               # every part, ~2 hours
    python benchmarks/bench_quality.py --part ae30   # one part
    python benchmarks/bench_quality.py --report      # page from stored results
    python benchmarks/bench_quality.py --quick       # smoke test, 2000 images
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer, VAETransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS, FORMER_VAE_DEFAULTS
from skae._train import loop
from skae.datasets import load_image_dataset

from common import (
    DIGITS_SETTING,
    DIGITS_SETTING_TEXT,
    MNIST,
    ROOT,
    ae30_model,
    binarized,
    classify,
    conv_model,
    digits_report,
    fit_counted,
    mlp_model,
    scaling_of,
    script_report,
    test_error,
    vae_model,
)

SWEEP = ROOT / "benchmarks" / "results" / "sweep_mlp_h100.jsonl"
SWEEP_VAE = [
    ROOT / "benchmarks" / "results" / f"sweep_vae_{where}.jsonl"
    for where in ("cpu", "h100")
]
SWEEP_DIGITS = ROOT / "benchmarks" / "results" / "sweep_digits_cpu.jsonl"
HOLDOUT_DIGITS = ROOT / "benchmarks" / "results" / "holdout_digits_cpu.jsonl"
PARTS = ("ae30", "conv30", "conv64", "classify", "vae", "digits", "tol")
KS = (2, 8, 16, 30, 64)

DIGITS_VERDICT = (
    "At k=2 and 8 nearly every variant's codes beat PCA's both ways. At "
    "k=16 PCA's codes are hard to beat before 5-NN: its 16 components "
    "already keep the neighbours of the 64 raw pixels (5-NN on the pixels "
    "scores the same as on PCA's codes), and every variant but `hidden "
    "1024-512, silu, noise 5` stays below it on average. Gaussian input "
    "noise gives codes that a linear classifier separates better "
    '(`corruption="gaussian"` and `corruption_level=5`, pixels run from 0 '
    "to 16: logistic regression at or above PCA in all ten fits at every "
    "k); with wider layers (1024-512) and SiLU as well, the codes are at or"
    " above PCA's in all ten fits at every k before both classifiers (5-NN "
    "at k=16: 0.9864 against 0.9840, five of the ten fits equal to PCA's). "
    "This is the user guide's small-data setting and `skae compare`'s "
    '"Denoising AE" row; each of its three parts is needed (the variants '
    "that leave one out stay below PCA's 5-NN at k=16). It was chosen on "
    "these splits, so the next table measures it on five others. The "
    "variants from `hidden 512-256, noise 5` on were run on 2026-11-27 on a"
    " faster 2-core VM than the others (same code; the accuracies compare, "
    "the bits of the fits differ across CPUs)."
)
HOLDOUT_VERDICT = (
    "On splits that played no part in choosing it, the small-data setting "
    "beats PCA in every fit at k=2 and 8 both ways and before logistic "
    "regression at k=16 (0.9780 against 0.9511); its 16-D 5-NN accuracy is "
    "level with PCA's (0.9836 against 0.9840, 6 of 10 fits at or above it), "
    "where the defaults stay 0.0047 below."
)
# The published figures each part is compared with.
PUBLISHED = {
    "ae30": (3.00, "deep autoencoder, Hinton & Salakhutdinov (2006)"),
    "conv64": (1.27, "conv. autoencoder, Parametric UMAP (Sainburg et al., 2021)"),
    "vae": (-86.76, "VAE, Burda et al. (2015), k=1"),
    "iwae": (-84.78, "IWAE, Burda et al. (2015), k=50"),
}


# ---------------------------------------------------------------- settings


# ------------------------------------------------------------ measurement
@contextmanager
def test_error_curve(X_test: np.ndarray, mean: np.ndarray, scale: np.ndarray):
    """Record (fitting seconds, test squared error) after every epoch.

    Wraps the training loop's ``run_epoch``: after each epoch the module (in
    eval mode, without gradients) reconstructs the scaled test images from
    their codes. The seconds are wall-clock since the context was entered,
    less the time spent in these measurements.
    """
    curve: list[tuple[float, float]] = []
    xs = torch.as_tensor((X_test - mean) / scale, dtype=torch.float32)
    scale_t = torch.as_tensor(scale, dtype=torch.float32)
    original = loop.run_epoch
    start, measuring = time.perf_counter(), [0.0]

    def measured(module, *args, **kwargs):
        loss = original(module, *args, **kwargs)
        begin = time.perf_counter()
        module.eval()
        with torch.no_grad():
            errors = []
            for xb in xs.split(2000):
                code = module.encode(xb)
                code = code[0] if isinstance(code, tuple) else code
                diff = (module.reconstruct(code) - xb) * scale_t
                errors.append(diff.square().sum(1))
        error = float(torch.cat(errors).mean())
        curve.append((begin - start - measuring[0], error))
        measuring[0] += time.perf_counter() - begin
        return loss

    loop.run_epoch = measured
    try:
        yield curve, measuring
    finally:
        loop.run_epoch = original


def fit_with_curve(model, X_train, X_test, label: str) -> dict:
    mean, scale = scaling_of(model, X_train)
    start = time.perf_counter()
    with test_error_curve(X_test, mean, scale) as (curve, measuring):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train)
    seconds = time.perf_counter() - start - measuring[0]
    print(f"{label}: fit {seconds:.0f} s, {model.n_iter_} epochs", flush=True)
    return dict(
        fit_seconds=seconds,
        test_error=test_error(model, X_test),
        epochs=model.n_iter_,
        curve=curve,
        params={k: repr(v) for k, v in model.get_params().items()},
    )


def flops_per_row(model) -> float:
    """FLOPs of one training step per row (forward and backward), counted."""
    from torch.utils.flop_counter import FlopCounterMode

    X = np.random.RandomState(0).random_sample((256, 784))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        module = model.set_params(max_iter=1).fit(X).module_.train()
    xb = torch.as_tensor(X[:128], dtype=torch.float32)
    with FlopCounterMode(display=False) as counter:
        out = module(xb)
        out = out[0] if isinstance(out, tuple) else out
        out.square().sum().backward()
    return counter.get_total_flops() / len(xb)


def setting(model) -> str:
    """The model's repr on one line."""
    return " ".join(repr(model).split())


def rate(result: dict, model) -> str:
    """Training throughput of a stored run: rows/s and GFLOP/s."""
    rows = result["n_train"] * result["epochs"] / result["fit_seconds"]
    gflops = rows * flops_per_row(model) / 1e9
    return f"{rows:,.0f} images/s, {gflops:.0f} GFLOP/s"


def below(curve, threshold: float) -> float | None:
    """Fitting seconds at the first epoch whose test error is below ``threshold``."""
    return next((t for t, e in curve if e < threshold), None)


def pca_error(k: int, X_train, X_test) -> float:
    return test_error(PCA(k, random_state=0).fit(X_train), X_test)


# ------------------------------------------------------------------ parts
def _thirty_components(model, data, label: str) -> dict:
    """Fit a 30-component model; when it beats PCA and reaches 3.00."""
    X_train, X_test = data[0], data[1]
    result = fit_with_curve(model, X_train, X_test, label)
    result["pca_error"] = pca_error(30, X_train, X_test)
    result["seconds_below_pca"] = below(result["curve"], result["pca_error"])
    result["seconds_below_3"] = below(result["curve"], 3.00)
    return result


def part_ae30(data, args) -> dict:
    return _thirty_components(ae30_model(args.ae30_epochs, args.seed), data, "ae30")


def part_conv64(data, args) -> dict:
    X_train, X_test = data[0], data[1]
    result = fit_with_curve(
        conv_model(args.conv_epochs, args.seed), X_train, X_test, "conv64"
    )
    result["pca_error"] = pca_error(64, X_train, X_test)
    result["seconds_below_2"] = below(result["curve"], 2.0)
    return result


def part_conv30(data, args) -> dict:
    model = conv_model(args.conv30_epochs, args.seed, 30)
    return _thirty_components(model, data, "conv30")


def classify_model(k: int, epochs: int, seed: int) -> AutoencoderTransformer:
    """The one setting used for the codes at every k: the "best" MLP setting."""
    return mlp_model(k, epochs, seed)


def part_classify(data, args) -> dict:
    X_train, X_test, y_train, y_test = data[:4]
    rows = []
    models = [(k, "PCA", PCA(k, random_state=0)) for k in args.ks]
    models += [
        (k, "skae", classify_model(k, args.max_iter, args.seed)) for k in args.ks
    ]
    # The former defaults at one size: how many epochs their tol ran (the
    # stored row; docs/quality.md's top section has today's defaults).
    former = dict(FORMER_AE_DEFAULTS, batch_size=200, random_state=0)
    models.append((30, "skae defaults", AutoencoderTransformer(30, **former)))
    if args.quick:
        models[-1][2].set_params(max_iter=2)
    for k, name, model in models:
        seconds, stopped = fit_counted(model, X_train)
        logreg, knn = classify(
            model.transform(X_train), model.transform(X_test), y_train, y_test
        )
        rows.append(
            dict(
                model=name,
                k=k,
                logreg=logreg,
                knn=knn,
                error=test_error(model, X_test),
                fit_seconds=seconds,
                epochs=getattr(model, "n_iter_", None),
                stopped=stopped if name != "PCA" else None,
            )
        )
        print(rows[-1], flush=True)
    return dict(rows=rows, max_iter=args.max_iter)


def part_vae(data, args) -> dict:
    X_train, X_test = data[0], data[1]
    B_test = binarized(X_test, args.seed)
    result = {}
    for label, k in (("vae", 1), ("iwae", args.iwae_k)):
        if k < 1:
            continue
        epochs = args.vae_epochs if label == "vae" else args.iwae_epochs
        model = vae_model(epochs, args.seed, k)
        run = fit_with_curve(model, X_train, X_test, label)
        start = time.perf_counter()
        ll = model.log_likelihood(B_test, n_samples=args.iw_samples, random_state=0)
        run["log_likelihood"] = float(ll.mean())
        run["ll_seconds"] = time.perf_counter() - start
        run["n_importance_samples"] = k
        print(label, run["log_likelihood"], flush=True)
        result[label] = run
    result["iw_samples"] = args.iw_samples
    return result


def digits_split() -> list:
    """``skae compare``'s split of the digits (75/25, stratified, seed 0)."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, random_state=0, stratify=y)


def part_digits(data, args) -> dict:
    # The former defaults (the stored rows; batch_size="auto" was 200 here),
    # with DIGITS_SETTING on them for the small-data row.
    X_train, X_test, y_train, y_test = digits_split()
    rows = []
    run = dict(
        random_state=0, batch_size=200, **({"max_iter": 2} if args.quick else {})
    )
    ae, vae = {**FORMER_AE_DEFAULTS, **run}, {**FORMER_VAE_DEFAULTS, **run}
    for name, model in (
        ("PCA", PCA(16, random_state=0)),
        ("AutoencoderTransformer", AutoencoderTransformer(16, **ae)),
        (
            "AutoencoderTransformer, small-data setting",
            AutoencoderTransformer(16, **{**ae, **DIGITS_SETTING}),
        ),
        ("VAETransformer", VAETransformer(16, **vae)),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train)
        logreg, knn = classify(
            model.transform(X_train), model.transform(X_test), y_train, y_test
        )
        rows.append(
            dict(
                model=name,
                error=test_error(model, X_test),
                logreg=logreg,
                knn=knn,
                epochs=getattr(model, "n_iter_", None),
                stopped=not caught if name != "PCA" else None,
            )
        )
        print(rows[-1], flush=True)
    return dict(rows=rows, n_train=len(X_train))


def part_tol(data, args) -> dict:
    """Epochs run by the default ``tol`` with the default ``max_iter=200``.

    The digits' training split at k = 2, 8, 16 (the defaults and the
    small-data setting) and MNIST's training images at k = 30; the relative
    fall of the best training loss over the last 10 epochs says whether the
    loss had flattened where a fit ran to ``max_iter``.
    """
    # The former defaults (the stored rows: adaptive schedule, max_iter=200,
    # batch_size="auto" then min(200, n), which is 200 on both data sets).
    run = dict(
        random_state=0, batch_size=200, **({"max_iter": 2} if args.quick else {})
    )
    ae, vae = {**FORMER_AE_DEFAULTS, **run}, {**FORMER_VAE_DEFAULTS, **run}
    models = {
        "AutoencoderTransformer": lambda k: AutoencoderTransformer(k, **ae),
        "AutoencoderTransformer, small-data setting": lambda k: AutoencoderTransformer(
            k, **{**ae, **DIGITS_SETTING}
        ),
        "VAETransformer": lambda k: VAETransformer(k, **vae),
    }
    fits = [("digits", k, name) for k in (2, 8, 16) for name in models]
    fits += [
        ("MNIST", 30, name) for name in ("AutoencoderTransformer", "VAETransformer")
    ]
    X = {"digits": digits_split()[0], "MNIST": data[0]}
    rows = []
    for data_name, k, name in fits:
        model = models[name](k)
        seconds, stopped = fit_counted(model, X[data_name])
        best = np.minimum.accumulate(model.loss_curve_)
        fall = (best[-11] - best[-1]) / abs(best[-11]) if len(best) > 10 else None
        rows.append(
            dict(
                data=data_name,
                k=k,
                model=name,
                epochs=model.n_iter_,
                stopped=stopped,
                last10_fall=fall,
                seconds=seconds,
            )
        )
        print(rows[-1], flush=True)
    return dict(rows=rows)


# ------------------------------------------------------------------ report
def fmt(value, spec=".2f") -> str:
    return "-" if value is None else format(value, spec)


def _codes_verdict(by: dict) -> str:
    """One sentence: where skae's codes fall short of PCA's, if anywhere."""
    ks = sorted(k for model, k in by if model == "skae")
    losses = [
        f"{name} at k={k} ({by['skae', k][key]:.4f} < {by['PCA', k][key]:.4f})"
        for k in ks
        for key, name in (("logreg", "logreg"), ("knn", "5-NN"))
        if by["skae", k][key] < by["PCA", k][key]
    ]
    if not losses:
        return "skae's codes are at least as accurate as PCA's at every k, both ways."
    return "PCA's codes are more accurate: " + "; ".join(losses) + "."


def report(results: dict, out: Path, settings: str) -> None:
    static = out.parent / "_static"
    static.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Quality on MNIST: what the models learn",
        "",
        "Generated by `python benchmarks/bench_quality.py` (numbers in "
        "`benchmarks/results/quality.json`). " + settings,
        "",
        "Test error is the mean over the 10000 test images of the summed "
        "squared pixel error (pixels in [0, 1]). Fitting seconds exclude the "
        "per-epoch test measurements.",
        "",
    ]
    curves = []
    if "ae30" in results:
        r = results["ae30"]
        curves.append(("MLP AE, k=30 (best setting)", r["curve"]))
        lines += [
            "## Autoencoder, 30 components",
            "",
            f"Setting: `{setting(ae30_model(r['epochs'], 0))}`.",
            "",
            f"Training speed: {rate(r, ae30_model(1, 0))}.",
            "",
            "| | test error | fit (s) | s to beat PCA | s to reach 3.00 |",
            "|---|---:|---:|---:|---:|",
            f"| skae, MLP ({r['epochs']} epochs) | {r['test_error']:.2f} "
            f"| {r['fit_seconds']:.0f} | {fmt(r['seconds_below_pca'], '.0f')} "
            f"| {fmt(r['seconds_below_3'], '.0f')} |",
        ]
        if "conv30" in results:
            c = results["conv30"]
            curves.append(("conv AE, k=30", c["curve"]))
            lines.append(
                f"| skae, conv ({c['epochs']} epochs) | {c['test_error']:.2f} "
                f"| {c['fit_seconds']:.0f} | {fmt(c['seconds_below_pca'], '.0f')} "
                f"| {fmt(c['seconds_below_3'], '.0f')} |"
            )
        lines += [
            f"| PCA | {r['pca_error']:.2f} | | | |",
            f"| {PUBLISHED['ae30'][1]} | {PUBLISHED['ae30'][0]:.2f} | | | |",
            "",
        ]
        if "conv30" in results:
            lines += [
                "The conv row is the convolutional setting of the next section "
                "at 30 components: "
                f"`{setting(conv_model(results['conv30']['epochs'], 0, 30))}`.",
                "",
            ]
    if "conv64" in results:
        r = results["conv64"]
        curves.append(("conv AE, k=64 (best setting)", r["curve"]))
        lines += [
            "## Autoencoder, 64 components (convolutional)",
            "",
            f"Setting: `{setting(conv_model(r['epochs'], 0))}`.",
            "",
            f"Training speed: {rate(r, conv_model(1, 0))} (the MLP's rate "
            "is in the section above and in the speed page).",
            "",
            "| | test error | fit (s) | s to reach 2.0 |",
            "|---|---:|---:|---:|",
            f"| skae | {r['test_error']:.2f} | {r['fit_seconds']:.0f} "
            f"| {fmt(r['seconds_below_2'], '.0f')} |",
            f"| PCA | {r['pca_error']:.2f} | | |",
            f"| {PUBLISHED['conv64'][1]} | {PUBLISHED['conv64'][0]:.2f} | | |",
            "",
        ]
    if "classify" in results:
        rows = results["classify"]["rows"]
        by = {(r["model"], r["k"]): r for r in rows}
        epochs = results["classify"]["max_iter"]
        lines += [
            "## Codes before classifiers",
            "",
            f"One setting at every k: `{setting(classify_model(30, epochs, 0))}` "
            "(with `n_components=k`), against `PCA(k)`. LogisticRegression "
            "(after StandardScaler) and 5-nearest-neighbours trained on the "
            "training codes, accuracy on the test codes.",
            "",
            "| k | PCA logreg | skae logreg | PCA 5-NN | skae 5-NN "
            "| PCA error | skae error | skae fit (s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for k in sorted({r["k"] for r in rows if r["model"] == "skae"}):
            pca, ae = by["PCA", k], by["skae", k]
            lines.append(
                f"| {k} | {pca['logreg']:.4f} | {ae['logreg']:.4f} "
                f"| {pca['knn']:.4f} | {ae['knn']:.4f} | {pca['error']:.2f} "
                f"| {ae['error']:.2f} | {ae['fit_seconds']:.0f} |"
            )
        missing = [k for k in KS if ("skae", k) not in by]
        if missing:
            lines += ["", f"Not measured in the stored run: k = {missing}."]
        lines += ["", _codes_verdict(by)]
        d = by.get(("skae defaults", 30))
        if d is not None:
            lines += [
                "",
                "With the former defaults (256-128 ReLU, no input noise, adaptive "
                "schedule, `max_iter=200`, batches of 200), "
                "`AutoencoderTransformer(30)` "
                f"ran {d['epochs']} epochs in {d['fit_seconds']:.0f} s "
                f"({'stopped by tol' if d['stopped'] else 'reached max_iter'}): "
                f"test error {d['error']:.2f}, logreg {d['logreg']:.4f}, "
                f"5-NN {d['knn']:.4f}.",
            ]
        lines.append("")
    if "vae" in results:
        res = results["vae"]
        lines += [
            "## VAE, Bernoulli likelihood, 50 latent units",
            "",
            f"Setting: `{setting(vae_model(res['vae']['epochs'], 0))}`; the IWAE "
            "row sets `n_importance_samples` and its own `max_iter`.",
            "",
            "Dynamically binarized training images (a new Bernoulli draw of "
            "every batch), test images binarized once (seed 0); test "
            f"log-likelihood estimated with {res['iw_samples']} importance "
            "samples per image.",
            "",
            "| objective | epochs | fit (s) | test log-lik (nats) | published |",
            "|---|---:|---:|---:|---|",
        ]
        for label in ("vae", "iwae"):
            if label in res:
                r = res[label]
                curves.append((f"VAE k=50, K={r['n_importance_samples']}", r["curve"]))
                pub, who = PUBLISHED[label]
                lines.append(
                    f"| {'ELBO' if label == 'vae' else 'IWAE'} "
                    f"(K={r['n_importance_samples']}) | {r['epochs']} "
                    f"| {r['fit_seconds']:.0f} | {r['log_likelihood']:.2f} "
                    f"| {pub} ({who}) |"
                )
        lines.append("")
        runs = [path for path in SWEEP_VAE if path.exists()]
        if runs:
            lines += [
                "How the IWAE objective does with a budget like the ELBO's: "
                "`python benchmarks/sweep_vae.py` (stored runs: "
                + ", ".join(f"`benchmarks/results/{path.name}`" for path in runs)
                + "; the H100 rows are the same setting and seed on CUDA, run "
                "three at a time, so their seconds only compare with each "
                "other). On the 2-core CPU a K=5 epoch takes about 16 s and an "
                "ELBO epoch about 9 s: within 30 minutes of fitting, IWAE "
                "reaches the ELBO's level (about -86), 1.3 nats from Burda et "
                "al.'s k=50 figure, which took 3280 epochs. The VampPrior "
                'row (`prior="vamp"`, 500 pseudo-inputs, the ELBO\'s setting '
                "otherwise) learns the prior with the networks: -84.54 against "
                "N(0, I)'s -85.99 with the same budget, above Burda et al.'s "
                "IWAE (-84.78). Its epoch costs 1.6 times N(0, I)'s (12.6 s "
                "against 7.7 s, measured side by side); its fit time was "
                "measured while tests shared the CPU. With Tomczak & Welling's "
                "KL warm-up over 100 epochs and 300 epochs in all, the "
                "VampPrior reaches -82.92, 1.9 nats beyond Burda et al.'s IWAE "
                "(its 7865 s include long stretches when other jobs shared "
                "the CPU; at 12.6 s an epoch, 300 epochs take about 63 "
                "minutes).",
                "",
                script_report("sweep_vae.py", *runs),
                "",
            ]
    if "digits" in results:
        lines += [
            "## scikit-learn's digits, 16 components",
            "",
            "`skae compare`'s split (75/25, seed 0), every model with the former "
            "defaults (256-128 ReLU, no input noise, adaptive schedule, "
            "`max_iter=200`, batches of 200); the small-data setting is "
            f'`{DIGITS_SETTING_TEXT}` on them, then `skae compare`\'s "Denoising AE" '
            "(re-run alone with `--part digits` on 2026-11-27, on a faster 2-core "
            "VM than the MNIST parts).",
            "",
            "| model | test error | logreg | 5-NN | epochs | stopped |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for r in results["digits"]["rows"]:
            lines.append(
                f"| {r['model']} | {r['error']:.2f} | {r['logreg']:.4f} "
                f"| {r['knn']:.4f} | {fmt(r['epochs'], 'd')} "
                f"| {fmt(r['stopped'], '')} |"
            )
        lines.append("")
    if "tol" in results:
        lines += [
            "## Epochs run by the default `tol`",
            "",
            "The former defaults (256-128 ReLU, no input noise, adaptive "
            "schedule, `tol=5e-3` relative, `n_iter_no_change=10`, "
            "`max_iter=200`, batches of 200) but the small-data "
            "setting's; the digits' training split of `skae compare` (1347 "
            "images) and MNIST's 60000. The last column is the relative fall "
            "of the best training loss over the last 10 epochs: a fit that "
            "reaches `max_iter` does so while its loss still falls. (Run alone "
            "with `--part tol` on 2026-11-27, on a faster 2-core VM than the "
            "MNIST parts above.)",
            "",
            "| data | k | model | epochs | stopped by `tol` "
            "| loss fall, last 10 epochs | fit (s) |",
            "|---|---:|---|---:|---|---:|---:|",
        ]
        for r in results["tol"]["rows"]:
            fall = "-" if r["last10_fall"] is None else f"{r['last10_fall']:.2%}"
            lines.append(
                f"| {r['data']} | {r['k']} | {r['model']} | {r['epochs']} "
                f"| {r['stopped']} | {fall} | {r['seconds']:.0f} |"
            )
        lines.append("")
    if SWEEP_DIGITS.exists():
        lines += [
            "## The digits over five splits and two seeds",
            "",
            "`python benchmarks/sweep_digits.py` (stored run: "
            f"`benchmarks/results/{SWEEP_DIGITS.name}`, on the 2-core CPU): "
            "`AutoencoderTransformer` as `skae compare` runs it "
            "(`max_iter=100`) and with one or two parameters changed, on five "
            "stratified 75/25 splits (split 0 is `skae compare`'s) with seeds "
            "0 and 1; means over the ten fits, their mean difference to PCA "
            "on the same split and the share of fits at or above PCA. The "
            "last column is split 0, seed 0 (logreg / 5-NN), the numbers "
            "`skae compare` prints. " + DIGITS_VERDICT,
            "",
            digits_report(SWEEP_DIGITS),
            "",
        ]
        if HOLDOUT_DIGITS.exists():
            lines += [
                "Five fresh splits (`python benchmarks/holdout_digits.py`, stored "
                f"run: `benchmarks/results/{HOLDOUT_DIGITS.name}`; `random_state` "
                "5 to 9, otherwise as above). " + HOLDOUT_VERDICT,
                "",
                digits_report(HOLDOUT_DIGITS),
                "",
            ]
    if SWEEP.exists():
        lines += [
            "## What each part of the MLP setting gives",
            "",
            "`python benchmarks/sweep_mlp.py` (stored run: "
            f"`benchmarks/results/{SWEEP.name}`, on one H100, the same code on "
            "CUDA, several variants at a time): the MLP setting above with one "
            "or two parameters changed; `relu` is the setting before SiLU, the "
            "input noise and the higher rate. Training error on 10000 training "
            "images.",
            "",
            script_report("sweep_mlp.py", SWEEP),
            "",
        ]
    if curves:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, curve in curves:
            t, e = np.array(curve).T
            ax.plot(t, e, label=label)
        for k, key in ((30, "ae30"), (64, "conv64")):
            if key in results:
                ax.axhline(results[key]["pca_error"], ls="--", lw=1, color="gray")
                ax.text(0, results[key]["pca_error"], f" PCA k={k}", va="bottom")
        ax.set(yscale="log", xlabel="fitting seconds", ylabel="test squared error")
        ax.legend()
        fig.savefig(static / "quality_error_vs_time.png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        figure = (
            "![test error against fitting seconds](_static/quality_error_vs_time.png)"
        )
        lines += [figure, ""]
    kept = defaults_block(out)
    if kept:  # the section sweep_defaults.py --page wrote, under the title
        lines[2:2] = [kept, ""]
    out.write_text("\n".join(lines))


def defaults_block(page: Path) -> str | None:
    """The defaults' section of ``page`` (``sweep_defaults.py --page``), if any."""
    text = page.read_text() if page.exists() else ""
    begin, end = "<!-- defaults: begin -->", "<!-- defaults: end -->"
    if begin not in text or end not in text:
        return None
    return text[text.index(begin) : text.index(end) + len(end)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(MNIST) if MNIST.exists() else None)
    parser.add_argument("--part", choices=PARTS, nargs="+", default=list(PARTS))
    parser.add_argument("--report", action="store_true", help="only write the page")
    parser.add_argument("--ae30-epochs", type=int, default=80)
    parser.add_argument("--conv-epochs", type=int, default=50)
    parser.add_argument("--conv30-epochs", type=int, default=47)
    parser.add_argument("--vae-epochs", type=int, default=180)
    parser.add_argument("--iwae-k", type=int, default=5)
    parser.add_argument("--iwae-epochs", type=int, default=25)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument(
        "--max-iter", type=int, default=20, help="epochs of the classify setting"
    )
    parser.add_argument("--ks", type=int, nargs="+", default=list(KS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument(
        "--results", type=Path, default=ROOT / "benchmarks" / "results" / "quality.json"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "quality.md")
    parser.add_argument("--quick", action="store_true", help="2000 images, 2 epochs")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.max_iter, args.iw_samples = 2000, 2, 5
        args.ae30_epochs = args.conv_epochs = args.conv30_epochs = 2
        args.vae_epochs = args.iwae_epochs = 2
        args.ks = [2, 8]
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    if not args.report:
        mnist = load_image_dataset("mnist", args.data)
        n = args.n_train
        data = (
            mnist.X_train[:n],
            mnist.X_test[: n and n // 6],
            mnist.y_train[:n],
            mnist.y_test[: n and n // 6],
        )
        for part in args.part:
            results[part] = globals()[f"part_{part}"](data, args)
            results[part].setdefault("n_train", len(data[0]))
            results[part]["torch_threads"] = torch.get_num_threads()
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(results, indent=1))
    threads = sorted({r.get("torch_threads", 2) for r in results.values()})
    settings = (
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__} ({'/'.join(map(str, threads))} threads), "
        f"scikit-learn {sklearn.__version__}; seed {args.seed}."
    )
    report(results, args.output, settings)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
