"""ONNX export: the exported transform and inverse_transform match skae's."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import (
    AutoencoderTransformer,
    ConditionalVAETransformer,
    VAETransformer,
    register_skl2onnx,
    to_onnx,
)

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(32,), max_iter=3, device="cpu", random_state=0)


def run(model, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString())
    name = session.get_inputs()[0].name
    return session.run(None, {name: X})[0]


def close(a: np.ndarray, b: np.ndarray) -> None:
    """Equal to float32 rounding: the exported graph sums in its own order."""
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


@pytest.fixture(scope="module")
def X(digits):
    return digits[0][:400].astype(np.float32)


@pytest.mark.parametrize(
    "model",
    [
        AutoencoderTransformer(5, **FAST),  # pca_path="auto": the PCA path
        AutoencoderTransformer(5, pca_path=False, activation="tanh", **FAST),
        VAETransformer(3, **FAST),
        VAETransformer(3, likelihood="bernoulli", **FAST),
        VAETransformer(3, likelihood="multinomial", **FAST),
    ],
    ids=["ae-pca-path", "ae-tanh", "vae", "vae-bernoulli", "vae-multinomial"],
)
def test_exported_methods_match_the_estimator(model, X):
    data = X / 16 if model.get_params().get("likelihood") == "bernoulli" else X
    model.fit(data)
    codes = model.transform(data)
    exported = run(to_onnx(model), data)
    assert exported.dtype == np.float32 and exported.shape == codes.shape
    close(exported, codes)
    close(
        run(to_onnx(model, "inverse_transform"), codes), model.inverse_transform(codes)
    )
    # Any number of rows, one included.
    close(run(to_onnx(model), data[:1]), codes[:1])


def test_convolutional_model_exports(X):
    model = AutoencoderTransformer(
        4, architecture="conv", image_shape=(8, 8), **FAST
    ).fit(X)
    codes = model.transform(X)
    close(run(to_onnx(model), X), codes)
    close(
        run(to_onnx(model, "inverse_transform"), codes), model.inverse_transform(codes)
    )


def test_pipeline_converts_whole_with_skl2onnx(digits):
    X_train, X_test, y_train, _ = digits
    X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    pipe = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(8, **FAST),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    register_skl2onnx()
    model = skl2onnx.to_onnx(
        pipe, X_train[:1], options={LogisticRegression: {"zipmap": False}}
    )
    session = ort.InferenceSession(model.SerializeToString())
    labels, proba = session.run(None, {"X": X_test})
    expected = pipe.predict_proba(X_test)
    np.testing.assert_allclose(proba, expected, atol=1e-4)
    np.testing.assert_array_equal(labels, pipe.predict(X_test))


def test_float64_input_is_cast_and_back(X):
    model = VAETransformer(3, **FAST).fit(X)
    register_skl2onnx()
    data = X.astype(np.float64)
    converted = skl2onnx.to_onnx(model, data[:1])
    codes = run(converted, data)
    assert codes.dtype == np.float64
    close(codes, model.transform(data))


def test_large_offsets_and_integer_input_through_skl2onnx(X):
    register_skl2onnx()
    shifted = X.astype(np.float64) + 1e6  # centred in float64, as skae does
    model = AutoencoderTransformer(3, **FAST).fit(shifted)
    codes = run(skl2onnx.to_onnx(model, shifted[:1]), shifted)
    close(codes, model.transform(shifted))
    counts = X.astype(np.int64)
    model = AutoencoderTransformer(3, **FAST).fit(counts)
    codes = run(skl2onnx.to_onnx(model, counts[:1]), counts)
    assert codes.dtype == np.float32
    close(codes, model.transform(counts.astype(np.float32)))
    with pytest.raises(ValueError, match="target_opset >= 18"):
        skl2onnx.to_onnx(model, counts[:1], target_opset=15)


def test_what_cannot_be_exported(X, digits):
    with pytest.raises(ValueError, match="method must be one of"):
        to_onnx(AutoencoderTransformer(2, **FAST).fit(X), "score_samples")
    with pytest.raises(NotFittedError):
        to_onnx(AutoencoderTransformer(2))
    with pytest.raises(TypeError, match="got PCA"):
        to_onnx(PCA(2).fit(X))
    cvae = ConditionalVAETransformer(2, **FAST).fit(X, digits[2][:400])
    with pytest.raises(TypeError, match="read the label"):
        to_onnx(cvae)


@pytest.mark.slow
def test_bench_onnx_quick(tmp_path):
    out, page = tmp_path / "onnx.json", tmp_path / "onnx.md"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_onnx.py"
    cmd = [sys.executable, str(script), "--quick", "--json", out, "--output", page]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["pipeline"]["equal"] == results["pipeline"]["rows"] == 450
    assert len(results["gaps"]) == 4
    assert (
        max(max(r["codes_gap"], r["reconstruction_gap"]) for r in results["gaps"])
        < 1e-5
    )
    assert all(r["onnx_ms"] > 0 and r["skae_ms"] > 0 for r in results["timings"])
    assert "| AutoencoderTransformer | conv |" in page.read_text()
