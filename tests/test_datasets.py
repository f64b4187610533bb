"""load_mnist, load_fashion_mnist: explicit files, IDX folders, the cache, OpenML."""

import dataclasses
import gzip
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from skae import datasets
from skae.datasets import load_fashion_mnist, load_image_dataset, load_mnist

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mnist.npz"
SHARED_FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist.npz"


def tiny_mnist(n_train=6, n_test=4, seed=0):
    rng = np.random.RandomState(seed)
    return dict(
        X_train=rng.randint(0, 256, (n_train, 784)).astype(np.uint8),
        y_train=rng.randint(0, 10, n_train).astype(np.uint8),
        X_test=rng.randint(0, 256, (n_test, 784)).astype(np.uint8),
        y_test=rng.randint(0, 10, n_test).astype(np.uint8),
    )


def write_idx(path, array, gz):
    array = array.reshape(-1, 28, 28) if array.ndim == 2 else array
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """An empty data home, no SKAE_DATA, and no network access."""
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_data"))
    monkeypatch.delenv("SKAE_DATA", raising=False)

    def offline(*args, **kwargs):
        raise URLError("no network in tests")

    monkeypatch.setattr(datasets, "fetch_openml", offline)
    # Whatever this machine has installed under /usr/share/datasets.
    debian = tmp_path / "usr_share_datasets" / "fashion-mnist"
    monkeypatch.setattr(
        datasets, "_FASHION", dataclasses.replace(datasets._FASHION, debian=debian)
    )


def assert_same(bunch, arrays):
    for key, value in arrays.items():
        np.testing.assert_array_equal(bunch[key], value)


def test_npz_file(tmp_path):
    arrays = tiny_mnist()
    np.savez(tmp_path / "m.npz", **arrays)
    bunch = load_mnist(tmp_path / "m.npz")
    assert_same(bunch, arrays)
    assert "data_home" in bunch.source


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder(tmp_path, gz):
    arrays = tiny_mnist()
    suffix = ".gz" if gz else ""
    names = dict(
        X_train="train-images-idx3-ubyte",
        y_train="train-labels-idx1-ubyte",
        X_test="t10k-images-idx3-ubyte",
        y_test="t10k-labels-idx1-ubyte",
    )
    for key, name in names.items():
        write_idx(tmp_path / (name + suffix), arrays[key], gz)
    X_train, X_test, y_train, y_test = load_mnist(tmp_path, return_X_y=True)
    assert_same(
        dict(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test), arrays
    )


def test_environment_variable(tmp_path, monkeypatch):
    arrays = tiny_mnist(seed=1)
    np.savez(tmp_path / "mnist.npz", **arrays)
    monkeypatch.setenv("SKAE_DATA", str(tmp_path))
    assert_same(load_mnist(), arrays)


def test_openml_result_is_cached(tmp_path, monkeypatch):
    X = np.random.RandomState(0).randint(0, 256, (70000, 784)).astype(float)
    y = np.array([str(i % 10) for i in range(70000)], dtype=object)
    calls = []

    def fake_fetch(name, **kwargs):
        calls.append(name)
        return X, y

    monkeypatch.setattr(datasets, "fetch_openml", fake_fetch)
    first = load_mnist()
    assert calls == ["mnist_784"] and first.X_train.shape == (60000, 784)
    assert first.X_test.shape == (10000, 784) and first.y_test[0] == 0
    second = load_mnist()
    assert calls == ["mnist_784"], "the second call must come from the cache"
    assert "cache" in second.source
    np.testing.assert_array_equal(first.X_test, second.X_test)


def test_nothing_found_offline_names_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("SKAE_DATA", str(tmp_path / "env_dir"))
    with pytest.raises(OSError) as info:
        load_mnist()
    message = str(info.value)
    for place in ("env_dir", "mnist.npz", "no network", "--data"):
        assert place in message


def test_a_named_place_without_the_data_is_an_error_not_a_download(
    tmp_path, monkeypatch
):
    def no_download(*args, **kwargs):
        raise AssertionError("a named data_home must not fall back to OpenML")

    monkeypatch.setattr(datasets, "fetch_openml", no_download)
    with pytest.raises(FileNotFoundError, match="explicit: no such file or folder"):
        load_mnist(tmp_path / "explicit")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"neither mnist\.npz nor the four IDX"):
        load_mnist(tmp_path / "empty")
    for content in (b"", np.random.RandomState(0).bytes(4096)):
        (tmp_path / "bad.npz").write_bytes(content)
        with pytest.raises(ValueError, match=r"is not a \.npz file numpy can read"):
            load_mnist(tmp_path / "bad.npz")


def test_malformed_inputs(tmp_path):
    np.savez(tmp_path / "bad.npz", X_train=np.zeros((2, 784)))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load_mnist(tmp_path / "bad.npz")
    arrays = tiny_mnist()
    arrays["y_train"] = arrays["y_train"][:-1]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ValueError, match="expected"):
        load_mnist(tmp_path / "short.npz")


def test_as_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    np.savez(tmp_path / "m.npz", **tiny_mnist())
    bunch = load_mnist(tmp_path / "m.npz", as_frame=True)
    assert isinstance(bunch.X_train, pd.DataFrame)
    assert bunch.X_train.columns[-1] == "pixel784"
    assert isinstance(bunch.y_test, pd.Series)


@pytest.mark.skipif(not SHARED.exists(), reason="shared MNIST copy not present")
def test_shared_mnist_is_the_real_thing():
    bunch = load_mnist(SHARED)
    assert bunch.X_train.shape == (60000, 784) and bunch.X_test.shape == (10000, 784)
    assert bunch.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert bunch.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert bunch.X_train.mean() == pytest.approx(33.318, abs=1e-3)


IDX_NAMES = dict(
    X_train="train-images-idx3-ubyte",
    y_train="train-labels-idx1-ubyte",
    X_test="t10k-images-idx3-ubyte",
    y_test="t10k-labels-idx1-ubyte",
)


def test_fashion_npz_file_and_folder(tmp_path):
    arrays = tiny_mnist(seed=2)
    np.savez(tmp_path / "fashion-mnist.npz", **arrays)
    bunch = load_fashion_mnist(tmp_path / "fashion-mnist.npz")
    assert_same(bunch, arrays)
    assert bunch.target_names[0] == "T-shirt/top" and len(bunch.target_names) == 10
    assert bunch.target_names[9] == "Ankle boot" and "Fashion-MNIST" in bunch.DESCR
    assert_same(load_fashion_mnist(tmp_path), arrays)
    with pytest.raises(OSError, match=r"^MNIST was not found"):
        load_mnist(tmp_path)  # a folder of fashion-mnist.npz holds no MNIST


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_idx_folder(tmp_path, gz):
    arrays = tiny_mnist(seed=3)
    for key, name in IDX_NAMES.items():
        write_idx(tmp_path / (name + (".gz" if gz else "")), arrays[key], gz)
    X_train, X_test, y_train, y_test = load_fashion_mnist(tmp_path, return_X_y=True)
    assert_same(
        dict(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test), arrays
    )


def test_fashion_environment_variable_before_debian_folder(tmp_path, monkeypatch):
    debian = datasets._FASHION.debian
    debian.mkdir(parents=True)
    from_debian = tiny_mnist(seed=4)
    for key, name in IDX_NAMES.items():
        write_idx(debian / (name + ".gz"), from_debian[key], gz=True)
    bunch = load_fashion_mnist()
    assert_same(bunch, from_debian)
    assert "Debian" in bunch.source
    from_env = tiny_mnist(seed=5)
    np.savez(tmp_path / "fashion-mnist.npz", **from_env)
    monkeypatch.setenv("SKAE_DATA", str(tmp_path))
    assert_same(load_fashion_mnist(), from_env)


def test_fashion_openml_result_is_cached(monkeypatch):
    X = np.zeros((70000, 784))  # compresses fast into the cache
    X[:, 0] = np.arange(70000) % 256
    y = np.array([str(i % 10) for i in range(70000)], dtype=object)
    calls = []

    def fake_fetch(name, **kwargs):
        calls.append(name)
        return X, y

    monkeypatch.setattr(datasets, "fetch_openml", fake_fetch)
    first = load_fashion_mnist()
    assert calls == ["Fashion-MNIST"] and first.X_train.shape == (60000, 784)
    assert "40996" in first.source
    second = load_fashion_mnist()
    assert calls == ["Fashion-MNIST"], "the second call must come from the cache"
    assert "cache" in second.source and "fashion-mnist.npz" in second.source
    np.testing.assert_array_equal(first.X_test, second.X_test)


def test_fashion_nothing_found_offline_names_every_place():
    with pytest.raises(OSError) as info:
        load_fashion_mnist()
    message = str(info.value)
    for place in ("fashion-mnist.npz", "Debian", "Fashion-MNIST"):
        assert place in message


def test_load_image_dataset_fashion_alias(tmp_path):
    np.savez(tmp_path / "fashion-mnist.npz", **tiny_mnist(seed=6))
    for name in ("fashion", "fashion-mnist"):
        data = load_image_dataset(name, tmp_path)
        assert data.X_train.dtype == np.float32 and data.image_shape == (28, 28)
        assert 0 <= data.X_train.min() and data.X_train.max() <= 1
    with pytest.raises(ValueError, match="'fashion'"):
        load_image_dataset("fmnist")


@pytest.mark.skipif(
    not SHARED_FASHION.exists(), reason="shared Fashion-MNIST copy not present"
)
def test_shared_fashion_mnist():
    bunch = load_fashion_mnist(SHARED_FASHION)
    assert bunch.X_train.shape == (60000, 784) and bunch.X_test.shape == (10000, 784)
    assert bunch.y_train.shape == (60000,) and bunch.y_test.shape == (10000,)
    for key in ("X_train", "y_train", "X_test", "y_test"):
        assert bunch[key].dtype == np.uint8
    assert bunch.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert bunch.y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
