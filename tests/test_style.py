"""The code base stays ruff-clean (lint and format), and the public names'
docstrings list their parameters as the signatures do."""

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=" ".join)
def test_ruff(args):
    # ruff is part of the test extras: pip install -e ".[test]"
    command = [sys.executable, "-m", "ruff", *args, str(ROOT)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


PUBLIC_MODULES = ["skae", "skae.architectures", "skae.datasets", "skae.metrics"]
PUBLIC_MODULES += ["skae.plot"]
# numpydoc's checks of the Parameters section: missing, unknown, out of
# order, a description without a final period.
PARAMETER_CHECKS = {"PR01", "PR02", "PR03", "PR10", "GL08"}


def public_names():
    """Every name in the public modules' ``__all__``, and their classes'
    public methods (inherited ones too), each function once."""
    seen = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            yield f"{module_name}.{name}"
            if not inspect.isclass(obj):
                continue
            for attr, value in inspect.getmembers(obj, inspect.isfunction):
                mine = value.__module__.startswith("skae")
                if not attr.startswith("_") and mine and value not in seen:
                    seen.add(value)
                    yield f"{module_name}.{name}.{attr}"


def test_public_docstrings_list_the_parameters_of_the_signature():
    validate = pytest.importorskip("numpydoc.validate").validate
    names = list(public_names())
    assert {"skae.AutoencoderTransformer.sample", "skae.metrics.sample_quality"} <= set(
        names
    )
    wrong = {}
    for name in names:
        errors = [e for e in validate(name)["errors"] if e[0] in PARAMETER_CHECKS]
        if errors:
            wrong[name] = errors
    assert not wrong
