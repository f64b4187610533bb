"""benchmarks/sweep_recommend.py runs end to end in quick mode and stores its rows."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "sweep_recommend.py"


def run_sweep(*args) -> str:
    cmd = [sys.executable, str(SCRIPT), *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_sweep_recommend_quick(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "sweep.jsonl"
    # MovieLens-100k where a local copy exists, else the tiny synthetic matrix.
    run_sweep("--quick", "--json", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {row["setting"]: row for row in rows}
    assert list(by_name) == [
        "baseline Popularity",
        "baseline SVD",
        "baseline EASE",
        "paper, 3 epochs",
        "defaults, 3 epochs",
    ]
    assert {row["seed"] for row in rows} == {0}
    for row in rows:
        for metric in ("NDCG@100", "Recall@20", "Recall@50"):
            assert 0.0 < row["test"][metric] <= 1.0
        assert row["seconds"] >= 0.0
    for name in ("paper, 3 epochs", "defaults, 3 epochs"):
        assert by_name[name]["epochs"] == 3
        # 3 epochs are a budget run out: the flag is recorded either way.
        assert isinstance(by_name[name]["convergence_warning"], bool)
        assert 0.0 < by_name[name]["val"]["NDCG@100"] <= 1.0
    # The baselines are tuned on the validation users: SVD beats popularity.
    svd, popularity = by_name["baseline SVD"], by_name["baseline Popularity"]
    assert svd["test"]["NDCG@100"] > popularity["test"]["NDCG@100"]

    # A second run appends; --report prints one table line per stored row.
    run_sweep("--quick", "--json", out, "--no-baselines", "defaults, 3 epochs")
    rows = out.read_text().splitlines()
    assert len(rows) == 6
    again = json.loads(rows[-1])
    assert again["test"] == by_name["defaults, 3 epochs"]["test"]
    table = run_sweep("--report", out).splitlines()
    assert len(table) == 2 + 6
    assert table[2].startswith(f"| {rows and json.loads(rows[0])['data']} | 0 |")


def test_sweep_recommend_rejects_unknown_setting(tmp_path):
    cmd = [sys.executable, str(SCRIPT), "--quick", "--json", tmp_path / "x", "nope"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown settings ['nope']" in result.stderr
    assert not (tmp_path / "x").exists()
