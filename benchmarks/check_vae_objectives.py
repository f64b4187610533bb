"""A quick look at the VAE objectives on a subset of MNIST (indicative only).

Fits a Bernoulli VAE (50 components, hidden (256, 128) unless ``--hidden``)
on 6000 training images and prints the importance-weighted log-likelihood
(100 samples) of 500 test images binarized once with a fixed seed. One
configuration per run, so that each stays under a minute on one core::

    python benchmarks/check_vae_objectives.py static --epochs 10
    python benchmarks/check_vae_objectives.py dynamic --epochs 10 --no-bias-init
    python benchmarks/check_vae_objectives.py dynamic --epochs 4 -k 5

``static`` trains on one fixed binarization of the training images, ``grey``
on the intensities, ``dynamic`` with ``binarize=True``. To compare K=1 and
K>1 for the same time, pick the epochs from the fit times printed (an epoch
with K=5 costs about 2.5 times one with K=1 at these sizes).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skae import VAETransformer
from skae._estimators.defaults import FORMER_VAE_DEFAULTS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=["static", "grey", "dynamic"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("-k", type=int, default=1, help="n_importance_samples")
    parser.add_argument("--no-bias-init", action="store_true")
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    with np.load(DATA) as f:
        X_train = f["X_train"][: args.n_train] / 255.0
        X_test = f["X_test"][: args.n_test] / 255.0
    rng = np.random.RandomState(1234)
    test = (rng.uniform(size=X_test.shape) < X_test).astype(np.float64)
    if args.data == "static":
        X_train = (rng.uniform(size=X_train.shape) < X_train).astype(np.float64)
    if args.no_bias_init:
        VAETransformer._init_from_data = lambda self, module, X: None

    def model(epochs: int) -> VAETransformer:
        params = dict(
            FORMER_VAE_DEFAULTS,  # the rest as before "auto": ReLU, adaptive, beta 1
            hidden_layer_sizes=args.hidden,
            likelihood="bernoulli",
            binarize=args.data == "dynamic",
            n_importance_samples=args.k,
            max_iter=epochs,
            batch_size=100,
            tol=0.0,
            device="cpu",
            random_state=args.seed,
        )
        return VAETransformer(50, **params)

    epochs = args.epochs
    start = time.perf_counter()
    vae = model(epochs).fit(X_train)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    ll = vae.log_likelihood(test, n_samples=100, random_state=0)
    eval_time = time.perf_counter() - start
    label = f"{args.data:7s} K={args.k} bias_init={not args.no_bias_init!s:5s}"
    print(
        f"{label} epochs={epochs:3d} fit={fit_time:5.1f}s eval={eval_time:4.1f}s "
        f"train_loss={vae.loss_curve_[-1]:7.2f} "
        f"test_ll={ll.mean():7.2f} +- {ll.std() / np.sqrt(len(ll)):.2f}"
    )


if __name__ == "__main__":
    main()
