"""
Denoising autoencoders against PCA
==================================

A model fitted on clean images can map a noisy image to a code and decode it
back, removing what does not fit the model. PCA does this by projection onto
its leading directions. A plain autoencoder is fitted on clean images only:
its encoder never saw a noisy input. A *denoising* autoencoder (Vincent et
al., 2008) is trained to reconstruct each clean training batch from a
corrupted copy: ``corruption="gaussian"`` adds noise of standard deviation
``corruption_level`` (in the data's units), ``corruption="masking"`` sets
each pixel to zero with probability ``corruption_level``. ``transform``
itself always sees the input as it is given.

All models below have 12 components. The test images are corrupted with
Gaussian noise (standard deviation 0.3 on pixels in [0, 1]) and with 30%
masking, and each model's reconstruction is compared with the clean image
(squared error per image; lower is better). The plain autoencoder is
trained without noise (``corruption=None``; the default adds a little
Gaussian noise). On the digits it reconstructs clean images best, Gaussian
noise about as well as PCA and masked images worse. Each denoising
autoencoder has about half PCA's error, or less, on the noise it was
trained for, at the price of a larger error on clean images (still below
PCA's). What it learns is specific to its noise: the one trained with
masking does worse than PCA on Gaussian noise, while the one trained with
Gaussian noise also does better than PCA on masked images, though not as
well as the masking one. :doc:`/uses` has the same comparison on MNIST and
Fashion-MNIST, with the former defaults.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
rng = np.random.RandomState(0)
X_test = data.X_test
inputs = {
    "clean": X_test,
    "Gaussian 0.3": X_test + rng.normal(scale=0.3, size=X_test.shape),
    "masking 30%": np.where(rng.uniform(size=X_test.shape) < 0.3, 0, X_test),
}
inputs = {name: images.astype(np.float32) for name, images in inputs.items()}


def autoencoder(**params):
    return AutoencoderTransformer(12, random_state=0, **params)


models = {
    "PCA": PCA(12, random_state=0),
    "plain AE": autoencoder(corruption=None),
    "denoising AE (Gaussian)": autoencoder(corruption="gaussian", corruption_level=0.3),
    "denoising AE (masking)": autoencoder(corruption="masking", corruption_level=0.3),
}


def squared_error(images):
    """Squared error per image to the clean test images."""
    return ((images - X_test) ** 2).sum(1).mean()


outputs = {}
print("squared error per image to the clean test images, by input:")
print(f"{'':>24}" + "".join(f"{name:>14}" for name in inputs))
print(
    f"{'input itself':>24}"
    + "".join(f"{squared_error(x):14.2f}" for x in inputs.values())
)
for name, model in models.items():
    model.fit(data.X_train)
    outputs[name] = {
        noise: model.inverse_transform(model.transform(x))
        for noise, x in inputs.items()
    }
    errors = "".join(f"{squared_error(x):14.2f}" for x in outputs[name].values())
    print(f"{name:>24}{errors}")

# %%
# The first eight test images of each noisy input and their reconstructions:
# the denoising autoencoder shown is the one trained for that noise.
fig, panels = plt.subplots(1, 2, figsize=(11, 4))
for panel, noise, dae in zip(
    panels,
    ["Gaussian 0.3", "masking 30%"],
    ["denoising AE (Gaussian)", "denoising AE (masking)"],
    strict=True,
):
    rows = {
        "clean": X_test,
        f"noisy ({noise})": inputs[noise],
        "PCA": outputs["PCA"][noise],
        "plain AE": outputs["plain AE"][noise],
        dae: outputs[dae][noise],
    }
    h, w = data.image_shape
    grid = np.zeros((len(rows) * (h + 1), 8 * (w + 1)))
    for i, images in enumerate(rows.values()):
        for j, image in enumerate(images[:8]):
            grid[i * (h + 1) : i * (h + 1) + h, j * (w + 1) : j * (w + 1) + w] = (
                image.reshape(h, w)
            )
    panel.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    panel.set_yticks([i * (h + 1) + h / 2 for i in range(len(rows))], list(rows))
    panel.set_xticks([])
    panel.set_title(f"{noise} noise")
fig.tight_layout()
plt.show()
