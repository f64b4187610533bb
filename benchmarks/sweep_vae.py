"""ELBO or IWAE for a given budget: the Bernoulli VAE of bench_quality.py.

Each variant is ``common.vae_model`` (784-500-500-50, Bernoulli
likelihood, dynamic binarization, cosine schedule, batch 128) with
``n_importance_samples`` K, a number of epochs and a prior (N(0, I), or
the VampPrior with its 500 pseudo-inputs: about 12.6 s an epoch at K=1
against 7.7 s). An IWAE epoch costs about K
decoder passes per image (about 16 s an epoch at K=5 on the 2-core CPU of
docs/quality.md, 9 s at K=1). Each variant's test
log-likelihood (1000 importance samples per image, test images binarized
once with seed 0, as bench_quality.py) is appended to ``--json`` as one
line. ``results/sweep_vae_cpu.jsonl`` is a run on that CPU;
``results/sweep_vae_h100.jsonl`` was run as 3 processes at once on one H100,
so its seconds only say the relative cost; its rows were measured with the same calls
(``vae_model(epochs, 0, K)`` on CUDA, ``log_likelihood`` with 1000 samples and
``random_state=0``) by a session script written just before this one, whose
GPU time was then spent. Usage::

    python benchmarks/sweep_vae.py --device cuda --json out.jsonl "K=5, 80 epochs"
    python benchmarks/sweep_vae.py --report benchmarks/results/sweep_vae_h100.jsonl
    python benchmarks/sweep_vae.py --quick --json /tmp/out.jsonl   # smoke test
"""

from __future__ import annotations

import json
from pathlib import Path

from common import binarized, device_label, fit_counted, sweep_main, vae_model

# name: (n_importance_samples, epochs, prior[, kl_warmup epochs])
VARIANTS = {
    "K=1 (ELBO), 180 epochs": (1, 180, "normal"),
    "K=2, 150 epochs": (2, 150, "normal"),
    "K=5, 25 epochs": (5, 25, "normal"),
    "K=5, 80 epochs": (5, 80, "normal"),
    "K=10, 40 epochs": (10, 40, "normal"),
    "VampPrior, K=1 (ELBO), 180 epochs": (1, 180, "vamp"),
    # Tomczak & Welling's warm-up: the KL weight rises over 100 epochs.
    "VampPrior, warm-up 100, 300 epochs": (1, 300, "vamp", 100),
}


def run_variant(name: str, data, device: str, epochs: int | None, n_iw: int) -> dict:
    """Fit one variant; its test log-likelihood in nats per image."""
    X_train, X_test = data[:2]
    k, default_epochs, prior, *warmup = VARIANTS[name]
    model = vae_model(epochs or default_epochs, 0, k)
    model.set_params(device=device, prior=prior)
    if warmup:  # in quick runs, at most the epochs run
        model.set_params(kl_warmup=min(warmup[0], model.max_iter))
    seconds, _ = fit_counted(model, X_train)
    ll = model.log_likelihood(
        binarized(X_test, 0), n_samples=n_iw, random_state=0
    ).mean()
    return dict(
        variant=name,
        K=k,
        prior=prior,
        kl_warmup=model.kl_warmup,
        epochs=model.n_iter_,
        seconds=round(seconds, 1),
        log_likelihood=round(float(ll), 2),
        iw_samples=n_iw,
        device=device_label(model),
    )


def report(*paths: Path) -> str:
    """The stored lines of one or more runs as a markdown table.

    Runs in the order given, each in the order of ``VARIANTS``.
    """
    lines = [
        "| variant | K | epochs | fit (s) | test log-lik (nats) | device |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for path in paths:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        by_name = {r["variant"]: r for r in rows}
        for name in [v for v in VARIANTS if v in by_name]:
            r = by_name[name]
            lines.append(
                f"| {name} | {r['K']} | {r['epochs']} | {r['seconds']:.0f} "
                f"| {r['log_likelihood']:.2f} | {r['device'].split(', torch')[0]} |"
            )
    return "\n".join(lines)


def main() -> None:
    sweep_main(
        __doc__,
        VARIANTS,
        [
            "K=1 (ELBO), 180 epochs",
            "K=5, 80 epochs",
            "VampPrior, K=1 (ELBO), 180 epochs",
        ],
        lambda name, data, device, quick: run_variant(
            name, data, device, *((1, 5) if quick else (None, 1000))
        ),
        report,
    )


if __name__ == "__main__":
    main()
