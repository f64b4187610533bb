"""``latent_density_`` (a GaussianMixture over the codes): its arrays as tensors,
the rest as JSON, rebuilt and checked on load.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture

from .json_tags import Refusal
from .safetensors_header import Spec
from .values import _check_names, _float, _floats, _integer, _object

_MIXTURE_TENSORS = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
)


_MIXTURE_ATTRIBUTES = (
    "converged_",
    "n_iter_",
    "lower_bound_",
    "lower_bounds_",
    "n_features_in_",
)


def _mixture_json(mixture: GaussianMixture | None) -> dict | None:
    if mixture is None:
        return None
    if type(mixture) is not GaussianMixture:
        raise TypeError(
            f"latent_density_ is a {type(mixture).__name__}; save writes a "
            "GaussianMixture (as fit sets) or None only."
        )
    fitted = (*_MIXTURE_ATTRIBUTES, *_MIXTURE_TENSORS)
    for name in vars(mixture):
        if name not in {*mixture._get_param_names(), *fitted}:
            raise TypeError(
                f"cannot save the attribute {name!r} of latent_density_: save "
                "writes what GaussianMixture.fit sets and nothing else."
            )
    for name in fitted:
        if name not in vars(mixture):
            raise ValueError(f"latent_density_ has no {name}: it is not fitted.")
    # The mixture's random_state is fit's own RandomState; sample() never uses it.
    params = dict(mixture.get_params(deep=False), random_state=None)
    attributes = {name: getattr(mixture, name) for name in _MIXTURE_ATTRIBUTES}
    return {"params": params, "attributes": attributes}


def _mixture_arrays(mixture: GaussianMixture | None) -> dict[str, np.ndarray]:
    if mixture is None:
        return {}
    return {
        f"latent_density_.{name}": np.ascontiguousarray(getattr(mixture, name))
        for name in _MIXTURE_TENSORS
    }


def _restore_mixture(value: Any, n_components: int) -> GaussianMixture | None:
    """``latent_density_`` without its arrays (they are tensors), or None."""
    if value is None:
        return None
    _check_names(
        _object(value, "latent_density_"),
        ("params", "attributes"),
        "latent_density_ entries",
    )
    params = _object(value["params"], "latent_density_ params")
    _check_names(params, GaussianMixture._get_param_names(), "latent_density_ params")
    mixture = GaussianMixture(**params)
    try:
        mixture._validate_params()
    except (TypeError, ValueError) as error:
        raise Refusal(f"latent_density_ params fail validation: {error}") from None
    saved = _object(value["attributes"], "latent_density_ attributes")
    _check_names(saved, _MIXTURE_ATTRIBUTES, "latent_density_ attributes")
    if type(saved["converged_"]) is not bool:
        raise Refusal("latent_density_ converged_ must be true or false.")
    mixture.converged_ = saved["converged_"]
    mixture.n_iter_ = _integer(saved, "n_iter_", 0, "latent_density_ ")
    mixture.lower_bound_ = _float(saved["lower_bound_"], "latent_density_ lower_bound_")
    mixture.lower_bounds_ = _floats(saved, "lower_bounds_", prefix="latent_density_ ")
    mixture.n_features_in_ = _integer(saved, "n_features_in_", 1, "latent_density_ ")
    if mixture.n_features_in_ != n_components:
        raise Refusal(
            f"latent_density_ n_features_in_={mixture.n_features_in_} differs "
            f"from n_components_={n_components}."
        )
    return mixture


def _mixture_specs(mixture: GaussianMixture | None) -> dict[str, Spec]:
    """Shapes and dtypes of the arrays of a mixture (none for None)."""
    if mixture is None:
        return {}
    k, d = mixture.n_components, mixture.n_features_in_
    covariance = {
        "full": (k, d, d),
        "tied": (d, d),
        "diag": (k, d),
        "spherical": (k,),
    }[mixture.covariance_type]
    shapes = {"weights_": (k,), "means_": (k, d)}
    shapes.update(dict.fromkeys(_MIXTURE_TENSORS[2:], covariance))
    return {f"latent_density_.{name}": (s, "float64") for name, s in shapes.items()}
