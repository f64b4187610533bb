"""
Denoising by projection onto the learned manifold
=================================================

A model fitted on clean images maps a noisy image to the code of a clean one;
decoding it removes much of the noise. The autoencoder's curved manifold keeps
more of the digit than PCA's flat subspace of the same dimension.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
rng = np.random.RandomState(0)
noisy = data.X_test + rng.normal(scale=0.3, size=data.X_test.shape).astype("float32")

models = {
    "PCA": PCA(12).fit(data.X_train),
    "Autoencoder": AutoencoderTransformer(12, max_iter=200, random_state=0).fit(
        data.X_train
    ),
}
rows = {"clean": data.X_test, "noisy": noisy}
for name, model in models.items():
    rows[name] = model.inverse_transform(model.transform(noisy))
for name, images in rows.items():
    error = ((images - data.X_test) ** 2).sum(1).mean()
    print(f"{name:>11}: squared error to the clean images {error:.2f}")

fig, axes = plt.subplots(len(rows), 10, figsize=(10, 4.4))
for row_axes, (name, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row_axes, images[:10], strict=True):
        ax.imshow(image.reshape(data.image_shape), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
    row_axes[0].set_title(name, loc="left", fontsize=9)
plt.show()
