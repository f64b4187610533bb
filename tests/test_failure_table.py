"""benchmarks/failure_table.py runs every case (quick mode) and writes its page."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "failure_table.py"


def case_names():
    spec = importlib.util.spec_from_file_location("failure_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no side effects: main() does the work
    return list(module.CASES)


def table_rows(page):
    """{case: (what was tried, what you get, state)}, Markdown escapes removed."""
    rows = {}
    for line in page.splitlines():
        if not line.startswith("| ") or line.startswith("| case |"):
            continue
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        cells = [re.sub(r"\\(.)", r"\1", cell).strip() for cell in cells]
        assert len(cells) == 4, line
        assert cells[0] not in rows, f"two rows for {cells[0]!r}"
        rows[cells[0]] = tuple(cells[1:])
    return rows


@pytest.mark.slow
def test_failure_table_quick(tmp_path):
    page = tmp_path / "reliability.md"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(page)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    text = page.read_text()
    assert "regenerate with `python benchmarks/failure_table.py`" in text
    rows = table_rows(text)
    assert list(rows) == case_names()

    def outcome(case):
        return rows[case][1]

    def state(case):
        return rows[case][2]

    assert outcome("NaN in X").startswith("raises ValueError: Input X contains NaN")
    assert state("NaN in X") == "unfitted: NotFittedError"
    for case in ("divergence, unfitted AE", "divergence, unfitted VAE"):
        assert "Training diverged" in outcome(case)
        assert state(case) == "unfitted: NotFittedError"
    for case in ("divergence, refit", "divergence, warm-start refit"):
        assert outcome(case).startswith("raises ValueError: Training diverged")
        assert state(case) == "previous model kept, transform unchanged"
    assert outcome("Ctrl-C in epoch 1") == "raises KeyboardInterrupt"
    assert state("Ctrl-C in epoch 1") == "unfitted: NotFittedError"
    assert "warns UserWarning: AutoencoderTransformer.fit was interrupted" in outcome(
        "Ctrl-C in epoch 3"
    )
    assert state("Ctrl-C in epoch 3") == "fitted, n_iter_=2"
    assert state("Ctrl-C in epoch 1 of a refit").startswith("previous model kept")
    assert outcome("before fit: transform").startswith("raises NotFittedError")
    assert state("load a pickle with a payload") == "payload ran (file created): False"
    assert outcome("load: class os.system").startswith("raises ValueError: cannot load")
    mmap = outcome("joblib.load(mmap_mode='r')")
    assert "warns" not in mmap and "transform equals the original's: True" in mmap
    for case in rows:
        if case.startswith("far rows"):
            assert outcome(case).endswith("all finite"), case
    for flag in ("HALF-FITTED", "NOT ALL FINITE", "child process failed"):
        assert flag not in text
