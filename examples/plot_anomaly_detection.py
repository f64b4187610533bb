"""
Anomaly scores with score_samples
=================================

Fit on digits 0 to 4 only, then score held-out images of all ten digits:
``score_samples`` (the VAE's evidence lower bound, the autoencoder's negative
reconstruction error) is lower for the digits the models never saw. The ROC
AUC measures how well each score separates them.
"""

import os

import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
normal = data.y_train < 5
is_anomaly = data.y_test >= 5
models = {
    "VAE (ELBO)": VAETransformer(8, random_state=0),
    "Autoencoder (-squared error)": AutoencoderTransformer(8, random_state=0),
}
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    scores = model.fit(data.X_train[normal]).score_samples(data.X_test)
    auc = roc_auc_score(is_anomaly, -scores)
    ax.hist(scores[~is_anomaly], bins=40, alpha=0.6, label="digits 0-4 (seen)")
    ax.hist(scores[is_anomaly], bins=40, alpha=0.6, label="digits 5-9 (unseen)")
    ax.set_title(f"{name}: ROC AUC {auc:.3f}")
    ax.set_xlabel("score_samples")
    ax.legend()
    print(f"{name}: ROC AUC {auc:.3f}")
plt.show()
