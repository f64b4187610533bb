"""Digests in saved files: corruption is refused; old files still load."""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from skae import AutoencoderTransformer, VAETransformer, load, save
from skae._io.digests import _metadata_digest, _tensor_digest

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
FAST = dict(hidden_layer_sizes=(16,), max_iter=2, device="cpu", random_state=0)
W = "module_.encoder.0.weight"


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(40, 6))


@pytest.fixture
def saved(X, tmp_path):
    path = tmp_path / "ae.safetensors"
    save(AutoencoderTransformer(**FAST).fit(X), path)
    return path


def read_file(path):
    with safe_open(path, framework="numpy") as f:
        return dict(f.metadata()), {key: f.get_tensor(key) for key in f.keys()}


def refusal(path):
    with pytest.raises(ValueError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"cannot load {str(path)!r}: ")
    return message


# --------------------------------------------------------------- the digests
def test_save_records_the_digests_of_tensors_and_metadata(saved):
    metadata, arrays = read_file(saved)
    assert metadata["format_version"] == "2"
    assert metadata["tensors_sha256"] == _tensor_digest(arrays)
    assert metadata["metadata_sha256"] == _metadata_digest(metadata)
    # Each digest covers what it names: any entry, any tensor byte.
    for key in ("params", "attributes", "class", "skae_version"):
        changed = dict(metadata, **{key: metadata[key] + " "})
        assert _metadata_digest(changed) != metadata["metadata_sha256"], key
    flipped = dict(arrays, **{W: arrays[W].copy()})
    flipped[W].view(np.uint8)[5] ^= 1
    assert _tensor_digest(flipped) != metadata["tensors_sha256"]
    renamed = {("x" + k if k == W else k): v for k, v in arrays.items()}
    assert _tensor_digest(renamed) != metadata["tensors_sha256"]


def test_changed_weight_is_refused_as_corruption(saved, tmp_path):
    metadata, arrays = read_file(saved)
    arrays[W].view(np.uint8)[0] ^= 0x10  # a slightly different, finite weight
    assert np.isfinite(arrays[W]).all()
    path = tmp_path / "bad.safetensors"
    save_file(arrays, path, metadata=metadata)
    assert "the file is corrupted: its tensors" in refusal(path)


def test_changed_metadata_is_refused_as_corruption(saved, tmp_path):
    metadata, arrays = read_file(saved)
    # Still a model load would accept, were it not for the digest.
    metadata["attributes"] = metadata["attributes"].replace(
        '"n_iter_": 2', '"n_iter_": 3'
    )
    path = tmp_path / "bad.safetensors"
    save_file(arrays, path, metadata=metadata)
    assert "the file is corrupted: its metadata" in refusal(path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m.update(tensors_sha256="0" * 63), "tensors_sha256 is not a SHA"),
        (
            lambda m: m.update(metadata_sha256=m["metadata_sha256"].upper()),
            "metadata_sha256 is not a SHA",
        ),
        (lambda m: m.pop("tensors_sha256"), r"missing \['tensors_sha256'\]"),
        (lambda m: m.pop("metadata_sha256"), r"missing \['metadata_sha256'\]"),
        # Format 1 had no digests: a file that says 1 but has them is not one.
        (lambda m: m.update(format_version="1"), "corrupted: its metadata"),
    ],
    ids=["short", "uppercase", "no-tensor-digest", "no-metadata-digest", "v1-digests"],
)
def test_malformed_or_missing_digests_are_refused(edit, match, saved, tmp_path):
    metadata, arrays = read_file(saved)
    edit(metadata)
    path = tmp_path / "bad.safetensors"
    save_file(arrays, path, metadata=metadata)
    assert re.search(match, refusal(path))


def test_format_1_file_with_digests_is_refused_even_restamped(saved, tmp_path):
    metadata, arrays = read_file(saved)
    metadata["format_version"] = "1"
    metadata["metadata_sha256"] = _metadata_digest(metadata)
    path = tmp_path / "bad.safetensors"
    save_file(arrays, path, metadata=metadata)
    assert "keys save never writes" in refusal(path)


# ----------------------------------------------------------- format-1 files
EXPECTED = np.load(DATA / "v1_expected.npz")


@pytest.mark.parametrize(
    "name, Est",
    [("autoencoder", AutoencoderTransformer), ("vae", VAETransformer)],
)
def test_files_written_before_digests_load_with_a_warning(name, Est, tmp_path):
    # tests/data/v1_*.safetensors were written by skae.save at 7944051 (file
    # format 1, no digests), with their outputs in v1_expected.npz.
    path = DATA / f"v1_{name}.safetensors"
    assert read_file(path)[0]["format_version"] == "1"
    with pytest.warns(UserWarning, match=r"has no digest \(file format 1"):
        est = load(path)
    assert type(est) is Est
    X = EXPECTED["X"]
    Z = est.transform(X)

    # The same CPU kernels give the same bits; another CPU's float32 kernels
    # may round differently in the last places of each sum, which is small
    # against the largest value (a code near 0 differs in relative terms).
    def close(actual, expected):
        atol = 1e-6 * np.abs(expected).max()
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=atol)

    close(Z, EXPECTED[f"{name}_transform"])
    close(est.inverse_transform(Z), EXPECTED[f"{name}_inverse_transform"])
    close(est.score_samples(X), EXPECTED[f"{name}_score_samples"])
    close(est.sample(5, random_state=0), EXPECTED[f"{name}_sample"])
    # Saved again, it gains digests and loads without a warning.
    again = tmp_path / "again.safetensors"
    save(est, again)
    assert read_file(again)[0]["format_version"] == "2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load(again).transform(X), Z)


def test_corrupted_format_1_file_is_still_checked(tmp_path):
    # Without a digest the other checks still apply (here: the JSON).
    data = bytearray((DATA / "v1_vae.safetensors").read_bytes())
    pattern = b'n_iter_\\": 2'  # JSON inside the header's JSON string
    at = data.index(pattern) + len(pattern) - 1
    data[at] = ord("x")
    path = tmp_path / "bad.safetensors"
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="has no digest"):
        assert "attributes is not valid JSON" in refusal(path)


# ------------------------------------------------------------- byte flips
@pytest.mark.slow
def test_check_byte_flips_quick():
    # 10 copies per class, 30 files: every one refused or identical.
    cmd = [sys.executable, str(ROOT / "benchmarks" / "check_byte_flips.py")]
    result = subprocess.run(
        [*cmd, "--quick"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    counts = {row.split("|")[1].strip(): row.split("|")[3:8] for row in rows[1:]}
    assert set(counts) == {
        "AutoencoderTransformer",
        "VAETransformer",
        "ConditionalVAETransformer",
    }
    for copies, refused, identical, silent, unclear in counts.values():
        assert int(copies) == 10
        assert int(refused) + int(identical) == 10
        assert int(silent) == int(unclear) == 0
