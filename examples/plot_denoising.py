"""
Denoising by projection onto a learned manifold
===============================================

A model fitted on clean images can map a noisy image to a code and decode it
back, removing the noise that does not fit the model. This example measures
how well that works, and the answer is instructive: the autoencoder, which
reconstructs *clean* test images about twice as well as PCA, does *worse*
than PCA on noisy ones, because its encoder never saw noise during training
and maps noisy inputs unpredictably. The VAE, trained with noise in its
latent space, is far more robust and close to PCA. Training with corrupted
inputs (a denoising autoencoder) is the remedy; skae's roadmap has it.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
rng = np.random.RandomState(0)
noisy = data.X_test + rng.normal(scale=0.3, size=data.X_test.shape).astype("float32")

models = {
    "PCA": PCA(12),
    "Autoencoder": AutoencoderTransformer(12, max_iter=200, random_state=0),
    "VAE": VAETransformer(12, max_iter=200, random_state=0),
}


def squared_error(images):
    return ((images - data.X_test) ** 2).sum(1).mean()


rows = {"clean": data.X_test, "noisy": noisy}
print(f"noisy images: squared error per image {squared_error(noisy):.2f}")
for name, model in models.items():
    model.fit(data.X_train)
    clean = squared_error(model.inverse_transform(model.transform(data.X_test)))
    rows[name] = model.inverse_transform(model.transform(noisy))
    print(
        f"{name:>12}: squared error per image, clean input {clean:.2f}, "
        f"noisy input {squared_error(rows[name]):.2f}"
    )

fig, axes = plt.subplots(len(rows), 10, figsize=(10, 5.5))
for row_axes, (name, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row_axes, images[:10], strict=True):
        ax.imshow(image.reshape(data.image_shape), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
    row_axes[0].set_title(name, loc="left", fontsize=9)
plt.show()
