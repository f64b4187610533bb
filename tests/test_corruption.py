"""corruption="salt_pepper": the draw, its units, the level check, a fit."""

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer, VAETransformer
from skae._data.scaling import Standardizer
from skae._nn.corruption import make_corruption

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)


def images(n=300, d=40, seed=0):
    return np.random.RandomState(seed).uniform(0.2, 0.8, size=(n, d))


def test_salt_pepper_sets_the_requested_fraction_to_0_or_1_in_data_units():
    X = images()
    std = Standardizer(X.mean(0), X.std(0))  # a per-feature scaling
    xs = std.scale_rows(X)
    corrupt = make_corruption("salt_pepper", 0.3, std)
    out = corrupt(xs, torch.Generator().manual_seed(0))
    replaced = out != xs
    assert abs(replaced.float().mean().item() - 0.3) < 0.02
    values = std.unscale(out)[replaced].numpy()
    assert np.all(np.isclose(values, 0.0, atol=1e-5) | np.isclose(values, 1.0))
    assert abs(np.isclose(values, 1.0).mean() - 0.5) < 0.03  # half salt, half pepper
    np.testing.assert_allclose(std.unscale(out)[~replaced].numpy(), X[~replaced])
    again = corrupt(xs, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    other = corrupt(xs, torch.Generator().manual_seed(1))
    assert not torch.equal(out, other)


def test_salt_pepper_without_scaling_writes_exact_zeros_and_ones():
    X = images(50, 10)
    identity = Standardizer(np.zeros(10), np.ones(10))
    xs = identity.scale_rows(X)
    out = make_corruption("salt_pepper", 0.5, identity)(
        xs, torch.Generator().manual_seed(0)
    )
    replaced = out[out != xs]
    assert set(replaced.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_salt_pepper_fit_and_level_below_one(cls):
    X = images(60, 8)
    est = cls(corruption="salt_pepper", corruption_level=0.2, **FAST).fit(X)
    assert est.transform(X).shape == (60, 2)
    plain = cls(**FAST).fit(X)
    assert not np.allclose(est.transform(X), plain.transform(X))
    with pytest.raises(ValueError, match=r"salt_pepper.*below 1"):
        cls(corruption="salt_pepper", corruption_level=1.0, **FAST).fit(X)
