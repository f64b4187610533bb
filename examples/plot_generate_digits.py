"""
Generating new digits
=====================

:meth:`skae.VAETransformer.sample` draws codes from the prior N(0, I) and
decodes them; because the KL term keeps the latent space continuous and
complete, most draws decode to plausible digits.
:meth:`skae.AutoencoderTransformer.sample` draws from a Gaussian mixture
fitted to the training codes instead.

The VAE's default ``beta`` is 0.5 for the Gaussian likelihood: the KL term
weighs half as much as in the evidence lower bound, which gave codes that
serve classifiers better (``docs/quality.md``), at the price of posteriors
that match the prior N(0, I) less closely, so that a prior draw can land
where no training code lies and decode to a blend. ``beta=1`` (the bound
itself) is shown beside it; on the 8x8 digits the two sets of samples look
much alike. ``score_samples`` is the model's evidence lower bound whatever
``beta`` is.
"""

import os

import matplotlib.pyplot as plt

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
models = {
    "VAE, default beta=0.5 (prior samples)": VAETransformer(8, random_state=0),
    "VAE, beta=1 (prior samples)": VAETransformer(8, beta=1.0, random_state=0),
    "Autoencoder (mixture samples)": AutoencoderTransformer(8, random_state=0),
}
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    images = model.fit(data.X_train).sample(64, random_state=0)
    h, w = data.image_shape
    grid = images.reshape(8, 8, h, w).transpose(0, 2, 1, 3).reshape(8 * h, 8 * w)
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(name)
    ax.set_axis_off()
plt.show()
