"""Try every bad input and fault against skae and write docs/reliability.md.

Each case is a small function that does one bad thing (NaN in X, a diverging
fit, a Ctrl-C, a tampered model file, ...) against the current code and
returns what the user got (the exception, or the warnings and the result) and
the estimator's state afterwards. Nothing in the table is written by hand.

Run: python benchmarks/failure_table.py [--quick] [--out docs/reliability.md]
(``--quick`` runs every case on 300 rows of the digits instead of 1797.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from functools import cache, partial
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from scipy import sparse
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

import skae._train.loop
from skae import AutoencoderTransformer, VAETransformer, load, save
from skae._estimators.defaults import FORMER_AE_DEFAULTS, FORMER_VAE_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(hidden_layer_sizes=(8,), max_iter=2, device="cpu", random_state=0)
TMP = Path(tempfile.gettempdir()) / f"skae-failures-{os.getpid()}"  # made by main
MAX_MESSAGE = 160


# Over the defaults before "auto", as the stored page was recorded (batch_size
# stays "auto": a fixed one would warn on the cases with fewer rows).
def AE(**params):
    return AutoencoderTransformer(**{**FORMER_AE_DEFAULTS, **SMALL, **params})


def VAE(**params):
    return VAETransformer(**{**FORMER_VAE_DEFAULTS, **SMALL, **params})


# ---------------------------------------------------------------- recording
def short(text) -> str:
    """One line, the tmp folder removed, cut after MAX_MESSAGE characters."""
    text = " ".join(str(text).replace(f"{TMP}/", "").split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


def describe(error: BaseException) -> str:
    name = type(error).__name__
    if type(error).__module__ != "builtins" and isinstance(error, ValueError):
        name += " (a ValueError)"
    return f"{name}: {short(error)}" if str(error) else name


def summary(result) -> str:
    if isinstance(result, str):
        return result
    if hasattr(result, "n_iter_"):
        return f"n_iter_={result.n_iter_}"
    if isinstance(result, pd.DataFrame):
        return f"DataFrame {result.shape}"
    if isinstance(result, np.ndarray):
        finite = "all finite" if np.isfinite(result).all() else "NOT ALL FINITE"
        return f"array {result.shape} {result.dtype}, {finite}"
    return short(repr(result))


def attempt(call) -> str:
    """What ``call()`` gives the user: the exception, or warnings and result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (Exception, KeyboardInterrupt) as error:
            return f"raises {describe(error)}"
    said = {
        f"warns {w.category.__name__}: {short(w.message)}"
        for w in caught
        if not issubclass(w.category, ConvergenceWarning)
    }
    return "; ".join(filter(None, ["returns", *sorted(said), summary(result)]))


def quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


def fingerprint(est) -> dict:
    """Everything fit sets (not the parameters), as comparable bytes."""
    params = est.get_params(deep=False)
    out = {}
    for key, value in vars(est).items():
        if key in params:
            continue
        if isinstance(value, torch.nn.Module):
            value = [t.numpy().tobytes() for t in value.state_dict().values()]
        out[key] = pickle.dumps(value)
    return out


def snapshot(est, X):
    return fingerprint(est), quiet(lambda: est.transform(X))


def state(est, X, before=None) -> str:
    """Unfitted or fitted; with ``before = snapshot(est, X)``: kept or changed."""
    learned = sorted(set(vars(est)) - set(est.get_params(deep=False)))
    try:
        check_is_fitted(est)
    except NotFittedError:
        return f"HALF-FITTED: sets {learned}" if learned else "unfitted: NotFittedError"
    if before is None:
        return f"fitted, n_iter_={est.n_iter_}"
    changed = [k for k, v in fingerprint(est).items() if before[0].get(k) != v]
    codes = "unchanged" if np.array_equal(est.transform(X), before[1]) else "changed"
    if not changed and before[0].keys() == fingerprint(est).keys():
        return f"previous model kept, transform {codes}"
    return f"model replaced, n_iter_={est.n_iter_}"


# ------------------------------------------------------------ case builders
def same(X):
    return X


def calls(method, arg=same, **kwargs):
    """The call ``est.<method>(arg(X), **kwargs)``."""
    return lambda est, X: getattr(est, method)(arg(X), **kwargs)


def fresh(make_est, call):
    """``call(est, X)`` on a new, unfitted estimator."""

    def run(X):
        est = make_est()
        return attempt(lambda: call(est, X)), state(est, X)

    return run


def fits(make_est, data=same):
    """``make_est().fit(data(X))``."""
    return fresh(make_est, calls("fit", data))


def fitted(make_est, call, data=same):
    """``call(est, X)`` on an estimator fitted on ``data(X)``."""

    def run(X):
        est = quiet(lambda: make_est().fit(data(X)))
        before = snapshot(est, data(X))
        return attempt(lambda: call(est, X)), state(est, data(X), before)

    return run


def put(X, value):
    X = X.copy()
    X[0, 0] = value
    return X


def with_nan(X):
    return put(X, np.nan)


def with_inf(X):
    return put(X, np.inf)


def with_1e39(X):
    return put(X, 1e39)


def in_unit_range(X):
    return X / 16  # the digits' pixels are 0..16


def interrupted(step, data=same):
    """``est.fit(data(X))`` whose ``step``-th training step raises Ctrl-C.

    ``step`` is a number or a function of X.
    """

    def call(est, X):
        original, count = skae._train.loop.train_step, itertools.count(1)
        n = step(X) if callable(step) else step

        def train_step(*args):
            if next(count) == n:
                raise KeyboardInterrupt
            return original(*args)

        skae._train.loop.train_step = train_step
        try:
            return est.fit(data(X))
        finally:
            skae._train.loop.train_step = original

    return call


def in_epoch_3(X):
    steps = -(-len(X) // AE()._batch_size(len(X)))  # batch_size="auto"
    return 2 * steps + 1


def refit_diverging(est, X):
    return est.set_params(learning_rate_init=1e12).fit(X * 1e3)


def under(context):
    """Fit and transform inside ``context()``; compare with a plain fit."""

    def call(est, X):
        plain = quiet(lambda: AE().fit(X)).transform(X)
        with context():
            codes = est.fit(X).transform(X)
        same, grad = np.array_equal(codes, plain), torch.is_grad_enabled()
        return f"codes equal a plain fit's: {same}; grad enabled after: {grad}"

    return call


def float64_default(est, X):
    plain = quiet(lambda: AE().fit(X)).transform(X)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        codes = est.fit(X).transform(X)
    finally:
        torch.set_default_dtype(previous)
    same = np.array_equal(codes, plain)
    weights = est.module_.encoder[0].weight.dtype
    return f"codes {codes.dtype}, equal a plain fit's: {same}; weights {weights}"


ARRAY_API_CASES = {}  # run in one child process, where SCIPY_ARRAY_API=1


def array_api(name, code, make_est):
    """A row: fit under array API dispatch, in the child process."""

    def call(est, X):
        with sklearn.config_context(array_api_dispatch=True):
            return est.fit(X).sample(4)

    ARRAY_API_CASES[name] = fresh(make_est, call)
    return name, code, lambda X: array_api_results(len(X))[name]


@cache
def array_api_results(n_rows):
    # SCIPY_ARRAY_API is read when scipy is imported: a fresh process.
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    args = [sys.executable, __file__, "--array-api", "--rows", str(n_rows)]
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    if out.returncode:
        failed = (f"child process failed: {short(out.stderr[-MAX_MESSAGE:])}", "?")
        return dict.fromkeys(ARRAY_API_CASES, failed)
    return json.loads(out.stdout.splitlines()[-1])


def far_scores(method, **kwargs):
    """``method`` on rows of 1e4, 1e20 and 3e38, as numbers."""

    def call(est, X):
        rows = np.repeat([[1e4], [1e20], [3e38]], X.shape[1], axis=1)
        scores = getattr(est, method)(rows, **kwargs)
        finite = "all finite" if np.isfinite(scores).all() else "NOT ALL FINITE"
        return f"[{', '.join(f'{s:.3g}' for s in scores)}], {finite}"

    return call


def offset(est, X):
    codes = quiet(lambda: AE().fit(X)).transform(X)
    diff = np.abs(est.fit(X + 1e6).transform(X + 1e6) - codes).max()
    return f"max abs difference of the codes {diff:.2g} (their std {codes.std():.2g})"


def as_frame(X):
    return pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])


def renamed(X):
    return as_frame(X).rename(columns={"p0": "other"})


# ------------------------------------------------------------- model files
class Payload:
    """Unpickling it creates ``marker``: what a malicious pickle could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def written(data, name="model.safetensors"):
    path = TMP / name
    path.write_bytes(data)
    return path


def saved(X):
    path = TMP / "model.safetensors"
    save(quiet(lambda: AE().fit(X)), path)
    return path


def truncated(X):
    data = saved(X).read_bytes()
    return written(data[: len(data) // 2])


def torch_saved(X):
    torch.save(quiet(lambda: AE().fit(X)), TMP / "model.pt")
    return TMP / "model.pt"


def foreign(X):
    save_file({"weight": np.zeros((2, 2), np.float32)}, TMP / "weights.safetensors")
    return TMP / "weights.safetensors"


def tampered(change):
    """A saved model's file after ``change(metadata, arrays)``."""

    def make(X):
        with safe_open(saved(X), framework="numpy") as f:
            metadata = dict(f.metadata())
            arrays = {key: f.get_tensor(key) for key in f.keys()}
        change(metadata, arrays)
        save_file(arrays, TMP / "tampered.safetensors", metadata=metadata)
        return TMP / "tampered.safetensors"

    return make


def class_os_system(metadata, arrays):
    metadata["class"] = "os.system"


def reduce_in_params(metadata, arrays):
    params = json.loads(metadata["params"])
    params["n_components"] = {"__reduce__": ["os.system", ["touch pwned"]]}
    metadata["params"] = json.dumps(params)


def nan_weights(metadata, arrays):
    arrays["module_.encoder.0.weight"][:] = np.nan


def loads(make_path):
    """``skae.load`` of the file ``make_path(X)``."""

    def run(X):
        path = make_path(X)
        outcome = attempt(lambda: load(path))
        if not outcome.startswith("returns"):
            return outcome, "nothing returned"
        return outcome, state(load(path), X)

    return run


def pickle_payload(X):
    marker = TMP / "pwned"
    path = written(pickle.dumps(Payload(marker)))
    return attempt(lambda: load(path)), f"payload ran (file created): {marker.exists()}"


def save_in_missing_folder(X):
    est = quiet(lambda: AE().fit(X))
    path = TMP / "missing" / "model.safetensors"
    return attempt(lambda: save(est, path)), f"file written: {path.exists()}"


def save_unfitted(X):
    path = TMP / "unfitted.safetensors"
    return attempt(lambda: save(AE(), path)), f"file written: {path.exists()}"


def joblib_mmap(X):
    est = quiet(lambda: AE().fit(X))
    path = TMP / "model.joblib"
    joblib.dump(est, path)

    def call():
        again = joblib.load(path, mmap_mode="r")
        same = np.array_equal(again.transform(X), est.transform(X))
        memmap = isinstance(again.mean_, np.memmap)
        return f"mean_ is a memmap: {memmap}; transform equals the original's: {same}"

    return attempt(call), state(quiet(lambda: joblib.load(path, mmap_mode="r")), X)


# ------------------------------------------------------------------- cases
BERNOULLI = partial(VAE, likelihood="bernoulli")
# One row per case: (case, what was tried, function of X -> (outcome, state)).
# fmt: off
SECTIONS = {
    "Bad input to fit": [
        ("NaN in X", "AE().fit(X), X[0, 0] = nan", fits(AE, with_nan)),
        ("inf in X", "AE().fit(X), X[0, 0] = inf", fits(AE, with_inf)),
        ("above float32's max", "AE().fit(X), X[0, 0] = 1e39", fits(AE, with_1e39)),
        ("complex X", "AE().fit(X + 1j)", fits(AE, lambda X: X + 1j)),
        ("sparse X", "AE().fit(csr_matrix(X))", fits(AE, sparse.csr_matrix)),
        ("sparse X with NaN", "AE().fit(csr_matrix(X)), X[0, 0] = nan",
         fits(AE, lambda X: sparse.csr_matrix(with_nan(X)))),
        ("sparse X above float32's max", "AE().fit(csr_matrix(X)), X[0, 0] = 1e39",
         fits(AE, lambda X: sparse.csr_matrix(with_1e39(X)))),
        ("strings", "AE().fit([['a', 'b']] * 10)",
         fits(AE, lambda X: [["a", "b"]] * 10)),
        ("1-D X", "AE().fit(X[:, 0])", fits(AE, lambda X: X[:, 0])),
        ("0 rows", "AE().fit(X[:0])", fits(AE, lambda X: X[:0])),
        ("0 features", "AE().fit(X[:, :0])", fits(AE, lambda X: X[:, :0])),
        ("1 row", "AE().fit(X[:1])", fits(AE, lambda X: X[:1])),
        ("all rows equal", "AE().fit(np.ones((20, 4)))",
         fits(AE, lambda X: np.ones((20, 4)))),
        ("Bernoulli, X outside [0, 1]", "VAE(likelihood='bernoulli').fit(X)",
         fits(BERNOULLI)),
        ("Bernoulli, sparse X outside [0, 1]",
         "VAE(likelihood='bernoulli').fit(csr_matrix(X))",
         fits(BERNOULLI, sparse.csr_matrix)),
        ("Bernoulli with scaling",
         "VAE(likelihood='bernoulli', scaling='standard').fit(X / 16)",
         fits(partial(BERNOULLI, scaling="standard"), in_unit_range)),
    ],
    "Bad parameters": [
        ("n_components=0", "AE(n_components=0).fit(X)",
         fits(partial(AE, n_components=0))),
        ("n_components > n_features", "AE(n_components=100).fit(X)",
         fits(partial(AE, n_components=100))),
        ("hidden_layer_sizes=(0,)", "AE(hidden_layer_sizes=(0,)).fit(X)",
         fits(partial(AE, hidden_layer_sizes=(0,)))),
        ("hidden_layer_sizes=(8.5,)", "AE(hidden_layer_sizes=(8.5,)).fit(X)",
         fits(partial(AE, hidden_layer_sizes=(8.5,)))),
        ("activation='foo'", "AE(activation='foo').fit(X)",
         fits(partial(AE, activation="foo"))),
        ("device='cuda'",
         f"AE(device='cuda').fit(X), CUDA available: {torch.cuda.is_available()}",
         fits(partial(AE, device="cuda"))),
        ("batch_size=0", "AE(batch_size=0).fit(X)", fits(partial(AE, batch_size=0))),
        ("batch_size > n_samples", "AE(batch_size=10**6).fit(X)",
         fits(partial(AE, batch_size=10**6))),
        ("no rows left to train on",
         "AE(early_stopping=True, validation_fraction=0.9).fit(X[:5])",
         fits(partial(AE, early_stopping=True, validation_fraction=0.9),
              lambda X: X[:5])),
        ("warm start, new architecture",
         "ae.set_params(warm_start=True, n_components=3).fit(X)",
         fitted(AE, lambda est, X: est.set_params(warm_start=True, n_components=3)
                .fit(X))),
        ("warm start, other features", "ae.set_params(warm_start=True).fit(X[:, :10])",
         fitted(AE, lambda est, X: est.set_params(warm_start=True).fit(X[:, :10]))),
    ],
    "Training faults": [
        ("divergence, unfitted AE", "AE(learning_rate_init=1e12).fit(X * 1e3)",
         fits(partial(AE, learning_rate_init=1e12), lambda X: X * 1e3)),
        ("divergence, unfitted VAE", "VAE(learning_rate_init=1e12).fit(X * 1e3)",
         fits(partial(VAE, learning_rate_init=1e12), lambda X: X * 1e3)),
        ("divergence, refit", "ae.set_params(learning_rate_init=1e12).fit(X * 1e3)",
         fitted(AE, refit_diverging)),
        ("divergence, warm-start refit", "the same, ae fitted with warm_start=True",
         fitted(partial(AE, warm_start=True), refit_diverging)),
        ("Ctrl-C in epoch 1",
         "AE(max_iter=4).fit(X), 2nd train_step raises KeyboardInterrupt",
         fresh(partial(AE, max_iter=4), interrupted(2))),
        ("Ctrl-C in epoch 3",
         "AE(max_iter=4).fit(X), 1st step of epoch 3 raises KeyboardInterrupt",
         fresh(partial(AE, max_iter=4), interrupted(in_epoch_3))),
        ("Ctrl-C in epoch 1 of a refit",
         "ae.fit(2 * X), 2nd train_step raises KeyboardInterrupt",
         fitted(AE, interrupted(2, lambda X: 2 * X))),
        ("Ctrl-C in epoch 3 of a refit",
         "ae.fit(2 * X), 1st step of epoch 3 raises KeyboardInterrupt",
         fitted(partial(AE, max_iter=4), interrupted(in_epoch_3, lambda X: 2 * X))),
    ],
    "The caller's torch and scikit-learn settings": [
        ("under torch.no_grad()", "with torch.no_grad(): AE().fit(X).transform(X)",
         fresh(AE, under(torch.no_grad))),
        ("under torch.inference_mode()", "with torch.inference_mode(): the same",
         fresh(AE, under(torch.inference_mode))),
        ("default dtype float64",
         "torch.set_default_dtype(torch.float64); AE().fit(X).transform(X)",
         fresh(AE, float64_default)),
        array_api("array API dispatch, AE",
                  "with config_context(array_api_dispatch=True): AE().fit(X).sample(4)",
                  AE),
        array_api("array API dispatch, VAE", "the same with VAE()", VAE),
    ],
    "Bad input to a fitted model": [
        ("before fit: transform", "AE().transform(X)", fresh(AE, calls("transform"))),
        ("before fit: score", "AE().score(X)", fresh(AE, calls("score"))),
        ("before fit: sample", "VAE().sample(3)",
         fresh(VAE, lambda est, X: est.sample(3))),
        ("NaN at transform", "ae.transform(X), X[0, 0] = nan",
         fitted(AE, calls("transform", with_nan))),
        ("inf at score_samples", "ae.score_samples(X), X[0, 0] = inf",
         fitted(AE, calls("score_samples", with_inf))),
        ("above float32's max at transform", "ae.transform(X), X[0, 0] = 1e39",
         fitted(AE, calls("transform", with_1e39))),
        ("sparse X at transform", "ae.transform(csr_matrix(X))",
         fitted(AE, calls("transform", sparse.csr_matrix))),
        ("1-D X at transform", "ae.transform(X[0])",
         fitted(AE, calls("transform", lambda X: X[0]))),
        ("0 rows at transform", "ae.transform(X[:0])",
         fitted(AE, calls("transform", lambda X: X[:0]))),
        ("wrong number of features", "ae.transform(X[:, :10])",
         fitted(AE, calls("transform", lambda X: X[:, :10]))),
        ("wrong number of components", "ae.inverse_transform(np.zeros((3, 5)))",
         fitted(AE, calls("inverse_transform", lambda X: np.zeros((3, 5))))),
        ("NaN codes", "ae.inverse_transform([[nan, 0]])",
         fitted(AE, calls("inverse_transform", lambda X: [[np.nan, 0.0]]))),
        ("renamed DataFrame columns",
         "AE().fit(df).transform(df.rename(columns={'p0': 'other'}))",
         fitted(AE, calls("transform", renamed), as_frame)),
        ("ndarray after a DataFrame", "AE().fit(df).transform(X)",
         fitted(AE, calls("transform"), as_frame)),
        ("Bernoulli, X outside [0, 1]: score",
         "VAE(likelihood='bernoulli').fit(X / 16).score(X)",
         fitted(BERNOULLI, calls("score"), in_unit_range)),
        ("Bernoulli, X outside [0, 1]: transform",
         "VAE(likelihood='bernoulli').fit(X / 16).transform(X)",
         fitted(BERNOULLI, calls("transform"), in_unit_range)),
        ("fitted on 1 row: transform", "AE().fit(X[:1]).transform(X)",
         fitted(AE, calls("transform"), lambda X: X[:1])),
        ("fitted on 1 row: sample", "AE().fit(X[:1]).sample(3)",
         fitted(AE, lambda est, X: est.sample(3), lambda X: X[:1])),
        ("sample(0)", "vae.sample(0)", fitted(VAE, lambda est, X: est.sample(0))),
        ("log_likelihood(n_samples=0)", "vae.log_likelihood(X, n_samples=0)",
         fitted(VAE, calls("log_likelihood", n_samples=0))),
    ],
    "Numerics": [
        ("far rows: AE score_samples", "ae.score_samples(rows of 1e4, 1e20, 3e38)",
         fitted(AE, far_scores("score_samples"))),
        ("far rows: VAE score_samples", "vae.score_samples(the same rows)",
         fitted(VAE, far_scores("score_samples"))),
        ("far rows: VAE log_likelihood", "vae.log_likelihood(the same, n_samples=8)",
         fitted(VAE, far_scores("log_likelihood", n_samples=8))),
        ("offset of 1e6",
         "AE().fit(X + 1e6).transform(X + 1e6) vs AE().fit(X).transform(X)",
         fresh(AE, offset)),
    ],
    "Saving and loading": [
        ("save an unfitted model", "skae.save(AE(), path)", save_unfitted),
        ("save into a missing folder", "skae.save(ae, 'missing/model.safetensors')",
         save_in_missing_folder),
        ("load a pickle with a payload",
         "skae.load(path), path a pickle that creates a file", pickle_payload),
        ("load an empty file", "skae.load(path), path an empty file",
         loads(lambda X: written(b""))),
        ("load a truncated file", "skae.load(path), path half a saved model",
         loads(truncated)),
        ("load a missing file", "skae.load('missing.safetensors')",
         loads(lambda X: TMP / "missing.safetensors")),
        ("load a torch.save file", "torch.save(ae, path); skae.load(path)",
         loads(torch_saved)),
        ("load a foreign safetensors file",
         "save_file({'weight': np.zeros((2, 2))}, path); skae.load(path)",
         loads(foreign)),
        ("load: class os.system", "a saved model, metadata['class'] = 'os.system'",
         loads(tampered(class_os_system))),
        ("load: __reduce__ in params",
         "a saved model, params['n_components'] = "
         "{'__reduce__': ['os.system', ['touch pwned']]}",
         loads(tampered(reduce_in_params))),
        ("load: NaN weights", "a saved model, module_.encoder.0.weight = nan",
         loads(tampered(nan_weights))),
        ("load a saved model", "skae.load(path) after skae.save(ae, path)",
         loads(saved)),
        ("joblib.load(mmap_mode='r')",
         "joblib.dump(ae, path); joblib.load(path, mmap_mode='r').transform(X)",
         joblib_mmap),
    ],
}
# fmt: on
CASES = {
    name: (section, code, run)
    for section, rows in SECTIONS.items()
    for name, code, run in rows
}


# -------------------------------------------------------------------- page
def md(text: str) -> str:
    """Plain text for a Markdown table cell: markup characters escaped."""
    return re.sub(r"([\\`*_<\[\]|])", r"\\\1", text)


def page(results: dict, n_rows: int, seconds: float) -> str:
    lines = [
        "# Failures and bad input",
        "",
        f"Generated by `python benchmarks/failure_table.py` on {date.today()} in "
        f"{seconds:.0f} s; regenerate with `python benchmarks/failure_table.py`.",
        "",
        "What each bad input, bad parameter and fault gives you, as recorded by "
        "running it against the current code: the script catches the exception "
        "(type and the first 160 characters of its message) or records the "
        "warnings and the result, then looks at the estimator. Nothing here is "
        "written by hand. `AE(...)` is `AutoencoderTransformer(hidden_layer_sizes="
        "(8,), max_iter=2, device='cpu', random_state=0, ...)`, `VAE(...)` the "
        f"same `VAETransformer`, `X` {n_rows} rows of scikit-learn's digits (64 "
        "features, float64), `ae` and `vae` such estimators fitted on `X`. Their "
        "other parameters are the defaults before skae's data-adaptive ones "
        "(ReLU, no input noise, adaptive schedule, learning rate 1e-3, no "
        "`pca_path`, VAE beta 1), with today's `batch_size='auto'`. The "
        "`ConvergenceWarning` that every 2-epoch fit raises is left out. "
        '"unfitted" means that no attribute was set, "previous model kept" '
        "that every fitted attribute is bit for bit what it was before the call.",
        "",
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"CUDA available: {torch.cuda.is_available()}.",
    ]
    for section, rows in SECTIONS.items():
        lines += ["", f"## {section}", ""]
        lines += ["| case | what was tried | what you get | state afterwards |"]
        lines += ["|---|---|---|---|"]
        for name, code, _ in rows:
            outcome, after = results[name]
            cells = [
                md(name),
                "`" + code.replace("|", "\\|") + "`",
                md(outcome),
                md(after),
            ]
            lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 rows of digits")
    default = ROOT / "docs" / "reliability.md"
    parser.add_argument("--out", type=Path, default=default, help="the page to write")
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--array-api", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = args.rows or (300 if args.quick else None)
    X = load_digits().data[:rows]
    torch.set_num_threads(1)  # tiny models; threads only contend on a busy machine
    TMP.mkdir()
    try:
        if args.array_api:  # the child process of array_api_results
            print(json.dumps({name: run(X) for name, run in ARRAY_API_CASES.items()}))
            return
        start = time.perf_counter()
        results = {}
        for name, (_, _, run) in CASES.items():
            results[name] = run(X)
            print(f"{name}: {' / '.join(results[name])}", flush=True)
        args.out.write_text(page(results, len(X), time.perf_counter() - start))
        print(f"wrote {args.out} ({len(results)} cases)")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
