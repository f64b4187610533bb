"""Why the VAE's codes trail PCA's before 5-NN, and what a lower beta costs.

Two questions of issue 37, no page:

1. ``--whitening``: a VAE's posterior means are close to *whitened* codes
   (each active unit has about unit variance across the data), and 5-NN in
   whitened coordinates weighs noisy low-variance directions as much as the
   leading ones. PCA(k) against PCA(k, whiten=True) on MNIST (pixels / 255,
   60000 training images, the 10000 test images). Measured (2-core CPU,
   2026-12-07): k=30 0.9755 against 0.9711 whitened; 25: 0.9738 / 0.9696;
   20: 0.9694 / 0.9664. VAETransformer(30)'s codes: 0.9712.
2. ``--samples``: what ``beta`` does to the prior samples, on the digits
   (75/25 split, pixels / 16): 1000 samples of ``VAETransformer(k, beta=b)``,
   their Frechet distance to the training images in a 20-D PCA space (the
   real test images: 0.048) and the mean top probability of a logistic
   regression trained on the real images (real test images: 0.903).
   Measured: k=2 beta 0.5: 1.055, 0.721; beta 0.1: 1.499, 0.725 (and four
   digits nearly missing: 21-26 of 1000 samples each); k=8 beta 0.5: 0.500,
   0.638; beta 0.1: 0.624, 0.611.

    python benchmarks/check_vae_codes.py --whitening
    python benchmarks/check_vae_codes.py --samples
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import linalg
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from skae import VAETransformer
from skae.datasets import load_image_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def whitening(path: str | None) -> None:
    images = load_image_dataset("mnist", path)
    pca = PCA(30, random_state=0).fit(images.X_train)
    train, test = pca.transform(images.X_train), pca.transform(images.X_test)
    sd = np.sqrt(pca.explained_variance_)
    for k in (20, 25, 30):
        knn = KNeighborsClassifier(5)
        plain = knn.fit(train[:, :k], images.y_train).score(test[:, :k], images.y_test)
        white = knn.fit(train[:, :k] / sd[:k], images.y_train).score(
            test[:, :k] / sd[:k], images.y_test
        )
        print(f"k={k}: 5-NN of PCA codes {plain:.4f}, whitened {white:.4f}")


def frechet(pca: PCA, A: np.ndarray, B: np.ndarray) -> float:
    """Frechet distance of two samples' Gaussians in ``pca``'s space."""
    a, b = pca.transform(A), pca.transform(B)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * root))


def samples() -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16
    X_train, X_test, y_train, _ = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    clf = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    pca = PCA(20, random_state=0).fit(X_train)
    top = clf.predict_proba(X_test).max(1).mean()
    print(
        f"real test images: Frechet {frechet(pca, X_test, X_train):.3f}, "
        f"top probability {top:.3f}"
    )
    for k in (2, 8):
        for beta in (0.5, 0.1):
            vae = VAETransformer(k, beta=beta, random_state=0).fit(X_train)
            drawn = vae.sample(1000, random_state=0)
            proba = clf.predict_proba(np.clip(drawn, 0, 1))
            counts = np.bincount(proba.argmax(1), minlength=10)
            print(
                f"k={k} beta={beta}: Frechet {frechet(pca, drawn, X_train):.3f}, "
                f"top probability {proba.max(1).mean():.3f}, classes {counts}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whitening", action="store_true")
    parser.add_argument("--samples", action="store_true")
    parser.add_argument("--data", default=str(SHARED) if SHARED.exists() else None)
    args = parser.parse_args()
    if args.whitening:
        whitening(args.data)
    if args.samples:
        samples()


if __name__ == "__main__":
    main()
