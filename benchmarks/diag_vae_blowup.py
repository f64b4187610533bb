"""Reproduce the divergence of the Gaussian VAE that chose its default network.

Fits ``VAETransformer(k, random_state=0, max_iter=EPOCHS)`` with the
defaults and with named variants on the first ``N`` MNIST training rows
(pixels / 255) and prints the test reconstruction error per image (first
2000 test images) and the loss per epoch. Issue 29: with 60000 rows and 80
epochs at k=30, the three-layer network at a peak rate of 2e-3 went from a
loss of -351 to 3e14 at epoch 15 and ended at the mean image (error 50.2);
clipping the gradient norm at 10x its running mean only delayed the jump
(epoch 20, error 23.1); two layers at 1e-3 (the defaults since) trained
smoothly to 4.64. Usage::

    python benchmarks/diag_vae_blowup.py --data mnist.npz 60000 80 30 defaults
    python benchmarks/diag_vae_blowup.py --data mnist.npz 10000 8 8 deep-2e-3
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from skae import VAETransformer

VARIANTS = {
    "defaults": {},
    # The first candidate: three layers at 2e-3 (diverged).
    "deep-2e-3": dict(hidden_layer_sizes=(1000, 500, 250), learning_rate_init=2e-3),
    "relu": dict(activation="relu"),
    "no-noise": dict(corruption=None),
    "beta1": dict(beta=1.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="mnist.npz")
    parser.add_argument("n", type=int)
    parser.add_argument("epochs", type=int)
    parser.add_argument("k", type=int)
    parser.add_argument("variants", nargs="+", choices=list(VARIANTS))
    args = parser.parse_args()
    data = np.load(args.data)
    X = data["X_train"][: args.n].reshape(args.n, -1).astype(np.float32) / 255
    X_test = data["X_test"][:2000].reshape(2000, -1).astype(np.float32) / 255
    for name in args.variants:
        start = time.perf_counter()
        vae = VAETransformer(
            args.k, random_state=0, max_iter=args.epochs, **VARIANTS[name]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vae.fit(X)
        R = vae.inverse_transform(vae.transform(X_test))
        error = ((R - X_test) ** 2).sum(1).mean()
        losses = [round(float(v), 1) for v in vae.loss_curve_]
        seconds = time.perf_counter() - start
        print(f"{name}: error {error:.2f}, {seconds:.0f} s, losses {losses}")


if __name__ == "__main__":
    main()
