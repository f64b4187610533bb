"""The benchmark scripts run end to end (quick mode) and write their pages."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mnist.npz"
SHARED_FASHION = SHARED.with_name("fashion-mnist.npz")


def run_benchmark(
    script: str, *args, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run ``benchmarks/<script> *args`` in a subprocess; it must exit cleanly."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / script), *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.parametrize(
    "dataset, shared, title",
    [
        pytest.param("mnist", SHARED, "MNIST", id="mnist"),
        pytest.param("fashion", SHARED_FASHION, "Fashion-MNIST", id="fashion"),
    ],
)
@pytest.mark.slow
def test_bench_mnist_quick(tmp_path, dataset, shared, title):
    if not shared.exists():
        pytest.skip(f"shared {title} copy not present")
    pytest.importorskip("matplotlib")
    page = tmp_path / "benchmarks.md"
    run_benchmark("bench_mnist.py", "--quick", "--dataset", dataset, "--output", page)
    text = page.read_text()
    assert text.startswith(f"# {title} benchmarks\n")
    assert f"{title} from data_home {shared.name}" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 2 * 3  # header + (PCA, AE, VAE) at k = 2 and 8
    assert "## Where PCA wins" in text
    # Published figures are MNIST's; Fashion-MNIST's page quotes none.
    assert ("Hinton & Salakhutdinov" in text) == (dataset == "mnist")
    assert ("Burda et al." in text) == (dataset == "mnist")
    pngs = sorted(p.name for p in (tmp_path / "_static").glob("*.png"))
    assert len(pngs) == 5 and all(f"_static/{p}" in text for p in pngs)
    # Each data set's plots have their own names: neither overwrites the other's.
    assert all(p.startswith(f"{dataset}_") for p in pngs)


def test_bench_mnist_default_pages():
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_mnist
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    docs = ROOT / "docs"
    assert bench_mnist.parse_args([]).output == docs / "benchmarks.md"
    fashion = bench_mnist.parse_args(["--dataset", "fashion"])
    assert fashion.output == docs / "benchmarks_fashion.md"
    if SHARED_FASHION.exists():
        assert fashion.data == str(SHARED_FASHION)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_bench_speed_quick(tmp_path):
    page = tmp_path / "speed.md"
    args = ["--epochs", "1", "--n-samples", "3000", "--rounds", "1", "--no-compile"]
    run_benchmark("bench_speed.py", *args, "--output", page)
    text = page.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    names = [row.split(" | ")[0] for row in rows[1:]]
    assert names[:3] == ["| skae `fit`", "| hand-written loop, AdamW",
                         "| hand-written loop, AdamW(fused=True)"]  # fmt: skip
    assert "skae / fastest hand-written loop" in text and "x** the floor" in text


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads VmHWM from Linux's /proc"
)
@pytest.mark.slow
def test_check_sparse_scale_quick():
    result = run_benchmark("check_sparse_scale.py", "--quick", timeout=300)
    assert "s per epoch" in result.stdout and "transform:" in result.stdout


def test_bench_recommend_quick_on_synthetic_users(tmp_path):
    page = tmp_path / "recommend.md"
    run_benchmark("bench_recommend.py", "--quick", "--synthetic", "--output", page)
    text = page.read_text()
    for name in ("Popularity", "SVD", "EASE", "skae Mult-VAE"):
        assert f"| {name} | 0." in text
    assert "against EASE: above on" in text


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_bench_quality_quick(tmp_path):
    pytest.importorskip("matplotlib")
    page, results = tmp_path / "quality.md", tmp_path / "quality.json"
    args = ["--quick", "--output", page, "--results", results]
    run_benchmark("bench_quality.py", *args)
    text = page.read_text()
    for title in ("30 components", "convolutional", "classifiers", "VAE, Bern"):
        assert title in text
    assert (tmp_path / "_static" / "quality_error_vs_time.png").exists()
    stored = json.loads(results.read_text())
    parts = {"ae30", "conv30", "conv64", "classify", "vae", "digits", "tol"}
    assert set(stored) == parts
    # The default-tol table: 9 digits fits and 2 MNIST fits, capped at 2 epochs.
    assert [r["epochs"] for r in stored["tol"]["rows"]] == [2] * 11
    assert "Epochs run by the default `tol`" in text
    assert all(len(stored[p]["curve"]) == 2 for p in ("ae30", "conv30", "conv64"))
    assert "ran 2 epochs" in text  # the defaults row of the classify part
    # Only the chosen part runs again; the others keep their stored numbers.
    run_benchmark("bench_quality.py", *args, "--part", "digits")
    assert json.loads(results.read_text())["ae30"] == stored["ae30"]


@pytest.mark.slow
def test_bench_quality_report_regenerates_the_stored_page(tmp_path):
    """The page from the stored results, the defaults' section
    (sweep_defaults.py --page) kept where it was."""
    pytest.importorskip("matplotlib")
    stored = ROOT / "docs" / "quality.md"
    page = tmp_path / "quality.md"
    page.write_text(stored.read_text())
    run_benchmark("bench_quality.py", "--report", "--output", page, timeout=300)
    assert "<!-- defaults: begin -->" in page.read_text()
    assert page.read_text() == stored.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_sweep_mlp_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.jsonl"
    run_benchmark("sweep_mlp.py", "--quick", "--json", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["variant"], r["k"], r["epochs"]) for r in rows] == [
        ("relu", 30, 1),
        ("k=64: silu, noise 0.1", 64, 1),
    ]
    assert all(0 < r["test_error"] < 100 for r in rows)
    assert 0.1 < rows[1]["knn"] <= 1 and 0.1 < rows[1]["logreg"] <= 1
    assert all("torch" in r["device"] for r in rows)
    table = run_benchmark("sweep_mlp.py", "--report", out).stdout
    assert len(table.strip().splitlines()) == 2 + 2  # header, rule, two variants


def test_sweep_mlp_report_of_the_published_run():
    pytest.importorskip("matplotlib")
    run = ROOT / "benchmarks" / "results" / "sweep_mlp_h100.jsonl"
    table = run_benchmark("sweep_mlp.py", "--report", run, timeout=120).stdout
    rows = {line.split(" | ")[0][2:]: line for line in table.splitlines()[2:]}
    # Every stored variant is still one of the script's, listed once.
    assert len(rows) == len(run.read_text().splitlines()) == 27
    best, relu = (float(rows[v].split(" | ")[3]) for v in ("best", "relu"))
    assert best < 3.0 < relu


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_bench_scale_quick(tmp_path):
    out = tmp_path / "scale.json"
    result = run_benchmark(
        "bench_scale.py", "--quick", "--json", out, "--tmp", tmp_path
    )
    results = json.loads(out.read_text())
    memory = results["memory"]
    assert set(memory) == {"uint8", "float32", "float64"}
    assert memory["uint8"]["x_bytes"] * 4 == memory["float32"]["x_bytes"]
    ooc = results["outofcore"]
    assert ooc["rows"] == 20_000 and ooc["seconds_per_epoch"] > 0
    partial = results["partial"]
    assert 0.5 < partial["partial_error"] / partial["fit_error"] < 2
    assert "Out-of-core" in result.stdout and "`partial_fit` over 10" in result.stdout


def test_bench_cuda_report_of_the_published_run():
    run = ROOT / "benchmarks" / "results" / "cuda_h200.jsonl"
    result = run_benchmark("bench_cuda.py", "--report", run, timeout=120)
    assert "NVIDIA H200" in result.stdout
    for trainer in ("loop fused", "skae compile+bf16", "conv k=64"):
        assert trainer in result.stdout


@pytest.mark.skipif(
    not (SHARED.parent / "fashion-mnist.npz").exists(),
    reason="shared MNIST and Fashion-MNIST copies not present",
)
@pytest.mark.slow
def test_bench_uses_quick(tmp_path):
    out = tmp_path / "uses.json"
    result = run_benchmark("bench_uses.py", "--quick", "--json", out)
    results = json.loads(out.read_text())
    assert len(results["denoise"]) == 4  # 2 data sets x 2 noises
    assert set(results["anomaly"]) == {str(c) for c in range(10)}
    assert all(
        0 <= auc <= 1 for row in results["anomaly"].values() for auc in row.values()
    )
    assert list(results["beta"]) == ["0.5", "1.0", "2.0", "4.0"]
    # Bicubic upsampling is better than repeating pixels: the part measures.
    sr = results["superres"]
    assert sr["bicubic upsampling"] < sr["nearest upsampling"]
    assert "| mean |" in result.stdout
    for name in ("mnist", "fashion"):
        share = results["conditional"][name]["samples classified as requested"]
        assert 0 <= share <= 1 and results["conditional"][name]["samples"] == 1000


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_bench_maps_quick(tmp_path):
    pytest.importorskip("matplotlib")
    page, out = tmp_path / "maps.md", tmp_path / "maps.json"
    run_benchmark(
        "bench_maps.py", "--quick", "--output", page, "--json", out, "--graph"
    )
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"2", "30"}
    for rows in results.values():
        assert {"PCA", "Autoencoder", "Autoencoder + neighbour term"} <= set(rows)
        for row in rows.values():
            assert 0 <= row["5-NN"] <= 1 and 0 <= row["trustworthiness"] <= 1
        assert rows["Autoencoder + neighbour term"]["MSE per pixel"] > 0
    graphs = json.loads(out.read_text())["graphs"]
    assert all(row["seconds"] > 0 for row in graphs.values())
    assert (tmp_path / "_static" / "maps_mnist.png").exists()
    assert "_static/maps_mnist.png" in page.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_bench_map_cost_quick(tmp_path):
    page, out = tmp_path / "map_cost.md", tmp_path / "map_cost.json"
    run_benchmark(
        "bench_map_cost.py",
        "--quick",
        "--maps",
        "--datasets",
        "mnist",
        "digits",
        "--output",
        page,
        "--json",
        out,
    )
    results = json.loads(out.read_text())["results"]
    assert list(results) == ["mnist (2000 rows)", "digits (1347 rows)"]
    for row in results.values():
        assert row["recall of the projected graph"] > 0.95
        parts = ["graph, exact", "graph, projected", "layout", "epoch, default network"]
        assert all(row[part] > 0 for part in parts)
    assert "| layout |" in page.read_text()
    maps = json.loads(out.read_text())["maps"]
    for rows in maps.values():
        assert {"skae map", "plain autoencoder, same budget"} <= set(rows)
        for row in rows.values():
            assert 0 < row["5-NN"] <= 1 and 0 < row["trustworthiness"] <= 1
    assert "## Whole maps" in page.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_sweep_vae_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.jsonl"
    run_benchmark("sweep_vae.py", "--quick", "--json", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["variant"], r["K"], r["epochs"]) for r in rows] == [
        ("K=1 (ELBO), 180 epochs", 1, 1),
        ("K=5, 80 epochs", 5, 1),
        ("VampPrior, K=1 (ELBO), 180 epochs", 1, 1),
    ]
    assert [r["prior"] for r in rows] == ["normal", "normal", "vamp"]
    # 784 binary pixels: between a perfect model (0) and coin flips (-543).
    assert all(-543.5 < r["log_likelihood"] < 0 for r in rows)
    assert all("torch" in r["device"] for r in rows)
    table = run_benchmark("sweep_vae.py", "--report", out).stdout
    assert len(table.strip().splitlines()) == 2 + 3  # header, rule, three variants


@pytest.mark.parametrize("where, n_rows", [("cpu", 3), ("h100", 3)])
def test_sweep_vae_report_of_the_published_runs(where, n_rows):
    pytest.importorskip("matplotlib")
    run = ROOT / "benchmarks" / "results" / f"sweep_vae_{where}.jsonl"
    table = run_benchmark("sweep_vae.py", "--report", run, timeout=120).stdout
    rows = table.splitlines()[2:]
    # Every stored variant is still one of the script's, listed once.
    assert len(rows) == len(run.read_text().splitlines()) == n_rows


@pytest.mark.slow
def test_sweep_digits_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.jsonl"
    run_benchmark("sweep_digits.py", "--quick", "--json", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["variant"], list(r["by_k"])) for r in rows] == [
        ("defaults", ["2"]),
        ("noise 3", ["2"]),
    ]
    for r in rows:
        by = r["by_k"]["2"]
        assert by["epochs"] == 2 and by["stopped"] == 0  # max_iter=2 warns
        # One split: one PCA score, one autoencoder score per seed.
        assert len(by["pca_knn"]) == len(by["knn"]) == len(by["knn"][0]) == 1
        assert all(0.1 < a[0] <= 1 for a in by["logreg"] + by["knn"])
        # 5-NN on the raw pixels of the digits is close to perfect.
        assert 0.95 < r["raw_knn"][0] <= 1
    table = run_benchmark("sweep_digits.py", "--report", out).stdout
    # header, rule, PCA at k=2, raw pixels, two variants
    assert len(table.strip().splitlines()) == 2 + 1 + 1 + 2


def test_sweep_digits_report_of_the_stored_run():
    pytest.importorskip("matplotlib")
    run = ROOT / "benchmarks" / "results" / "sweep_digits_cpu.jsonl"
    stored = [json.loads(line) for line in run.read_text().splitlines()]
    table = run_benchmark("sweep_digits.py", "--report", run, timeout=120).stdout
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    # PCA at each k, the raw pixels, then every stored variant at each k.
    assert len(rows) == 3 + 1 + 3 * len(stored)
    assert [r[0][2:] for r in rows[:3]] == ["PCA"] * 3
    for r in stored:
        assert sorted(map(int, r["by_k"])) == [2, 8, 16]
        assert all(len(by["knn"]) == 5 for by in r["by_k"].values())
    # The defaults' codes beat PCA's at k=2 on every split and seed.
    defaults = {r[1]: r for r in rows if r[0] == "| defaults"}
    assert defaults["2"][4] == defaults["2"][7] == "100%"
    # skae compare's "Denoising AE" beats PCA in every fit, at every k, both ways.
    setting = [r for r in rows if r[0] == "| hidden 1024-512, silu, noise 5"]
    assert [r[1] for r in setting] == ["2", "8", "16"]
    assert all(r[4] == r[7] == "100%" for r in setting)


@pytest.mark.slow
def test_holdout_digits_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "holdout.jsonl"
    run_benchmark("holdout_digits.py", "--quick", "--json", out)
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["variant"] == "hidden 1024-512, silu, noise 5"
    assert row["first_split"] == 5  # splits never used to choose the setting
    table = run_benchmark("holdout_digits.py", "--report", out).stdout
    assert "| split 5, seed 0 |" in table.splitlines()[0]


def test_holdout_digits_report_of_the_stored_run():
    pytest.importorskip("matplotlib")
    run = ROOT / "benchmarks" / "results" / "holdout_digits_cpu.jsonl"
    stored = [json.loads(line) for line in run.read_text().splitlines()]
    assert [r["first_split"] for r in stored] == [5, 5]
    table = run_benchmark("holdout_digits.py", "--report", run).stdout
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    setting = [r for r in rows if r[0] == "| hidden 1024-512, silu, noise 5"]
    # Fresh splits: every fit at or above PCA at k=2 and 8, both ways.
    assert all(r[4] == r[7] == "100%" for r in setting[:2])


@pytest.mark.slow
def test_bench_generative_quick(tmp_path):
    pytest.importorskip("matplotlib")
    page, out = tmp_path / "generative.md", tmp_path / "generative.json"
    run_benchmark("bench_generative.py", "--quick", "--output", page, "--json", out)
    rows = json.loads(out.read_text())["rows"]
    assert [(r["data"], r["k"]) for r in rows] == [("digits", 2), ("digits", 8)]
    for r in rows:
        for prior in ("fitted_prior", "normal_prior"):
            assert 0 <= r[prior]["accuracy"] <= 1 and r[prior]["frechet"] >= 0
            assert len(r[prior]["class_accuracy"]) == 10
    text = page.read_text()
    assert len([line for line in text.splitlines() if line.startswith("| digits")]) == 2
    assert (tmp_path / "_static" / "generative_digits_k2.png").exists()
    assert "](_static/generative_digits_k2.png)" in text
    # --report writes the same page from the stored rows, fitting nothing.
    again = tmp_path / "again.md"
    run_benchmark("bench_generative.py", "--report", "--output", again, "--json", out)
    assert again.read_text() == text
