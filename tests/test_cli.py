"""The ``skae compare`` main job."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.utils import Bunch

import skae
from skae import datasets
from skae._compare import default_models, format_table
from skae.cli import main


@pytest.mark.slow
def test_compare_prints_table(capsys):
    assert main(["compare", "--n-components", "2", "--max-iter", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("|")]
    # header, rule, then the models in order, each with its defaults.
    assert len(rows) == 2 + 3
    names = [r.split("|")[1].strip() for r in rows[2:]]
    assert names == ["PCA", "Autoencoder", "VAE"]
    assert "digits: 1347 train / 450 test" in out
    assert "max_iter=3" in out
    # Log-likelihoods for PCA and the VAE only ("-" for the autoencoder).
    log_liks = [r.split("|")[6].strip() for r in rows[2:]]
    assert [v == "-" for v in log_liks] == [False, True, False]


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


@pytest.fixture
def small_networks(monkeypatch):
    """``skae compare``'s models with a small network: tests of the command's
    data paths, not of the models (whose defaults are 1000-500-250 on MNIST)."""
    from skae import _compare

    def small(*args, **kwargs):
        models = default_models(*args, **kwargs)
        for name in ("Autoencoder", "VAE"):
            models[name].set_params(hidden_layer_sizes=(16,))
        return models

    monkeypatch.setattr(_compare, "default_models", small)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_compare_on_mnist(capsys, small_networks):
    argv = ["compare", "--dataset", "mnist", "--data", str(SHARED)]
    assert main([*argv, "--n-components", "2", "--max-iter", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mnist: 60000 train / 10000 test samples, 784 features" in out
    pca_row = next(
        line for line in out.splitlines() if line.strip("| ").startswith("PCA")
    )
    # PCA with 2 components on MNIST / 255: about 43.6 squared error per test image.
    assert 42 < float(pca_row.split("|")[3]) < 45


def test_compare_on_fashion_with_a_tiny_loader(capsys, monkeypatch, small_networks):
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


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"skae {skae.__version__} (torch ")


def test_help_shows_percent_signs_once(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "75% train, 25% test" in " ".join(out.split())
    assert "%%" not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-components", "0"], "argument --n-components: must be at least 1, got 0"),
        (["--n-components", "2", "-3"], "argument --n-components: must be at least 1"),
        (["--n-components", "two"], "argument --n-components: 'two' is not an"),
        (["--n-components", "65"], "--n-components 65 exceeds the 64 features"),
        (["--max-iter", "0"], "argument --max-iter: must be at least 1, got 0"),
        (["--max-iter", "-5"], "argument --max-iter: must be at least 1, got -5"),
        (["--random-state", "-1"], "argument --random-state: must be between 0"),
        (["--random-state", str(2**32)], "argument --random-state: must be between"),
        (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--data", "somewhere"], "--data applies to --dataset mnist or fashion"),
    ],
)
def test_bad_values_are_argparse_errors(argv, message, capsys):
    # Exit status 2 and a usage line, as argparse does: no traceback, no fit.
    with pytest.raises(SystemExit) as info:
        main(["compare", *argv, "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: skae compare")
    assert f"skae compare: error: {message}" in err


def test_cuda_on_a_machine_without_it_is_an_argparse_error(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--device", "cuda"])
    assert info.value.code == 2
    assert "--device cuda: CUDA is not available" in capsys.readouterr().err


def test_console_script_reports_bad_values_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "skae", "compare", "--max-iter", "0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--max-iter: must be at least 1, got 0" in result.stderr


def test_missing_images_are_an_argparse_error(capsys, monkeypatch):
    def not_found(data_home=None):
        raise OSError("MNIST was not found (cache: ...) and fetch_openml failed")

    monkeypatch.setattr(datasets, "load_mnist", not_found)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--dataset", "mnist"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: --dataset mnist: MNIST was not found (cache" in err


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _written(p / "a.npz", b""), "is not a .npz file numpy can read"),
        (
            lambda p: _written(p / "a.npz", np.random.RandomState(0).bytes(4096)),
            "is not a .npz file numpy can read",
        ),
        (lambda p: p / "missing.npz", "no such file or folder"),
        (
            lambda p: _folder(p / "empty"),
            "the folder holds neither mnist.npz nor the four IDX files",
        ),
    ],
    ids=["empty file", "random bytes", "missing path", "empty folder"],
)
def test_bad_data_is_one_line_naming_the_flag(make, message, tmp_path, capsys):
    path = make(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--dataset", "mnist", "--data", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    error = err.splitlines()
    assert len(error) == 1  # the error alone: no usage, no traceback
    assert error[0].startswith("skae compare: error: --data: ")
    assert str(path) in error[0] and message in error[0]
    assert "pickle" not in err  # numpy's message for random bytes misleads


def test_version_and_import_do_not_load_torch():
    # skae --version answered in 3.5-5 s when it imported torch first.
    code = (
        "import sys, skae\n"
        "from skae.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"skae {skae.__version__} (torch 2.")
    assert lines[-1] == "[]"
    assert "AutoencoderTransformer" in dir(skae)
