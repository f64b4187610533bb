"""skae.plot: the Displays draw what the estimators compute, on given axes."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from skae import AutoencoderTransformer, ConditionalVAETransformer, VAETransformer
from skae.plot import (
    LatentMapDisplay,
    LatentTraversalDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
    SamplesDisplay,
)
from skae.plot._common import image_grid, image_shape_of

matplotlib.use("Agg")
import matplotlib.pyplot as plt

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, device="cpu", random_state=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data(digits):
    X_train, _, y_train, _ = digits
    return X_train[:300], y_train[:300]


@pytest.fixture(scope="module")
def ae(data):
    return AutoencoderTransformer(3, early_stopping=True, **FAST).fit(data[0])


@pytest.fixture(scope="module")
def vae(data):
    return VAETransformer(3, **FAST).fit(data[0])


@pytest.fixture(scope="module")
def cvae(data):
    return ConditionalVAETransformer(2, **FAST).fit(*data)


def tile(picture: np.ndarray, row: int, col: int, shape=(8, 8)) -> np.ndarray:
    """Image (row, col) of a grid drawn with one-pixel margins, flattened
    (matplotlib masks the margins' NaN: they come back as NaN)."""
    picture = np.ma.filled(np.ma.asarray(picture, dtype=float), np.nan)
    h, w = shape
    return picture[
        row * (h + 1) : row * (h + 1) + h, col * (w + 1) : col * (w + 1) + w
    ].ravel()


# ------------------------------------------------------------- latent map
def test_latent_map_draws_each_class_at_its_codes(ae, data):
    X, y = data
    display = LatentMapDisplay.from_estimator(ae, X, y, dims=(2, 0))
    codes = ae.transform(X)
    assert len(display.scatters_) == 10
    for c, points in enumerate(display.scatters_):
        np.testing.assert_allclose(points.get_offsets(), codes[y == c][:, [2, 0]])
    assert [t.get_text() for t in display.legend_.get_texts()] == list("0123456789")
    assert display.colorbar_ is None
    assert display.ax_.get_xlabel() == "code 2" and display.ax_.get_ylabel() == "code 0"
    assert display.ax_.get_title() == "AutoencoderTransformer"


def test_latent_map_on_given_axes_and_any_transformer(data):
    X, y = data
    fig, axes = plt.subplots(1, 2)
    display = LatentMapDisplay.from_estimator(PCA(2).fit(X), X, y, ax=axes[1])
    assert display.ax_ is axes[1] and display.figure_ is fig
    assert len(axes[0].collections) == 0 and len(axes[1].collections) == 10


def test_latent_map_continuous_labels_get_a_colour_scale(ae, data):
    X, _ = data
    value = X.sum(1)  # many distinct values
    display = LatentMapDisplay.from_estimator(ae, X, value)
    assert len(display.scatters_) == 1 and display.legend_ is None
    assert display.colorbar_ is not None
    np.testing.assert_allclose(display.scatters_[0].get_array(), value)
    unlabelled = LatentMapDisplay(ae.transform(X)).plot()
    assert len(unlabelled.scatters_) == 1 and unlabelled.colorbar_ is None


@pytest.mark.parametrize("dims", [(0, 0), (0, 3), (0,), "ab", (0, 1.0)])
def test_latent_map_rejects_bad_dims(ae, data, dims):
    with pytest.raises(ValueError, match="dims must be two distinct"):
        LatentMapDisplay.from_estimator(ae, data[0], dims=dims)


def test_latent_map_errors(data):
    with pytest.raises(ValueError, match="at least 2 components, the codes have 1"):
        LatentMapDisplay(np.zeros((5, 1))).plot()
    with pytest.raises(ValueError, match="labels has 4 values for 5 codes"):
        LatentMapDisplay(np.zeros((5, 2)), np.arange(4)).plot()


# --------------------------------------------------------- reconstructions
def test_reconstructions_sit_below_their_originals(ae, data):
    X, _ = data
    display = ReconstructionDisplay.from_estimator(ae, X, n_examples=4)
    picture = display.image_.get_array()
    assert picture.shape == (2 * 9 - 1, 4 * 9 - 1)
    again = ae.inverse_transform(ae.transform(X[:4]))
    for i in range(4):
        np.testing.assert_allclose(tile(picture, 0, i), X[i])
        np.testing.assert_allclose(tile(picture, 1, i), again[i])
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert labels == ["original", "reconstruction"]
    assert display.image_.get_clim() == (X[:4].min(), X[:4].max())


def test_reconstructions_of_rows_that_are_not_images(small):
    model = AutoencoderTransformer(2, **FAST).fit(small)
    display = ReconstructionDisplay.from_estimator(model, small, n_examples=3)
    assert display.image_ is None and len(display.lines_) == 6
    again = model.inverse_transform(model.transform(small[:3]))
    span = np.ptp(small[:3])
    for i in range(3):
        np.testing.assert_allclose(
            display.lines_[2 * i].get_ydata(), small[i] - 1.2 * span * i
        )
        np.testing.assert_allclose(
            display.lines_[2 * i + 1].get_ydata(), again[i] - 1.2 * span * i
        )


def test_reconstructions_of_a_conditional_model_use_the_labels(cvae, data):
    X, y = data
    display = ReconstructionDisplay.from_estimator(cvae, X, y, n_examples=3)
    again = cvae.inverse_transform(cvae.transform(X[:3], y=y[:3]), y=y[:3])
    np.testing.assert_allclose(tile(display.image_.get_array(), 1, 2), again[2])


def test_reconstructions_of_sparse_rows(ae, data):
    import scipy.sparse as sp

    X = data[0]
    display = ReconstructionDisplay.from_estimator(ae, sp.csr_matrix(X), n_examples=2)
    np.testing.assert_allclose(tile(display.image_.get_array(), 0, 1), X[1])


def test_reconstruction_errors(ae, data):
    with pytest.raises(ValueError, match="n_examples must be a positive integer"):
        ReconstructionDisplay.from_estimator(ae, data[0], n_examples=0)
    with pytest.raises(ValueError, match="must have the same shape"):
        ReconstructionDisplay(np.zeros((2, 4)), np.zeros((3, 4))).plot()


# ------------------------------------------------------------------ samples
def test_samples_fill_a_square_grid(vae):
    display = SamplesDisplay.from_estimator(vae, n_samples=10, random_state=3)
    picture = display.image_.get_array()
    samples = vae.sample(10, random_state=3)
    assert picture.shape == (3 * 9 - 1, 4 * 9 - 1)  # 4 columns, 3 rows
    for i in range(10):
        np.testing.assert_allclose(tile(picture, i // 4, i % 4), samples[i])
    assert np.isnan(tile(picture, 2, 3)).all()  # the 12th place is empty


def test_samples_of_a_conditional_model_one_row_per_class(cvae):
    display = SamplesDisplay.from_estimator(cvae, n_samples=5, y=[7, 1])
    picture = display.image_.get_array()
    assert picture.shape == (2 * 9 - 1, 5 * 9 - 1)
    for row, c in enumerate([7, 1]):  # in the order asked for
        samples = cvae.sample(5, random_state=0, y=c)
        for i in range(5):
            np.testing.assert_allclose(tile(picture, row, i), samples[i])
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["7", "1"]
    full = SamplesDisplay.from_estimator(cvae, n_samples=2)
    assert full.image_.get_array().shape[0] == 10 * 9 - 1


def test_samples_of_rows_that_are_not_images_are_a_heatmap():
    samples = np.arange(30.0).reshape(5, 6)
    display = SamplesDisplay(samples).plot()
    np.testing.assert_array_equal(display.image_.get_array()[:5], samples)
    with pytest.raises(ValueError, match="same number of samples"):
        SamplesDisplay(samples, labels=[0, 0, 1, 1, 1]).plot()


# -------------------------------------------------------------- loss curve
def test_loss_curve_draws_both_curves(ae):
    display = LossCurveDisplay.from_estimator(ae)
    train, valid = display.lines_
    np.testing.assert_allclose(train.get_ydata(), ae.loss_curve_)
    np.testing.assert_allclose(valid.get_ydata(), ae.validation_loss_curve_)
    np.testing.assert_array_equal(train.get_xdata(), np.arange(1, ae.n_iter_ + 1))
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training",
        "validation",
    ]


def test_loss_curve_needs_a_fitted_model(vae):
    assert len(LossCurveDisplay.from_estimator(vae).lines_) == 1
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(VAETransformer())
    with pytest.raises(ValueError, match="validation_loss_curve has 4 values"):
        LossCurveDisplay([1.0, 0.5, 0.2], [1.0, 0.5, 0.4, 0.3]).plot()
    # After a warm start the validation curve covers the last fit's epochs.
    warm = LossCurveDisplay([1.0, 0.5, 0.2], [0.6, 0.3]).plot()
    np.testing.assert_array_equal(warm.lines_[1].get_xdata(), [2, 3])


# ---------------------------------------------------------------- traversal
def test_traversal_rows_are_the_dimensions(vae, data):
    X, _ = data
    values = [-1.0, 0.0, 2.0]
    display = LatentTraversalDisplay.from_estimator(
        vae, X[5], dims=[2, 0], values=values
    )
    grid = vae.traverse(X[5], dims=[2, 0], values=values)
    picture = display.image_.get_array()
    for row in range(2):
        for col in range(3):
            np.testing.assert_allclose(tile(picture, row, col), grid[row, col])
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["code 2", "code 0"]
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["-1", "0", "2"]
    everything = LatentTraversalDisplay.from_estimator(vae)
    assert everything.image_.get_array().shape == (3 * 9 - 1, 7 * 9 - 1)


def test_traversal_checks_its_grid():
    with pytest.raises(ValueError, match="grid must have shape"):
        LatentTraversalDisplay(np.zeros((2, 3, 4)), [0], [0.0, 1.0, 2.0]).plot()


# ------------------------------------------------------------------ helpers
def test_image_shape_is_checked_or_inferred():
    assert image_shape_of(None, 64) == (8, 8)
    assert image_shape_of(None, 6) is None
    assert image_shape_of(None, 16) is None  # 4x4: tabular rows, not images
    assert image_shape_of((1, 4, 16), 64) == (4, 16)
    for bad in [(8, 9), (2, 4, 8), (0, 64)]:
        with pytest.raises(ValueError, match="image_shape must be"):
            image_shape_of(bad, 64)


def test_image_grid_separates_images_with_blank_margins():
    images = np.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    picture = image_grid(images, (2, 2))
    assert picture.shape == (5, 8)
    np.testing.assert_array_equal(picture[:2, 3:5], images[0, 1].reshape(2, 2))
    assert np.isnan(picture[2]).all() and np.isnan(picture[:, 2]).all()


def test_displays_say_how_to_get_matplotlib(monkeypatch, ae, data):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install \"skae\[plot\]\""):
        LatentMapDisplay.from_estimator(ae, data[0])


def test_importing_skae_plot_does_not_import_matplotlib():
    code = "import sys, skae.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
