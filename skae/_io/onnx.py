"""ONNX export: a fitted estimator's ``transform`` or ``inverse_transform``.

:func:`to_onnx` traces the fitted network with PyTorch's exporter
(``torch.onnx.export(dynamo=True)``, which needs the ``onnx`` and
``onnxscript`` packages) inside a module that also applies the fitted
scaling, so that the ONNX model reads and writes the caller's units, as the
estimator does. :func:`register_skl2onnx` teaches skl2onnx to convert the
estimators, so that a ``Pipeline`` holding one exports whole: the
converter copies the exported graph's nodes into the pipeline's graph.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._estimators.autoencoder import AutoencoderTransformer
from .._estimators.conditional import ConditionalVAETransformer
from .._estimators.vae import VAETransformer

METHODS = ("transform", "inverse_transform")
# The opset of the exported models unless asked otherwise (the lowest the
# exporter writes).
DEFAULT_OPSET = 18


class _Scaled(nn.Module):
    """``method`` of a fitted module, in the caller's units, float32."""

    def __init__(self, module: nn.Module, method: str, mean, scale) -> None:
        super().__init__()
        self.module = module
        self.method = method
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method == "transform":
            return self.module.embed((x - self.mean) / self.scale)
        return self.module.reconstruct(x) * self.scale + self.mean


def _check_exportable(estimator: object, method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if isinstance(estimator, ConditionalVAETransformer):
        raise TypeError(
            "ConditionalVAETransformer is not exportable to ONNX: its encoder and "
            "decoder read the label, and transform without one marginalises it "
            "over the classes, which the exported graph does not do."
        )
    if not isinstance(estimator, AutoencoderTransformer | VAETransformer):
        raise TypeError(
            "to_onnx exports AutoencoderTransformer and VAETransformer, got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator)


def to_onnx(estimator, method="transform", *, target_opset=None):
    """Export a fitted estimator's ``transform`` or ``inverse_transform`` to ONNX.

    The ONNX model computes what the method returns, scaling included, in
    float32 (for data with a large offset, such as timestamps, convert through
    :func:`register_skl2onnx` with float64 input: the scaling is then done in
    float64, as the estimator does it): input ``"X"`` of shape ``(n_rows,
    n_features_in_)`` (codes of shape ``(n_rows, n_components_)`` for
    ``inverse_transform``), output ``"Y"``. Any architecture the estimators
    train (``"mlp"``, ``"conv"``, a builder of standard PyTorch layers) exports,
    with ``pca_path`` and every likelihood;
    :class:`~skae.ConditionalVAETransformer` does not (its methods read labels).
    ``score_samples`` and ``sample`` are the estimator's own, not exported.
    Results agree with the estimator's to float32 rounding (the estimator sums
    in a fixed, batch-invariant order; onnxruntime does not).

    Needs the optional packages ``onnx`` and ``onnxscript`` (PyTorch's
    exporter uses them); onnxruntime runs the result.

    Parameters
    ----------
    estimator : AutoencoderTransformer or VAETransformer
        A fitted estimator.

    method : {"transform", "inverse_transform"}, default="transform"
        The method to export.

    target_opset : int, default=None
        ONNX opset of the model; None means 18.

    Returns
    -------
    model : onnx.ModelProto
        The ONNX model (``model.SerializeToString()`` gives the file's bytes).

    See Also
    --------
    register_skl2onnx : Convert pipelines that hold skae estimators.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer, to_onnx
    >>> X, _ = load_digits(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> ae = AutoencoderTransformer(8, hidden_layer_sizes=(32,), max_iter=5,
    ...                             random_state=0).fit(X)
    >>> model = to_onnx(ae)
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> codes = session.run(None, {"X": X})[0]
    >>> bool(np.allclose(codes, ae.transform(X), atol=1e-4))
    True
    """
    _check_exportable(estimator, method)
    opset = DEFAULT_OPSET if target_opset is None else int(target_opset)
    return _export(estimator, method, opset, estimator.mean_, estimator.scale_)


def _export(estimator, method: str, opset: int, mean, scale):
    """The ONNX model of ``method`` with the scaling ``mean``, ``scale``."""
    module = _Scaled(_cpu_copy(estimator.module_), method, mean, scale).eval()
    width = estimator.n_features_in_
    if method == "inverse_transform":
        width = estimator.n_components_
    example = torch.zeros(2, width)
    rows = torch.export.Dim("n_rows", min=1)
    with warnings.catch_warnings():
        # The exporter's own notices about its internals, not the user's.
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        program = torch.onnx.export(
            module,
            (example,),
            input_names=["X"],
            output_names=["Y"],
            dynamic_shapes=({0: rows},),
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    model = program.model_proto
    if model.functions:  # the converter copies plain nodes only
        raise RuntimeError(
            "the exported graph holds ONNX functions, which to_onnx does not "
            "support; please report this with the estimator's architecture."
        )
    return model


def _cpu_copy(module: nn.Module) -> nn.Module:
    """A float32 CPU copy of ``module`` (the fitted one stays where it is)."""
    return copy.deepcopy(module).cpu().float()


# ------------------------------------------------------------------ skl2onnx
def _double(variable) -> bool:
    return type(variable.type).__name__ == "DoubleTensorType"


def _shape_calculator(operator) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    estimator = operator.raw_operator
    kind = DoubleTensorType if _double(operator.inputs[0]) else FloatTensorType
    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = kind([rows, estimator.n_components_])


def _converter(scope, operator, container) -> None:
    """Copy the exported graph of ``transform`` into the pipeline's graph.

    float64 input is scaled in float64 (as the estimator scales it), then
    cast to float32 for the network, whose codes are cast back; any other
    input is cast to float32 and scaled there.
    """
    from onnx import TensorProto, helper, numpy_helper

    estimator = operator.raw_operator
    source, target = operator.inputs[0].full_name, operator.outputs[0].full_name
    double = _double(operator.inputs[0])
    opset = _opset(container)
    if double:
        n = estimator.n_features_in_
        model = _export(estimator, "transform", opset, np.zeros(n), np.ones(n))
    else:
        model = _export(
            estimator, "transform", opset, estimator.mean_, estimator.scale_
        )
    graph = model.graph
    names = {}

    def renamed(name: str) -> str:
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"skae_{name}")
        return names[name]

    def constant(base: str, value: np.ndarray) -> str:
        name = scope.get_unique_variable_name(base)
        container.add_initializer(
            name, TensorProto.DOUBLE, [len(value)], np.asarray(value, np.float64)
        )
        return name

    names["X"] = scope.get_unique_variable_name("skae_X32")
    names["Y"] = scope.get_unique_variable_name("skae_Y32") if double else target
    if double:
        centred = scope.get_unique_variable_name("skae_centred")
        scaled = scope.get_unique_variable_name("skae_scaled")
        mean = constant("skae_mean", estimator.mean_)
        container.add_node("Sub", [source, mean], [centred])
        scale = constant("skae_scale", estimator.scale_)
        container.add_node("Div", [centred, scale], [scaled])
        container.add_node("Cast", [scaled], [names["X"]], to=TensorProto.FLOAT)
    elif type(operator.inputs[0].type).__name__ == "FloatTensorType":
        names["X"] = source
    else:
        container.add_node("Cast", [source], [names["X"]], to=TensorProto.FLOAT)
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        container.add_initializer(
            renamed(tensor.name),
            tensor.data_type,
            list(array.shape),
            numpy_helper.from_array(np.ascontiguousarray(array), renamed(tensor.name)),
        )
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            [renamed(name) if name else "" for name in node.input],
            [renamed(name) for name in node.output],
            op_domain=node.domain,
            name=scope.get_unique_operator_name(f"skae_{node.op_type}"),
            **attributes,
        )
    if double:
        container.add_node("Cast", [names["Y"]], [target], to=TensorProto.DOUBLE)


def _opset(container) -> int:
    """The pipeline's opset for the default domain: 18 or more."""
    opset = container.target_opset
    if isinstance(opset, dict):
        opset = opset.get("")
    opset = int(opset or DEFAULT_OPSET)
    if opset < DEFAULT_OPSET:
        raise ValueError(
            f"skae's converter needs target_opset >= {DEFAULT_OPSET} (PyTorch's "
            f"exporter writes no older operators), got {opset}."
        )
    return opset


def register_skl2onnx() -> None:
    """Register skae's estimators with skl2onnx, so that pipelines convert whole.

    After this call, ``skl2onnx.to_onnx`` (or ``convert_sklearn``) converts
    an :class:`~skae.AutoencoderTransformer` or :class:`~skae.VAETransformer`
    anywhere in a ``Pipeline`` or ``ColumnTransformer``: its ``transform``
    is exported with :func:`to_onnx` and copied into the pipeline's graph.
    float64 input is scaled in float64, then the network runs in float32
    and the codes are cast back to float64; other input (float32, integers)
    is cast to float32 and gives float32 codes. Needs ``target_opset`` of
    18 or more, the optional package ``skl2onnx``, and ``onnx`` and
    ``onnxscript``.

    See Also
    --------
    to_onnx : Export one estimator's ``transform`` or ``inverse_transform``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skl2onnx import to_onnx as sklearn_to_onnx
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skae import AutoencoderTransformer, register_skl2onnx
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> pipe = make_pipeline(
    ...     AutoencoderTransformer(8, hidden_layer_sizes=(32,), max_iter=5,
    ...                            random_state=0),
    ...     LogisticRegression(max_iter=1000)).fit(X, y)
    >>> register_skl2onnx()
    >>> model = sklearn_to_onnx(pipe, X[:1])
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> labels = session.run(None, {"X": X})[0]
    >>> bool((labels == pipe.predict(X)).mean() > 0.99)
    True
    """
    from skl2onnx import update_registered_converter

    for cls in (AutoencoderTransformer, VAETransformer):
        update_registered_converter(
            cls,
            f"Skae{cls.__name__}",
            _shape_calculator,
            _converter,
        )
