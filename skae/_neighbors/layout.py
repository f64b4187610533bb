"""A UMAP layout of a neighbour graph: one free code per training row.

The encoder of a neighbour-preserving autoencoder is taught this layout
rather than UMAP's cross-entropy directly: optimising a table of codes costs
a few array operations per edge, where every step of the parametric
objective runs the network, so the layout reaches in seconds what the
encoder alone does not reach in tens of epochs (Parametric UMAP trains its
encoder on hundreds of passes over the edges).

:func:`spectral_layout` starts from the graph's Laplacian eigenvectors, as
umap-learn does; :func:`optimize_layout` runs UMAP's stochastic gradient
descent (edges drawn in proportion to their weight, ``negative_rate``
uniform non-neighbours per edge, gradients clipped to 4, learning rate
falling linearly to 0), vectorised: each step moves the codes of a chunk
of the drawn edges at once.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .graph import NeighborGraph


@functools.cache
def curve_parameters(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """UMAP's ``a`` and ``b`` of the similarity ``1 / (1 + a d^(2b))``.

    Fitted (least squares, as umap-learn does) to 1 for distances up to
    ``min_dist`` and ``exp(-(d - min_dist) / spread)`` beyond; ``min_dist=0.1``
    gives a = 1.58, b = 0.90.
    """
    from scipy.optimize import curve_fit

    d = np.linspace(0, 3 * spread, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist) / spread))
    (a, b), _ = curve_fit(lambda d, a, b: 1.0 / (1.0 + a * d ** (2 * b)), d, target)
    return float(a), float(b)


def umap_layout(
    graph: NeighborGraph,
    n_components: int,
    generator: torch.Generator,
    start: torch.Tensor | None = None,
    min_dist: float = 0.1,
) -> torch.Tensor:
    """UMAP's layout of ``graph``, centred and scaled to unit variance.

    Starts from :func:`spectral_layout`, or from ``start`` (e.g. the codes of
    an already fitted encoder, so that successive layouts agree), and runs
    :func:`optimize_layout` for umap-learn's number of epochs (500 for up to
    10000 rows, 200 beyond).

    Computed on the CPU, with a CPU generator seeded from ``generator``, and
    returned on the graph's device: :func:`optimize_layout` scatters its
    updates with ``index_add_``, whose sums CUDA's atomic adds take in a
    varying order, so on a GPU two fits with the same seed would differ.
    """
    device = graph.indptr.device
    if device.type != "cpu":
        seed = torch.randint(
            2**62, (1,), generator=generator, device=generator.device
        ).item()
        generator = torch.Generator().manual_seed(seed)
        graph = graph.to("cpu")
        start = None if start is None else start.cpu()
    n = graph.n_rows
    if start is None:
        start = spectral_layout(graph, n_components, generator)
    else:
        start = start.float() * (10.0 / start.abs().max().clamp(min=1e-12))
    n_epochs = 500 if n <= 10000 else 200
    codes = optimize_layout(
        graph, start, n_epochs, *curve_parameters(min_dist), generator
    )
    codes = codes - codes.mean(0)
    return (codes / codes.square().mean().sqrt().clamp(min=1e-12)).to(device)


def spectral_layout(
    graph: NeighborGraph, n_components: int, generator: torch.Generator
) -> torch.Tensor:
    """Initial codes: the graph's leading non-trivial Laplacian eigenvectors.

    Eigenvectors of the normalised adjacency ``D^-1/2 W D^-1/2`` after the
    trivial one, scaled so that the largest coordinate is 10 (umap-learn's
    range), plus a little noise that separates coinciding rows. Falls back to
    uniform random codes when the graph is too small or the eigensolver does
    not converge. Float32, on the graph's device.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    n, device = graph.n_rows, graph.indptr.device

    def draw(sample) -> torch.Tensor:
        shape = (n, n_components)
        return sample(shape, generator=generator, device=generator.device).to(device)

    noise = draw(torch.randn)
    k = n_components + 1
    if n <= k + 1:
        return 20 * draw(torch.rand) - 10
    W = sp.csr_matrix(
        (
            graph.values.double().cpu().numpy(),
            graph.columns.cpu().numpy(),
            graph.indptr.cpu().numpy(),
        ),
        shape=(n, n),
    )
    sqrt_degree = np.sqrt(np.asarray(W.sum(1)).ravel())  # the trivial eigenvector
    normalised = sp.diags(1.0 / sqrt_degree) @ W @ sp.diags(1.0 / sqrt_degree)
    try:
        values, vectors = eigsh(
            normalised,
            k=k,
            which="LA",
            v0=sqrt_degree,
            tol=1e-4,
            maxiter=n * 5,
            ncv=max(2 * k + 1, int(np.sqrt(n))),
        )
    except ArpackNoConvergence:
        vectors = None
    if vectors is None or not np.isfinite(vectors).all():
        return 20 * draw(torch.rand) - 10
    order = np.argsort(values)[::-1][1:k]
    codes = torch.from_numpy(vectors[:, order].astype(np.float32)).to(device)
    codes *= 10.0 / codes.abs().max().clamp(min=1e-12)
    return codes + 1e-4 * noise


def _clipped(step: torch.Tensor) -> torch.Tensor:
    return step.clamp(-4.0, 4.0)


def optimize_layout(
    graph: NeighborGraph,
    codes: torch.Tensor,
    n_epochs: int,
    a: float,
    b: float,
    generator: torch.Generator,
    negative_rate: int = 5,
    chunk: int = 8192,
) -> torch.Tensor:
    """UMAP's stochastic gradient descent on the codes of the graph's rows.

    In each of ``n_epochs`` epochs every edge is drawn with probability
    ``weight / max weight`` (umap-learn's ``epochs_per_sample`` in
    expectation); the drawn edges, in chunks of ``chunk``, pull both ends
    together and push the head away from ``negative_rate`` random rows,
    with UMAP's gradients of ``1 / (1 + a d^(2b))``, clipped to 4 per
    coordinate, at learning rate ``1 - epoch / n_epochs``. Returns new codes.
    """
    codes = codes.clone()
    n = codes.shape[0]
    device = codes.device
    heads = torch.repeat_interleave(torch.arange(n, device=device), graph.indptr.diff())
    tails = graph.columns
    probability = (graph.values / graph.values.max()).float()
    # umap-learn drops edges drawn less than once in the whole run.
    keep = probability >= 1.0 / n_epochs
    heads, tails, probability = heads[keep], tails[keep], probability[keep]

    def uniform(shape, high=None):
        if high is None:
            out = torch.rand(shape, generator=generator, device=generator.device)
        else:
            out = torch.randint(
                high, tuple(shape), generator=generator, device=generator.device
            )
        return out.to(device)

    for epoch in range(n_epochs):
        rate = 1.0 - epoch / n_epochs
        drawn = uniform(tuple(probability.shape)) < probability
        order = torch.nonzero(drawn).squeeze(1)
        shuffle = torch.randperm(
            order.shape[0], generator=generator, device=generator.device
        )
        order = order[shuffle.to(device)]
        for part in order.split(chunk):
            i, j = heads[part], tails[part]
            diff = codes[i] - codes[j]
            d2 = diff.square().sum(1, keepdim=True)
            near = -2 * a * b * d2.clamp(min=1e-12) ** (b - 1) / (1 + a * d2**b)
            step = rate * _clipped(near * diff)
            codes.index_add_(0, i, step)
            codes.index_add_(0, j, -step)
            k = uniform((part.shape[0], negative_rate), high=n)
            diff = codes[i][:, None] - codes[k]
            d2 = diff.square().sum(-1, keepdim=True)
            far = 2 * b / ((1e-3 + d2) * (1 + a * d2**b))
            push = torch.where(k[..., None] == i[:, None, None], 0.0, far * diff)
            codes.index_add_(0, i, rate * _clipped(push).sum(1))
    return codes
