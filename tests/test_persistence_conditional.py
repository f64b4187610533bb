"""skae.save / skae.load of ConditionalVAETransformer: labels and all."""

import copy
import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from skae import ConditionalVAETransformer, VAETransformer, load, save
from skae._io.digests import _metadata_digest, _tensor_digest

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)


def labels(y, kind):
    """The digits' labels as users pass them: ints, str, object, float, bool."""
    return {
        "int": y,
        "str": np.array(["zero", "one", "two", "three", "four"])[y % 5],
        "object": np.array([f"d{v}" for v in y], dtype=object),
        "float": y.astype(np.float64) * 10,
        "bool": y < 5,
        "uint8": y.astype(np.uint8),
    }[kind]


@pytest.fixture(scope="module")
def data(digits):
    X_train, X_test, y_train, y_test = digits
    return X_train[:150], y_train[:150], X_test[:20], y_test[:20]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return ConditionalVAETransformer(**FAST).fit(X, y)


def read_file(path):
    with safe_open(path, framework="numpy") as f:
        return dict(f.metadata()), {key: f.get_tensor(key) for key in f.keys()}


def edited(src, dst, edit):
    """``src`` with ``edit(attributes)`` applied, digests recomputed (a forgery)."""
    metadata, arrays = read_file(src)
    attributes = json.loads(metadata["attributes"])
    edit(attributes)
    metadata["attributes"] = json.dumps(attributes)
    metadata["tensors_sha256"] = _tensor_digest(arrays)
    metadata["metadata_sha256"] = _metadata_digest(metadata)
    save_file(arrays, dst, metadata=metadata)
    return dst


def assert_same_outputs(a, b, X, y):
    """Every output, with and without labels, bit for bit."""
    for kwargs in ({}, {"y": y}):
        Z = a.transform(X, **kwargs)
        np.testing.assert_array_equal(Z, b.transform(X, **kwargs))
        np.testing.assert_array_equal(
            a.inverse_transform(Z, **kwargs), b.inverse_transform(Z, **kwargs)
        )
        np.testing.assert_array_equal(
            a.score_samples(X, **kwargs), b.score_samples(X, **kwargs)
        )
        for mine, theirs in zip(
            a.posterior(X, **kwargs), b.posterior(X, **kwargs), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(
        a.sample(7, random_state=3), b.sample(7, random_state=3)
    )
    np.testing.assert_array_equal(
        a.sample(len(y), random_state=3, y=y), b.sample(len(y), random_state=3, y=y)
    )
    np.testing.assert_array_equal(a.class_posterior(X), b.class_posterior(X))


@pytest.mark.parametrize("kind", ["int", "str", "object", "float", "bool", "uint8"])
def test_round_trip_is_bit_identical(kind, data, tmp_path):
    X, y, X_test, y_test = data
    cvae = ConditionalVAETransformer(**FAST).fit(X, labels(y, kind))
    path = tmp_path / "cvae.safetensors"
    save(cvae, path)
    loaded = load(path)

    assert type(loaded) is ConditionalVAETransformer
    assert loaded.get_params() == cvae.get_params()
    assert loaded.classes_.dtype == cvae.classes_.dtype
    assert loaded.classes_.tolist() == cvae.classes_.tolist()
    for name in ("class_count_", "class_prior_", "posterior_mean_variance_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(cvae, name))
        assert getattr(loaded, name).dtype == np.float64
    assert loaded.active_units_ == cvae.active_units_
    assert_same_outputs(cvae, loaded, X_test, labels(y_test, kind))
    # Labels it never saw are still refused, naming the saved classes.
    with pytest.raises(ValueError, match="fit saw the classes"):
        loaded.sample(1, y="unseen")


def test_conv_round_trip_and_feature_names(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y, X_test, y_test = data
    columns = [f"p{i}" for i in range(64)]
    cvae = ConditionalVAETransformer(
        **dict(FAST, architecture="conv", image_shape=(8, 8), hidden_layer_sizes=(4,))
    ).set_output(transform="pandas")
    cvae.fit(pd.DataFrame(X, columns=columns), y)
    path = tmp_path / "conv.safetensors"
    save(cvae, path)
    loaded = load(path)
    frame = pd.DataFrame(X_test, columns=columns)
    pd.testing.assert_frame_equal(
        loaded.transform(frame, y=y_test), cvae.transform(frame, y=y_test)
    )
    np.testing.assert_array_equal(
        loaded.sample(4, random_state=0), cvae.sample(4, random_state=0)
    )


def test_partial_fit_continues_after_load(data, tmp_path):
    # A class declared but not yet seen (count 0) round trips, and the counts
    # go on accumulating in the loaded model as in the saved one (whose
    # optimizer state is not saved: the weights then part ways).
    X, y, X_test, y_test = data
    cvae = ConditionalVAETransformer(**FAST)
    cvae.partial_fit(X[:60], y[:60] % 3, classes=[0, 1, 2, 3])
    path = tmp_path / "stream.safetensors"
    save(cvae, path)
    loaded = load(path)
    assert loaded.class_count_.tolist() == cvae.class_count_.tolist()
    assert loaded.class_count_[3] == 0
    assert_same_outputs(cvae, loaded, X_test, y_test % 3)
    for est in (cvae, loaded):
        est.partial_fit(X[60:120], y[60:120] % 4)
    np.testing.assert_array_equal(loaded.class_count_, cvae.class_count_)
    assert loaded.class_count_[3] > 0


def test_loaded_model_continues_training_like_the_original(fitted, data, tmp_path):
    X, y, X_test, _ = data
    est = copy.deepcopy(fitted)
    path = tmp_path / "cvae.safetensors"
    save(est, path)
    loaded = load(path)
    for model in (est, loaded):
        model.set_params(warm_start=True).fit(X, y)
    assert loaded.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(loaded.transform(X_test), est.transform(X_test))


def test_a_vae_file_is_not_a_conditional_one(data, tmp_path):
    # The labels decide the module's shape: a VAE file renamed to the
    # conditional class, or given labels, is refused.
    X, _, _, _ = data
    path = tmp_path / "vae.safetensors"
    save(VAETransformer(**FAST).fit(X), path)
    metadata, arrays = read_file(path)
    metadata["class"] = "ConditionalVAETransformer"
    metadata["metadata_sha256"] = _metadata_digest(metadata)
    save_file(arrays, tmp_path / "renamed.safetensors", metadata=metadata)
    with pytest.raises(ValueError, match=r"missing attributes \['classes_'"):
        load(tmp_path / "renamed.safetensors")

    def add_labels(attributes):
        attributes["classes_"] = {"dtype": "<i8", "values": [0, 1]}

    forged = edited(path, tmp_path / "labelled.safetensors", add_labels)
    with pytest.raises(ValueError, match=r"unknown attributes \['classes_'\]"):
        load(forged)


def set_classes(dtype=None, values=None):
    def edit(attributes):
        if dtype is not None:
            attributes["classes_"]["dtype"] = dtype
        if values is not None:
            attributes["classes_"]["values"] = values

    return edit


DIGITS = list(range(10))
TAMPERED = {
    "classes-unsorted": (set_classes(values=[1, 0, *DIGITS[2:]]), "distinct sorted"),
    "classes-repeated": (set_classes(values=[0, 0, *DIGITS[2:]]), "distinct sorted"),
    "classes-too-few": (
        lambda a: a["classes_"]["values"].pop(),
        "for each of the 9 classes_",
    ),
    "classes-too-many": (
        lambda a: (
            a["classes_"]["values"].append(10),
            a["class_count_"].append(0.0),
            a["class_prior_"].append(0.0),
        ),
        r"the tensor 'module_\.\S+' has shape",
    ),
    "classes-big-endian": (set_classes(dtype=">i8"), "little-endian"),
    "classes-pickle-dtype": (set_classes(dtype="O:os.system"), "dtype must be"),
    "classes-void-dtype": (set_classes(dtype="|V8"), "dtype must be"),
    "classes-huge-str": (
        set_classes(dtype="<U999999", values=[f"{d:02}" for d in range(30)]),
        "more than the",
    ),
    "classes-not-held": (set_classes(dtype="|i1", values=[*DIGITS[:9], 300]), "holds"),
    "classes-str-truncated": (
        set_classes(dtype="<U1", values=[*map(str, DIGITS[:9]), "10"]),
        "holds exactly",
    ),
    "classes-mixed": (
        set_classes(dtype="|O", values=["a", *DIGITS[1:]]),
        "labels of one type",
    ),
    "classes-bool-as-int": (
        set_classes(values=[True, *DIGITS[1:]]),
        "labels of one type",
    ),
    "classes-empty": (
        lambda a: a.update(classes_={"dtype": "<i8", "values": []}),
        "non-empty",
    ),
    "classes-extra-entry": (
        lambda a: a["classes_"].update(__reduce__=["os.system", ["x"]]),
        "__reduce__",
    ),
    "count-negative": (lambda a: a["class_count_"].__setitem__(0, -1.0), ">= 0"),
    "count-fraction": (lambda a: a["class_count_"].__setitem__(0, 0.5), "whole"),
    "count-zero": (
        lambda a: a.update(class_count_=[0.0] * 10, class_prior_=[0.1] * 10),
        "not all 0",
    ),
    "prior-inconsistent": (
        lambda a: a.update(class_prior_=[0.1] * 10),
        "class_prior_ differs",
    ),
    "prior-missing": (lambda a: a.pop("class_prior_"), "missing attributes"),
}


@pytest.mark.parametrize("edit, match", TAMPERED.values(), ids=TAMPERED.keys())
def test_tampered_labels_are_refused(edit, match, fitted, tmp_path):
    path = tmp_path / "cvae.safetensors"
    save(fitted, path)
    forged = edited(path, tmp_path / "forged.safetensors", edit)
    with pytest.raises(ValueError, match=match) as info:
        load(forged)
    assert str(info.value).startswith(f"cannot load {str(forged)!r}: ")


def test_untouched_forgery_still_loads(fitted, data, tmp_path):
    # The helper keeps files loadable: the refusals above come from the edits.
    X, y, _, _ = data
    path = tmp_path / "cvae.safetensors"
    save(fitted, path)
    same = edited(path, tmp_path / "same.safetensors", lambda a: None)
    np.testing.assert_array_equal(
        load(same).transform(X, y=y), fitted.transform(X, y=y)
    )


def test_corrupted_conditional_file_is_refused(fitted, tmp_path):
    path = tmp_path / "cvae.safetensors"
    save(fitted, path)
    metadata, arrays = read_file(path)
    metadata["attributes"] = metadata["attributes"].replace(
        '"values": [0, 1,', '"values": [0, 2,'
    )
    save_file(arrays, tmp_path / "bad.safetensors", metadata=metadata)
    with pytest.raises(ValueError, match="corrupted: its metadata"):
        load(tmp_path / "bad.safetensors")
