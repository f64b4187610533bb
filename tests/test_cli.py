"""The ``skae compare`` main job."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skae import datasets
from skae._compare import DIGITS_SETTING, format_table
from skae.cli import main


def test_compare_prints_table(capsys):
    assert main(["compare", "--n-components", "2", "--max-iter", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("|")]
    # header, rule, then the models in order; the digits add the documented
    # small-data setting.
    assert len(rows) == 2 + 4
    names = [r.split("|")[1].strip() for r in rows[2:]]
    assert names == ["PCA", "Autoencoder", "Denoising AE", "VAE"]
    assert "digits: 1347 train / 450 test" in out
    assert "Denoising AE: AutoencoderTransformer(hidden_layer_sizes=(1024, 512)" in out
    # Log-likelihoods for PCA and the VAE only ("-" for both autoencoders).
    log_liks = [r.split("|")[6].strip() for r in rows[2:]]
    assert [v == "-" for v in log_liks] == [False, True, True, False]


def test_denoising_setting_is_the_swept_one():
    # The row skae compare prints is the variant measured in docs/quality.md.
    pytest.importorskip("matplotlib")  # the benchmark scripts plot
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from sweep_digits import VARIANTS
    finally:
        sys.path.pop(0)
    assert VARIANTS["hidden 1024-512, silu, noise 5"] == DIGITS_SETTING


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "skae", "compare", "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "--n-components" in result.stdout


def test_format_table_marks_missing_values():
    rows = [
        dict(
            model="A",
            n_components=2,
            reconstruction_error=1.0,
            accuracy=0.5,
            knn_accuracy=0.5,
            log_likelihood=float("nan"),
            fit_time=0.1,
        )
    ]
    last = format_table(rows).splitlines()[-1]
    assert last.split("|")[6].strip() == "-"


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_compare_on_mnist(capsys):
    argv = ["compare", "--dataset", "mnist", "--data", str(SHARED)]
    assert main([*argv, "--n-components", "2", "--max-iter", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mnist: 60000 train / 10000 test samples, 784 features" in out
    pca_row = next(
        line for line in out.splitlines() if line.strip("| ").startswith("PCA")
    )
    # PCA with 2 components on MNIST / 255: about 43.6 squared error per test image.
    assert 42 < float(pca_row.split("|")[3]) < 45


def test_compare_on_fashion_with_a_tiny_loader(capsys, monkeypatch):
    rng = np.random.RandomState(0)
    calls = []

    def tiny_fashion(data_home=None):
        calls.append(data_home)
        return Bunch(
            X_train=rng.randint(0, 256, (40, 784)).astype(np.uint8),
            X_test=rng.randint(0, 256, (20, 784)).astype(np.uint8),
            y_train=np.arange(40, dtype=np.uint8) % 10,
            y_test=np.arange(20, dtype=np.uint8) % 10,
            source="a tiny stand-in",
        )

    monkeypatch.setattr(datasets, "load_fashion_mnist", tiny_fashion)
    argv = ["compare", "--dataset", "fashion", "--data", "somewhere"]
    assert main([*argv, "--n-components", "2", "--max-iter", "1", "--quiet"]) == 0
    assert calls == ["somewhere"]
    out = capsys.readouterr().out
    assert "fashion: 40 train / 20 test samples, 784 features" in out
    assert "pixels 0..1" in out
    assert "Denoising AE" not in out  # a setting measured on the digits only


def test_help_names_fashion(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "Fashion-MNIST" in capsys.readouterr().out
