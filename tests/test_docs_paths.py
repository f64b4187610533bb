"""Pages never carry a path of the machine that generated them."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:work|root|home|Users|opt)/\w")


def test_docs_and_readme_carry_no_machine_paths():
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    pages += (ROOT / "docs").glob("*.rst")  # README examples may name /tmp
    found = [
        f"{page.name}: {match.group(0)}"
        for page in pages
        for match in ABSOLUTE.finditer(page.read_text())
    ]
    assert not found, found


def test_benchmark_sources_lose_their_folders(monkeypatch):
    import importlib.util

    # The script imports its sibling recommend_eval, as run from benchmarks/.
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "bench_recommend", ROOT / "benchmarks" / "bench_recommend.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.no_dirs("data_home /a/b/mnist.npz, x") == "data_home mnist.npz, x"


def test_built_gallery_shows_no_warning_and_no_machine_path():
    # .ci/run builds the site before it runs the tests: the example pages as
    # published, with the output each example printed.
    pages = sorted((ROOT / "docs" / "_build" / "html" / "auto_examples").glob("*.html"))
    if not pages:
        pytest.skip("the site is not built here (sphinx-build, as .ci/run does)")
    found = [
        f"{page.name}: {line.strip()[:120]}"
        for page in pages
        for line in page.read_text().splitlines()
        if "Warning" in line or ABSOLUTE.search(line)
    ]
    assert not found, found


def test_no_built_page_shows_a_machine_path():
    # Every page of the built site (API pages, topics, benchmarks), not only
    # the gallery: docstrings and generated pages must not leak a path either.
    site = ROOT / "docs" / "_build" / "html"
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)
    if not pages:
        pytest.skip("the site is not built here (sphinx-build, as .ci/run does)")
    found = [
        f"{page.relative_to(site)}: {match.group(0)}"
        for page in pages
        for match in ABSOLUTE.finditer(page.read_text())
    ]
    assert not found, found
