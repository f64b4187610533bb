"""MovieLens-100k from a local copy: GroupLens' ``u.data`` or RecBole's file.

The ratings' licence forbids redistributing them, so skae never ships nor
downloads them: the loader only reads a copy already on this machine.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

__all__ = ["load_movielens_100k"]

# Inside a folder, in this order.
_FOLDER_FILES = ("u.data", "ml-100k/u.data", "ml-100k.inter")
_RECBOLE_FILE = ("dataset_example", "ml-100k", "ml-100k.inter")
_COLUMNS = ("user", "item", "rating", "timestamp")
_RECBOLE_NAMES = ("user_id", "item_id", "rating", "timestamp")
_HOW_TO_GET = (
    "Install RecBole's copy with `pip install --no-deps recbole==1.2.1` (it "
    "ships dataset_example/ml-100k/ml-100k.inter), or download ml-100k.zip from "
    "https://grouplens.org/datasets/movielens/100k/ yourself (its licence forbids "
    "redistribution), unzip it and pass data_home=<the folder holding u.data> or "
    "set SKAE_DATA to it."
)


def _recbole_candidates() -> list[Path]:
    """Where the installed ``recbole`` package keeps ml-100k, without importing it."""
    try:
        spec = importlib.util.find_spec("recbole")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p, *_RECBOLE_FILE) for p in spec.submodule_search_locations]


def _places(data_home) -> list[tuple[str, Path]]:
    """Every place to look, in order, as ``(label, path)``."""
    places = []
    if data_home is not None:
        places.append(("data_home", Path(data_home)))
    if os.environ.get("SKAE_DATA"):
        places.append(("SKAE_DATA", Path(os.environ["SKAE_DATA"])))
    places.append(("scikit-learn data home", Path(get_data_home()) / "skae"))
    places.extend(("recbole", path) for path in _recbole_candidates())
    return places


def _find_file(path: Path) -> Path | None:
    """``path`` itself if it is a file, else the first known file inside it."""
    if path.is_file():
        return path
    if path.is_dir():
        for name in _FOLDER_FILES:
            if (path / name).is_file():
                return path / name
    return None


def _locate(places: list[tuple[str, Path]]) -> tuple[str, Path]:
    """The first place holding a ratings file, or an OSError listing them all."""
    for label, place in places:
        path = _find_file(place)
        if path is not None:
            return label, path
    tried = "; ".join(f"{label}: {place}" for label, place in places)
    raise OSError(
        f"MovieLens-100k was not found. Tried, in order: {tried} (each a file, "
        f"or a folder holding one of {list(_FOLDER_FILES)}). {_HOW_TO_GET}"
    )


def _is_header(fields: list[str]) -> bool:
    """A RecBole header names its columns ``name:type``; data lines are numbers."""
    return any(":" in field for field in fields)


def _header_columns(fields: list[str], path: Path) -> list[int]:
    """Positions of user, item, rating and timestamp in a RecBole header."""
    names = [field.split(":", 1)[0].strip() for field in fields]
    missing = [name for name in _RECBOLE_NAMES if name not in names]
    if missing:
        raise ValueError(
            f"{path}: the header {fields} lacks the columns {missing}; a RecBole "
            f"ml-100k.inter file names {list(_RECBOLE_NAMES)}."
        )
    return [names.index(name) for name in _RECBOLE_NAMES]


def _split_lines(path: Path) -> tuple[list[list[str]], list[int], list[int]]:
    """Fields of each data line, its line number, and where the columns are.

    Lines are tab-separated, blank lines skipped; every data line must have
    as many fields as the header (RecBole) or exactly four (``u.data``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text file of ratings: {exc}.") from exc
    rows, numbers = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append(line.rstrip("\r\n").split("\t"))
            numbers.append(number)
    if rows and _is_header(rows[0]):
        columns = _header_columns(rows[0], path)
        _check_width(rows[1:], numbers[1:], len(rows[0]), path)
        return rows[1:], numbers[1:], columns
    _check_width(rows, numbers, len(_COLUMNS), path)
    return rows, numbers, list(range(len(_COLUMNS)))


def _check_width(
    rows: list[list[str]], numbers: list[int], width: int, path: Path
) -> None:
    for fields, number in zip(rows, numbers, strict=True):
        if len(fields) != width:
            raise ValueError(
                f"{path}, line {number}: {len(fields)} tab-separated columns, "
                f"expected {width} (user, item, rating, timestamp): {fields!r}."
            )


def _first_unparsable(values: list[str]) -> int:
    """Index of the first value that ``float`` rejects."""
    for i, value in enumerate(values):
        try:
            float(value)
        except ValueError:
            return i
    raise AssertionError("every value parses")  # pragma: no cover


def _to_array(
    values: list[str], dtype: type, name: str, numbers: list[int], path: Path
) -> np.ndarray:
    """Convert one column, naming the first line that is not a valid number."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except ValueError:
        bad = _first_unparsable(values)
    else:
        wrong = ~np.isfinite(array)
        if dtype is np.int64:
            wrong |= array != np.round(array)
        bad = int(np.argmax(wrong)) if wrong.any() else None
    if bad is not None:
        kind = "an integer" if dtype is np.int64 else "a finite number"
        raise ValueError(
            f"{path}, line {numbers[bad]}: the {name} {values[bad]!r} is not {kind}."
        )
    return array.astype(dtype)


def _read_ratings(path: Path) -> dict[str, np.ndarray]:
    """The four columns of a ``u.data`` or ``ml-100k.inter`` file, validated."""
    rows, numbers, columns = _split_lines(path)
    if not rows:
        raise ValueError(f"{path} holds no ratings.")
    dtypes = (np.int64, np.int64, np.float64, np.int64)
    ratings = {}
    for name, column, dtype in zip(_COLUMNS, columns, dtypes, strict=True):
        values = [fields[column].strip() for fields in rows]
        ratings[name] = _to_array(values, dtype, name, numbers, path)
    return ratings


def _to_matrix(ratings: dict[str, np.ndarray], path: Path) -> tuple:
    """Users x items CSR array of the ratings and the sorted original ids."""
    user_ids, rows = np.unique(ratings["user"], return_inverse=True)
    item_ids, cols = np.unique(ratings["item"], return_inverse=True)
    _check_duplicates(rows * len(item_ids) + cols, user_ids[rows], item_ids[cols], path)
    data = sp.csr_array(
        (ratings["rating"], (rows, cols)),
        shape=(len(user_ids), len(item_ids)),
        dtype=np.float64,
    )
    data.sort_indices()
    return data, user_ids, item_ids


def _check_duplicates(
    keys: np.ndarray, users: np.ndarray, items: np.ndarray, path: Path
) -> None:
    """Raise on the first (user, item) pair, encoded in ``keys``, seen twice."""
    order = np.argsort(keys, kind="stable")
    repeated = np.flatnonzero(np.diff(keys[order]) == 0)
    if repeated.size:
        i = order[repeated[0]]
        raise ValueError(
            f"{path}: user {users[i]} rates item {items[i]} more than once; each "
            "(user, item) pair must appear once."
        )


def load_movielens_100k(data_home=None, *, min_rating=None):
    """Load MovieLens-100k from a local copy, as a users x items sparse array.

    The ratings' licence forbids redistributing them, so this function never
    downloads them. It reads the first of these that holds the data:

    1. ``data_home``: GroupLens' ``u.data`` or RecBole's ``ml-100k.inter``
       file, or a folder holding ``u.data``, ``ml-100k/u.data`` or
       ``ml-100k.inter`` (looked for in that order);
    2. the ``SKAE_DATA`` environment variable, read the same way;
    3. the folder ``<scikit-learn data home>/skae/``, read the same way;
    4. ``dataset_example/ml-100k/ml-100k.inter`` inside the installed
       ``recbole`` package (``pip install --no-deps recbole==1.2.1``), found
       without importing it.

    ``u.data`` holds tab-separated lines ``user item rating timestamp``;
    ``ml-100k.inter`` the same columns after a header line such as
    ``user_id:token item_id:token rating:float timestamp:float`` (its
    columns are matched by name). Both hold the same 100000 ratings 1..5 of
    1682 movies by 943 users.

    Parameters
    ----------
    data_home : str or path-like, default=None
        A ratings file or a folder, as above.

    min_rating : float, default=None
        Keep only the ratings ``>= min_rating`` and set them to 1.0: implicit
        feedback, as in Liang et al., "Variational autoencoders for
        collaborative filtering", WWW 2018, which keeps ratings of 4 and 5
        (``min_rating=4``). ``None`` keeps every rating and its value.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        data : scipy.sparse.csr_array of shape (n_users, n_items), float64
            The ratings (or 1.0 under ``min_rating``); row ``i`` is the user
            ``user_ids[i]``, column ``j`` the item ``item_ids[j]``, and a
            missing rating is an implicit zero. Only users and items with at
            least one kept rating have a row or a column.
        user_ids, item_ids : ndarray of int64
            The original ids (1-based in MovieLens), sorted.
        ratings : :class:`~sklearn.utils.Bunch`
            The kept ratings as raw arrays in file order: ``user`` and
            ``item`` (original ids, int64), ``rating`` (float64, the value
            in the file even under ``min_rating``) and ``timestamp`` (int64,
            seconds since the Unix epoch).
        source : str
            Which place and file the ratings were read from.
        DESCR : str
            A description of the data set.

    Raises
    ------
    OSError
        When no place holds the data; the message lists every place tried
        and how to get the file.
    ValueError
        When the file found is not a valid ratings file (wrong number of
        columns, a missing header column, a value that is not a number, an
        id that is not an integer, a repeated (user, item) pair), or when
        ``min_rating`` keeps no rating.

    Examples
    --------
    >>> from skae.datasets import load_movielens_100k
    >>> ml = load_movielens_100k(min_rating=4)  # doctest: +SKIP
    >>> ml.data.shape, ml.data.nnz  # doctest: +SKIP
    ((942, 1447), 55375)
    """
    label, path = _locate(_places(data_home))
    ratings = _read_ratings(path)
    if min_rating is not None:
        keep = ratings["rating"] >= min_rating
        if not keep.any():
            raise ValueError(
                f"min_rating={min_rating!r} keeps none of the ratings in {path}."
            )
        ratings = {name: column[keep] for name, column in ratings.items()}
    data, user_ids, item_ids = _to_matrix(ratings, path)
    if min_rating is not None:
        data.data[:] = 1.0
    source = f"{label} {path}"
    return Bunch(
        data=data,
        user_ids=user_ids,
        item_ids=item_ids,
        ratings=Bunch(**ratings),
        source=source,
        DESCR=_describe(data, min_rating, source),
    )


def _describe(data: sp.csr_array, min_rating: float | None, source: str) -> str:
    kept = (
        "all ratings 1..5"
        if min_rating is None
        else f"ratings >= {min_rating} set to 1.0 (implicit feedback)"
    )
    return (
        "MovieLens-100k (GroupLens Research, F. M. Harper and J. A. Konstan, "
        "ACM TiiS 2015): 100000 ratings 1..5 of 1682 movies by 943 users, "
        "collected on movielens.org in 1997-1998. The licence forbids "
        f"redistribution. Here: {kept}, {data.shape[0]} users x {data.shape[1]} "
        f"items, {data.nnz} entries. Source: {source}."
    )
