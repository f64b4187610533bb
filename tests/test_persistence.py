"""Safe persistence: save/load round trips, and files that must be refused."""

import copy
import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.exceptions import NotFittedError

import skae._estimators.base
from skae import AutoencoderTransformer, VAETransformer
from skae._io import load, save
from skae._io.digests import _metadata_digest, _tensor_digest
from skae._io.json_tags import _from_json, _to_json

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)
BOTH = [AutoencoderTransformer, VAETransformer]


def make_X():
    return np.random.RandomState(0).normal(size=(60, 6))


@pytest.fixture(scope="module")
def fitted():
    """One fitted estimator per class, shared: tests must not modify them."""
    X = make_X()
    return {Est: Est(**FAST).fit(X) for Est in BOTH}


@pytest.fixture
def saved_ae(fitted, tmp_path):
    path = tmp_path / "ae.safetensors"
    save(fitted[AutoencoderTransformer], path)
    return path


def read_file(path):
    """The metadata and arrays of a safetensors file."""
    with safe_open(path, framework="numpy") as f:
        return dict(f.metadata()), {key: f.get_tensor(key) for key in f.keys()}


def stamp(metadata, arrays):
    """Record the digests of ``metadata`` and ``arrays`` as save does."""
    metadata["tensors_sha256"] = _tensor_digest(arrays)
    metadata["metadata_sha256"] = _metadata_digest(metadata)


def rewrite(src, dst, change, restamp=True):
    """Write ``src`` again as ``dst`` after ``change(metadata, arrays)``.

    With ``restamp`` the digests are recomputed, as someone who forges a file
    would: what is refused is then the change itself, not its digest.
    """
    metadata, arrays = read_file(src)
    change(metadata, arrays)
    if restamp:
        stamp(metadata, arrays)
    save_file(arrays, dst, metadata=metadata)
    return dst


def assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    Z = a.transform(X[:7])
    np.testing.assert_array_equal(a.inverse_transform(Z), b.inverse_transform(Z))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    np.testing.assert_array_equal(
        a.sample(5, random_state=0), b.sample(5, random_state=0)
    )


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_round_trip_is_bit_identical(Est, fitted, tmp_path):
    X = make_X()
    est = fitted[Est]
    path = tmp_path / "model.safetensors"
    save(est, path)
    loaded = load(path)

    assert type(loaded) is Est
    assert loaded is not est
    assert_same_model(est, loaded, X)
    assert loaded.get_params() == est.get_params()
    assert loaded.hidden_layer_sizes == (16,)
    assert isinstance(loaded.hidden_layer_sizes, tuple)
    assert loaded._fitted_architecture == est._fitted_architecture
    assert isinstance(loaded._fitted_architecture[1], tuple)
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.best_loss_ == est.best_loss_
    assert loaded.n_iter_ == est.n_iter_ == 3
    assert loaded.n_features_in_ == 6
    assert loaded.n_components_ == est.n_components_
    assert loaded.validation_loss_curve_ is None
    assert loaded.mean_.dtype == loaded.scale_.dtype == np.float64
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    assert all(p.dtype == torch.float32 for p in loaded.module_.parameters())
    assert not loaded.module_.training  # fit leaves the module in eval mode
    assert not hasattr(loaded, "feature_names_in_")
    if Est is VAETransformer:
        for a, b in zip(est.posterior(X), loaded.posterior(X), strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        gm, gm_loaded = est.latent_density_, loaded.latent_density_
        assert gm_loaded.random_state is None
        assert gm_loaded.get_params(deep=False) == dict(
            gm.get_params(deep=False), random_state=None
        )
        assert gm_loaded.converged_ == gm.converged_
        assert gm_loaded.n_iter_ == gm.n_iter_
        np.testing.assert_array_equal(gm_loaded.covariances_, gm.covariances_)
        codes = est.transform(X)
        np.testing.assert_array_equal(
            gm_loaded.score_samples(codes), gm.score_samples(codes)
        )


@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_round_trip_keeps_feature_names_and_output_config(Est, tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(make_X(), columns=[f"f{i}" for i in range(6)])
    est = Est(**FAST).set_output(transform="pandas").fit(X)
    path = tmp_path / "model.safetensors"
    save(est, path)
    loaded = load(path)

    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    np.testing.assert_array_equal(
        loaded.get_feature_names_out(), est.get_feature_names_out()
    )
    out = loaded.transform(X)
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, est.transform(X))
    # Feature-name checks still apply: renamed columns are rejected as before.
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(X.rename(columns={"f0": "other"}))


@pytest.mark.parametrize("Est", BOTH, ids=lambda c: c.__name__)
def test_loaded_model_continues_training_like_the_original(Est, fitted, tmp_path):
    X = make_X()
    est = copy.deepcopy(fitted[Est])
    path = tmp_path / "model.safetensors"
    save(est, path)
    loaded = load(path)

    est.set_params(warm_start=True).fit(X)
    loaded.set_params(warm_start=True).fit(X)
    assert loaded.n_iter_ == est.n_iter_ == 6
    assert loaded.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_params_changed_after_fit_still_load(fitted, tmp_path):
    # The module is rebuilt from the fitted architecture, not the params.
    X = make_X()
    est = copy.deepcopy(fitted[AutoencoderTransformer])
    est.set_params(n_components=5, hidden_layer_sizes=[4, 4], compile={"mode": "x"})
    path = tmp_path / "model.safetensors"
    save(est, path)
    loaded = load(path)
    assert loaded.get_params() == est.get_params()
    assert loaded.hidden_layer_sizes == [4, 4]  # lists stay lists
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_early_stopping_curves_round_trip(tmp_path):
    X = make_X()
    est = VAETransformer(**dict(FAST, early_stopping=True)).fit(X)
    path = tmp_path / "model.safetensors"
    save(est, path)
    loaded = load(path)
    assert isinstance(loaded.validation_loss_curve_, list)
    assert loaded.validation_loss_curve_ == est.validation_loss_curve_
    assert len(loaded.validation_loss_curve_) == 3


def test_missing_latent_density_round_trips(fitted, tmp_path):
    # A fit on a single sample leaves latent_density_=None.
    X = make_X()
    est = copy.deepcopy(fitted[AutoencoderTransformer])
    est.latent_density_ = None
    path = tmp_path / "model.safetensors"
    save(est, path)
    _, arrays = read_file(path)
    assert not [key for key in arrays if key.startswith("latent_density_")]
    loaded = load(path)
    assert loaded.latent_density_ is None
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_random_state_instance_is_stored_as_none_with_a_warning(tmp_path):
    X = make_X()
    est = AutoencoderTransformer(**dict(FAST, random_state=np.random.RandomState(0)))
    est.fit(X)
    path = tmp_path / "model.safetensors"
    with pytest.warns(UserWarning, match="RandomState instance"):
        save(est, path)
    assert isinstance(est.random_state, np.random.RandomState)  # left alone
    loaded = load(path)
    assert loaded.random_state is None
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_saved_in_another_process(tmp_path):
    path = tmp_path / "model.safetensors"
    code = textwrap.dedent(
        f"""
        import sys
        import warnings
        import numpy as np
        from skae import AutoencoderTransformer
        from skae._io import save
        warnings.simplefilter("ignore")
        X = np.random.RandomState(0).normal(size=(60, 6))
        save(AutoencoderTransformer(**{FAST!r}).fit(X), sys.argv[1])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    X = make_X()
    loaded = load(path)
    assert_same_model(AutoencoderTransformer(**FAST).fit(X), loaded, X)


def test_tags_round_trip_and_nothing_else_is_tagged():
    value = {
        "t": (1, (2.5, "a"), []),
        "f": [float("inf"), -float("inf"), 1e300],
        "n": None,
        "b": True,
        "np": (np.int64(3), np.float32(0.5), np.bool_(False)),
    }
    text = json.dumps(_to_json(value, "v"), allow_nan=False)
    back = _from_json(json.loads(text), "v")
    assert back == {**value, "np": (3, 0.5, False)}
    assert type(back["np"][0]) is int and type(back["np"][2]) is bool
    assert isinstance(back["t"][1], tuple) and isinstance(back["t"][2], list)
    nan = _from_json(json.loads(json.dumps(_to_json(float("nan"), "v"))), "v")
    assert np.isnan(nan)
    with pytest.raises(TypeError, match="reserved"):
        _to_json({"__tuple__": [1]}, "v")
    for payload in (
        {"__reduce__": ["os.system", ["echo"]]},
        {"__tuple__": [1], "x": 2},
        {"__float__": "1e999"},
        {"__tuple__": "ab"},
    ):
        with pytest.raises(ValueError, match="reserved for the tags"):
            _from_json(payload, "v")


# ----------------------------------------------------------- refused on save
def test_unfitted_estimator_cannot_be_saved(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(NotFittedError):
        save(AutoencoderTransformer(), path)
    assert not path.exists()


def test_what_is_not_plain_data_cannot_be_saved(fitted, tmp_path):
    path = tmp_path / "model.safetensors"
    est = copy.deepcopy(fitted[VAETransformer])
    with pytest.raises(TypeError, match=r"params\['compile'\]\['backend'\]"):
        save(est.set_params(compile={"backend": len}), path)
    with pytest.raises(TypeError, match=r"params\['hidden_layer_sizes'\].*ndarray"):
        save(est.set_params(compile=False, hidden_layer_sizes=np.array([16])), path)
    est.set_params(hidden_layer_sizes=(16,))
    est.notes_ = "mine"
    with pytest.raises(TypeError, match="attribute 'notes_'"):
        save(est, path)
    del est.notes_

    class MyVAE(VAETransformer):
        pass

    mine = MyVAE()
    vars(mine).update(vars(est))
    with pytest.raises(TypeError, match="only AutoencoderTransformer, VAETransf"):
        save(mine, path)
    assert not path.exists()
    save(est, path)  # what is left is fine


def test_save_refuses_a_model_that_would_not_load(fitted, tmp_path):
    est = copy.deepcopy(fitted[AutoencoderTransformer])
    with torch.no_grad():
        est.module_.encoder[0].weight[0, 0] = float("nan")
    path = tmp_path / "model.safetensors"
    with pytest.raises(ValueError, match="non-finite"):
        save(est, path)
    assert not path.exists()


# ----------------------------------------------------------- refused on load
class Payload:
    """Unpickling it creates ``marker``: what a malicious pickle could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="pickle") as info:
        load(path)
    assert "cannot load" in str(info.value)
    assert not marker.exists()
    # The payload is live: unpickling the same file does run it.
    pickle.loads(path.read_bytes()).close()
    assert marker.exists()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "only 0 bytes"),
        (b"not a model", "not a safetensors file"),
        (
            b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all",
            "not a valid safetensors",
        ),
    ],
    ids=["empty", "text", "bad-header"],
)
def test_files_that_are_not_safetensors_are_refused(content, match, tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"weight": np.zeros((2, 2), np.float32)}, path)
    with pytest.raises(ValueError, match=r"not a skae file.*no 'format' key"):
        load(path)


def edit_json(key, edit):
    """A ``change`` for ``rewrite`` that edits the JSON metadata entry ``key``."""

    def change(metadata, arrays):
        value = json.loads(metadata[key])
        edit(value)
        metadata[key] = json.dumps(value)

    return change


def set_meta(**values):
    def change(metadata, arrays):
        metadata.update(values)

    return change


def drop_meta(key):
    def change(metadata, arrays):
        del metadata[key]

    return change


def set_array(key, value):
    def change(metadata, arrays):
        arrays[key] = value

    return change


def drop_array(key):
    def change(metadata, arrays):
        del arrays[key]

    return change


REDUCE = {"__reduce__": ["os.system", ["touch pwned"]]}
W = "module_.encoder.0.weight"

TAMPERED = {
    # the class: only the three estimators, looked up by name in a dict
    "class-os.system": (set_meta(**{"class": "os.system"}), "class 'os.system' is not"),
    "class-eval": (set_meta(**{"class": "builtins.eval"}), "'builtins.eval' is not"),
    "class-qualified": (
        set_meta(**{"class": "skae._estimators.autoencoder.AutoencoderTransformer"}),
        "is not allowed",
    ),
    "class-base": (set_meta(**{"class": "_BaseAutoencoder"}), "is not allowed"),
    "class-mixture": (set_meta(**{"class": "GaussianMixture"}), "is not allowed"),
    # the header
    "format-missing": (drop_meta("format"), "not a skae file.*no 'format' key"),
    "format-other": (set_meta(format="pickle"), "not a skae file.*'pickle'"),
    "format-version": (set_meta(format_version="3"), "unsupported format_version '3'"),
    "format-1-with-digests": (
        set_meta(format_version="1"),
        r"keys save never writes.*\['metadata_sha256', 'tensors_sha256'\]",
    ),
    "metadata-extra": (set_meta(loader="pickle"), r"unknown \['loader'\]"),
    "metadata-missing": (drop_meta("attributes"), r"missing \['attributes'\]"),
    # params
    "param-reduce-tag": (
        edit_json("params", lambda p: p.update(n_components=REDUCE)),
        r"params\['n_components'\].*'__reduce__'.*reserved",
    ),
    "param-reduce-in-dict": (
        edit_json("params", lambda p: p.update(compile={"backend": REDUCE})),
        r"params\['compile'\]\['backend'\].*reserved",
    ),
    "param-jsonpickle": (
        edit_json("params", lambda p: p.update(n_components={"py/reduce": "os"})),
        "params fail validation.*n_components",
    ),
    "param-unknown": (
        edit_json("params", lambda p: p.update(payload="os.system")),
        r"unknown params \['payload'\]",
    ),
    "param-missing": (
        edit_json("params", lambda p: p.pop("activation")),
        r"missing params \['activation'\]",
    ),
    "param-invalid": (
        edit_json("params", lambda p: p.update(activation="os.system")),
        "params fail validation.*activation",
    ),
    "param-bad-hidden": (
        edit_json("params", lambda p: p.update(hidden_layer_sizes=["x"])),
        "params fail validation.*hidden_layer_sizes",
    ),
    "params-not-json": (set_meta(params="{'a': 1}"), "params is not valid JSON"),
    "params-nan-constant": (
        set_meta(params='{"tol": NaN}'),
        "params holds NaN, which is not JSON",
    ),
    "params-duplicate": (
        set_meta(params='{"tol": 1, "tol": 2}'),
        "params repeats the key 'tol'",
    ),
    "params-not-object": (set_meta(params="[1, 2]"), "params must be a JSON object"),
    # attributes
    "attr-unknown": (
        edit_json("attributes", lambda a: a.update(extra_=1)),
        r"unknown attributes \['extra_'\]",
    ),
    "attr-reserved-key": (
        edit_json("attributes", lambda a: a.update(__class__="os.system")),
        "attributes holds the object .*'__class__'.* reserved",
    ),
    "attr-missing": (
        edit_json("attributes", lambda a: a.pop("loss_curve_")),
        r"missing attributes \['loss_curve_'\]",
    ),
    "attr-type": (
        edit_json("attributes", lambda a: a.update(n_features_in_="6")),
        "n_features_in_ must be an integer",
    ),
    "attr-architecture": (
        edit_json(
            "attributes",
            lambda a: a.update(_fitted_architecture={"__tuple__": [2, [16], "x"]}),
        ),
        "_fitted_architecture entries fail validation.*activation",
    ),
    "attr-huge-int": (
        edit_json("attributes", lambda a: a.update(n_features_in_=2**70)),
        "cannot be built",
    ),
    "attr-huge-layer": (
        edit_json(
            "attributes",
            lambda a: a.update(
                _fitted_architecture={"__tuple__": [2, {"__tuple__": [2**64]}, "relu"]}
            ),
        ),
        "cannot be built",
    ),
    "attr-feature-names": (
        edit_json("attributes", lambda a: a.update(feature_names_in_=["a"])),
        "feature_names_in_ has 1 names for n_features_in_=6",
    ),
    "mixture-unknown-param": (
        edit_json("attributes", lambda a: a["latent_density_"]["params"].update(x=1)),
        r"unknown latent_density_ params \['x'\]",
    ),
    "mixture-shape": (
        edit_json(
            "attributes",
            lambda a: a["latent_density_"]["params"].update(covariance_type="diag"),
        ),
        "'latent_density_.covariances_' has shape .* expected shape",
    ),
    # tensors
    "tensor-extra": (
        set_array("payload", np.zeros(3, np.float32)),
        r"unexpected tensors \['payload'\]",
    ),
    "tensor-extra-module": (
        set_array("module_.encoder.9.weight", np.zeros((2, 2), np.float32)),
        r"unexpected tensors \['module_.encoder.9.weight'\]",
    ),
    "tensor-missing": (drop_array("scale_"), r"missing tensors \['scale_'\]"),
    "tensor-shape": (
        set_array(W, np.zeros((6, 16), np.float32)),
        rf"'{W}' has shape \(6, 16\).*expected shape \(16, 6\)",
    ),
    "tensor-dtype": (
        set_array(W, np.zeros((16, 6), np.float64)),
        rf"'{W}' .* dtype float64, expected .* dtype float32",
    ),
    "tensor-int": (
        set_array("mean_", np.zeros(6, np.int64)),
        "'mean_' .* dtype int64, expected .* dtype float64",
    ),
    "tensor-nan": (
        set_array(W, np.full((16, 6), np.nan, np.float32)),
        f"'{W}' holds non-finite values",
    ),
    "tensor-inf": (
        set_array("scale_", np.full(6, np.inf)),
        "'scale_' holds non-finite values",
    ),
}


@pytest.mark.parametrize("change, match", TAMPERED.values(), ids=TAMPERED.keys())
def test_tampered_file_is_refused(change, match, saved_ae, tmp_path):
    path = rewrite(saved_ae, tmp_path / "tampered.safetensors", change)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(info.value).startswith(f"cannot load {str(path)!r}: ")
    # Only the ValueError itself: no safetensors/json error chained to it.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_rewritten_but_untouched_file_still_loads(saved_ae, tmp_path):
    # The helper itself keeps files loadable: refusals above come from edits.
    path = rewrite(saved_ae, tmp_path / "same.safetensors", lambda m, a: None)
    X = make_X()
    np.testing.assert_array_equal(load(path).transform(X), load(saved_ae).transform(X))


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.01, 12], ids=str)
def test_truncated_file_is_refused(keep, saved_ae, tmp_path):
    data = saved_ae.read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[:n])
    with pytest.raises(ValueError, match="truncated"):
        load(path)


# ---------------------------------------------------------- more guarantees
def test_save_leaves_no_temporary_file_and_a_refused_save_keeps_the_old_file(
    fitted, tmp_path
):
    path = tmp_path / "model.safetensors"
    save(fitted[VAETransformer], path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    before = path.read_bytes()
    est = copy.deepcopy(fitted[AutoencoderTransformer])
    with torch.no_grad():
        est.module_.decoder[0].bias[0] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        save(est, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_bytes() == before
    assert type(load(path)) is VAETransformer


def test_torch_save_file_is_refused(fitted, tmp_path):
    path = tmp_path / "model.pt"
    torch.save(fitted[AutoencoderTransformer].module_.state_dict(), path)
    with pytest.raises(ValueError, match="zip archive"):
        load(path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_trained_model_loads_on_cpu(tmp_path):
    X = make_X()
    est = AutoencoderTransformer(**dict(FAST, device="cuda")).fit(X)
    path = tmp_path / "model.safetensors"
    save(est, path)
    loaded = load(path)
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    on_cpu = copy.deepcopy(est)
    on_cpu.module_.cpu()
    np.testing.assert_array_equal(loaded.transform(X), on_cpu.transform(X))
    np.testing.assert_allclose(loaded.transform(X), est.transform(X), rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_trained_model_unpickles_back_onto_the_gpu():
    X = make_X()
    est = VAETransformer(**dict(FAST, device="cuda")).fit(X)
    state = est.__getstate__()
    assert all(p.device.type == "cpu" for p in state["module_"].parameters())
    again = pickle.loads(pickle.dumps(est))
    assert all(p.device.type == "cuda" for p in again.module_.parameters())
    assert "_pickled_from" not in vars(again)
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))


def test_pickle_from_a_missing_device_unpickles_on_the_cpu(fitted, monkeypatch):
    # What a machine without the GPU sees of a GPU-fitted model's pickle.
    est = fitted[AutoencoderTransformer]
    state = dict(est.__getstate__(), _pickled_from="cuda:7")
    asked = []
    monkeypatch.setattr(
        skae._estimators.base,
        "_available",
        lambda device: asked.append(device) or False,
    )
    again = AutoencoderTransformer.__new__(AutoencoderTransformer)
    again.__setstate__(state)
    assert asked == [torch.device("cuda:7")]
    assert "_pickled_from" not in vars(again)
    assert all(p.device.type == "cpu" for p in again.module_.parameters())
    X = make_X()
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


def test_available_devices():
    assert skae._estimators.base._available(torch.device("cpu"))
    assert not skae._estimators.base._available(torch.device("cuda", 99))
    assert not skae._estimators.base._available(torch.device("meta"))


# Plain data as the parameters hold it: tuples, lists, str-keyed dicts, floats
# including infinities (NaN is tested above: it is not equal to itself).
plain_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(
            st.text(max_size=5).filter(lambda k: not k.startswith("__")),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(value=plain_data)
def test_tags_round_trip_any_plain_data(value):
    text = json.dumps(_to_json(value, "v"), allow_nan=False)
    back = _from_json(json.loads(text), "v")
    assert back == value
    assert repr(back) == repr(value)  # same types: tuples stay tuples, -0.0 too


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
def test_corrupted_file_loads_or_is_refused(edits, saved_ae):
    # Any bytes: load returns an estimator or refuses with its ValueError,
    # never another exception.
    data = bytearray(saved_ae.read_bytes())
    for where, byte in edits:
        data[min(int(where * len(data)), len(data) - 1)] = byte
    path = saved_ae.with_name("corrupted.safetensors")
    path.write_bytes(bytes(data))
    try:
        load(path)
    except ValueError as error:
        assert str(error).startswith(f"cannot load {str(path)!r}: ")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(2**62, 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "relu", "pandas", "full", "__tuple__"])
    | st.just({"__tuple__": []})
    | st.just({"__float__": "inf"}),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "transform", "params"]), inner)
        | st.lists(inner, max_size=3).map(lambda v: {"__tuple__": v})
    ),
    max_leaves=6,
)


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_json_in_params_or_attributes_loads_or_is_refused(data, saved_ae):
    metadata, arrays = read_file(saved_ae)
    key = data.draw(st.sampled_from(["params", "attributes"]))
    entry = json.loads(metadata[key])
    target = entry
    if key == "attributes" and data.draw(st.booleans()):
        target = entry["latent_density_"][
            data.draw(st.sampled_from(["params", "attributes"]))
        ]
    name = data.draw(st.sampled_from(sorted(target)))
    target[name] = data.draw(json_values)
    metadata[key] = json.dumps(target if target is entry else entry)
    stamp(metadata, arrays)
    path = saved_ae.with_name("edited.safetensors")
    save_file(arrays, path, metadata=metadata)
    try:
        load(path)
    except ValueError as error:
        assert str(error).startswith(f"cannot load {str(path)!r}: ")


# ------------------------------------------------------------ active units
def test_active_units_round_trip(fitted, tmp_path):
    vae = fitted[VAETransformer]
    path = tmp_path / "vae.safetensors"
    save(vae, path)
    loaded = load(path)
    np.testing.assert_array_equal(
        loaded.posterior_mean_variance_, vae.posterior_mean_variance_
    )
    assert loaded.posterior_mean_variance_.dtype == np.float64
    assert loaded.active_units_ == vae.active_units_


def test_files_from_before_active_units_load_without_them(fitted, tmp_path):
    path = tmp_path / "vae.safetensors"
    save(fitted[VAETransformer], path)

    def drop(attributes):
        del attributes["posterior_mean_variance_"], attributes["active_units_"]

    old = rewrite(path, tmp_path / "old.safetensors", edit_json("attributes", drop))
    loaded = load(old)
    assert not hasattr(loaded, "active_units_")
    assert_same_model(loaded, fitted[VAETransformer], make_X())


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda a: a.pop("active_units_"), r"missing attributes \['active_units_'\]"),
        (lambda a: a.update(active_units_=a["active_units_"] + 1), "differs"),
        (lambda a: a.update(posterior_mean_variance_=[1.0]), "n_components_=2"),
        (lambda a: a.update(posterior_mean_variance_=[-1.0, 0.5]), "non-negative"),
    ],
)
def test_inconsistent_active_units_are_refused(fitted, tmp_path, edit, match):
    path = tmp_path / "vae.safetensors"
    save(fitted[VAETransformer], path)
    bad = rewrite(path, tmp_path / "bad.safetensors", edit_json("attributes", edit))
    with pytest.raises(ValueError, match=match):
        load(bad)
