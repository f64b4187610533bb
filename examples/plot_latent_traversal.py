"""
Walking through a VAE's latent space
====================================

Decoding a regular grid of codes in a two-dimensional VAE shows what the
latent space has learned: neighbouring codes decode to similar images and the
digits morph smoothly into each other (continuity), and every point of the
grid decodes to something digit-like (completeness).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from skae import VAETransformer
from skae.datasets import load_image_dataset
from skae.plot import LatentTraversalDisplay

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
vae = VAETransformer(2, random_state=0).fit(data.X_train)

n = 15
values = np.linspace(-2.5, 2.5, n)
codes = np.array([(a, b) for b in values[::-1] for a in values])
images = vae.inverse_transform(codes)
h, w = data.image_shape
grid = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)

fig, ax = plt.subplots(figsize=(7, 7))
ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, extent=(-2.5, 2.5, -2.5, 2.5))
ax.set(xlabel="z[0]", ylabel="z[1]", title="decoded grid of latent codes")

# %%
# :class:`~skae.plot.LatentTraversalDisplay` shows one dimension at a time:
# row ``i`` starts from the origin and sets dimension ``i`` to each value.
LatentTraversalDisplay.from_estimator(vae, values=values[::2], vmin=0, vmax=1)
plt.show()
