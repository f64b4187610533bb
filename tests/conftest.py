import os

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits split 75/25: (X_train, X_test, y_train, y_test)."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, random_state=0, stratify=y)


@pytest.fixture
def small():
    """A small random float64 matrix."""
    return np.random.RandomState(0).normal(size=(60, 6))


@pytest.fixture(autouse=True)
def _test_device(monkeypatch):
    """``SKAE_TEST_DEVICE=cuda pytest`` trains every estimator of the suite there.

    Whatever device a test asks for, fits then resolve to this one: the
    suite run on a GPU machine checks the CUDA path with the same tests.
    """
    device = os.environ.get("SKAE_TEST_DEVICE")
    if device:
        import skae._estimators.base

        monkeypatch.setattr(
            skae._estimators.base,
            "_resolve_device",
            lambda _requested: torch.device(device),
        )


def as_format_1(metadata: dict) -> dict:
    """``metadata`` of a saved file as format 1 wrote it: no digests.

    For tests that rewrite a file into what an older skae saved."""
    metadata = {k: v for k, v in metadata.items() if not k.endswith("_sha256")}
    return {**metadata, "format_version": "1"}
