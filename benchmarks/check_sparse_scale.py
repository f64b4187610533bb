"""Fit and transform a Mult-VAE on a large sparse user-item matrix.

A 100,000 x 50,000 CSR matrix with 0.1% density (5 million interactions)
would take 40 GB dense as float64. The script reports the matrix's own
size, the peak resident memory of the process (VmHWM) after generating it,
after one epoch of ``fit`` and after ``transform``, and the seconds each
takes. ``--quick`` runs a 2,000 x 5,000 matrix (for the test).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from skae import VAETransformer
from skae._estimators.defaults import FORMER_VAE_DEFAULTS


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.items = 2000, 5000
    rng = np.random.default_rng(0)
    X = sp.random(
        args.users, args.items, density=args.density, format="csr", random_state=rng
    )
    X.data[:] = 1.0
    size = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    dense = args.users * args.items * 8 / 2**30
    print(f"X: {args.users} x {args.items}, {X.nnz} non-zeros, {size:.0f} MiB as CSR")
    print(f"   ({dense:.1f} GiB if it were dense float64)")
    print(f"peak RSS after making X: {peak_mib():.0f} MiB")
    params = dict(
        FORMER_VAE_DEFAULTS,  # the rest as before "auto": no KL warm-up, adaptive
        hidden_layer_sizes=(600,),
        activation="tanh",
        likelihood="multinomial",
        corruption="masking",
        beta=0.2,
        batch_size=500,
        max_iter=args.epochs,
        device="cpu",
        random_state=0,
    )
    vae = VAETransformer(200, **params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae.fit(X)
    fit_s = time.perf_counter() - start
    print(f"fit: {fit_s / args.epochs:.1f} s per epoch; peak RSS {peak_mib():.0f} MiB")
    start = time.perf_counter()
    codes = vae.transform(X)
    transform_s = time.perf_counter() - start
    print(f"transform: {transform_s:.1f} s; peak RSS {peak_mib():.0f} MiB")
    assert np.isfinite(codes).all()
    return {"fit_s_per_epoch": fit_s / args.epochs, "peak_mib": peak_mib()}


if __name__ == "__main__":
    main()
