"""The layer contract: which parts of skae may import which, and no cycles.

skae is layered (see the README's Layout): the estimators (``_estimators``)
compose the training loop (``_train``), which drives the networks (``_nn``)
on the rows of the data layer (``_data``); the data layer imports nothing
else of skae, and the torch side never imports scikit-learn. Persistence
(``_io``) reads the estimators, which never import it; the other top-level
modules (the CLI, datasets) may import anything.
Every import statement counts, those inside functions too.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import skae

PACKAGE = Path(skae.__file__).parent

# Layer (a subpackage) -> the other layers (or top-level modules) it may import.
ALLOWED: dict[str, set[str]] = {
    "skae._io": {"skae._estimators", "skae"},  # the estimators and the version
    "skae._estimators": {
        "skae._train",
        "skae._nn",
        "skae._neighbors",
        "skae._data",
        "skae.architectures",
    },
    "skae._train": {"skae._nn", "skae._data"},
    "skae._nn": {"skae._data"},
    "skae._neighbors": set(),
    "skae._data": set(),
    "skae.plot": set(),  # reads fitted estimators through their public methods
}
# Subpackages that never import scikit-learn (the torch side).
NO_SKLEARN = ("skae._train", "skae._nn", "skae._neighbors", "skae._data")


def module_name(path: Path, root: Path) -> str:
    """Dotted name of the module at ``path`` in the package at ``root``."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *filter(None, [node.module])])
            else:
                module = node.module
            # ``from . import x`` imports the module ``x`` where there is one,
            # else the name ``x`` of the module ``.``.
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                found.add(candidate if _exists(candidate, root) else module)
    return found


def _exists(name: str, root: Path) -> bool:
    rel = Path(*name.split(".")[1:])
    return (root / rel).with_suffix(".py").is_file() or (root / rel).is_dir()


def layer_of(name: str) -> str | None:
    """The layer of module ``name`` (None: a top-level module, free to import)."""
    for layer in ALLOWED:
        if name == layer or name.startswith(layer + "."):
            return layer
    return None


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports."""
    prefix = root.name
    return {
        module_name(path, root): {
            m for m in imports(path, root) if m.split(".")[0] == prefix
        }
        for path in sorted(root.rglob("*.py"))
    }


def violations(root: Path) -> list[str]:
    """Imports that break the layer contract, one line each."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        layer = layer_of(name)
        for target in sorted(imports(path, root)):
            if target.split(".")[0] == "sklearn" and name.startswith(NO_SKLEARN):
                found.append(f"{name} imports {target} (the torch side)")
            if layer is None or target.split(".")[0] != root.name:
                continue
            other = layer_of(target) or target
            if other != layer and other not in ALLOWED[layer]:
                found.append(f"{name} ({layer}) imports {target}")
    return found


def cycles(root: Path) -> list[list[str]]:
    """Import cycles among the package's modules (the package root excluded:
    it imports its estimators lazily and they import its version)."""
    edges = graph(root)
    edges = {m: t - {root.name} for m, t in edges.items() if m != root.name}
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_skae_keeps_its_layer_contract():
    assert violations(PACKAGE) == []


def test_skae_has_no_import_cycle():
    assert cycles(PACKAGE) == []


def test_contract_names_a_deliberate_violation(tmp_path):
    """The checks fail on a copy of skae with one forbidden import added."""
    copy = tmp_path / "skae"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    rows = copy / "_data" / "rows.py"
    rows.write_text(rows.read_text() + "\nfrom .._estimators import base\n")
    scaling = copy / "_data" / "scaling.py"
    scaling.write_text(scaling.read_text() + "\nimport sklearn.utils\n")
    assert violations(copy) == [
        "skae._data.rows (skae._data) imports skae._estimators.base",
        "skae._data.scaling imports sklearn.utils (the torch side)",
    ]
    blocks = copy / "_data" / "blocks.py"
    blocks.write_text(blocks.read_text() + "\nfrom .rows import DenseRows\n")
    assert ["skae._data.blocks", "skae._data.rows", "skae._data.blocks"] in [
        c[-3:] for c in cycles(copy)
    ]


BENCHMARKS = PACKAGE.parent / "benchmarks"
HELPERS = {"common", "recommend_eval"}  # modules, not scripts


def script_imports(root: Path) -> list[str]:
    """Benchmark scripts that import another script or change ``sys.path``."""
    scripts = {path.stem for path in root.glob("*.py")} - HELPERS
    found = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module.split(".")[0]]
            found += [f"{path.name} imports {n}" for n in names if n in scripts]
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("insert", "append")
                and ast.unparse(node.value) == "sys.path"
            ):
                found.append(f"{path.name} changes sys.path")
    return found


def test_benchmark_scripts_import_helpers_only(tmp_path):
    """Scripts share benchmarks/common.py; no script imports another."""
    assert BENCHMARKS.is_dir()
    assert script_imports(BENCHMARKS) == []
    copy = tmp_path / "benchmarks"
    shutil.copytree(BENCHMARKS, copy, ignore=shutil.ignore_patterns("results"))
    script = copy / "sweep_vae.py"
    script.write_text(
        script.read_text() + "\nimport sys\nsys.path.insert(0, '.')\nimport sweep_mlp\n"
    )
    assert script_imports(copy) == [
        "sweep_vae.py imports sweep_mlp",
        "sweep_vae.py changes sys.path",
    ]
