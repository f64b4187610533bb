"""Show skae.load refusing tampered files and pickles without running them.

Fits a small autoencoder on scikit-learn's digits, saves it with skae.save,
then writes copies whose metadata carry a pickle-style payload (a
``__reduce__`` that would create a marker file), and a real pickle whose
unpickling does create it. skae.load refuses every one of them and the marker
never appears; unpickling the pickle at the end shows that its payload is live.

Run: python benchmarks/demo_tampered_file.py
"""

import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path

from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer, load, save

MARKER = Path("pwned")  # what each payload would create, in the work folder


class Payload:
    """Unpickling it calls ``Path.touch(MARKER)``: any call would do as well."""

    def __reduce__(self):
        return (Path.touch, (MARKER,))


REDUCE = {"__reduce__": ["pathlib.Path.touch", [str(MARKER)]]}
JSONPICKLE = {"py/reduce": [{"py/function": "pathlib.Path.touch"}, [str(MARKER)]]}


def rewrite(src, dst, change):
    """Copy the safetensors file ``src`` to ``dst`` after ``change(metadata)``."""
    with safe_open(src, framework="numpy") as f:
        metadata = dict(f.metadata())
        arrays = {key: f.get_tensor(key) for key in f.keys()}
    change(metadata)
    save_file(arrays, dst, metadata=metadata)
    return dst


def edit_json(key, edit):
    def change(metadata):
        value = json.loads(metadata[key])
        edit(value)
        metadata[key] = json.dumps(value)

    return change


def set_class(name):
    def change(metadata):
        metadata["class"] = name

    return change


def set_density_param(attributes):
    attributes["latent_density_"]["params"]["weights_init"] = REDUCE


TAMPERED = {
    "class names a function": set_class("posix.system"),
    "class names a qualified path": set_class("skae._estimators.base._BaseAutoencoder"),
    "param holds __reduce__": edit_json(
        "params", lambda p: p.update(n_components=REDUCE)
    ),
    "nested param holds __reduce__": edit_json(
        "params", lambda p: p.update(compile={"backend": REDUCE})
    ),
    "jsonpickle-style param": edit_json(
        "params", lambda p: p.update(activation=JSONPICKLE)
    ),
    "extra metadata key": lambda m: m.update(loader="pickle"),
    "mixture param holds __reduce__": edit_json("attributes", set_density_param),
    "attribute __class__": edit_json(
        "attributes", lambda a: a.update(__class__="posix.system")
    ),
}


def try_load(path):
    try:
        est = load(path)
    except ValueError as error:
        return f"refused: {error}"
    return f"LOADED {type(est).__name__}"


def main():
    X, _ = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(
            hidden_layer_sizes=(32,), max_iter=5, device="cpu", random_state=0
        ).fit(X)
    save(ae, "model.safetensors")
    size = os.path.getsize("model.safetensors")
    print(f"fitted a 64-32-2 AutoencoderTransformer on digits {X.shape}")
    print(f"saved model.safetensors ({size:,} bytes)")
    same = (load("model.safetensors").transform(X) == ae.transform(X)).all()
    print(f"load(model.safetensors): transform identical: {bool(same)}\n")

    for i, (label, change) in enumerate(TAMPERED.items()):
        path = rewrite("model.safetensors", f"tampered{i}.safetensors", change)
        print(f"{label}:\n  {try_load(path)}")
        assert not MARKER.exists()

    Path("pickled.safetensors").write_bytes(pickle.dumps(Payload()))
    print(f"pickle payload:\n  {try_load('pickled.safetensors')}")
    Path("model.joblib").write_bytes(pickle.dumps(Payload()))
    print(f"pickle payload named .joblib:\n  {try_load('model.joblib')}")
    print(f"\nmarker {MARKER} exists after all loads: {MARKER.exists()}")
    pickle.loads(Path("pickled.safetensors").read_bytes())
    print(f"after pickle.loads of the same pickle: {MARKER.exists()} (it is live)")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        main()
