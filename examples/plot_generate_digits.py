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
from skae.plot import SamplesDisplay

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
models = {
    "VAE, default beta=0.5 (prior samples)": VAETransformer(8, random_state=0),
    "VAE, beta=1 (prior samples)": VAETransformer(8, beta=1.0, random_state=0),
    "Autoencoder (mixture samples)": AutoencoderTransformer(8, random_state=0),
}
fig, axes = plt.subplots(1, 3, figsize=(12, 4.5), layout="constrained")
for ax, (name, model) in zip(axes, models.items(), strict=True):
    model.fit(data.X_train)
    SamplesDisplay.from_estimator(model, 64, ax=ax, vmin=0, vmax=1)
    ax.set_title(name)
plt.show()
