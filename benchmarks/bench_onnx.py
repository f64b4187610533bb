"""ONNX export against skae itself (docs/onnx.md).

Fits, exports with ``skae.to_onnx`` / ``skl2onnx`` and runs with
onnxruntime:

* ``make_pipeline(StandardScaler(), AutoencoderTransformer(8),
  LogisticRegression())`` on the digits (defaults, 75/25 split): how many of
  the test predictions onnxruntime's copy gets equal to the pipeline's, and
  the largest difference of the class probabilities;
* the largest absolute difference of codes (``transform``) and
  reconstructions (``inverse_transform``), relative to the largest value,
  for the MLP and the conv architecture, autoencoder and VAE, on the digits;
* the time of ``transform`` of 10000 rows and of 1 row (best of
  ``--calls``), skae against onnxruntime on the same model: the digits'
  AE(8) and an AE(30) of MNIST's shape with the default network (fitted on
  5000 rows for 5 epochs: the time does not depend on the training).

    python benchmarks/bench_onnx.py              # writes docs/onnx.md
    python benchmarks/bench_onnx.py --quick --output /tmp/onnx.md
"""

from __future__ import annotations

import argparse
import json
import platform
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAETransformer, register_skl2onnx, to_onnx

from common import best_ms, mnist_like

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "onnx.json"


def session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString())


def relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def pipeline_check(quick: bool) -> dict:
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=0, stratify=y
    )
    params = dict(max_iter=3) if quick else {}
    pipe = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(8, random_state=0, **params),
        LogisticRegression(max_iter=2000),
    ).fit(X_train, y_train)
    register_skl2onnx()
    model = skl2onnx.to_onnx(
        pipe, X_train[:1], options={LogisticRegression: {"zipmap": False}}
    )
    labels, proba = session(model).run(None, {"X": X_test})
    return dict(
        rows=len(X_test),
        equal=int((labels == pipe.predict(X_test)).sum()),
        accuracy=float(pipe.score(X_test, y_test)),
        proba_gap=float(np.abs(proba - pipe.predict_proba(X_test)).max()),
    )


def gaps(quick: bool) -> list[dict]:
    X = load_digits().data.astype(np.float32)
    budget = dict(max_iter=3) if quick else dict(max_iter=30)
    models = {
        ("AutoencoderTransformer", "mlp"): AutoencoderTransformer(8, **budget),
        ("AutoencoderTransformer", "conv"): AutoencoderTransformer(
            8, architecture="conv", image_shape=(8, 8), **budget
        ),
        ("VAETransformer", "mlp"): VAETransformer(8, **budget),
        ("VAETransformer", "conv"): VAETransformer(
            8, architecture="conv", image_shape=(8, 8), **budget
        ),
    }
    rows = []
    for (name, architecture), model in models.items():
        model.set_params(random_state=0).fit(X)
        codes = model.transform(X)
        onnx_codes = session(to_onnx(model)).run(None, {"X": X})[0]
        again = session(to_onnx(model, "inverse_transform")).run(None, {"X": codes})[0]
        rows.append(
            dict(
                estimator=name,
                architecture=architecture,
                epochs=model.n_iter_,
                codes_gap=relative_gap(onnx_codes, codes),
                reconstruction_gap=relative_gap(again, model.inverse_transform(codes)),
            )
        )
    return rows


def timings(quick: bool, calls: int) -> list[dict]:
    digits = load_digits().data.astype(np.float32)
    mnist = mnist_like(1000 if quick else 5000)
    n_rows = 1000 if quick else 10_000
    cases = {
        "digits, AE(8), default network": (
            AutoencoderTransformer(8, max_iter=3 if quick else 80),
            digits,
        ),
        "MNIST-shaped, AE(30), default network": (
            AutoencoderTransformer(30, max_iter=2 if quick else 5),
            mnist,
        ),
    }
    rows = []
    for name, (model, X) in cases.items():
        model.set_params(random_state=0).fit(X)
        big = X[np.random.RandomState(0).randint(len(X), size=n_rows)]
        run = session(to_onnx(model))
        times = {}
        for label, rows_in, n_calls in (
            ("", big, calls),
            ("_one", big[:1], 10 * calls),
        ):
            times[f"skae{label}_ms"] = best_ms(
                partial(model.transform, rows_in), n_calls
            )
            times[f"onnx{label}_ms"] = best_ms(
                partial(run.run, None, {"X": rows_in}), n_calls
            )
        rows.append(
            dict(
                model=name, hidden=list(model.hidden_layer_sizes_), rows=n_rows, **times
            )
        )
    return rows


def page(results: dict) -> str:
    p = results["pipeline"]
    lines = [
        "# Export to ONNX",
        "",
        "`skae.to_onnx(estimator, method)` exports a fitted",
        "`AutoencoderTransformer`'s or `VAETransformer`'s `transform` (the codes;",
        "the VAE's posterior means) or `inverse_transform` (the reconstructions;",
        "the mean of the VAE's decoder) as an ONNX model, with the fitted",
        "scaling inside it: it reads and writes the caller's units, in float32,",
        "any number of rows. `skae.register_skl2onnx()` registers the estimators",
        "with skl2onnx, so that `skl2onnx.to_onnx(pipeline, X[:1])` converts a",
        "`Pipeline` or `ColumnTransformer` that holds them whole (float64 input",
        "is cast to float32 and back). Install the `onnx` extra",
        '(`pip install "skae[onnx]"`: onnx, onnxscript for PyTorch\'s exporter,',
        "onnxruntime, skl2onnx).",
        "",
        "```python",
        "import skl2onnx",
        "from skae import register_skl2onnx, to_onnx",
        "",
        'model = to_onnx(ae)  # transform: input "X", output "Y"',
        'open("codes.onnx", "wb").write(model.SerializeToString())',
        "register_skl2onnx()",
        "onx = skl2onnx.to_onnx(pipe, X[:1].astype(np.float32))  # the whole pipeline",
        "```",
        "",
        '**What exports.** Any architecture the estimators train: `"mlp"`,',
        '`"conv"` and builders made of standard PyTorch layers; the autoencoder\'s',
        "PCA path; every likelihood of the VAE (Gaussian, Bernoulli, multinomial).",
        "**What does not.** `ConditionalVAETransformer` (its encoder and decoder",
        "read the label; `to_onnx` refuses it), `score_samples`, `sample`,",
        "`log_likelihood` and the recommendation methods, which stay skae's own.",
        "The exported graph computes in float32 in onnxruntime's order of",
        "summation, not skae's batch-invariant one: results agree to float32",
        "rounding, not bit for bit.",
        "",
        "## Measured",
        "",
        f"Generated by `python benchmarks/bench_onnx.py` ({results['machine']}).",
        "",
        "**A pipeline converted whole.** `make_pipeline(StandardScaler(),",
        "AutoencoderTransformer(8, random_state=0), LogisticRegression())` on the",
        "digits (75/25 split, defaults), converted with `skl2onnx.to_onnx` and run",
        f"by onnxruntime: **{p['equal']} of {p['rows']}** test predictions equal",
        f"to the pipeline's (test accuracy {p['accuracy']:.3f}); largest difference",
        f"of the class probabilities {p['proba_gap']:.1e}.",
        "",
        "**Agreement**, on the 1797 digits: the largest absolute difference",
        "between onnxruntime's output and skae's, over the largest absolute value",
        "of skae's (`random_state=0`, 30 epochs).",
        "",
        "| estimator | architecture | codes | reconstructions |",
        "|---|---|---:|---:|",
    ]
    for r in results["gaps"]:
        lines.append(
            f"| {r['estimator']} | {r['architecture']} | {r['codes_gap']:.1e} "
            f"| {r['reconstruction_gap']:.1e} |"
        )
    lines += [
        "",
        "**Time of `transform`**, best of the calls, in milliseconds: skae's",
        "`transform` against `InferenceSession.run` on the exported model, in",
        "the same run (torch and onnxruntime with their default threads).",
        "",
        "| model | hidden | rows | skae | ONNX | skae, 1 row | ONNX, 1 row |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["timings"]:
        hidden = "-".join(map(str, r["hidden"]))
        lines.append(
            f"| {r['model']} | {hidden} | {r['rows']} | {r['skae_ms']:.2f} "
            f"| {r['onnx_ms']:.2f} | {r['skae_one_ms']:.3f} | {r['onnx_one_ms']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "onnx.md")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    calls = 2 if args.quick else args.calls
    with warnings.catch_warnings():
        if args.quick:  # tiny budgets do not converge, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
        results = dict(
            machine=f"{platform.machine()} CPU, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}, onnxruntime {ort.__version__}",
            pipeline=pipeline_check(args.quick),
            gaps=gaps(args.quick),
            timings=timings(args.quick, calls),
        )
    out_json = args.json or (None if args.quick else RESULTS)
    if out_json:
        out_json.write_text(json.dumps(results, indent=1) + "\n")
    args.output.write_text(page(results))
    print(page(results))


if __name__ == "__main__":
    main()
