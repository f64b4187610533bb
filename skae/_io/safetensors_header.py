"""Read and check the header of a safetensors file, before the library opens it.

A safetensors file is 8 bytes giving the length N of a JSON header, N bytes
of that header, then the tensors' bytes. Reading this much by hand recognises
pickles, zip archives and truncated files for what they are, parses the
header as strict JSON (no repeated keys, no NaN), and gives the names,
shapes and dtypes of the tensors before any of them is read.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from .json_tags import Refusal, parse_json

# safetensors' dtype codes, as numpy names the dtypes.
_DTYPES = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "F16": "float16",
    "BF16": "bfloat16",
    "U32": "uint32",
    "I32": "int32",
    "F32": "float32",
    "U64": "uint64",
    "I64": "int64",
    "F64": "float64",
}
_MAX_HEADER = 100_000_000  # bytes, the limit of the safetensors library
_PICKLE_PROTOCOLS = range(2, 6)  # pickles of protocol >= 2 start with 0x80, protocol

Spec = tuple[tuple[int, ...], str]  # a tensor's shape and dtype name


def read_header(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, Spec]]:
    """The metadata and tensor specs of a safetensors file, checked strictly.

    Recognises pickles, zip archives and truncated files by their bytes
    before anything is parsed.
    """
    with open(os.fspath(path), "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refusal("not a regular file.")
        size = info.st_size
        start = file.read(8)
        _check_start(start, size)
        length = int.from_bytes(start, "little")
        text = file.read(min(length, _MAX_HEADER))
    if length > _MAX_HEADER or length < 2 or (text and not text.startswith(b"{")):
        raise Refusal(
            f"not a safetensors file: it starts with {start + text[:8]!r}, not "
            "with the length of a JSON header."
        )
    if len(text) < length:
        raise Refusal(
            f"the file is truncated: its header needs {length} bytes, only "
            f"{len(text)} follow."
        )
    header = _parse_header(text)
    specs, end = _tensor_specs(header)
    if 8 + length + end > size:
        raise Refusal(
            f"the file is truncated: its tensors end at byte {8 + length + end}, "
            f"the file holds {size} bytes."
        )
    return _header_metadata(header), specs


def _check_start(start: bytes, size: int) -> None:
    if len(start) < 8:
        raise Refusal(
            f"the file holds only {size} bytes, fewer than the 8 of a "
            "safetensors header's length: it is not a safetensors file, or it "
            "is truncated."
        )
    if start[0] == 0x80 and start[1] in _PICKLE_PROTOCOLS:
        raise Refusal(
            f"this is a pickle (protocol {start[1]}), not a safetensors file. "
            "load never unpickles: unpickling can run any code. Load it with "
            "pickle or joblib only if you trust its source, then save it again."
        )
    if start[:4] == b"PK\x03\x04":
        raise Refusal(
            "this is a zip archive (torch.save writes those), not a safetensors file."
        )


def _parse_header(text: bytes) -> dict:
    try:
        header = parse_json(text.decode("utf-8"), "the header")
    except UnicodeDecodeError:
        raise Refusal(
            "not a valid safetensors file: its header is not UTF-8."
        ) from None
    except Refusal as refusal:
        raise Refusal(f"not a valid safetensors file: {refusal}") from None
    if not isinstance(header, dict):
        raise Refusal("not a valid safetensors file: its header is not an object.")
    return header


def _tensor_specs(header: dict) -> tuple[dict[str, Spec], int]:
    """The shape and dtype of each tensor, and where the last one ends."""
    specs, end = {}, 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not (
            isinstance(entry, dict)
            and entry.keys() == {"dtype", "shape", "data_offsets"}
            and isinstance(entry["dtype"], str)
            and _naturals(entry["shape"])
            and _naturals(entry["data_offsets"])
            and len(entry["data_offsets"]) == 2
        ):
            raise Refusal(
                f"not a valid safetensors file: the entry of {name[:80]!r} in "
                "its header is malformed."
            )
        dtype = _DTYPES.get(entry["dtype"], entry["dtype"])
        specs[name] = (tuple(entry["shape"]), dtype)
        end = max(end, *entry["data_offsets"])
    return specs, end


def _naturals(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)


def _header_metadata(header: dict) -> dict[str, str]:
    metadata = header.get("__metadata__", {})
    if not (
        isinstance(metadata, dict)
        and all(isinstance(value, str) for value in metadata.values())
    ):
        raise Refusal(
            "not a valid safetensors file: its __metadata__ does not map "
            "strings to strings."
        )
    return metadata
