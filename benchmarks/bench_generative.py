"""Conditional samples judged by a classifier (docs/generative.md).

For MNIST and Fashion-MNIST, the whole training set:

* the judge: a small CNN (two 3x3 convolutions with max-pooling, a hidden
  layer of 128, dropout) trained on the training images for 3 (MNIST) or 5
  (Fashion-MNIST) epochs, seeded, and its test accuracy;
* ``ConditionalVAETransformer(k, random_state=0)`` with its defaults, for
  each k of ``--ks``: :func:`skae.metrics.sample_quality` of 100 samples per
  class against the test images (samples clipped to [0, 1], the pixels'
  range, before the judge sees them): the share of samples the judge
  assigns to the requested class, the per-class ratio of the samples'
  mean pairwise distance to the test images' (smallest and mean over the
  classes), the Fréchet distance in a 20-D PCA space of the test images;
  and the same networks sampled with a Gaussian fitted to each class's
  codes (``prior="class"``, the default before the exemplars) and with codes
  from N(0, I) (``prior="normal"`` trains the same networks);
* a figure of 10 samples of each class at k = 2 and 16.

    python benchmarks/bench_generative.py                # writes docs/generative.md
    python benchmarks/bench_generative.py --datasets mnist --ks 2 8
    python benchmarks/bench_generative.py --report       # the page from the JSON
    python benchmarks/bench_generative.py --quick --output /tmp/g.md --json /tmp/g.json

``--quick`` uses the digits, a logistic regression as the judge and 5
epochs. Rows are added to ``--json`` as they are measured (one per data set
and k, replacing an earlier row of the same pair).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from torch import nn

from skae import ConditionalVAETransformer
from skae.metrics import sample_quality

from common import DATA, RESULTS, ROOT

JSON = RESULTS / "generative.json"
PAGE = ROOT / "docs" / "generative.md"
STATIC = "_static"
NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST", "digits": "digits"}
FILES = {"mnist": "mnist.npz", "fashion": "fashion-mnist.npz"}
JUDGE_EPOCHS = {"mnist": 3, "fashion": 5}
FIGURE_KS = (2, 16)


def load(name: str, folder: Path = DATA):
    """Training and test rows in [0, 1], and their labels (``folder``'s npz)."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        return X[:1300], X[1300:], y[:1300], y[1300:]
    with np.load(folder / FILES[name]) as data:
        X, X_test = (data[k].reshape(len(data[k]), -1) for k in ("X_train", "X_test"))
        y, y_test = data["y_train"], data["y_test"]
    return (
        (X / 255.0).astype(np.float32),
        (X_test / 255.0).astype(np.float32),
        y,
        y_test,
    )


class CNNJudge:
    """A small CNN on 28x28 images with ``fit``/``predict`` (samples clipped)."""

    def __init__(self, epochs: int, seed: int = 0) -> None:
        self.epochs, self.seed = epochs, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> CNNJudge:
        generator = torch.Generator().manual_seed(self.seed)
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 49, 128), nn.ReLU(), nn.Linear(128, 10),
        )  # fmt: skip
        for p in self.net.parameters():  # seeded initialisation, no global state
            bound = 1.0 / np.sqrt(p[0].numel()) if p.dim() > 1 else 0.05
            nn.init.uniform_(p, -bound, bound, generator=generator)
        self.classes_ = np.unique(y)
        images = self._images(X)
        labels = torch.as_tensor(np.searchsorted(self.classes_, y))
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(images), generator=generator)
            for start in range(0, len(images), 128):
                batch = order[start : start + 128]
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(
                    self.net(images[batch]), labels[batch]
                )
                loss.backward()
                optimizer.step()
        self.net.eval()
        return self

    @staticmethod
    def _images(X: np.ndarray) -> torch.Tensor:
        X = np.clip(np.asarray(X, dtype=np.float32), 0.0, 1.0)
        return torch.from_numpy(X.reshape(-1, 1, 28, 28))

    def predict(self, X: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            scores = torch.cat([self.net(b) for b in self._images(X).split(2048)])
        return self.classes_[scores.argmax(1).numpy()]

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == y))


class ClippedJudge:
    """A scikit-learn classifier that sees samples clipped to [0, 1]."""

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self.classes_ = classifier.classes_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classifier.predict(np.clip(X, 0.0, 1.0))


class NormalPrior:
    """The fitted networks of ``model``, sampled with codes from N(0, I)."""

    def __init__(self, model: ConditionalVAETransformer) -> None:
        self.model = model
        self.classes_ = model.classes_

    def sample(self, n_samples: int, random_state=None, *, y=None) -> np.ndarray:
        rng = np.random.RandomState(random_state)
        codes = rng.standard_normal((n_samples, self.model.n_components_))
        return self.model.inverse_transform(codes, y=y)


class ClassGaussian:
    """The fitted networks of ``model``, sampled with each class's Gaussian.

    The Gaussian of ``prior="class"``: the mean of the class's training
    rows' posterior means, their covariance plus the mean posterior
    variance (the same networks; that prior is fitted after training).
    """

    def __init__(self, model: ConditionalVAETransformer, X, y) -> None:
        self.model, self.classes_ = model, model.classes_
        mean, std = model.posterior(X, y=y)
        self.moments = {}
        for c in self.classes_:
            mu, var = mean[y == c], std[y == c] ** 2
            cov = np.cov(mu.T, bias=True).reshape(mu.shape[1], -1)
            self.moments[c] = (
                mu.mean(0),
                np.linalg.cholesky(cov + np.diag(var.mean(0))),
            )

    def sample(self, n_samples: int, random_state=None, *, y=None) -> np.ndarray:
        rng = np.random.RandomState(random_state)
        y = np.broadcast_to(y, (n_samples,))
        eps = rng.standard_normal((n_samples, self.model.n_components_))
        codes = np.stack(
            [
                self.moments[c][0] + self.moments[c][1] @ e
                for c, e in zip(y, eps, strict=True)
            ]
        )
        return self.model.inverse_transform(codes, y=y)


def judge_for(name: str, X, y, X_test, y_test):
    if name == "digits":
        judge = ClippedJudge(LogisticRegression(max_iter=2000).fit(X, y))
        return judge, float(np.mean(judge.predict(X_test) == y_test))
    judge = CNNJudge(JUDGE_EPOCHS[name]).fit(X, y)
    return judge, judge.score(X_test, y_test)


def summary(result) -> dict:
    return dict(
        accuracy=result.accuracy,
        class_accuracy=result.class_accuracy.tolist(),
        spread_min=float(result.spread_ratio.min()),
        spread_mean=float(result.spread_ratio.mean()),
        frechet=result.frechet,
    )


def figure(model, name: str, k: int, folder: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skae.plot import SamplesDisplay

    side = math.isqrt(model.n_features_in_)
    display = SamplesDisplay.from_estimator(
        model, 10, image_shape=(side, side), random_state=0, vmin=0.0, vmax=1.0
    )
    display.ax_.set_title(f"{NAMES[name]}, k={k}: 10 samples per class (rows)")
    path = folder / STATIC / f"generative_{name}_k{k}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    display.figure_.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(display.figure_)
    return f"{STATIC}/{path.name}"


def measure(name: str, ks, epochs, per_class: int, folder: Path, data: Path):
    X, X_test, y, y_test = load(name, data)
    start = time.perf_counter()
    judge, judge_accuracy = judge_for(name, X, y, X_test, y_test)
    judge_seconds = time.perf_counter() - start
    print(f"{name}: judge test accuracy {judge_accuracy:.4f}", flush=True)
    for k in ks:
        params = {} if epochs is None else dict(max_iter=epochs)
        model = ConditionalVAETransformer(k, random_state=0, **params)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        options = dict(classifier=judge, n_per_class=per_class, random_state=0)
        fitted = sample_quality(model, X_test, y_test, **options)
        normal = sample_quality(NormalPrior(model), X_test, y_test, **options)
        gaussian = sample_quality(ClassGaussian(model, X, y), X_test, y_test, **options)
        row = dict(
            data=name,
            k=k,
            rows=len(X),
            epochs=model.n_iter_,
            fit_seconds=seconds,
            judge_accuracy=judge_accuracy,
            judge_seconds=judge_seconds,
            fitted_prior=summary(fitted),
            normal_prior=summary(normal),
            class_gaussian=summary(gaussian),
            prior=model.module_.prior.__class__.__name__,
            figure=figure(model, name, k, folder) if k in FIGURE_KS else None,
        )
        print(json.dumps(row), flush=True)
        yield row


def merge(path: Path, row: dict) -> None:
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = [r for r in rows if (r["data"], r["k"]) != (row["data"], row["k"])]
    rows.append(row)
    rows.sort(key=lambda r: (list(NAMES).index(r["data"]), r["k"]))
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    text = json.dumps(dict(machine=machine, rows=rows), indent=1)
    path.write_text(text + "\n")


def page(results: dict) -> str:
    lines = [
        "# Generated samples, judged",
        "",
        "`ConditionalVAETransformer(k, random_state=0)` with its defaults, fitted",
        "on the whole training set; `sample(n, y=...)` draws 100 samples of each",
        "class. A classifier trained on the real training images (the judge)",
        "says which class each sample shows; `skae.metrics.sample_quality`",
        "computes the numbers (run it on your own data the same way).",
        "",
        "* **judged as asked**: the share of the 1000 samples that the judge",
        "  assigns to the requested class (its ceiling is the judge's own test",
        "  accuracy);",
        "* **spread**: for each class, the mean distance between two samples over",
        "  the mean distance between two test images of the class; the smallest",
        "  over the classes and the mean. Decoder means are smoother than real",
        "  images, so values below 1 are expected; near 0 would be one image per",
        "  class;",
        "* **Fréchet**: the squared Fréchet distance between the samples and the",
        "  test images in a 20-D PCA space of the test images (0: the same mean",
        "  and covariance).",
        "",
        '**Fitted prior** is the default (`prior="auto"`): the networks train',
        "with N(0, I), then each class's prior is the mixture of the posteriors",
        "of 500 of its training rows (its exemplars, an estimate of the class's",
        "aggregate posterior). **Gaussian** samples the same networks with a",
        'Gaussian fitted to each class\'s codes (`prior="class"`, the default',
        'before), **N(0, I)** with codes from N(0, I) (`prior="normal"` trains',
        "the same networks). From 8 latent dimensions on, the codes also carry",
        "the class and the decoder leans on them, so codes from N(0, I) decode",
        "to whatever class their region holds; a class's own prior puts them",
        "where the decoder learnt the class, and the exemplars, unlike one",
        "Gaussian, follow the clusters within a class.",
        "",
        f"Generated by `python benchmarks/bench_generative.py` ({results['machine']}).",
        "",
        "| data | k | judged as asked: fitted / Gaussian / N(0, I) "
        "| spread min / mean: fitted | Gaussian | N(0, I) "
        "| Fréchet: fitted / Gaussian / N(0, I) | epochs | fit (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    judges = {}
    for r in results["rows"]:
        parts = [r["fitted_prior"], r.get("class_gaussian"), r["normal_prior"]]
        judges[r["data"]] = r["judge_accuracy"]
        judged = " / ".join(f"{p['accuracy']:.3f}" if p else "-" for p in parts)
        spread = " | ".join(
            f"{p['spread_min']:.2f} / {p['spread_mean']:.2f}" if p else "-"
            for p in parts
        )
        frechet = " / ".join(f"{p['frechet']:.2f}" if p else "-" for p in parts)
        lines.append(
            f"| {NAMES[r['data']]} | {r['k']} | {judged} | {spread} | {frechet} "
            f"| {r['epochs']} | {r['fit_seconds']:.0f} |"
        )
    lines += ["", "The judges' accuracy on the real test images: " + ", ".join(
        f"{NAMES[d]} {a:.4f}" for d, a in judges.items()
    ) + " (a CNN trained on the training images; the digits: a logistic "
        "regression).", ""]  # fmt: skip
    for r in results["rows"]:
        if r["figure"]:
            title = f"{NAMES[r['data']]}, k={r['k']}"
            lines += [f"![{title}]({r['figure']})", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion"])
    parser.add_argument("--ks", nargs="+", type=int, default=[2, 8, 16, 32])
    parser.add_argument("--quick", action="store_true", help="digits, 5 epochs")
    parser.add_argument("--report", action="store_true", help="page from --json")
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument(
        "--data", type=Path, default=DATA, help="folder of mnist.npz, fashion-mnist.npz"
    )
    parser.add_argument("--output", type=Path, default=PAGE)
    args = parser.parse_args()
    folder = args.output.parent
    if not args.report:
        datasets = ["digits"] if args.quick else args.datasets
        ks = [2, 8] if args.quick else args.ks
        epochs, per_class = (5, 20) if args.quick else (None, 100)
        with warnings.catch_warnings():
            if args.quick:  # a tiny budget does not converge, on purpose
                warnings.simplefilter("ignore", ConvergenceWarning)
            for name in datasets:
                for row in measure(name, ks, epochs, per_class, folder, args.data):
                    merge(args.json, row)
    args.output.write_text(page(json.loads(args.json.read_text())))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
