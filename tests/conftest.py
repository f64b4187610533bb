import numpy as np
import pytest
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
