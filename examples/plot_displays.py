"""
Looking at a fitted model: the Displays of skae.plot
====================================================

:mod:`skae.plot` draws the usual pictures of an autoencoder as
scikit-learn-style Displays: each ``from_estimator`` computes what it shows
from a fitted model and draws it, on given axes (``ax=``) or a new figure,
and keeps the drawn artists (``display.ax_``, ``display.figure_``, ...).
Here a :class:`~skae.VAETransformer` with two latent dimensions is fitted on
the digits, with ``early_stopping=True`` so that it also records a
validation loss.
"""

import os

import matplotlib.pyplot as plt

from skae import VAETransformer
from skae.datasets import load_image_dataset
from skae.plot import (
    LatentMapDisplay,
    LatentTraversalDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
    SamplesDisplay,
)

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
vae = VAETransformer(2, early_stopping=True, random_state=0).fit(data.X_train)

# %%
# The latent map of the test images, one colour per digit, and the loss per
# epoch on the training rows and on the 10% held out for early stopping.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
LatentMapDisplay.from_estimator(vae, data.X_test, data.y_test, ax=left)
LossCurveDisplay.from_estimator(vae, ax=right)
fig.tight_layout()

# %%
# Ten test images above their reconstructions, and 64 samples decoded from
# codes drawn from the prior N(0, I).
fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(8, 7), gridspec_kw={"height_ratios": [1, 3]}
)
ReconstructionDisplay.from_estimator(vae, data.X_test, ax=top)
SamplesDisplay.from_estimator(vae, n_samples=64, ax=bottom, vmin=0, vmax=1)
fig.tight_layout()

# %%
# What each latent dimension controls: starting from the origin, one
# dimension at a time runs from -3 to 3 prior standard deviations.
LatentTraversalDisplay.from_estimator(vae)
plt.show()
