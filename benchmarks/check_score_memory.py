"""Peak memory of VAE scoring on wide data (20000 features).

Each measurement runs in a fresh process and reports how far the peak
resident set size (VmHWM, reset just before the call) rose above the
resident size before it. Run ``python benchmarks/check_score_memory.py``;
``--features`` and ``--rows`` change the shape.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

CHILD = """
import warnings
from pathlib import Path

import numpy as np
from skae import VAETransformer
from skae._estimators.defaults import FORMER_VAE_DEFAULTS

warnings.simplefilter("ignore")


def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024


rng = np.random.RandomState(0)
X = rng.uniform(size=({rows}, {features}))
# The defaults of the time (hidden (256, 128), batch min(200, n)), before "auto".
params = dict(FORMER_VAE_DEFAULTS, batch_size=200, max_iter=1)
vae = VAETransformer(2, **params, device="cpu", random_state=0).fit(X[:500])
vae.score_samples(X[:2])  # warm-up: allocator, threads
Path("/proc/self/clear_refs").write_text("5")
base = rss("VmRSS")
{call}
print((rss("VmHWM") - base) / 2**20)
"""

CALLS = {
    "score_samples, 1 row": "vae.score_samples(X[:1])",
    "score_samples, {rows} rows": "vae.score_samples(X)",
    "log_likelihood(n_samples=100), 1 row": "vae.log_likelihood(X[:1], n_samples=100)",
}


def measure(call: str, rows: int, features: int) -> float:
    code = textwrap.dedent(CHILD.format(rows=rows, features=features, call=call))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()
    print(f"VAETransformer(2), hidden (256, 128), {args.features} features")
    print(f"input X: {args.rows * args.features * 8 / 2**20:.0f} MiB as float64")
    for label, call in CALLS.items():
        peak = measure(call, args.rows, args.features)
        print(f"{label.format(rows=args.rows)}: peak grew by {peak:.0f} MiB")


if __name__ == "__main__":
    main()
