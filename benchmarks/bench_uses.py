"""What autoencoders are used for, measured: denoising, super-resolution,
anomaly detection and the beta-VAE trade-off, on MNIST and Fashion-MNIST.

Parts (results in ``--json``, one key per part, so parts can be rerun alone;
``--report`` prints the markdown tables):

* ``denoise``: test images with Gaussian noise (sigma 0.5 on pixels in
  [0, 1]) and with 50% masking; squared error per image to the clean images
  of the noisy input, PCA's reconstruction (fitted on clean images), a plain
  autoencoder (fitted on clean images) and a denoising autoencoder (fitted
  with ``corruption="gaussian"`` or ``"masking"`` at the same level), on
  MNIST and Fashion-MNIST.
* ``superres``: 14x14 -> 28x28 on MNIST: each test image averaged down to
  14x14, then upsampled; error of bicubic upsampling, of PCA's
  reconstruction of the nearest-neighbour upsampled image, and of an
  autoencoder trained with a callable ``corruption`` that does the same
  down- and upsampling.
* ``anomaly``: Fashion-MNIST, each class held out in turn: fit on the
  other nine classes' training images, score all test images; ROC AUC of
  ``-score_samples`` for the autoencoder, the VAE and PCA (probabilistic
  PCA's log-likelihood), the held-out class being the anomalies.
* ``beta``: ``VAETransformer`` on MNIST for beta in {0.5, 1, 2, 4}: test
  reconstruction error, mean KL per image, active units.
* ``conditional``: ``ConditionalVAETransformer`` on MNIST and Fashion-MNIST:
  the share of 1000 conditional samples (100 per class, clipped to [0, 1])
  that a classifier trained on the real training images (sklearn's
  ``MLPClassifier``) assigns to the requested class.

Usage::

    python benchmarks/bench_uses.py                    # all parts
    python benchmarks/bench_uses.py --parts denoise --epochs 20
    python benchmarks/bench_uses.py --quick --json /tmp/u.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from skae import AutoencoderTransformer, VAETransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS, FORMER_VAE_DEFAULTS
from skae.datasets import load_fashion_mnist, load_image_dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SIDE = 28


def load(name: str, n: int | None):
    data = load_image_dataset(name, SHARED if SHARED.exists() else None)
    return (
        data.X_train[:n],
        data.X_test[: n and n // 2],
        data.y_train[:n],
        data.y_test[: n and n // 2],
    )


def _setting(Est, k: int, epochs: int, **params):
    # The rest as stored: the defaults before "auto" (ReLU, no noise, beta 1).
    former = (
        FORMER_AE_DEFAULTS if Est is AutoencoderTransformer else FORMER_VAE_DEFAULTS
    )
    settings = dict(
        former,
        hidden_layer_sizes=(512, 256),
        learning_rate="cosine",
        max_iter=epochs,
        batch_size=256,
        random_state=0,
    )
    return Est(k, **{**settings, **params})


def ae(k: int, epochs: int, **params) -> AutoencoderTransformer:
    return _setting(AutoencoderTransformer, k, epochs, **params)


def vae(k: int, epochs: int, **params) -> VAETransformer:
    return _setting(VAETransformer, k, epochs, **params)


def fit(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


def error(X_hat: np.ndarray, X: np.ndarray) -> float:
    return float(((X_hat - X) ** 2).sum(1).mean())


def reconstruct(model, X: np.ndarray) -> np.ndarray:
    return model.inverse_transform(model.transform(X))


# ------------------------------------------------------------------ denoise
def gaussian_noise(X: np.ndarray, rng) -> np.ndarray:
    return X + 0.5 * rng.standard_normal(X.shape).astype(X.dtype)


def masking(X: np.ndarray, rng) -> np.ndarray:
    return np.where(rng.random_sample(X.shape) < 0.5, 0, X).astype(X.dtype)


def part_denoise(args) -> dict:
    out = {}
    for name in ("mnist", "fashion"):
        X, X_test, _, _ = load(name, args.n_samples)
        pca = PCA(args.k, random_state=0).fit(X)
        plain = fit(ae(args.k, args.epochs), X)
        for noise, corrupt, level in (
            ("gaussian 0.5", gaussian_noise, 0.5),
            ("masking 50%", masking, 0.5),
        ):
            noisy = corrupt(X_test, np.random.RandomState(1))
            kind = "gaussian" if noise.startswith("gaussian") else "masking"
            start = time.perf_counter()
            dae = fit(
                ae(args.k, args.epochs, corruption=kind, corruption_level=level), X
            )
            out[f"{name}, {noise}"] = {
                "noisy input": error(noisy, X_test),
                "PCA": error(reconstruct(pca, noisy), X_test),
                "plain AE": error(reconstruct(plain, noisy), X_test),
                "denoising AE": error(reconstruct(dae, noisy), X_test),
                "fit seconds": time.perf_counter() - start,
            }
            print(name, noise, out[f"{name}, {noise}"], flush=True)
    return out


# ----------------------------------------------------------------- superres
def down_up(x: torch.Tensor, generator=None) -> torch.Tensor:
    """28x28 rows averaged down to 14x14, then upsampled by repeating pixels.

    A ``corruption`` callable: ``(X_batch, generator) -> batch``; the
    generator is not needed (the corruption is deterministic).
    """
    images = x.reshape(-1, 1, SIDE, SIDE)
    low = F.avg_pool2d(images, 2)
    return F.interpolate(low, scale_factor=2, mode="nearest").reshape(x.shape)


def bicubic(X: np.ndarray) -> np.ndarray:
    images = torch.from_numpy(X).reshape(-1, 1, SIDE, SIDE)
    low = F.avg_pool2d(images, 2)
    up = F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False)
    return up.clamp(0, 1).reshape(X.shape).numpy()


def part_superres(args) -> dict:
    X, X_test, _, _ = load("mnist", args.n_samples)
    low = down_up(torch.from_numpy(X_test)).numpy()
    pca = PCA(args.k, random_state=0).fit(X)
    model = fit(ae(args.k, args.epochs, corruption=down_up), X)
    return {
        "nearest upsampling": error(low, X_test),
        "bicubic upsampling": error(bicubic(X_test), X_test),
        "PCA": error(reconstruct(pca, low), X_test),
        "skae AE, corruption=down_up": error(reconstruct(model, low), X_test),
    }


# ------------------------------------------------------------------ anomaly
def part_anomaly(args) -> dict:
    X, X_test, y, y_test = load("fashion", args.n_samples)
    out = {}
    for held_out in range(10):
        train = X[y != held_out]
        is_anomaly = y_test == held_out
        row = {}
        for label, model in (
            ("PCA", PCA(args.k, random_state=0)),
            ("AE", ae(args.k, args.epochs)),
            ("VAE", vae(args.k, args.epochs)),
        ):
            scores = fit(model, train).score_samples(X_test)
            row[label] = float(roc_auc_score(is_anomaly, -scores))
        out[str(held_out)] = row
        print("held out", held_out, row, flush=True)
    return out


# --------------------------------------------------------------------- beta
def part_beta(args) -> dict:
    X, X_test, _, _ = load("mnist", args.n_samples)
    out = {}
    for beta in (0.5, 1.0, 2.0, 4.0):
        model = fit(vae(args.k, args.epochs, beta=beta), X)
        mu, std = model.posterior(X_test)
        kl = 0.5 * (mu**2 + std**2 - 1 - 2 * np.log(std)).sum(1).mean()
        out[str(beta)] = {
            "reconstruction error": error(reconstruct(model, X_test), X_test),
            "KL (nats)": float(kl),
            "active units": int(model.active_units_),
            "ELBO (nats)": float(model.score_samples(X_test).mean()),
        }
        print("beta", beta, out[str(beta)], flush=True)
    return out


# -------------------------------------------------------------- conditional
def part_conditional(args) -> dict:
    from sklearn.neural_network import MLPClassifier

    from skae import ConditionalVAETransformer

    out = {}
    for name in ("mnist", "fashion"):
        X, X_test, y, y_test = load(name, args.n_samples)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = MLPClassifier((256,), max_iter=args.epochs, random_state=0).fit(X, y)
        cvae = _setting(ConditionalVAETransformer, args.cond_k, args.epochs)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            cvae.fit(X, y)
        seconds = time.perf_counter() - start
        wanted = np.repeat(cvae.classes_, 100)  # 100 samples per class
        samples = np.clip(cvae.sample(len(wanted), y=wanted, random_state=0), 0, 1)
        out[name] = {
            "classifier test accuracy": float(clf.score(X_test, y_test)),
            "samples classified as requested": float(
                np.mean(clf.predict(samples) == wanted)
            ),
            "samples": len(wanted),
            "fit seconds": seconds,
        }
        print(name, out[name], flush=True)
    return out


PARTS = {
    "denoise": part_denoise,
    "superres": part_superres,
    "anomaly": part_anomaly,
    "beta": part_beta,
    "conditional": part_conditional,
}


def table(rows: dict, first: str, spec: str = ".2f") -> list[str]:
    columns = list(next(iter(rows.values())))
    lines = [
        f"| {first} | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for key, row in rows.items():
        cells = [
            format(v, spec) if isinstance(v, float) else str(v) for v in row.values()
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


PAGE = """# Uses: denoising, super-resolution, anomalies, beta, conditional samples

Generated by `python benchmarks/bench_uses.py` on this project's 2-core CPU
(parts can be rerun alone: `--parts denoise,superres,anomaly,beta,conditional`).
MNIST and Fashion-MNIST, fitted on the 60,000 training images, measured on
the 10,000 test images, pixels in [0, 1].

"""


def report(results: dict, settings: dict) -> str:
    lines = [
        f"Settings: {settings['k']} components (conditional VAE:"
        f" {settings.get('cond_k', settings['k'])}), {settings['epochs']} epochs"
        ' (`learning_rate="cosine"`, batch 256, hidden layers 512-256)'
        f"; training rows: {settings['n_samples'] or 'all'}. The rest are the"
        " defaults before skae's data-adaptive ones: ReLU, no input noise where"
        " none is named, learning rate 1e-3, beta 1 where none is named, no"
        " `pca_path`.",
    ]
    if "denoise" in results:
        lines += ["", "Denoising: squared error per test image to the clean image.", ""]
        lines += table(results["denoise"], "data, noise")
    if "superres" in results:
        lines += ["", "Super-resolution 14x14 -> 28x28 on MNIST test images:", ""]
        lines += table({"error": results["superres"]}, "")
    if "anomaly" in results:
        names = load_fashion_mnist(SHARED if SHARED.exists() else None).target_names
        rows = {f"{c} {names[int(c)]}": row for c, row in results["anomaly"].items()}
        rows["mean"] = {
            m: float(np.mean([r[m] for r in results["anomaly"].values()]))
            for m in ("PCA", "AE", "VAE")
        }
        lines += ["", "Anomaly detection on Fashion-MNIST, ROC AUC:", ""]
        lines += table(rows, "held-out class", ".3f")
    if "beta" in results:
        lines += ["", "beta-VAE on MNIST:", ""]
        lines += table(results["beta"], "beta")
    if "conditional" in results:
        lines += ["", "Conditional samples (`sample(n, y=...)`):", ""]
        lines += table(results["conditional"], "data", ".3f")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "uses.json"
    )
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument(
        "--cond-k",
        type=int,
        default=2,
        help="latent size of the conditional VAE (at 4 and 8 the decoder "
        "leans on the code and 86%% and 69%% of MNIST samples had the "
        "requested class, at 2 it relies on the label)",
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "uses.md")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.n_samples, args.output = 1, 1000, None
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    settings = dict(
        k=args.k, cond_k=args.cond_k, epochs=args.epochs, n_samples=args.n_samples
    )
    if not args.report:
        for name in args.parts.split(","):
            results[name] = PARTS[name](args)
            results["settings"] = settings
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1))
    text = report(results, results.get("settings", settings))
    print(text)
    if args.output:
        args.output.write_text(PAGE + text)


if __name__ == "__main__":
    main()
