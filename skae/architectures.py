"""Network architectures for the estimators' ``architecture`` parameter.

Every builder follows one protocol::

    encoder, decoder = builder(n_features, n_components)

``encoder`` maps a batch of flat rows ``(B, n_features)`` to features
``(B, h)`` of any width ``h`` (a *trunk*: skae appends the code layer itself,
one linear layer to ``n_components`` for
:class:`~skae.AutoencoderTransformer`, the posterior mean and log-variance
heads for :class:`~skae.VAETransformer`), and ``decoder`` maps codes
``(B, n_components)`` to ``(B, n_features)``: the reconstruction for the
squared error and the Gaussian likelihood, the logits for the Bernoulli and
multinomial likelihoods. ``h`` is found with a dry run on PyTorch's meta
device, so any module works and the same builder serves both estimators.

Pass ``"mlp"`` or ``"conv"`` to the estimators, or a builder of your own. A
builder with options is a :func:`functools.partial`, e.g.
``functools.partial(skae.architectures.conv, image_shape=(28, 28),
channels=(64, 128))``; it pickles, clones and runs in
``GridSearchCV(n_jobs=2)`` as long as it is a module-level function or a
partial of one (a lambda or a nested function does not pickle).

skae initialises the parameters of the modules from its own random
generator: every layer with a ``weight`` of two or more dimensions and a
``bias`` (linear and convolutional layers) gets PyTorch's default uniform
scheme, a 1-D ``weight`` (normalisation layers) is set to ones and its bias
to zeros, and a module with a ``reset_parameters_from(generator)`` method
initialises itself. Modules must not hold buffers and should not depend on
the other rows of the batch (no batch normalisation): each row's code must
be a function of that row alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

from torch import nn

from ._nn.layers import activation_layer

__all__ = ["conv", "mlp"]


def _positive_ints(values, name: str) -> list[int]:
    """``values`` as a list of positive ints, or a ValueError naming ``name``."""
    values = list(values) if hasattr(values, "__iter__") else [values]
    if not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise ValueError(f"{name} must contain positive integers only, got {values!r}.")
    return [int(v) for v in values]


def _dense(sizes: list[int], activation: str, last: bool) -> list[nn.Module]:
    """Linear layers of ``sizes``, activations between (and after them if ``last``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        if i > 0:
            layers.append(activation_layer(activation))
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
    if last and len(sizes) > 1:
        layers.append(activation_layer(activation))
    return layers


def mlp(
    n_features: int,
    n_components: int,
    *,
    hidden_layer_sizes: Sequence[int] = (256, 128),
    activation: str = "relu",
) -> tuple[nn.Module, nn.Module]:
    """Multilayer perceptron: the estimators' ``architecture="mlp"``.

    Parameters
    ----------
    n_features : int
        Width of the input rows.

    n_components : int
        Width of the codes the decoder receives.

    hidden_layer_sizes : sequence of int, default=(256, 128)
        Widths of the encoder's hidden layers; the decoder mirrors them. An
        empty sequence gives a linear model (the encoder is the identity).

    activation : {"relu", "tanh", "logistic", "identity", "elu", "gelu", \
            "silu"}, default="relu"
        Activation after each hidden layer.

    Returns
    -------
    encoder : torch.nn.Sequential
        Linear layers to the hidden widths, each followed by the activation;
        its output width is the last hidden width (``n_features`` without
        hidden layers).

    decoder : torch.nn.Sequential
        Linear layers from ``n_components`` through the hidden widths in
        reverse to ``n_features``, with the activation between them and
        none at the end.
    """
    hidden = _positive_ints(hidden_layer_sizes, "hidden_layer_sizes")
    encoder = nn.Sequential(*_dense([n_features, *hidden], activation, last=True))
    decoder = nn.Sequential(
        *_dense([n_components, *hidden[::-1], n_features], activation, last=False)
    )
    return encoder, decoder


def _image_shape(image_shape, n_features: int) -> tuple[int, int, int]:
    """``image_shape`` as (channels, height, width), checked against ``n_features``."""
    if image_shape is None:
        raise ValueError(
            "the convolutional architecture needs image_shape, the shape of one "
            "row as an image: (height, width) or (channels, height, width), "
            "e.g. image_shape=(28, 28) for MNIST."
        )
    shape = _positive_ints(image_shape, "image_shape")
    if len(shape) not in (2, 3):
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width), "
            f"got {image_shape!r}."
        )
    c, h, w = shape if len(shape) == 3 else [1, *shape]
    if c * h * w != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r} holds {c * h * w} values per "
            f"image but the data have n_features={n_features}; each row must be "
            "one image flattened in (channels, height, width) order."
        )
    return c, h, w


def conv(
    n_features: int,
    n_components: int,
    *,
    image_shape: Sequence[int],
    channels: Sequence[int] = (32, 64),
    hidden_layer_sizes: Sequence[int] = (256,),
    activation: str = "relu",
) -> tuple[nn.Module, nn.Module]:
    """Convolutional encoder and transposed-convolutional decoder for images.

    The estimators' ``architecture="conv"``. Each row is one image
    flattened in (channels, height, width) order, as ``X.reshape(n, -1)``
    gives from an array of shape (n, C, H, W) or (n, H, W). The encoder
    applies 3x3 convolutions of stride 2 and padding 1, each halving the
    height and width (rounding up: 28 -> 14 -> 7, 8 -> 4 -> 2), with the
    activation after each, then flattens and applies dense hidden layers.
    The decoder mirrors it: dense layers, a reshape, and 3x3 transposed
    convolutions of stride 2 whose output padding restores every size
    exactly, the last one to ``C`` channels without activation. There is no
    batch normalisation: every row's result depends on that row alone.

    Parameters
    ----------
    n_features : int
        Width of the input rows, ``C * H * W``.

    n_components : int
        Width of the codes the decoder receives.

    image_shape : sequence of int
        ``(H, W)`` for one channel or ``(C, H, W)``.

    channels : sequence of int, default=(32, 64)
        Output channels of the convolutions, one stride-2 layer each (at
        least one).

    hidden_layer_sizes : sequence of int, default=(256,)
        Widths of the dense layers after the convolutions; the decoder
        mirrors them. May be empty.

    activation : {"relu", "tanh", "logistic", "identity", "elu", "gelu", \
            "silu"}, default="relu"
        Activation after each layer but the decoder's last.

    Returns
    -------
    encoder : torch.nn.Sequential
        Maps ``(B, n_features)`` to ``(B, h)``: the last hidden width, or
        the flattened output of the last convolution without dense layers.

    decoder : torch.nn.Sequential
        Maps ``(B, n_components)`` to ``(B, n_features)``.

    Raises
    ------
    ValueError
        If ``image_shape`` is missing, malformed or does not hold
        ``n_features`` values, or ``channels`` is empty.

    Examples
    --------
    >>> import torch
    >>> from skae.architectures import conv
    >>> encoder, decoder = conv(784, 2, image_shape=(28, 28))
    >>> encoder(torch.zeros(5, 784)).shape
    torch.Size([5, 256])
    >>> decoder(torch.zeros(5, 2)).shape
    torch.Size([5, 784])
    """
    c, h, w = _image_shape(image_shape, n_features)
    chans = _positive_ints(channels, "channels")
    if not chans:
        raise ValueError("channels must hold at least one convolution's width.")
    hidden = _positive_ints(hidden_layer_sizes, "hidden_layer_sizes")
    sizes = [(h, w)]
    for _ in chans:
        sizes.append(tuple((s + 1) // 2 for s in sizes[-1]))
    flat = chans[-1] * sizes[-1][0] * sizes[-1][1]

    encoder: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
    for c_in, c_out in zip([c, *chans[:-1]], chans, strict=True):
        encoder.append(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1))
        encoder.append(activation_layer(activation))
    encoder.append(nn.Flatten())
    encoder.extend(_dense([flat, *hidden], activation, last=True))

    decoder = _dense([n_components, *hidden[::-1], flat], activation, last=True)
    decoder.append(nn.Unflatten(1, (chans[-1], *sizes[-1])))
    c_outs = [*chans[-2::-1], c]
    for i, (c_in, c_out) in enumerate(zip(chans[::-1], c_outs, strict=True)):
        (h_in, w_in), (h_out, w_out) = sizes[-1 - i], sizes[-2 - i]
        padding = (h_out - 2 * h_in + 1, w_out - 2 * w_in + 1)
        decoder.append(
            nn.ConvTranspose2d(
                c_in, c_out, 3, stride=2, padding=1, output_padding=padding
            )
        )
        if i < len(chans) - 1:
            decoder.append(activation_layer(activation))
    decoder.append(nn.Flatten())
    return nn.Sequential(*encoder), nn.Sequential(*decoder)
