"""
Two-dimensional maps of the data: PCA, autoencoder, VAE and a neighbour map
===========================================================================

With ``n_components=2`` each method gives a map of the test images, coloured
here by digit. The non-linear codes separate the classes far better than
PCA's two leading directions; the VAE's codes also fill a round region around
the origin, the shape of its N(0, I) prior. The fourth map adds a
neighbour-preserving term to the autoencoder's loss (``neighbor_weight``):
the fit lays out UMAP's neighbour graph of the training rows and teaches
the encoder that layout, so rows that are near neighbours in the data stay
together in the map, while the decoder keeps it decodable. Gaussian noise on
the encoder's input (``corruption``) helps it place rows it has not seen.
The title of each map gives the accuracy of a 5-nearest-neighbour
classifier fitted on the training codes and scored on the test codes, a
measure of how well the map keeps classes apart.
"""

import os

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_image_dataset
from skae.plot import LatentMapDisplay

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
models = {
    "PCA": PCA(2),
    "Autoencoder": AutoencoderTransformer(2, random_state=0),
    "VAE": VAETransformer(2, random_state=0),
    "Autoencoder + neighbour term": AutoencoderTransformer(
        2,
        neighbor_weight=1.0,
        hidden_layer_sizes=(512, 512),
        corruption="gaussian",
        corruption_level=0.2,
        learning_rate="cosine",
        max_iter=150,
        batch_size=50,
        random_state=0,
    ),
}
fig, axes = plt.subplots(2, 2, figsize=(10, 9), layout="constrained")
for ax, (name, model) in zip(axes.ravel(), models.items(), strict=True):
    train_codes = model.fit_transform(data.X_train)
    knn = KNeighborsClassifier(5).fit(train_codes, data.y_train)
    accuracy = knn.score(model.transform(data.X_test), data.y_test)
    print(f"{name}: 5-NN accuracy of the test codes {accuracy:.3f}")
    # One legend, beside the top right map.
    legend = ax is axes[0, 1]
    LatentMapDisplay.from_estimator(
        model, data.X_test, data.y_test, ax=ax, legend=legend
    )
    ax.set_title(f"{name} (5-NN {accuracy:.3f})")
plt.show()
