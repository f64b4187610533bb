"""Pages never carry a path of the machine that generated them."""

import re
from pathlib import Path

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


def test_benchmark_sources_lose_their_folders():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_recommend", ROOT / "benchmarks" / "bench_recommend.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.no_dirs("data_home /a/b/mnist.npz, x") == "data_home mnist.npz, x"
