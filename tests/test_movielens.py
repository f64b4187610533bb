"""load_movielens_100k: both file formats, the places looked in, errors."""

import importlib.util
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from skae import _movielens
from skae.datasets import load_movielens_100k

# (user, item, rating, timestamp); ids are not contiguous on purpose.
TRIPLES = [
    (3, 10, 4, 881250949),
    (1, 10, 5, 891717742),
    (1, 7, 2, 878887116),
    (7, 30, 1, 880606923),
    (3, 7, 3, 886397596),
    (7, 10, 4, 884182806),
]
_REAL_CANDIDATES = _movielens._recbole_candidates
HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"


def lines(triples=TRIPLES):
    return ["\t".join(str(v) for v in t) for t in triples]


def write_udata(path, triples=TRIPLES):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines(triples)) + "\n")
    return path


def write_inter(path, triples=TRIPLES, header=HEADER):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines(triples)]) + "\n")
    return path


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """An empty scikit-learn data home, no SKAE_DATA, and no recbole copy."""
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_data"))
    monkeypatch.delenv("SKAE_DATA", raising=False)
    monkeypatch.setattr(_movielens, "_recbole_candidates", list)


def check_tiny(bunch, triples=TRIPLES):
    np.testing.assert_array_equal(bunch.user_ids, [1, 3, 7])
    np.testing.assert_array_equal(bunch.item_ids, [7, 10, 30])
    assert isinstance(bunch.data, sp.csr_array)
    assert bunch.data.dtype == np.float64 and bunch.data.has_sorted_indices
    expected = np.zeros((3, 3))
    for user, item, rating, _ in triples:
        i = np.searchsorted(bunch.user_ids, user)
        j = np.searchsorted(bunch.item_ids, item)
        expected[i, j] = rating
    np.testing.assert_array_equal(bunch.data.toarray(), expected)
    raw = np.array(triples)
    for k, name in enumerate(("user", "item", "rating", "timestamp")):
        np.testing.assert_array_equal(bunch.ratings[name], raw[:, k])
    assert bunch.ratings.user.dtype == bunch.ratings.timestamp.dtype == np.int64
    assert bunch.ratings.rating.dtype == np.float64
    assert "MovieLens-100k" in bunch.DESCR and bunch.source in bunch.DESCR


@pytest.mark.parametrize("name", ["u.data", "ml-100k.inter"])
def test_file(tmp_path, name):
    write = write_udata if name == "u.data" else write_inter
    path = write(tmp_path / "x" / name)
    bunch = load_movielens_100k(path)
    check_tiny(bunch)
    assert bunch.source == f"data_home {path}"


@pytest.mark.parametrize(
    "name, write",
    [
        ("u.data", write_udata),
        ("ml-100k/u.data", write_udata),
        ("ml-100k.inter", write_inter),
    ],
)
def test_folder(tmp_path, name, write):
    path = write(tmp_path / "home" / name)
    bunch = load_movielens_100k(tmp_path / "home")
    check_tiny(bunch)
    assert bunch.source == f"data_home {path}"


def test_folder_order(tmp_path):
    """u.data comes first, then ml-100k/u.data, then ml-100k.inter."""
    home = tmp_path / "home"
    write_inter(home / "ml-100k.inter", TRIPLES[:2])
    write_udata(home / "ml-100k" / "u.data", TRIPLES[:3])
    assert load_movielens_100k(home).data.nnz == 3
    write_udata(home / "u.data", TRIPLES[:4])
    assert load_movielens_100k(home).data.nnz == 4


def test_header_columns_matched_by_name(tmp_path):
    header = "timestamp:float\titem_id:token\tuser_id:token\trating:float"
    triples = [(t, i, u, r) for u, i, r, t in TRIPLES]
    check_tiny(load_movielens_100k(write_inter(tmp_path / "a.inter", triples, header)))


def test_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "u.data"
    path.write_bytes(("\r\n".join(["", *lines(), ""]) + "\r\n\r\n").encode())
    check_tiny(load_movielens_100k(path))


def test_environment_variable(tmp_path, monkeypatch):
    path = write_udata(tmp_path / "env" / "ml-100k" / "u.data")
    monkeypatch.setenv("SKAE_DATA", str(tmp_path / "env"))
    bunch = load_movielens_100k()
    check_tiny(bunch)
    assert bunch.source == f"SKAE_DATA {path}"


def test_data_home_comes_before_environment_variable(tmp_path, monkeypatch):
    write_udata(tmp_path / "env" / "u.data", TRIPLES[:2])
    monkeypatch.setenv("SKAE_DATA", str(tmp_path / "env"))
    write_inter(tmp_path / "home" / "ml-100k.inter")
    assert load_movielens_100k(tmp_path / "home").data.nnz == len(TRIPLES)
    # An explicit place that holds nothing falls through to the next place.
    assert load_movielens_100k(tmp_path / "empty").data.nnz == 2


def test_scikit_learn_data_home(tmp_path):
    path = write_inter(tmp_path / "sklearn_data" / "skae" / "ml-100k.inter")
    bunch = load_movielens_100k()
    check_tiny(bunch)
    assert bunch.source == f"scikit-learn data home {path}"


def test_recbole_copy(tmp_path, monkeypatch):
    path = write_inter(tmp_path / "recbole" / "dataset_example" / "ml-100k.inter")
    monkeypatch.setattr(_movielens, "_recbole_candidates", lambda: [path])
    bunch = load_movielens_100k()
    check_tiny(bunch)
    assert bunch.source == f"recbole {path}"


def test_recbole_candidates_without_importing(monkeypatch):
    """The lookup goes through find_spec only; no recbole means no candidate."""
    monkeypatch.undo()  # the real _recbole_candidates
    imported = "recbole" in sys.modules
    candidates = _movielens._recbole_candidates()
    assert ("recbole" in sys.modules) == imported
    if importlib.util.find_spec("recbole") is None:
        assert candidates == []
    else:
        assert candidates and all(
            p.parts[-3:] == _movielens._RECBOLE_FILE for p in candidates
        )


def test_recbole_broken_spec(monkeypatch):
    def broken(name):
        raise ValueError("recbole.__spec__ is None")

    monkeypatch.setattr(_movielens.importlib.util, "find_spec", broken)
    monkeypatch.setattr(_movielens, "_recbole_candidates", _REAL_CANDIDATES)
    assert _movielens._recbole_candidates() == []


def test_min_rating(tmp_path):
    bunch = load_movielens_100k(write_udata(tmp_path / "u.data"), min_rating=4)
    # Kept: (3, 10, 4), (1, 10, 5), (7, 10, 4); items 7 and 30 have no rating >= 4.
    np.testing.assert_array_equal(bunch.user_ids, [1, 3, 7])
    np.testing.assert_array_equal(bunch.item_ids, [10])
    np.testing.assert_array_equal(bunch.data.toarray(), np.ones((3, 1)))
    np.testing.assert_array_equal(bunch.ratings.rating, [4, 5, 4])
    np.testing.assert_array_equal(bunch.ratings.user, [3, 1, 7])
    assert "implicit feedback" in bunch.DESCR


def test_min_rating_keeps_nothing(tmp_path):
    with pytest.raises(ValueError, match="min_rating=6 keeps none"):
        load_movielens_100k(write_udata(tmp_path / "u.data"), min_rating=6)


@pytest.mark.parametrize(
    "text, match",
    [
        ("1\t2\t3\n", r"line 1: 3 tab-separated columns, expected 4"),
        ("1\t2\t3\t4\n1 2 3 4\n", r"line 2: 1 tab-separated columns, expected 4"),
        ("1\t2\t3\t4\n1\tx\t3\t4\n", r"line 2: the item 'x' is not an integer"),
        ("1\t2\t3\t4\n1.5\t3\t3\t4\n", r"line 2: the user '1.5' is not an integer"),
        ("1\t2\tnan\t4\n", r"line 1: the rating 'nan' is not a finite number"),
        ("1\t2\t3\t4\n\n1\t3\t3\t\n", r"line 3: the timestamp '' is not an integer"),
        ("1\t2\t3\t4\n1\t2\t5\t6\n", r"user 1 rates item 2 more than once"),
        ("\n\n", r"holds no ratings"),
        (HEADER + "\n", r"holds no ratings"),
        ("user_id:token\titem_id:token\n1\t2\n", r"lacks the columns \['rating'"),
        (HEADER + "\n1\t2\t3\n", r"line 2: 3 tab-separated columns, expected 4"),
    ],
)
def test_bad_file(tmp_path, text, match):
    path = tmp_path / "u.data"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_movielens_100k(path)
    assert str(path) in str(info.value)


def test_binary_file(tmp_path):
    path = tmp_path / "u.data"
    path.write_bytes(b"\x00\xff\xfe" * 10)
    with pytest.raises(ValueError, match="not a text file"):
        load_movielens_100k(path)


def test_nothing_found(tmp_path, monkeypatch):
    monkeypatch.setenv("SKAE_DATA", str(tmp_path / "env"))
    recbole = tmp_path / "recbole" / "ml-100k.inter"
    monkeypatch.setattr(_movielens, "_recbole_candidates", lambda: [recbole])
    with pytest.raises(OSError, match="MovieLens-100k was not found") as info:
        load_movielens_100k(tmp_path / "home")
    message = str(info.value)
    places = [
        f"data_home: {tmp_path / 'home'}",
        f"SKAE_DATA: {tmp_path / 'env'}",
        f"scikit-learn data home: {tmp_path / 'sklearn_data' / 'skae'}",
        f"recbole: {recbole}",
    ]
    for place in places:
        assert place in message
    assert "pip install --no-deps recbole==1.2.1" in message
    assert "grouplens.org" in message


def test_real_file(monkeypatch):
    """The real MovieLens-100k, where a copy is installed (RecBole) or configured."""
    monkeypatch.undo()  # the real SKAE_DATA, data home and recbole lookup
    try:
        bunch = load_movielens_100k()
    except OSError:
        pytest.skip(
            "no local copy of MovieLens-100k (pip install --no-deps recbole==1.2.1)"
        )
    assert bunch.data.shape == (943, 1682)
    assert bunch.data.nnz == 100000 and len(bunch.ratings.user) == 100000
    np.testing.assert_array_equal(bunch.user_ids, np.arange(1, 944))
    np.testing.assert_array_equal(bunch.item_ids, np.arange(1, 1683))
    np.testing.assert_array_equal(np.unique(bunch.data.data), [1, 2, 3, 4, 5])
    # The first line of u.data: user 196 gave movie 242 three stars.
    assert bunch.data[195, 241] == 3 and bunch.ratings.timestamp[0] == 881250949
    implicit = load_movielens_100k(min_rating=4)
    assert implicit.data.nnz == int((bunch.data.data >= 4).sum()) == 55375
