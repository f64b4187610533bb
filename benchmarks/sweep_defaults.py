"""Candidate data-adaptive default rules for AutoencoderTransformer and VAETransformer.

Issue 29: ``AutoencoderTransformer(k)`` and ``VAETransformer(k)`` with no
tuning should be near their best on any data size. Each rule in ``RULES``
maps the training data's size (``n`` rows, ``d`` features) and spread
(``s``: the root mean feature variance, what ``scaling="global"`` divides
by) to explicit parameters of both estimators; this script fits them and
measures the codes against PCA's on the same split.

Data sets: ``digits`` (sweep_digits.py's stratified 75/25 splits; splits
0-4 choose, ``--first-split 5`` reports, seeds 0 and 1), ``fashion`` and
``mnist`` (pixels / 255; ``--n-train`` first training rows, the 10000 test
images; with ``--tuning``, training rows from 10000 on and the last 10000
training rows as the test set, data the reported rows never see). For each
rule, model and k one JSON line goes to ``--json`` with seconds, device,
n_train, k, epochs, whether a ConvergenceWarning was raised, test
reconstruction error and LogisticRegression (after StandardScaler) and
5-NN accuracy of the codes, with PCA's beside them. Usage::

    python benchmarks/sweep_defaults.py --dataset digits --json out.jsonl rule
    python benchmarks/sweep_defaults.py --dataset fashion --n-train 10000 \\
        --ks 2 16 64 --models ae --json out.jsonl rule
    python benchmarks/sweep_defaults.py --dataset fashion --tuning --ks 16 64 \
        --seeds 0 --json out.jsonl defaults "defaults, vae beta 0.25"
    python benchmarks/sweep_defaults.py --report out.jsonl
    python benchmarks/sweep_defaults.py --page docs/quality.md out.jsonl ...
    python benchmarks/sweep_defaults.py --quick --json /tmp/out.jsonl   # smoke test
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_image_dataset

from common import (
    classify,
    device_label,
    fit_counted,
    load_digit_splits,
    test_error,
)

ROOT = Path(__file__).resolve().parent
DEFAULT_JSON = ROOT / "results" / "sweep_defaults_cpu.jsonl"
SHARED = ROOT.parent.parent / "shared" / "data"


# ------------------------------------------------------------------ rules
def spread(X: np.ndarray) -> float:
    """Root mean feature variance: the unit ``scaling="global"`` divides by."""
    return float(np.sqrt(np.asarray(X, dtype=np.float64).var(0).mean()))


def noise_factor(n: int) -> float:
    """Input noise in units of the data's spread, falling with the data's size.

    The measured optima: digits (n=1347) 5 pixels = 1.15 s (3 pixels, 0.69 s,
    a little worse at 16-D 5-NN); MNIST (n=60000) 0.075 to 0.1 = 0.29 to
    0.39 s (0.2 worse). ``(2000 / n)^0.3`` gives 1.13 and 0.36.
    """
    return (2000.0 / n) ** 0.3


def epochs(n: int) -> int:
    """80 epochs (MNIST's measured best budget with the cosine schedule)."""
    return 80


def batch(n: int) -> int:
    """256 rows, or the power of two below n/10 on small data (>= 10 steps)."""
    return int(min(256, max(32, 2 ** math.floor(math.log2(max(n // 10, 1))))))


def hidden(n: int, d: int, vae: bool = False) -> tuple[int, ...]:
    """``(w, w/2)`` below 10000 rows (digits' measured 1024-512) and for the
    VAE, then ``(w, w/2, w/4)``; ``w = min(1000, max(64, 16 d))``."""
    width = min(1000, max(64, 16 * d))
    depth = 2 if n < 10000 or vae else 3
    return tuple(width >> i for i in range(depth))


def rule_base(n: int, d: int, s: float) -> tuple[dict, dict]:
    """The candidate rule: (AE parameters, VAE parameters)."""
    shared = dict(
        hidden_layer_sizes=hidden(n, d),
        activation="silu",
        learning_rate="cosine",
        learning_rate_init=2e-3,
        batch_size=min(batch(n), n),
        max_iter=epochs(n),
    )
    ae = dict(
        shared,
        pca_path=True,
        corruption="gaussian",
        corruption_level=noise_factor(n) * s,
    )
    # Two layers at 1e-3: the three-layer VAE at 2e-3 diverged on MNIST.
    vae = dict(
        shared, hidden_layer_sizes=hidden(n, d, vae=True), learning_rate_init=1e-3
    )
    return ae, vae


def _with(rule: Callable, ae: dict | None = None, vae: dict | None = None):
    """``rule`` with some parameters overridden (callables get n, d, s)."""

    def resolve(params: dict, n: int, d: int, s: float) -> dict:
        return {k: v(n, d, s) if callable(v) else v for k, v in params.items()}

    def changed(n: int, d: int, s: float) -> tuple[dict, dict]:
        a, v = rule(n, d, s)
        return {**a, **resolve(ae or {}, n, d, s)}, {**v, **resolve(vae or {}, n, d, s)}

    return changed


def _fixed(**params) -> Callable:
    """A rule with some parameters replaced by constants."""
    return _with(rule_base, ae=params, vae=params)


RULES: dict[str, Callable[[int, int, float], tuple[dict, dict]]] = {
    "defaults": lambda n, d, s: ({}, {}),
    "rule": rule_base,
    "1024-512, 30 ep, b64": _fixed(
        hidden_layer_sizes=(1024, 512), max_iter=30, batch_size=64
    ),
    "1024-512, 60 ep, b128": _fixed(
        hidden_layer_sizes=(1024, 512), max_iter=60, batch_size=128
    ),
    "512-256, 60 ep, b64": _fixed(
        hidden_layer_sizes=(512, 256), max_iter=60, batch_size=64
    ),
    "rule, no pca_path": _with(rule_base, ae=dict(pca_path=False)),
    "rule, c=0.7": _with(rule_base, ae=dict(corruption_level=lambda n, d, s: 0.7 * s)),
    "rule, c=1.15": _with(
        rule_base, ae=dict(corruption_level=lambda n, d, s: 1.15 * s)
    ),
    "rule, c=1.15, lr 1e-3": _with(
        rule_base,
        ae=dict(corruption_level=lambda n, d, s: 1.15 * s, learning_rate_init=1e-3),
    ),
    "rule, c=0.4": _with(rule_base, ae=dict(corruption_level=lambda n, d, s: 0.4 * s)),
    "rule, 1000-500-250": _fixed(hidden_layer_sizes=(1000, 500, 250)),
    "rule, vae beta 0.5": _with(rule_base, vae=dict(beta=0.5)),
    "rule, vae beta 0.25": _with(rule_base, vae=dict(beta=0.25)),
    "rule, vae beta 0.1": _with(rule_base, vae=dict(beta=0.1)),
    "rule, vae beta 0.5 warmup": _with(
        rule_base, vae=dict(beta=0.5, kl_warmup=lambda n, d, s: epochs(n) // 4)
    ),
    "rule, vae beta 0.5 noise": _with(
        rule_base,
        vae=dict(
            beta=0.5,
            corruption="gaussian",
            corruption_level=lambda n, d, s: noise_factor(n) * s,
        ),
    ),
    # Issue 37's VAE 5-NN gap: the default (beta 0.5, noise) with less KL.
    "defaults, vae beta 0.25": lambda n, d, s: ({}, dict(beta=0.25)),
    "defaults, vae beta 0.1": lambda n, d, s: ({}, dict(beta=0.1)),
    "defaults, ae noise x0.5": lambda n, d, s: (
        dict(corruption_level=0.5 * noise_factor(n) * s),
        {},
    ),
    # Issue 37 (session 49): the VAE's codes before 5-NN with less input noise.
    # Digits splits 0-4, 5-NN / logreg at k=2, 8, 16: x1 (the defaults)
    # 0.8702 / 0.7600, 0.9729 / 0.9547, 0.9787 / 0.9740; x0.5 0.8724 / 0.7451,
    # 0.9773 / 0.9516, 0.9818 / 0.9676 (k=16 from a scratch run of the same
    # fits); but MNIST (60000 rows, k=30) x0.5: 0.9664 / 0.9186 against the
    # defaults' 0.9712 / 0.9198. Not kept: it wins only where it was chosen.
    # More noise on MNIST (0.6 s, 1.7x the defaults'): 0.9720 / 0.9225.
    "defaults, vae noise x0.5": lambda n, d, s: (
        {},
        dict(corruption_level=0.5 * noise_factor(n) * s),
    ),
    "defaults, vae noise x0.25": lambda n, d, s: (
        {},
        dict(corruption_level=0.25 * noise_factor(n) * s),
    ),
    "defaults, vae noise 0.6 s": lambda n, d, s: ({}, dict(corruption_level=0.6 * s)),
    "rule, vae noise": _with(
        rule_base,
        vae=dict(
            corruption="gaussian", corruption_level=lambda n, d, s: noise_factor(n) * s
        ),
    ),
}


# ------------------------------------------------------------------- data
def load_data(args) -> list[tuple]:
    """A list of (split id, X_train, X_test, y_train, y_test)."""
    if args.dataset == "digits":
        splits = load_digit_splits(None, args.quick, first_split=args.first_split)[0]
        return [(args.first_split + i, *s) for i, s in enumerate(splits)]
    name = {"mnist": "mnist", "fashion": "fashion"}[args.dataset]
    images = load_image_dataset(name, args.data)
    n = 2000 if args.quick else args.n_train
    m = 500 if args.quick else None
    if args.tuning:
        # Training rows 10000 on and the last 10000 training rows as the test
        # set: disjoint from the reported data (first 10000 rows, test set).
        first, last = 10_000, len(images.X_train) - 10_000
        if first + n > last:
            raise SystemExit(f"--tuning takes at most {last - first} rows")
        Xtr = images.X_train[first : first + n].astype(np.float64)
        Xte = images.X_train[last:][:m].astype(np.float64)
        return [
            (0, Xtr, Xte, images.y_train[first : first + n], images.y_train[last:][:m])
        ]
    Xtr = images.X_train[:n].astype(np.float64)
    Xte = images.X_test[:m].astype(np.float64)
    return [(0, Xtr, Xte, images.y_train[:n], images.y_test[:m])]


# ---------------------------------------------------------------- measure
MODELS = {"ae": AutoencoderTransformer, "vae": VAETransformer}


def pca_row(k: int, X_train, X_test, y_train, y_test) -> dict:
    model = PCA(k, random_state=0).fit(X_train)
    logreg, knn = classify(
        model.transform(X_train), model.transform(X_test), y_train, y_test
    )
    return dict(
        pca_error=round(test_error(model, X_test), 4), pca_logreg=logreg, pca_knn=knn
    )


def run(args, out) -> None:
    data = load_data(args)
    ks = [2] if args.quick else args.ks
    seeds = [0] if args.quick else args.seeds
    names = args.rules or (["rule"] if args.quick else list(RULES))
    for name in names:
        for k in ks:
            for split, X_train, X_test, y_train, y_test in data:
                n, d = X_train.shape
                s = spread(X_train)
                base = pca_row(k, X_train, X_test, y_train, y_test)
                params = dict(zip(("ae", "vae"), RULES[name](n, d, s), strict=True))
                for kind in args.models:
                    for seed in seeds:
                        p = dict(params[kind])
                        if args.quick:
                            p["max_iter"] = 2
                        if args.max_iter:
                            p["max_iter"] = args.max_iter
                        model = MODELS[kind](
                            k, random_state=seed, device=args.device, **p
                        )
                        seconds, stopped = fit_counted(model, X_train)
                        codes = model.transform(X_train), model.transform(X_test)
                        logreg, knn = classify(*codes, y_train, y_test)
                        row = dict(
                            dataset=args.dataset,
                            rule=name,
                            model=kind,
                            k=k,
                            split=split,
                            tuning=args.tuning,
                            seed=seed,
                            n_train=n,
                            n_features=d,
                            spread=round(s, 4),
                            params={
                                a: (list(b) if isinstance(b, tuple) else b)
                                for a, b in p.items()
                            },
                            epochs=model.n_iter_,
                            budget=args.max_iter,
                            resolved=resolved(model),
                            warned=not stopped,
                            seconds=round(seconds, 2),
                            test_error=round(test_error(model, X_test), 4),
                            logreg=logreg,
                            knn=knn,
                            **base,
                            device=device_label(model),
                        )
                        print(json.dumps(row), flush=True)
                        if out:
                            with out.open("a") as f:
                                f.write(json.dumps(row) + "\n")


def resolved(model) -> dict:
    """What the fit trained with (the parameters' fitted values), as JSON."""
    values = {name: getattr(model, f"{name}_") for name in model._auto_params}
    return {
        name: (list(v) if isinstance(v, tuple) else v)
        for name, v in values.items()
        if not callable(v)
    }


def report(path: Path) -> str:
    """Mean over splits and seeds per (dataset, n, rule, model, k)."""
    groups: dict[tuple, list] = {}
    for r in map(json.loads, path.read_text().splitlines()):
        key = (
            r["dataset"],
            r["n_train"],
            r.get("split", 0) >= 5,
            r.get("tuning", False),
            r["rule"],
            r["model"],
            r["k"],
            r["params"].get("max_iter"),
        )
        groups.setdefault(key, []).append(r)
    lines = [
        "| data | n | splits | rule | model | k | fits | error | PCA | logreg | PCA "
        "| 5-NN | PCA | epochs | warned | s/fit |",
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, rows in groups.items():
        data, n, split, tuning, rule, model, k, _ = key
        splits = "tuning" if tuning else "5-9" if split else "0-4"

        def m(field: str, rows=rows) -> float:
            return float(np.mean([r[field] for r in rows]))

        lines.append(
            f"| {data} | {n} | {splits} | {rule} | {model} "
            f"| {k} | {len(rows)} | {m('test_error'):.2f} | {m('pca_error'):.2f} "
            f"| {m('logreg'):.4f} | {m('pca_logreg'):.4f} | {m('knn'):.4f} "
            f"| {m('pca_knn'):.4f} | {m('epochs'):.0f} | {m('warned'):.0%} "
            f"| {m('seconds'):.1f} |"
        )
    return "\n".join(lines)


# Rows measured with the defaults: the rule "defaults" (every parameter at
# "auto"), and the autoencoder's "rule", whose explicit parameters are what
# "auto" resolves to (tests/test_sweep_defaults.py checks that they are).
# The VAE's stored "rule, vae beta 0.5 noise" rows predate its rate of 1e-3.
DEFAULT_RULES = {("defaults", "ae"), ("defaults", "vae"), ("rule", "ae")}
MARKERS = ("<!-- defaults: begin -->", "<!-- defaults: end -->")
MODEL_NAMES = {"ae": "AutoencoderTransformer", "vae": "VAETransformer"}


def _reported(r: dict) -> bool:
    """Rows on data that did not choose the rules: digits splits 5-9, MNIST's
    60000 training images, Fashion-MNIST's first 10000 (3000 chose)."""
    if r.get("tuning"):
        return False
    if r["dataset"] == "digits":
        return r["split"] >= 5
    return r["n_train"] == {"mnist": 60000, "fashion": 10000}[r["dataset"]]


def defaults_section(paths: list[Path]) -> str:
    """The defaults' table and MNIST's time-to-quality curve, as Markdown."""
    rows = [
        r
        for path in paths
        for r in map(json.loads, path.read_text().splitlines())
        if (r["rule"], r["model"]) in DEFAULT_RULES and _reported(r)
    ]
    # One row per fit: where the rule "defaults" was run on the same split and
    # seed as an explicit rule, its row (the product as shipped) is shown.
    fits: dict[tuple, dict] = {}
    for r in rows:
        key = (r["dataset"], r["model"], r["k"], r["split"], r["seed"])
        key += (r["n_train"], r.get("budget"))
        if key not in fits or r["rule"] == "defaults":
            fits[key] = r
    rows = list(fits.values())
    full = [r for r in rows if r.get("budget") is None]
    curve = [r for r in rows if r.get("budget") is not None]
    groups: dict[tuple, list] = {}
    order = {"digits": 0, "mnist": 1, "fashion": 2}
    for r in sorted(full, key=lambda r: (order[r["dataset"]], r["model"], r["k"])):
        groups.setdefault((r["dataset"], r["model"], r["k"]), []).append(r)
    lines = [
        MARKERS[0],
        "## Defaults: every parameter at its default",
        "",
        "Generated by `python benchmarks/sweep_defaults.py --page docs/quality.md "
        "FILE...` from the stored runs `benchmarks/results/sweep_defaults_*.jsonl` "
        "(2-core CPU, torch threads as the machine sets them). "
        "`AutoencoderTransformer(k, random_state=seed)` and "
        "`VAETransformer(k, random_state=seed)` with nothing else set: `fit` "
        'resolves every `"auto"` parameter from the data '
        "(`skae/_estimators/defaults.py`, "
        "the user guide's *Defaults, fast, best*). The rules were chosen on the "
        "digits' splits 0-4 and on Fashion-MNIST subsets; the digits rows here are "
        "splits 5-9 (stratified 75/25 of the 1797 images, seeds 0 and 1: 10 fits "
        "per row, means), MNIST rows the 60000 training images, Fashion-MNIST "
        "rows the first 10000, each with the 10000 test images, pixels / 255, "
        "seed 0. Test error: mean over test images of the "
        "summed squared error; LogisticRegression (after StandardScaler) and "
        "5-NN fitted on the training codes, accuracy on the test codes; PCA's "
        "on the same split beside them. Fit seconds were measured while other "
        "jobs shared the 2 cores unless said otherwise: upper bounds. The "
        "sections after this one were generated by `bench_quality.py` before "
        "the defaults became data-adaptive: where they say *defaults* they mean "
        "the former ones (`skae._estimators.defaults.FORMER_AE_DEFAULTS`: "
        "256-128 ReLU, "
        "no noise, adaptive schedule, `max_iter=200`).",
        "",
        "| data | model | k | fits | test error | PCA | logreg | PCA | 5-NN | PCA "
        "| epochs | warned | s/fit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (data, model, k), group in groups.items():

        def m(field: str, group=group) -> float:
            return float(np.mean([r[field] for r in group]))

        lines.append(
            f"| {data} | {MODEL_NAMES[model]} | {k} | {len(group)} "
            f"| {m('test_error'):.2f} | {m('pca_error'):.2f} "
            f"| {m('logreg'):.4f} | {m('pca_logreg'):.4f} "
            f"| {m('knn'):.4f} | {m('pca_knn'):.4f} | {m('epochs'):.0f} "
            f"| {sum(r['warned'] for r in group)} | {m('seconds'):.0f} |"
        )
    if curve:
        lines += [
            "",
            "Time to quality: the same default fits with `max_iter` set to a "
            "smaller budget (the cosine schedule fits itself to it), MNIST, "
            "seed 0.",
            "",
            "| data | model | k | max_iter | seconds | test error | PCA |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        key = lambda r: (r["dataset"], r["model"], r["k"], r["epochs"])  # noqa: E731
        for r in sorted(curve + [r for r in full if r["dataset"] == "mnist"], key=key):
            if not any(c["k"] == r["k"] and c["model"] == r["model"] for c in curve):
                continue
            lines.append(
                f"| {r['dataset']} | {MODEL_NAMES[r['model']]} | {r['k']} "
                f"| {r['epochs']} | {r['seconds']:.0f} | {r['test_error']:.2f} "
                f"| {r['pca_error']:.2f} |"
            )
    lines.append(MARKERS[1])
    return "\n".join(lines)


def write_section(page: Path, section: str) -> None:
    """Put ``section`` between the markers of ``page`` (after its title if none)."""
    text = page.read_text()
    if MARKERS[0] in text:
        head, rest = text.split(MARKERS[0], 1)
        tail = rest.split(MARKERS[1], 1)[1]
        text = head + section + tail
    else:
        title, body = text.split("\n", 1)
        text = f"{title}\n\n{section}\n{body}"
    page.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", nargs="*", help=f"names of RULES: {list(RULES)}")
    parser.add_argument(
        "--dataset", default="digits", choices=["digits", "mnist", "fashion"]
    )
    parser.add_argument("--data", default=None, help="npz file (MNIST/Fashion)")
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--first-split", type=int, default=0)
    parser.add_argument(
        "--tuning",
        action="store_true",
        help="MNIST/Fashion: train on rows 10000 on, test on the last 10000 "
        "training rows (data the reported rows never see)",
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--models", nargs="+", default=["ae", "vae"], choices=list(MODELS)
    )
    parser.add_argument(
        "--max-iter", type=int, default=None, help="override the rule's epochs"
    )
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", type=Path, help="append one JSON line per fit")
    parser.add_argument("--report", type=Path, help="print the table of a run")
    parser.add_argument(
        "--page",
        type=Path,
        help="write the defaults' section of this page from the rules' JSON files",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return
    if args.page:
        write_section(args.page, defaults_section([Path(p) for p in args.rules]))
        return
    unknown = sorted(set(args.rules) - set(RULES))
    if unknown:
        parser.error(f"unknown rules {unknown}; choose from {list(RULES)}")
    if args.data is None and args.dataset != "digits":
        npz = SHARED / ("mnist.npz" if args.dataset == "mnist" else "fashion-mnist.npz")
        args.data = str(npz) if npz.exists() else None
    run(args, args.json)


if __name__ == "__main__":
    main()
