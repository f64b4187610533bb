"""
Choosing n_components with a pipeline and GridSearchCV
======================================================

An :class:`~skae.AutoencoderTransformer` stands where a PCA would in a
classification pipeline, and ``GridSearchCV`` (here with ``n_jobs=2``)
tunes its ``n_components`` like any other hyper-parameter.
"""

import os

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import load_image_dataset

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
grid = {"reduce__n_components": [2, 4, 8, 16]}
fig, ax = plt.subplots(figsize=(6, 4))
for name, reducer in [
    ("PCA", PCA(random_state=0)),
    ("Autoencoder", AutoencoderTransformer(random_state=0)),
]:
    pipe = Pipeline(
        [
            ("reduce", reducer),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(data.X_train, data.y_train)
    scores = search.cv_results_["mean_test_score"]
    ax.plot(grid["reduce__n_components"], scores, "o-", label=name)
    print(
        f"{name}: best {search.best_params_}, "
        f"test accuracy {search.score(data.X_test, data.y_test):.3f}"
    )
ax.set(xlabel="n_components", ylabel="cross-validated accuracy", xscale="log")
ax.set_xticks(grid["reduce__n_components"], grid["reduce__n_components"])
ax.legend()
plt.show()
