"""benchmarks/sweep_defaults.py runs end to end in quick mode and stores its rows."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "sweep_defaults.py"


def run_sweep(*args) -> str:
    cmd = [sys.executable, str(SCRIPT), *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_sweep_defaults_quick(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "sweep.jsonl"
    run_sweep("--quick", "--json", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # One split, seed 0, k=2, both models of the rule, 2 epochs each.
    assert [(r["rule"], r["model"], r["k"]) for r in rows] == [
        ("rule", "ae", 2),
        ("rule", "vae", 2),
    ]
    for row in rows:
        assert row["dataset"] == "digits"
        assert row["n_train"] == 1347
        assert row["epochs"] == 2
        assert row["warned"] is False  # the cosine schedule's budget is no warning
        assert row["seconds"] > 0.0
        assert 0.1 < row["logreg"] <= 1.0 and 0.1 < row["knn"] <= 1.0
        assert 0.0 < row["test_error"] < 2 * row["pca_error"]
    ae = rows[0]
    # Noise in units of the data's spread: the digits' spread (pixels 0..16)
    # is about 4.3, and the rule's factor at 1347 rows is about 1.13.
    assert 4.0 < ae["spread"] < 4.7
    level = ae["params"]["corruption_level"]
    assert level == pytest.approx((2000 / 1347) ** 0.3 * ae["spread"], rel=1e-3)
    assert "corruption" not in rows[1]["params"]
    # The pca_path start: two epochs already at or below PCA's error.
    assert ae["test_error"] <= ae["pca_error"] * 1.05

    # The table: one line per (rule, model, k) group.
    table = run_sweep("--report", out).splitlines()
    assert len(table) == 2 + 2
    assert table[2].startswith("| digits | 1347 | 0-4 | rule | ae | 2 | 1 |")


def test_spread_is_what_global_scaling_divides_by():
    sys.path.insert(0, str(SCRIPT.parent))
    from sweep_defaults import spread

    from skae._scaling import fit_scaling

    X = np.random.RandomState(0).normal(size=(50, 4)) * [1.0, 2.0, 3.0, 4.0]
    _, scale = fit_scaling(X, "global")
    assert spread(X) == pytest.approx(float(np.ravel(scale)[0]))
    assert spread(X) == pytest.approx(np.sqrt(X.var(0).mean()))


def test_sweep_defaults_rejects_unknown_rule(tmp_path):
    cmd = [sys.executable, str(SCRIPT), "--quick", "--json", tmp_path / "x", "nope"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown rules ['nope']" in result.stderr
    assert not (tmp_path / "x").exists()
