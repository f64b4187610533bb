"""Check that flushing subnormal optimizer state leaves training bit for bit unchanged.

Trains the 784-512-256-30 autoencoder of ``bench_speed.py`` on 12,000 MNIST
images for 24 epochs twice through skae's ``fit_module``: once as skae does,
flushing subnormal Adam state after every epoch, once without. Prints how
many subnormal state values each epoch left behind and whether the two runs
ended with identical loss curves and parameters. Usage::

    python benchmarks/check_flush_exact.py
"""

from __future__ import annotations

from unittest import mock

import torch

from skae._data import DenseRows
from skae._nn.layers import init_parameters
from skae._nn.objectives import SquaredError
from skae._train import loop
from skae.datasets import load_image_dataset

from common import MNIST, reference_module, skae_scaled

FLUSH = loop.flush_subnormal_state
TINY = torch.finfo(torch.float32).tiny


def n_subnormal(optimizer: torch.optim.Optimizer) -> int:
    return sum(
        ((v.abs() < TINY) & (v != 0)).sum().item()
        for state in optimizer.state.values()
        for key, v in state.items()
        if key != "step"
    )


def train(X: DenseRows, flush: bool) -> tuple[torch.nn.Module, list, list]:
    counts = []

    def after_epoch(optimizer):
        counts.append(n_subnormal(optimizer))
        if flush:
            FLUSH(optimizer)

    model = reference_module()
    init_parameters(model, torch.Generator().manual_seed(0))  # both runs alike
    config = loop.TrainingConfig(24, 256, 1e-3, 1e-4, True, 0.0, 100)
    generator = torch.Generator().manual_seed(0)
    with mock.patch.object(loop, "flush_subnormal_state", after_epoch):
        history = loop.fit_module(model, SquaredError(), X, config, generator)
    return model, history.loss_curve, counts


def main() -> None:
    torch.set_num_threads(2)
    mnist = load_image_dataset("mnist", str(MNIST) if MNIST.exists() else None)
    X = DenseRows(torch.from_numpy(skae_scaled(mnist.X_train[:12000])), None)
    flushed, curve_f, counts_f = train(X, flush=True)
    plain, curve_p, counts_p = train(X, flush=False)
    print("subnormal state values after each epoch, flushed run:", counts_f)
    print("subnormal state values after each epoch, plain run:  ", counts_p)
    same = all(
        torch.equal(a, b)
        for a, b in zip(flushed.parameters(), plain.parameters(), strict=True)
    )
    print(f"identical loss curves: {curve_f == curve_p}; identical parameters: {same}")


if __name__ == "__main__":
    main()
