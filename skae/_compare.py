"""PCA vs autoencoder vs VAE on one dataset: the numbers behind ``skae compare``."""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from ._estimators.autoencoder import AutoencoderTransformer
from ._estimators.vae import VAETransformer


def default_models(random_state: int, device: str, max_iter: int | None = None) -> dict:
    """The reducers compared, keyed by display name.

    PCA, the autoencoder and the VAE with their defaults (``max_iter``, when
    given, replaces the autoencoders' data-adaptive budget of epochs).
    """
    params = dict(random_state=random_state, device=device)
    if max_iter is not None:
        params["max_iter"] = max_iter
    return {
        "PCA": PCA(random_state=random_state),
        "Autoencoder": AutoencoderTransformer(**params),
        "VAE": VAETransformer(**params),
    }


def compare(
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
    n_components: Iterable[int],
    models: dict,
    progress: bool = True,
) -> list[dict]:
    """Fit every model at every latent size and measure it on the test set.

    Returns one row per (model, n_components) with the reconstruction error
    (mean over test samples of the summed squared error), the accuracies of
    a logistic regression and of 5-nearest-neighbours trained on the training
    codes, the mean test
    log-likelihood in nats where the model has one (PCA's probabilistic
    model, the VAE's evidence lower bound) and the fit time in seconds.
    """
    jobs = [(k, name) for k in n_components for name in models]
    rows = []
    for k, name in tqdm(jobs, desc="compare", disable=not progress, leave=False):
        model = clone(models[name]).set_params(n_components=k)
        start = time.perf_counter()
        codes_train = model.fit_transform(X_train)
        fit_time = time.perf_counter() - start
        codes_test = model.transform(X_test)
        error = ((model.inverse_transform(codes_test) - X_test) ** 2).sum(1).mean()
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        accuracy = clf.fit(codes_train, y_train).score(codes_test, y_test)
        knn = KNeighborsClassifier(5).fit(codes_train, y_train)
        knn_accuracy = knn.score(codes_test, y_test)
        # An autoencoder's score is its negative error, not a log-likelihood.
        is_ae = isinstance(model, AutoencoderTransformer)
        log_lik = float("nan") if is_ae else model.score(X_test)
        rows.append(
            dict(
                model=name,
                n_components=k,
                reconstruction_error=float(error),
                accuracy=float(accuracy),
                knn_accuracy=float(knn_accuracy),
                log_likelihood=float(log_lik),
                fit_time=fit_time,
            )
        )
    return rows


COLUMNS = [
    ("model", "model", "{}"),
    ("n_components", "k", "{}"),
    ("reconstruction_error", "recon. error", "{:.2f}"),
    ("accuracy", "logreg acc.", "{:.3f}"),
    ("knn_accuracy", "5-NN acc.", "{:.3f}"),
    ("log_likelihood", "log-lik (nats)", "{:.1f}"),
    ("fit_time", "fit (s)", "{:.2f}"),
]


def format_table(rows: list[dict]) -> str:
    """Rows as a Markdown table (also readable in a terminal)."""
    cells = [
        [
            "-"
            if isinstance(r[key], float) and np.isnan(r[key])
            else fmt.format(r[key])
            for key, _, fmt in COLUMNS
        ]
        for r in rows
    ]
    header = [title for _, title, _ in COLUMNS]
    widths = [max(len(c) for c in col) for col in zip(header, *cells, strict=True)]

    def line(values):
        return (
            "| "
            + " | ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule, *map(line, cells)])
