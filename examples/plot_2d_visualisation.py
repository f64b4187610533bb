"""
Two-dimensional maps of the data: PCA, autoencoder and VAE
==========================================================

With ``n_components=2`` each method gives a map of the test images, coloured
here by digit. The non-linear codes separate the classes far better than
PCA's two leading directions; the VAE's codes also fill a round region around
the origin, the shape of its N(0, I) prior.
"""

import os

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
models = {
    "PCA": PCA(2),
    "Autoencoder": AutoencoderTransformer(2, max_iter=150, random_state=0),
    "VAE": VAETransformer(2, max_iter=150, random_state=0),
}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    codes = model.fit(data.X_train).transform(data.X_test)
    points = ax.scatter(*codes.T, c=data.y_test, cmap="tab10", s=8)
    ax.set_title(name)
fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
plt.show()
