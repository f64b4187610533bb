"""Datasets: MNIST and Fashion-MNIST (canonical 60000/10000 splits), MovieLens-100k."""

from __future__ import annotations

import gzip
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_openml, get_data_home, load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ._movielens import load_movielens_100k

__all__ = [
    "load_fashion_mnist",
    "load_image_dataset",
    "load_mnist",
    "load_movielens_100k",
]

_IDX_FILES = {
    "X_train": "train-images*idx3*",
    "y_train": "train-labels*idx1*",
    "X_test": "t10k-images*idx3*",
    "y_test": "t10k-labels*idx1*",
}
_KEYS = ("X_train", "y_train", "X_test", "y_test")


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = raw[3]
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} bytes.")
    return data.reshape(shape[0], -1) if ndim > 1 else data


@dataclass(frozen=True)
class _ImageSet:
    """What tells one MNIST-like data set apart from another."""

    name: str  # as in messages, e.g. "Fashion-MNIST"
    file: str  # the npz file name in a folder and in the cache
    openml_name: str
    openml_id: int
    class_names: tuple[str, ...]
    debian: Path | None = None  # folder of the IDX files of a Debian package


_MNIST = _ImageSet(
    "MNIST",
    "mnist.npz",
    "mnist_784",
    554,
    tuple(str(i) for i in range(10)),
)
_FASHION = _ImageSet(
    "Fashion-MNIST",
    "fashion-mnist.npz",
    "Fashion-MNIST",
    40996,
    (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    Path("/usr/share/datasets/fashion-mnist"),
)


def _from_folder(folder: Path, file: str) -> dict | None:
    if (folder / file).is_file():
        return _from_npz(folder / file)
    found = {}
    for key, pattern in _IDX_FILES.items():
        matches = sorted(folder.glob(pattern))
        if not matches:
            return None
        found[key] = _read_idx(matches[0])
    return found


def _from_npz(path: Path) -> dict:
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in _KEYS if k in data}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, TypeError) as error:
        # numpy's own message for random bytes speaks of pickles.
        raise ValueError(
            f"{path} is not a .npz file numpy can read ({type(error).__name__})."
        ) from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path} lacks the arrays {missing}; it needs {_KEYS}.")
    return arrays


def _from_path(path: Path, file: str) -> dict | None:
    if path.is_file():
        return _from_npz(path)
    if path.is_dir():
        return _from_folder(path, file)
    return None


def _fetch_openml(dataset: _ImageSet, cache: Path) -> dict:
    """Download ``dataset`` from OpenML and cache it as ``cache/<file>``."""
    X, y = fetch_openml(
        dataset.openml_name,
        version=1,
        return_X_y=True,
        as_frame=False,
        parser="liac-arff",
    )
    X, y = X.astype(np.uint8), y.astype(np.uint8)
    arrays = dict(
        X_train=X[:60000], y_train=y[:60000], X_test=X[60000:], y_test=y[60000:]
    )
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache / dataset.file, **arrays)
    return arrays


def _not_in(dataset: _ImageSet, path: Path) -> str:
    """Why the file or folder ``path`` the caller named holds no ``dataset``."""
    if not path.exists():
        why = "no such file or folder"
    else:  # a folder: _from_path reads any file, or raises
        why = f"the folder holds neither {dataset.file} nor the four IDX files"
    return f"{dataset.name} was not found in {path}: {why}."


def _check(arrays: dict, dataset: _ImageSet, source: str) -> dict:
    for split in ("train", "test"):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        if X.ndim != 2 or X.shape[1] != 784 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{dataset.name} from {source}: X_{split} has shape {X.shape} and "
                f"y_{split} {y.shape}; expected (n, 784) images and n labels."
            )
    return arrays


def _load(dataset: _ImageSet, data_home, return_X_y: bool, as_frame: bool, descr: str):
    """Find ``dataset`` (see :func:`load_mnist` for the order), check and return it."""
    cache = Path(get_data_home()) / "skae"
    places = []
    if data_home is not None:
        places.append(("data_home", Path(data_home)))
    if os.environ.get("SKAE_DATA"):
        places.append(("SKAE_DATA", Path(os.environ["SKAE_DATA"])))
    if dataset.debian is not None:
        places.append(("Debian package folder", dataset.debian))
    places.append(("cache", cache / dataset.file))

    arrays, source = None, None
    for label, path in places:
        arrays = _from_path(path, dataset.file)
        if arrays is not None:
            source = f"{label} {path}"
            break
        if label == "data_home":  # a place the caller named: nowhere else
            raise FileNotFoundError(_not_in(dataset, path))
    if arrays is None:
        try:
            arrays = _fetch_openml(dataset, cache)
        except Exception as exc:
            tried = "; ".join(f"{label}: {path}" for label, path in places)
            raise OSError(
                f"{dataset.name} was not found ({tried}) and "
                f"fetch_openml({dataset.openml_name!r}) failed: {exc!r}. Put "
                f"{dataset.file} or the four IDX files in one of these places, "
                "or name its file or folder (data_home=..., or skae compare's "
                "--data)."
            ) from exc
        source = (
            f"OpenML {dataset.openml_name} (data id {dataset.openml_id}), cached "
            f"in {cache / dataset.file}"
        )
    arrays = _check(arrays, dataset, source)

    if as_frame:
        import pandas as pd

        columns = [f"pixel{i}" for i in range(1, 785)]
        for split in ("train", "test"):
            arrays[f"X_{split}"] = pd.DataFrame(arrays[f"X_{split}"], columns=columns)
            arrays[f"y_{split}"] = pd.Series(arrays[f"y_{split}"], name="class")
    if return_X_y:
        return arrays["X_train"], arrays["X_test"], arrays["y_train"], arrays["y_test"]
    return Bunch(
        **arrays,
        target_names=list(dataset.class_names),
        source=source,
        DESCR=f"{descr} Source: {source}.",
    )


def load_mnist(data_home=None, *, return_X_y=False, as_frame=False):
    """Load MNIST, the canonical 60000 training and 10000 test images.

    Looks in this order and takes the first that holds the data:

    1. ``data_home``: a ``.npz`` file with arrays ``X_train``, ``y_train``,
       ``X_test``, ``y_test``, or a folder holding such a ``mnist.npz`` or the
       four original IDX files (``train-images-idx3-ubyte`` ... gzipped or
       not). When given it must hold the data: no other place is searched;
    2. the ``SKAE_DATA`` environment variable, read the same way;
    3. ``<scikit-learn data home>/skae/mnist.npz``, the cache;
    4. ``fetch_openml("mnist_784")``, whose result is saved to that cache.

    Parameters
    ----------
    data_home : str or path-like, default=None
        A ``.npz`` file or a folder, as above.

    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)`` instead of a Bunch.

    as_frame : bool, default=False
        Return the images as pandas DataFrames with columns ``pixel1`` ...
        ``pixel784`` and the labels as Series (needs pandas).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (60000, 784) and ``X_test`` (10000, 784) uint8 pixel
        intensities 0..255, ``y_train`` and ``y_test`` uint8 digit labels,
        ``target_names`` (the class names, "0" ... "9"), ``source`` (where
        the data came from) and ``DESCR``.

    (X_train, X_test, y_train, y_test) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        When ``data_home`` does not exist or is a folder without the data.

    ValueError
        When a file found is not a readable ``.npz`` file of the four arrays
        (or an IDX file of unsigned bytes).

    OSError
        When no place holds the data and OpenML cannot be reached; the
        message lists every place that was tried.

    Examples
    --------
    >>> from skae.datasets import load_mnist
    >>> X_train, X_test, y_train, y_test = load_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    descr = (
        "MNIST handwritten digits (LeCun, Cortes, Burges): 28x28 grey-level "
        "images as rows of 784 pixels 0..255, labels 0..9; the first 60000 "
        "are the training set, the last 10000 the test set."
    )
    return _load(_MNIST, data_home, return_X_y, as_frame, descr)


def load_fashion_mnist(data_home=None, *, return_X_y=False, as_frame=False):
    """Load Fashion-MNIST, the canonical 60000 training and 10000 test images.

    Zalando's 28x28 grey-level images of ten kinds of clothing (Xiao, Rasul
    & Vollgraf, 2017), a drop-in for MNIST that is harder to model. Looks
    in this order and takes the first that holds the data:

    1. ``data_home``: a ``.npz`` file with arrays ``X_train``, ``y_train``,
       ``X_test``, ``y_test``, or a folder holding such a
       ``fashion-mnist.npz`` or the four original IDX files
       (``train-images-idx3-ubyte`` ... gzipped or not). When given it must
       hold the data: no other place is searched;
    2. the ``SKAE_DATA`` environment variable, read the same way;
    3. ``/usr/share/datasets/fashion-mnist``, where Debian's package
       ``dataset-fashion-mnist`` puts the IDX files;
    4. ``<scikit-learn data home>/skae/fashion-mnist.npz``, the cache;
    5. ``fetch_openml("Fashion-MNIST")`` (data id 40996), whose result is
       saved to that cache.

    Parameters
    ----------
    data_home : str or path-like, default=None
        A ``.npz`` file or a folder, as above.

    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)`` instead of a Bunch.

    as_frame : bool, default=False
        Return the images as pandas DataFrames with columns ``pixel1`` ...
        ``pixel784`` and the labels as Series (needs pandas).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (60000, 784) and ``X_test`` (10000, 784) uint8 pixel
        intensities 0..255, ``y_train`` and ``y_test`` uint8 labels 0..9,
        ``target_names`` (the class names: "T-shirt/top", "Trouser",
        "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot"), ``source`` (where the data came from) and ``DESCR``.

    (X_train, X_test, y_train, y_test) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        When ``data_home`` does not exist or is a folder without the data.

    ValueError
        When a file found is not a readable ``.npz`` file of the four arrays
        (or an IDX file of unsigned bytes).

    OSError
        When no place holds the data and OpenML cannot be reached; the
        message lists every place that was tried.

    See Also
    --------
    load_mnist : The handwritten digits, found the same way.

    Examples
    --------
    >>> from skae.datasets import load_fashion_mnist
    >>> data = load_fashion_mnist()  # doctest: +SKIP
    >>> data.X_train.shape, data.target_names[data.y_train[0]]  # doctest: +SKIP
    ((60000, 784), 'Ankle boot')
    """
    descr = (
        "Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017; Zalando SE, MIT licence): "
        "28x28 grey-level images of clothing as rows of 784 pixels 0..255, "
        "labels 0..9 (" + ", ".join(_FASHION.class_names) + "); the first "
        "60000 are the training set, the last 10000 the test set."
    )
    return _load(_FASHION, data_home, return_X_y, as_frame, descr)


def load_image_dataset(name="digits", data_home=None):
    """Images scaled to [0, 1], split into train and test, for the examples.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion"}, default="digits"
        "digits" is scikit-learn's embedded 8x8 digits (1797 images, split
        75/25, stratified, seed 0); "mnist" the 28x28 MNIST canonical split
        from :func:`load_mnist`; "fashion" (or "fashion-mnist") the 28x28
        Fashion-MNIST canonical split from :func:`load_fashion_mnist`.

    data_home : str or path-like, default=None
        Passed to :func:`load_mnist` or :func:`load_fashion_mnist`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``X_test`` (float32 in [0, 1]), ``y_train``, ``y_test``,
        ``image_shape`` and ``source`` (where the images came from).

    Examples
    --------
    >>> from skae.datasets import load_image_dataset
    >>> data = load_image_dataset("digits")
    >>> data.X_train.shape, data.image_shape
    ((1347, 64), (8, 8))
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            (X / 16).astype(np.float32), y, random_state=0, stratify=y
        )
        shape, source = (8, 8), "scikit-learn's load_digits"
    elif name in ("mnist", "fashion", "fashion-mnist"):
        loader = load_mnist if name == "mnist" else load_fashion_mnist
        images = loader(data_home)
        X_train = images.X_train.astype(np.float32) / np.float32(255)
        X_test = images.X_test.astype(np.float32) / np.float32(255)
        y_train, y_test = images.y_train, images.y_test
        shape, source = (28, 28), images.source
    else:
        raise ValueError(
            "name must be 'digits', 'mnist' or 'fashion' (alias 'fashion-mnist'), "
            f"got {name!r}."
        )
    return Bunch(
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        image_shape=shape,
        source=source,
    )
