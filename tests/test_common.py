"""scikit-learn's own estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from skae import AutoencoderTransformer, ConditionalVAETransformer, VAETransformer

# Small networks and few epochs keep the ~100 checks fast; behaviour is the
# same as with the defaults.
FAST = dict(hidden_layer_sizes=(16,), max_iter=5, device="cpu")
ESTIMATORS = [
    AutoencoderTransformer(**FAST),
    # The neighbour-preserving term changes what a batch is (pairs of rows).
    AutoencoderTransformer(**FAST, neighbor_weight=1.0),
    # The model built on PCA: its axes come from the training rows.
    AutoencoderTransformer(**FAST, pca_path=True),
    VAETransformer(**FAST),
    ConditionalVAETransformer(**FAST),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: {})
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


EXTRA_CHECKS = [
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_dataframe_column_names_consistency,
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("check", EXTRA_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_checks_not_in_parametrize_with_checks(estimator, check):
    check(type(estimator).__name__, estimator)
