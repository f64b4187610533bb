"""Peak memory and epoch time of ``fit`` on MNIST given as uint8, float32, float64,
for this checkout and, side by side, another one (e.g. the commit before the
compact-input change)::

    git worktree add /tmp/old e8ddba1
    python benchmarks/check_compact_input.py /tmp/old .

Each measurement runs in a fresh process (``--probe``): the growth of the peak
resident memory (VmHWM) during a 1-epoch ``fit`` after a warm-up fit on 1000
rows, then the fastest of epochs 2 and 3 of a 3-epoch fit (the model of
docs/speed.md: 784-512-256-30, batch 256). Checkouts alternate, two rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
# skae._estimators.defaults.FORMER_AE_DEFAULTS written out: the checkouts compared may
# predate that module (and pca_path), so each probe keeps the ones it knows.
FORMER = dict(
    activation="relu",
    corruption=None,
    corruption_level=0.5,
    learning_rate="adaptive",
    learning_rate_init=1e-3,
    pca_path=False,
)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def probe(dtype: str) -> dict:
    """One fit's memory, in a process whose PYTHONPATH is the checkout's."""
    from skae import AutoencoderTransformer
    from skae._train import loop

    X = np.load(DATA)["X_train"].reshape(60000, -1)
    if dtype != "uint8":
        X = X.astype(dtype) / 255

    known = AutoencoderTransformer().get_params()
    former = {key: value for key, value in FORMER.items() if key in known}

    def model(epochs):
        return AutoencoderTransformer(
            30, hidden_layer_sizes=(512, 256), batch_size=256, max_iter=epochs,
            tol=0.0, device="cpu", random_state=0, **former,
        )  # fmt: skip

    warnings.simplefilter("ignore")
    model(1).fit(X[:1000])
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    model(1).fit(X)
    growth = _status("VmHWM") - before
    times, run = [], loop.run_epoch

    def timed(*args, **kwargs):
        start = time.perf_counter()
        loss = run(*args, **kwargs)
        times.append(time.perf_counter() - start)
        return loss

    with mock.patch.object(loop, "run_epoch", timed):
        model(3).fit(X)
    return dict(growth_mib=growth / 2**20, epoch_s=min(times[1:]))


def main() -> None:
    if sys.argv[1] == "--probe":
        print(json.dumps(probe(sys.argv[2])))
        return
    rows: dict[tuple[str, str], list[dict]] = {}
    for _ in range(2):
        for checkout in sys.argv[1:]:
            for dtype in ("uint8", "float32", "float64"):
                cmd = [sys.executable, __file__, "--probe", dtype]
                env = {**os.environ, "PYTHONPATH": checkout}
                out = subprocess.run(
                    cmd, capture_output=True, text=True, check=True, env=env
                )
                rows.setdefault((checkout, dtype), []).append(
                    json.loads(out.stdout.splitlines()[-1])
                )
    print("| checkout | input | peak RSS growth (MiB) | s/epoch (best) |")
    print("|---|---|---:|---:|")
    for (checkout, dtype), runs in rows.items():
        growth = min(r["growth_mib"] for r in runs)
        epoch = min(r["epoch_s"] for r in runs)
        print(f"| {checkout} | {dtype} | {growth:.0f} | {epoch:.2f} |")


if __name__ == "__main__":
    main()
