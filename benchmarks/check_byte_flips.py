"""Flip random bytes of saved model files: each copy is refused or identical.

Fits a small AutoencoderTransformer, VAETransformer and
ConditionalVAETransformer on scikit-learn's digits, saves each with
``skae.save``, then writes ``--n-files`` copies of each file with 1 to 8
random bytes changed (each XORed with a random non-zero byte, at uniformly
drawn positions) and loads every copy with ``skae.load``. A copy counts as

* ``refused``: a ValueError whose message starts with ``cannot load '<path>':``
  (the message's kind is tallied, e.g. "the file is corrupted: its tensors");
* ``identical``: it loads into a model whose every attribute (weights,
  scaling, parameters, fitted attributes) and outputs (``transform``,
  ``inverse_transform``, ``score_samples``, ``sample``, and for the
  conditional model the same with labels) are bit-identical to those of the
  unchanged file's model;
* ``silent difference``: it loads into any other model, the failure this
  check is about;
* ``unclear error``: any other exception.

``--no-digests`` writes the files as a skae without digests did (file format
1), to measure what the digests add.

Run: python benchmarks/check_byte_flips.py [--n-files 1000] [--seed 0]
     [--no-digests] [--json results.json]; --quick: 10 copies per class.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.datasets import load_digits
from sklearn.mixture import GaussianMixture

from skae import (
    AutoencoderTransformer,
    ConditionalVAETransformer,
    VAETransformer,
    load,
    save,
)
from skae._estimators.defaults import FORMER_AE_DEFAULTS, FORMER_VAE_DEFAULTS

SETTING = dict(
    n_components=4, hidden_layer_sizes=(32,), max_iter=5, random_state=0, device="cpu"
)
CLASSES = (AutoencoderTransformer, VAETransformer, ConditionalVAETransformer)


def setting(Est, n_rows: int) -> dict:
    """SETTING over the defaults of the stored run (before "auto"), with the
    former batch_size="auto", min(200, n_rows)."""
    former = (
        FORMER_AE_DEFAULTS if Est is AutoencoderTransformer else FORMER_VAE_DEFAULTS
    )
    return {**former, "batch_size": min(200, n_rows), **SETTING}


def fitted_models(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 epochs do not converge
        return {
            Est.__name__: Est(**setting(Est, len(X))).fit(X, y)
            if Est is ConditionalVAETransformer
            else Est(**setting(Est, len(X))).fit(X)
            for Est in CLASSES
        }


def without_digests(path: Path) -> None:
    """Rewrite ``path`` as a format-1 file: no digests."""
    with safe_open(path, framework="numpy") as f:
        metadata = dict(f.metadata())
        arrays = {key: f.get_tensor(key) for key in f.keys()}
    del metadata["tensors_sha256"], metadata["metadata_sha256"]
    metadata["format_version"] = "1"
    save_file(arrays, path, metadata=metadata)


def _value(value) -> object:
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, GaussianMixture):
        return sorted((k, _value(v)) for k, v in vars(value).items())
    return repr(value)


def fingerprint(est, X, y) -> dict[str, object]:
    """Every attribute and output of ``est``, as comparable bytes and reprs."""
    out = {"class": type(est).__name__}
    for name, value in vars(est).items():
        if name == "module_":
            for key, tensor in value.state_dict().items():
                out[f"module_.{key}"] = _value(tensor.numpy())
        else:
            out[name] = _value(value)
    labelled = [{}, {"y": y}] if isinstance(est, ConditionalVAETransformer) else [{}]
    for kwargs in labelled:
        tag = "y" if kwargs else ""
        Z = est.transform(X, **kwargs)
        out[f"transform{tag}"] = _value(Z)
        out[f"inverse_transform{tag}"] = _value(est.inverse_transform(Z, **kwargs))
        out[f"score_samples{tag}"] = _value(est.score_samples(X, **kwargs))
        n = len(y) if kwargs else 5
        out[f"sample{tag}"] = _value(est.sample(n, random_state=0, **kwargs))
    return out


def flipped(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` with 1 to 8 random bytes XORed with random non-zero bytes."""
    out = bytearray(data)
    n = int(rng.integers(1, 9))
    for where in rng.choice(len(out), size=n, replace=False):
        out[where] ^= int(rng.integers(1, 256))
    return bytes(out)


def outcome(path: Path, reference, X, y) -> tuple[str, str, float]:
    """The verdict on one copy, the kind of message, and the seconds to load."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        # format 1's "no digest" warning; a model's corrupted numbers warn
        warnings.simplefilter("ignore")
        try:
            est = load(path)
        except ValueError as error:
            seconds = time.perf_counter() - start
            prefix = f"cannot load {str(path)!r}: "
            message = str(error)
            if not message.startswith(prefix):
                return "unclear error", f"ValueError: {message[:80]}", seconds
            return "refused", kind(message.removeprefix(prefix)), seconds
        except Exception as error:  # what this check counts
            seconds = time.perf_counter() - start
            detail = f"{type(error).__name__}: {str(error)[:80]}"
            return "unclear error", detail, seconds
        seconds = time.perf_counter() - start
        try:
            same = fingerprint(est, X, y) == reference
        except Exception:  # loaded without a word, then fails: not the same
            same = False
    return ("identical" if same else "silent difference"), "", seconds


def kind(message: str) -> str:
    """The start of a refusal's message, without the values it quotes."""
    cut = re.search(r"\s*[('\"\[,]|\s+[0-9]", message[12:])
    return (message[: 12 + cut.start()] if cut else message).rstrip(". :")


def run(n_files: int, seed: int, digests: bool) -> dict:
    X, y = load_digits(return_X_y=True)
    X_check, y_check = X[:40], y[:40]
    models = fitted_models(X[:500], y[:500])
    rng = np.random.default_rng(seed)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, est in models.items():
            original = Path(folder) / f"{name}.safetensors"
            save(est, original)
            if not digests:
                without_digests(original)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = fingerprint(load(original), X_check, y_check)
            data = original.read_bytes()
            counts = collections.Counter()
            kinds = collections.Counter()
            slowest = 0.0
            copy = Path(folder) / "copy.safetensors"
            for _ in range(n_files):
                copy.write_bytes(flipped(data, rng))
                verdict, detail, seconds = outcome(copy, reference, X_check, y_check)
                slowest = max(slowest, seconds)
                counts[verdict] += 1
                if detail:
                    kinds[detail] += 1
            results[name] = {
                "file_bytes": len(data),
                "copies": n_files,
                "counts": dict(counts),
                "messages": dict(kinds.most_common()),
                "slowest_load_s": round(slowest, 4),
            }
    return results


def report(results: dict, digests: bool) -> str:
    verdicts = ("refused", "identical", "silent difference", "unclear error")
    lines = [
        f"skae.load of copies with 1-8 random bytes changed "
        f"({'with' if digests else 'without'} digests)",
        "",
        "| model | file bytes | copies | " + " | ".join(verdicts) + " |",
        "|---|---:|---:|" + "---:|" * len(verdicts),
    ]
    for name, r in results.items():
        cells = [name, r["file_bytes"], r["copies"]]
        cells += [r["counts"].get(v, 0) for v in verdicts]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    messages = collections.Counter()
    for r in results.values():
        messages.update(r["messages"])
    lines += ["", "refusals and errors by message:"]
    lines += [f"  {count:5d}  {message}" for message, count in messages.most_common()]
    slowest = max(r["slowest_load_s"] for r in results.values())
    lines += ["", f"slowest load or refusal of a copy: {slowest:.4f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-files", type=int, default=1000, help="copies per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 copies per class")
    parser.add_argument(
        "--no-digests", action="store_true", help="files as format 1 wrote them"
    )
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args(argv)
    n_files = 10 if args.quick else args.n_files
    if n_files < 1:
        parser.error(f"--n-files must be at least 1, got {n_files}")
    digests = not args.no_digests
    results = run(n_files, args.seed, digests)
    print(report(results, digests))
    if args.json:
        args.json.write_text(
            json.dumps({"seed": args.seed, "digests": digests, "models": results})
        )
    silent = sum(r["counts"].get("silent difference", 0) for r in results.values())
    unclear = sum(r["counts"].get("unclear error", 0) for r in results.values())
    # Without digests silent differences are what is measured, not a failure.
    return 1 if digests and (silent or unclear) else 0


if __name__ == "__main__":
    raise SystemExit(main())
