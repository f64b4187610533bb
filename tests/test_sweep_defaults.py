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


@pytest.mark.slow
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
        # A cosine budget of 2 epochs ends with the loss still falling fast.
        assert row["warned"] is True
        assert row["resolved"]["max_iter"] == 2
        assert row["resolved"]["hidden_layer_sizes"] == [1000, 500]
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

    from skae._data.scaling import fit_scaling

    X = np.random.RandomState(0).normal(size=(50, 4)) * [1.0, 2.0, 3.0, 4.0]
    _, scale = fit_scaling(X, "global")
    assert spread(X) == pytest.approx(float(np.ravel(scale)[0]))
    assert spread(X) == pytest.approx(np.sqrt(X.var(0).mean()))


@pytest.mark.slow
def test_sweep_defaults_rejects_unknown_rule(tmp_path):
    cmd = [sys.executable, str(SCRIPT), "--quick", "--json", tmp_path / "x", "nope"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown rules ['nope']" in result.stderr
    assert not (tmp_path / "x").exists()


def _sweep_module():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import sweep_defaults
    finally:
        sys.path.pop(0)
    return sweep_defaults


@pytest.mark.parametrize("n, d", [(1347, 64), (12000, 20)])
def test_rule_rows_are_the_defaults(n, d):
    # The page reports rows of the rules "rule" (autoencoder) and "rule, vae
    # beta 0.5 noise" as the defaults': their parameters are what "auto" gives.
    from skae import AutoencoderTransformer, VAETransformer

    sweep = _sweep_module()
    X = np.random.RandomState(0).normal(size=(n, d)) * 3.0
    s = sweep.spread(X)
    ae, _ = sweep.RULES["rule"](n, d, s)
    _, vae = sweep.RULES["rule, vae beta 0.5 noise"](n, d, s)
    for model, params in [(AutoencoderTransformer(2), ae), (VAETransformer(2), vae)]:
        spec = model._resolved(X, warm=False)
        for name, value in params.items():
            if name == "batch_size":
                value = value, spec._batch_size(n)
                assert value[0] == value[1]
            elif name == "corruption_level":
                assert getattr(spec, name) == pytest.approx(value, rel=1e-9)
            else:
                assert getattr(spec, name) == value, name
        assert getattr(spec, "beta", 0.5) == 0.5 and getattr(spec, "kl_warmup", 0) == 0


@pytest.mark.slow
def test_page_section_is_replaced_between_markers(tmp_path):
    sweep = _sweep_module()
    base = dict(
        split=5, seed=0, n_train=1347, params={}, epochs=80, warned=False,
        seconds=10.0, test_error=150.0, pca_error=180.0, logreg=0.97,
        pca_logreg=0.95, knn=0.98, pca_knn=0.984,
    )  # fmt: skip
    rows = [
        dict(base, dataset="digits", rule="defaults", model="ae", k=16),
        dict(base, dataset="digits", rule="rule", model="vae", k=16),  # not defaults
        dict(base, dataset="digits", rule="defaults", model="ae", k=16, split=0),
        dict(base, dataset="mnist", rule="rule", model="ae", k=30, n_train=60000),
        dict(base, dataset="mnist", rule="defaults", model="ae", k=30, n_train=60000,
             budget=1, epochs=1, seconds=9.0, test_error=7.9),
    ]  # fmt: skip
    runs = tmp_path / "runs.jsonl"
    runs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nBody.\n")
    for _ in range(2):  # the second run replaces the first's section
        run_sweep("--page", page, runs)
    text = page.read_text()
    assert text.count(sweep.MARKERS[0]) == 1 and text.endswith("Body.\n")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[1].startswith("| digits | AutoencoderTransformer | 16 | 1 | 150.00")
    assert table[2].startswith("| mnist | AutoencoderTransformer | 30 | 1 |")
    assert len(table) == 3 + 3  # two headers, two rows, then the curve's two
    assert "| mnist | AutoencoderTransformer | 30 | 1 | 9 | 7.90 | 180.00 |" in text
