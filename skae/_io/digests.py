"""SHA-256 digests of a file's tensors and of its metadata, and their checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping

import numpy as np

from .json_tags import Refusal, preview
from .safetensors_header import Spec
from .schema import _DIGESTS, _HEX_DIGEST


def _tensor_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the tensors: each name, dtype, shape and little-endian bytes.

    Computed from the tensors as read, not from the file's layout, so that
    it holds for any safetensors writer's file of the same tensors.
    """
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        entry = json.dumps([name, array.dtype.name, list(array.shape)]).encode()
        digest.update(len(entry).to_bytes(8, "little") + entry)
        digest.update(array.nbytes.to_bytes(8, "little"))
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _metadata_digest(metadata: Mapping[str, str]) -> str:
    """SHA-256 of every metadata entry but the digests, as canonical JSON."""
    entries = {key: value for key, value in metadata.items() if key not in _DIGESTS}
    text = json.dumps(entries, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_metadata_digest(metadata: dict[str, str]) -> None:
    """Refuse metadata that differs from its digest (or malformed digests)."""
    for key in _DIGESTS:
        if not _HEX_DIGEST.fullmatch(metadata[key]):
            raise Refusal(
                f"the file is corrupted: its {key} is not a SHA-256 digest (64 "
                f"lowercase hex digits), got {preview(metadata[key])}."
            )
    if _metadata_digest(metadata) != metadata["metadata_sha256"]:
        raise Refusal(
            "the file is corrupted: its metadata (class, parameters, fitted "
            "attributes) differs from the metadata_sha256 digest save recorded."
        )


def _check_tensor_digest(
    metadata: dict[str, str],
    specs: dict[str, Spec],
    read: Callable[[str], np.ndarray],
) -> dict[str, np.ndarray]:
    """Every tensor of the file, once they match their digest."""
    arrays = {name: read(name) for name in specs}
    for name, spec in specs.items():
        if (arrays[name].shape, arrays[name].dtype.name) != spec:
            raise Refusal(f"the tensor {name!r} does not match its header entry.")
    if _tensor_digest(arrays) != metadata["tensors_sha256"]:
        raise Refusal(
            "the file is corrupted: its tensors (weights, scaling) differ "
            "from the tensors_sha256 digest save recorded."
        )
    return arrays
