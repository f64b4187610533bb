"""Corruptions of the encoder's input, for denoising training.

A corruption maps a batch of scaled rows to a corrupted copy; the objective
then asks the model to reconstruct the clean batch from it (Vincent et al.,
2008). Levels are in the caller's units: masking sets entries to the value
that means zero in the caller's units, salt-and-pepper noise to the values
that mean 0 and 1 in the caller's units, Gaussian noise has a standard
deviation in the caller's units, and a user's callable sees (and returns)
rows in the caller's units. Each draws from the training loop's generator.

A resampling (:class:`Binarize`) differs: it replaces the batch by a draw
from the data's distribution, which the objective uses both as the input and
as the target, and only in training.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._data.scaling import Standardizer

Corrupt = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class Masking:
    """Set each entry to zero (in the caller's units) with probability ``level``.

    Mult-VAE's input dropout (Liang et al., 2018) and the masking noise of
    denoising autoencoders.
    """

    def __init__(self, level: float, standardizer: Standardizer) -> None:
        self.level = level
        self.zero = standardizer.shift.float()

    def __call__(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(xs.shape, generator=generator, dtype=xs.dtype, device=xs.device)
        return torch.where(u < self.level, self.zero, xs)


class InputDropout:
    """Mult-VAE's input dropout: on unit-norm rows, inverted dropout.

    Each entry is set to zero with probability ``level`` and the kept ones
    are divided by ``1 - level``, so the corrupted row's expectation is the
    clean one (as ``torch.nn.Dropout`` and the ``tf.nn.dropout`` of Liang et
    al., 2018). It acts after the multinomial encoder's L2 normalisation
    (``after_unit_norm``): the encoder normalises, then drops, as in the
    paper. Dropping first and normalising after would give inputs whose
    expectation is not the clean row (about 0.7 times it at ``level=0.5``),
    whatever the rescaling, as normalising undoes it.
    """

    after_unit_norm = True

    def __init__(self, level: float) -> None:
        self.level = level
        self.keep_scale = 1.0 / (1.0 - level)

    def __call__(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(xs.shape, generator=generator, dtype=xs.dtype, device=xs.device)
        return torch.where(u < self.level, 0.0, xs * self.keep_scale)


class SaltPepper:
    """Set each entry with probability ``level`` to 0 or 1 in the caller's units.

    Salt-and-pepper noise (Vincent et al., 2010) for images scaled to
    [0, 1]: a replaced entry becomes the data's minimum (0) or maximum (1),
    each with probability one half. One uniform draw per entry decides both
    whether and to what it is replaced.
    """

    def __init__(self, level: float, standardizer: Standardizer) -> None:
        self.level = level
        self.low = standardizer.shift.float()  # 0 in the caller's units
        self.high = (standardizer.shift + standardizer.inv).float()  # 1

    def __call__(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(xs.shape, generator=generator, dtype=xs.dtype, device=xs.device)
        replaced = torch.where(u < 0.5 * self.level, self.low, self.high)
        return torch.where(u < self.level, replaced, xs)


class GaussianNoise:
    """Add Gaussian noise of standard deviation ``level`` in the caller's units.

    ``level`` is a number or one standard deviation per feature.
    """

    def __init__(self, level, standardizer: Standardizer) -> None:
        inv = standardizer.inv
        level = torch.as_tensor(level, dtype=inv.dtype, device=inv.device)
        self.std = (level * inv).float()

    def __call__(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        eps = torch.randn(
            xs.shape, generator=generator, dtype=xs.dtype, device=xs.device
        )
        return torch.addcmul(xs, eps, self.std)


class UserCorruption:
    """A user's ``fn(X_batch, generator) -> corrupted batch`` in the caller's units."""

    def __init__(self, fn: Callable, standardizer: Standardizer) -> None:
        self.fn = fn
        self.standardizer = standardizer

    def __call__(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = self.standardizer.unscale(xs).to(xs.dtype)
        corrupted = self.fn(x, generator)
        if not (torch.is_tensor(corrupted) and corrupted.shape == xs.shape):
            raise ValueError(
                "corruption must return a tensor of the batch's shape "
                f"{tuple(xs.shape)}, got {type(corrupted).__name__} of shape "
                f"{tuple(getattr(corrupted, 'shape', ()))}."
            )
        out = torch.empty_like(xs)
        return self.standardizer.scale_into(corrupted.to(xs.dtype), out)


CORRUPTIONS: dict[str, type] = {
    "masking": Masking,
    "salt_pepper": SaltPepper,
    "gaussian": GaussianNoise,
}


class Binarize:
    """Replace a batch of values in [0, 1] by a Bernoulli draw of 0s and 1s.

    Dynamic binarization (e.g. Salakhutdinov & Murray, 2008; Burda et al.,
    2015): every training batch of grey levels becomes a fresh binary sample
    with the grey levels as probabilities. Unlike a corruption, which only
    changes the encoder's input, a resampling replaces the data themselves:
    the objective uses the draw as the input and as the target. The batch
    must be in the caller's units (an identity internal scaling).
    """

    def __call__(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.bernoulli(xs, generator=generator)


def make_corruption(
    kind: str | Callable | None, level: float, standardizer: Standardizer
) -> Corrupt | None:
    """The corruption named ``kind`` (or the user's callable), or None."""
    if kind is None:
        return None
    if callable(kind):
        return UserCorruption(kind, standardizer)
    return CORRUPTIONS[kind](level, standardizer)
