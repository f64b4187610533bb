"""Write the format-1 model files of ``tests/data`` (run once; do not re-run).

``v1_autoencoder.safetensors`` and ``v1_vae.safetensors`` were written by
``skae.save`` at commit 7944051 (file format 1, before files carried a
digest), with their outputs on the CPU in ``v1_expected.npz``.
``tests/test_persistence_v1.py`` checks that today's ``skae.load`` still reads
them into models that give these outputs. Run with today's skae this script
would write today's format, so the stored files must be kept as they are.
"""

import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import skae

HERE = Path(__file__).parent
SETTING = dict(
    n_components=2, hidden_layer_sizes=(16,), max_iter=2, random_state=0, device="cpu"
)


def main() -> None:
    X = load_digits().data[:50]
    outputs = {"X": X}
    for name, Est in (
        ("autoencoder", skae.AutoencoderTransformer),
        ("vae", skae.VAETransformer),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 2 epochs do not converge
            est = Est(**SETTING).fit(X)
        skae.save(est, HERE / f"v1_{name}.safetensors")
        Z = est.transform(X)
        outputs[f"{name}_transform"] = Z
        outputs[f"{name}_inverse_transform"] = est.inverse_transform(Z)
        outputs[f"{name}_score_samples"] = est.score_samples(X)
        outputs[f"{name}_sample"] = est.sample(5, random_state=0)
    np.savez_compressed(HERE / "v1_expected.npz", **outputs)


if __name__ == "__main__":
    main()
