"""Where the fit time of a 2-D map goes: skae's parts against umap-learn.

For each data set, in one run on one machine, the seconds of:

* umap-learn's whole fit (``UMAP(random_state=0)``, as ``docs/maps.md``
  runs it), when umap-learn is installed;
* skae's neighbour graph (15 neighbours, the graph of ``neighbor_weight``):
  the exact search (``nearest_neighbors``) and the projected one
  (``projected_neighbors``: candidates among 96 principal components, ranked
  by exact distances; what ``neighbor_weight`` uses for rows of more than
  192 features) with its recall of the exact neighbours;
* the fuzzy graph and UMAP's layout of it (``umap_layout``);
* one training epoch of the network, for the documented image setting of
  ``docs/maps.md`` (a convolutional autoencoder) and for the default
  network (``AutoencoderTransformer(2, max_iter=1)``);
* with ``--maps``, whole fits and their quality on the test images, in the
  same run: umap-learn, the map ``MAP`` and a plain 2-D autoencoder
  of the same network and budget (5-NN accuracy of the test codes with a
  classifier fitted on the training codes, trustworthiness k=10 on 5000 test
  images, per-pixel reconstruction error, fit and transform seconds).

Writes a Markdown page (``--output``) and the numbers as JSON. Usage::

    python benchmarks/bench_map_cost.py --output docs/map_cost.md \
        --json benchmarks/results/map_cost.json --maps   # ~35 min
    python benchmarks/bench_map_cost.py --quick --maps     # 2000 rows
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer
from skae._data import DenseRows
from skae._neighbors.graph import (
    NeighborGraph,
    fuzzy_union,
    memberships,
    nearest_neighbors,
    projected_neighbors,
)
from skae._neighbors.layout import umap_layout
from skae.datasets import load_image_dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# docs/maps.md's image setting, without the term (one epoch of its network).
CONV = dict(
    architecture="conv",
    hidden_layer_sizes=(256,),
    corruption="gaussian",
    corruption_level=0.3,
    activation="relu",
    pca_path=False,
    batch_size=256,
)


# A 2-D map: the defaults (the data's network, input noise and batch, the
# cosine schedule), the neighbour term and 30 epochs. Chosen on MNIST;
# Fashion-MNIST and the digits were not used to choose it.
MAP = dict(neighbor_weight=1.0, max_iter=30)


def seconds(fn):
    """``(fn(), seconds it took)``."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def epoch_seconds(X: np.ndarray, **params) -> float:
    """Seconds of a one-epoch fit of a 2-D autoencoder with ``params``."""
    model = AutoencoderTransformer(2, max_iter=1, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return seconds(lambda: model.fit(X))[1]


def costs(X: np.ndarray, image_shape: tuple, umap_fit: bool, k: int = 15) -> dict:
    """The seconds of each part of a map of ``X`` (rows scaled to [0, 1]);
    with ``umap_fit``, also of umap-learn's whole fit."""
    rows = DenseRows(torch.from_numpy(X), None)
    out = {}
    if umap_fit:
        try:
            import umap
        except ImportError:
            pass
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a seed disables parallelism
                model = umap.UMAP(n_components=2, random_state=0)
                out["umap-learn, whole fit"] = seconds(lambda: model.fit(X))[1]
    (exact_d, exact_i), out["graph, exact"] = seconds(
        lambda: nearest_neighbors(rows, k)
    )
    generator = torch.Generator().manual_seed(0)
    (_, found), out["graph, projected"] = seconds(
        lambda: projected_neighbors(rows, k, generator)
    )
    out["recall of the projected graph"] = float(
        (found[:, :, None] == exact_i[:, None, :]).any(-1).float().mean()
    )
    graph, out["fuzzy graph"] = seconds(
        lambda: NeighborGraph(*fuzzy_union(exact_i, memberships(exact_d)))
    )
    _, out["layout"] = seconds(lambda: umap_layout(graph, 2, generator))
    out["epoch, conv setting"] = epoch_seconds(X, **CONV, image_shape=image_shape)
    out["epoch, default network"] = epoch_seconds(X)
    return out


def map_quality(data, epochs: int, n_trust: int = 5000) -> dict:
    """Whole fits of umap-learn, ``MAP`` and a plain 2-D autoencoder
    (``epochs`` of training each)."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier

    X, X_test = data.X_train, data.X_test
    setting = dict(MAP, max_iter=epochs, random_state=0)
    models = {
        "skae map": AutoencoderTransformer(2, **setting),
        "plain autoencoder, same budget": AutoencoderTransformer(
            2, **{**setting, "neighbor_weight": 0.0}
        ),
    }
    try:
        import umap
    except ImportError:
        pass
    else:
        models = {"umap-learn": umap.UMAP(n_components=2, random_state=0), **models}
    out = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            codes, fit_s = seconds(lambda model=model: model.fit_transform(X))
        test_codes, transform_s = seconds(lambda model=model: model.transform(X_test))
        knn = KNeighborsClassifier(5).fit(codes, data.y_train)
        row = {
            "5-NN": float(knn.score(test_codes, data.y_test)),
            "trustworthiness": float(
                trustworthiness(X_test[:n_trust], test_codes[:n_trust], n_neighbors=10)
            ),
            "fit (s)": fit_s,
            "transform (s)": transform_s,
        }
        if name != "umap-learn":
            recon = model.inverse_transform(test_codes)
            row["MSE per pixel"] = float(((recon - X_test) ** 2).mean())
        out[name] = row
        print(name, json.dumps(row), flush=True)
    return out


def quality_table(maps: dict) -> list[str]:
    setting = ", ".join(f"{k}={v!r}" for k, v in MAP.items())
    columns = ["5-NN", "trustworthiness", "MSE per pixel", "fit (s)", "transform (s)"]
    lines = [
        "",
        "## Whole maps",
        "",
        "In the same run: umap-learn, skae's map "
        f"(`AutoencoderTransformer(2, {setting}, random_state=0)`: the "
        "defaults otherwise, that is the network, input noise and batch the "
        "data's size gives and the cosine schedule; chosen on MNIST, not "
        "tuned on the other data sets) and the plain autoencoder of the same "
        "defaults and budget (`neighbor_weight=0`). 5-NN: classifier fitted "
        "on the training codes, scored on the test codes; trustworthiness "
        "k=10 on (up to) 5000 test images; transform: the test images "
        "(10000; the digits' 450).",
        "",
        "| data | method | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for data, rows in maps.items():
        for name, row in rows.items():
            cells = [
                "-"
                if c not in row
                else f"{row[c]:.1f}"
                if c.endswith("(s)")
                else f"{row[c]:.4f}"
                for c in columns
            ]
            lines.append(f"| {data} | {name} | " + " | ".join(cells) + " |")
    return lines


def report(results: dict, device: str, maps: dict | None = None) -> str:
    lines = [
        "# Where the fit time of a 2-D map goes",
        "",
        "Generated by `python benchmarks/bench_map_cost.py` on "
        f"{device}: each part of skae's map (`neighbor_weight`) against "
        "umap-learn's whole fit (`UMAP(random_state=0)`, single-threaded as a "
        "seed makes it), in one run. The graph: 15 nearest neighbours of "
        "every training row; *projected*: candidates among the rows' 96 "
        "leading principal components, ranked by exact distances (what "
        "`neighbor_weight` uses for rows of more than 192 features). "
        "The layout: UMAP's optimisation of the fuzzy graph (200 epochs "
        "above 10000 rows). An epoch: one pass of the network's training "
        "(a map fit runs `max_iter` of them).",
        "",
    ]
    names = list(next(iter(results.values())))
    lines += ["| part | " + " | ".join(results) + " |"]
    lines += ["|---|" + "---:|" * len(results)]
    for name in names:
        cells = []
        for row in results.values():
            value = row.get(name)
            if value is None:
                cells.append("-")
            elif name.startswith("recall"):
                cells.append(f"{value:.4f}")
            else:
                cells.append(f"{value:.1f} s")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if maps:
        lines += quality_table(maps)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["mnist", "fashion", "digits"],
        help="image data sets",
    )
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="2000 rows")
    parser.add_argument(
        "--maps", action="store_true", help="also whole maps and their quality"
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    n = 2000 if args.quick else args.n_train
    results, maps = {}, {}
    for name in args.datasets:
        data = load_image_dataset(name, SHARED if SHARED.exists() else None)
        X = np.ascontiguousarray(data.X_train[:n], dtype=np.float32)
        key = f"{name} ({len(X)} rows)"
        results[key] = costs(X, data.image_shape, umap_fit=not args.maps)
        print(key, json.dumps(results[key]), flush=True)
        if args.maps:
            n_test = n // 2 if n else None
            data.X_train, data.y_train = X, data.y_train[:n]
            data.X_test, data.y_test = data.X_test[:n_test], data.y_test[:n_test]
            maps[key] = map_quality(data, 2 if args.quick else MAP["max_iter"])
            if "umap-learn" in maps[key]:
                results[key] = {
                    "umap-learn, whole fit": maps[key]["umap-learn"]["fit (s)"],
                    **results[key],
                }
    device = (
        f"{platform.machine()} CPU, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    text = report(results, device, maps)
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        args.json.write_text(
            json.dumps(dict(results=results, maps=maps, device=device))
        )


if __name__ == "__main__":
    main()
