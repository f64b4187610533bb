"""Command line: ``skae compare`` (also ``python -m skae compare``)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib import metadata

from . import __version__

# torch and scikit-learn are imported by main() once the arguments are
# parsed: ``skae --version`` and argument errors answer without them.


def _installed(distribution: str) -> str:
    """The installed version of ``distribution``, read without importing it."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _bounded_int(minimum: int, maximum: int | None = None):
    """An argparse type: an int in [minimum, maximum], else an argparse error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"at least {minimum}"
            if maximum is not None:
                bound = f"between {minimum} and {maximum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``skae`` parser and its ``compare`` subparser."""
    parser = argparse.ArgumentParser(
        prog="skae", description="Autoencoders as scikit-learn transformers."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=(
            f"skae {__version__} (torch {_installed('torch')}, scikit-learn "
            f"{_installed('scikit-learn')}, Python {platform.python_version()})"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare",
        help="compare PCA, AutoencoderTransformer and VAETransformer",
        description=(
            "Fit PCA, AutoencoderTransformer and VAETransformer at several latent "
            "sizes on sklearn's digits (75% train, 25% test), MNIST or "
            "Fashion-MNIST and print "
            "reconstruction error, logistic-regression and 5-nearest-neighbour "
            "accuracy on the codes, "
            "test log-likelihood and fit time."
        ),
    )
    cmp.add_argument(
        "--n-components",
        type=_bounded_int(1),
        nargs="+",
        default=[2, 8, 16],
        metavar="K",
        help=("latent sizes, each from 1 to the number of features (default 2 8 16)"),
    )
    cmp.add_argument(
        "--dataset",
        choices=["digits", "mnist", "fashion"],
        default="digits",
        help=(
            "digits (embedded, default), MNIST's or Fashion-MNIST's (fashion) "
            "canonical split, pixels / 255"
        ),
    )
    cmp.add_argument(
        "--data",
        default=None,
        help=(
            "MNIST or Fashion-MNIST .npz file or IDX folder (see "
            "skae.datasets.load_mnist and load_fashion_mnist)"
        ),
    )
    cmp.add_argument(
        "--max-iter",
        type=_bounded_int(1),
        default=None,
        help="epochs of the autoencoders (default: theirs, which suit the data)",
    )
    cmp.add_argument(
        "--random-state",
        type=_bounded_int(0, 2**32 - 1),
        default=0,
        help="seed of the split and the fits, 0 to 2**32 - 1 (default 0)",
    )
    cmp.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    cmp.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser, cmp


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skae`` console script.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success. Bad arguments exit with status 2 and argparse's
        message, as ``--help`` and ``--version`` exit with 0.
    """
    parser, cmp = _parser()
    args = parser.parse_args(argv)
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from . import _compare, datasets

    if args.data is not None and args.dataset == "digits":
        cmp.error("--data applies to --dataset mnist or fashion, not digits")
    if args.device == "cuda" and not torch.cuda.is_available():
        cmp.error("--device cuda: CUDA is not available on this machine")
    if args.dataset in ("mnist", "fashion"):
        try:
            images = datasets.load_image_dataset(args.dataset, args.data)
        except (OSError, ValueError) as error:
            # One line, no usage: the arguments parsed; the data did not.
            named = "--data" if args.data is not None else f"--dataset {args.dataset}"
            cmp.exit(2, f"{cmp.prog}: error: {named}: {error}\n")
        X_train, X_test = images.X_train, images.X_test
        y_train, y_test = images.y_train, images.y_test
        units = "pixels 0..1"
    else:
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=args.random_state, stratify=y
        )
        units = "pixels 0..16"
    n_train, n_features = X_train.shape
    too_large = [k for k in args.n_components if k > min(n_train, n_features)]
    if too_large:
        cmp.error(
            f"--n-components {too_large[0]} exceeds the {n_features} features "
            f"or the {n_train} training samples of {args.dataset}"
        )
    print(
        f"{args.dataset}: {X_train.shape[0]} train / {X_test.shape[0]} test samples, "
        f"{X_train.shape[1]} features; max_iter={args.max_iter or 'auto'}, "
        f"random_state={args.random_state}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    models = _compare.default_models(args.random_state, args.device, args.max_iter)
    start = time.perf_counter()
    rows = _compare.compare(
        X_train, X_test, y_train, y_test, args.n_components, models, not args.quiet
    )
    print(_compare.format_table(rows))
    print(
        f"total {time.perf_counter() - start:.1f} s. recon. error: mean over test "
        f"images of the summed squared pixel error ({units}); log-lik: PCA's "
        "probabilistic model and the VAE's evidence lower bound, per test image."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
