"""Maps of MNIST: PCA, a plain autoencoder, UMAP and skae's neighbour term.

Fits each method on the 60000 training images / 255 and measures, on the
10000 test images:

* 5-NN accuracy: a 5-nearest-neighbour classifier fitted on the training
  codes, scored on the test codes;
* per-pixel reconstruction MSE of ``inverse_transform`` (none for UMAP);
* ``sklearn.manifold.trustworthiness`` (k=10) of the codes of a 5000-image
  subsample of the test images;
* fit seconds and seconds to transform the test images.

At 2 components (the map) and at 30 (codes before a k-NN classifier). UMAP
(``umap-learn``, a benchmark-only extra) is skipped when not installed.
Writes docs/maps.md and a figure of the four 2-D maps side by side. Usage::

    python benchmarks/bench_maps.py --graph    # the published run, ~45 min
    python benchmarks/bench_maps.py --quick    # 3000 images, 2 epochs
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer
from skae._estimators.defaults import FORMER_AE_DEFAULTS
from skae.datasets import load_image_dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


# The documented setting of the neighbour term for images (user guide, "Maps
# that keep neighbours"): a convolutional encoder and Gaussian input noise help
# the encoder place new rows, the convolutional decoder keeps the error low.
TERM = dict(
    neighbor_weight=10.0,
    architecture="conv",
    image_shape=(28, 28),
    hidden_layer_sizes=(256,),
    corruption="gaussian",
    corruption_level=0.3,
)


def skae_map(k: int, epochs: int, term: bool) -> AutoencoderTransformer:
    """The autoencoder settings of this page: the defaults before "auto"
    (``FORMER_AE_DEFAULTS``, as the stored page was measured) but the
    schedule (+ TERM)."""
    params = dict(
        FORMER_AE_DEFAULTS,
        learning_rate="cosine",
        max_iter=epochs,
        batch_size=256,
        random_state=0,
    )
    return AutoencoderTransformer(k, **{**params, **(TERM if term else {})})


def one_line(model) -> str:
    """The model's repr on one line (for the page's text)."""
    return " ".join(repr(model).split())


def methods(k: int, epochs: int) -> dict:
    out = {
        "PCA": PCA(k, random_state=0),
        "Autoencoder": skae_map(k, epochs, term=False),
        "Autoencoder + neighbour term": skae_map(k, epochs, term=True),
    }
    try:
        import umap
    except ImportError:
        return out
    out["UMAP"] = umap.UMAP(n_components=k, random_state=0)
    return out


def measure(model, X, X_test, y, y_test, n_trust: int) -> tuple[dict, np.ndarray]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes = model.fit_transform(X)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    test_codes = model.transform(X_test)
    transform_s = time.perf_counter() - start
    knn = KNeighborsClassifier(5).fit(codes, y)
    row = {
        "5-NN": float(knn.score(test_codes, y_test)),
        "trustworthiness": float(
            trustworthiness(X_test[:n_trust], test_codes[:n_trust], n_neighbors=10)
        ),
        "fit (s)": fit_s,
        "transform (s)": transform_s,
    }
    if type(model).__name__ != "UMAP":  # UMAP's inverse is not a decoder
        recon = model.inverse_transform(test_codes)
        row["MSE per pixel"] = float(((recon - X_test) ** 2).mean())
    return row, test_codes


def graph_timings(X: np.ndarray, k: int = 15) -> dict:
    """Seconds to find the k nearest neighbours of every training row.

    skae's exact search (blocks of matrix products in torch, what
    ``neighbor_weight`` uses), scikit-learn's exact brute-force search and,
    when installed, pynndescent's approximate one (with its recall of the
    exact neighbours).
    """
    import torch
    from sklearn.neighbors import NearestNeighbors

    from skae._data import DenseRows
    from skae._neighbors.graph import nearest_neighbors

    out = {}
    start = time.perf_counter()
    _, exact = nearest_neighbors(DenseRows(torch.from_numpy(X), None), k)
    out["skae (torch, exact)"] = {"seconds": time.perf_counter() - start}
    exact = exact.numpy()
    start = time.perf_counter()
    NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X)
    out["scikit-learn NearestNeighbors (brute, exact)"] = {
        "seconds": time.perf_counter() - start
    }
    try:
        from pynndescent import NNDescent
    except ImportError:
        return out
    start = time.perf_counter()
    found, _ = NNDescent(X, n_neighbors=k + 1, random_state=0).neighbor_graph
    seconds = time.perf_counter() - start
    recall = np.mean(
        [len(set(a[1:]) & set(b)) / k for a, b in zip(found, exact, strict=True)]
    )
    out["pynndescent (approximate)"] = {"seconds": seconds, "recall": float(recall)}
    return out


def figure(maps: dict, y_test: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps), 5))
    for ax, (name, codes) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        ax.scatter(*codes.T, c=y_test, cmap="tab10", s=1)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def cell(row: dict, column: str) -> str:
    if column not in row:
        return "-"
    return f"{row[column]:.1f}" if column.endswith("(s)") else f"{row[column]:.4f}"


def report(
    results: dict, settings: dict, image: str | None, graphs: dict | None = None
) -> str:
    columns = ["5-NN", "MSE per pixel", "trustworthiness", "fit (s)", "transform (s)"]
    lines = [
        "# Maps of MNIST: PCA, autoencoder, UMAP and the neighbour term",
        "",
        "Generated by `python benchmarks/bench_maps.py` "
        f"({settings['epochs']} epochs per autoencoder, "
        f"{settings['n_train']} training images, seed 0). The autoencoder: "
        f"`{settings['plain']}`; with the neighbour term: `{settings['term']}` "
        "(at 30 components, the same with `n_components=30`). 5-NN: "
        "classifier fitted on the training codes, scored on the test codes; "
        "trustworthiness with k=10 on 5000 test images; fit time "
        "includes the neighbour graph.",
        "",
    ]
    for k, rows in results.items():
        lines += [f"## {k} components", ""]
        lines += ["| method | " + " | ".join(columns) + " |"]
        lines += ["|---|" + "---:|" * len(columns)]
        for name, row in rows.items():
            cells = [cell(row, c) for c in columns]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if image:
        lines += [f"![The 2-D maps of the test images]({image})", ""]
    if graphs:
        lines += [
            "## The neighbour graph",
            "",
            "Seconds to find the 15 nearest neighbours of every training image "
            "(the first call of pynndescent includes its numba compilation):",
            "",
            "| search | seconds | recall of the exact neighbours |",
            "|---|---:|---:|",
        ]
        for name, row in graphs.items():
            recall = f"{row['recall']:.4f}" if "recall" in row else "1 (exact)"
            lines.append(f"| {name} | {row['seconds']:.1f} | {recall} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--k", type=int, nargs="+", default=[2, 30])
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "maps.md")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--graph", action="store_true", help="also time the k-NN graph searches"
    )
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.n_train = 2, 3000
    data = load_image_dataset("mnist", SHARED if SHARED.exists() else None)
    n = args.n_train
    X, y = data.X_train[:n], data.y_train[:n]
    n_test = n // 2 if n else None
    X_test, y_test = data.X_test[:n_test], data.y_test[:n_test]
    graphs = graph_timings(X) if args.graph else None
    if graphs:
        print(json.dumps(graphs), flush=True)
    results, maps = {}, {}
    for k in args.k:
        results[k] = {}
        for name, model in methods(k, args.epochs).items():
            row, codes = measure(model, X, X_test, y, y_test, 5000)
            results[k][name] = row
            print(k, name, json.dumps(row), flush=True)
            if k == 2:
                maps[name] = codes
    image = None
    if args.output and maps:
        static = args.output.parent / "_static"
        static.mkdir(parents=True, exist_ok=True)
        figure(maps, y_test, static / "maps_mnist.png")
        image = "_static/maps_mnist.png"
    settings = dict(
        epochs=args.epochs,
        n_train=len(X),
        plain=one_line(skae_map(2, args.epochs, term=False)),
        term=one_line(skae_map(2, args.epochs, term=True)),
    )
    text = report(results, settings, image, graphs)
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        args.json.write_text(
            json.dumps(dict(results=results, settings=settings, graphs=graphs))
        )


if __name__ == "__main__":
    main()
