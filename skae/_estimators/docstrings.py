"""Docstrings composed from others: one text for what estimators share.

A parameter that behaves alike in two estimators is described once, in the
docstring of the first (the autoencoder's); the other's docstring holds a
line ``{name}`` in its place, which :func:`with_entries` fills in when the
module is imported. Sphinx, ``help()`` and numpydoc see the whole text.
Python 3.13 strips the docstrings' common indentation and older versions
keep it: each function reads the indentation of the docstring it is given.
"""

from __future__ import annotations

import re


def _indent(doc: str) -> str:
    """The indentation of the section titles of numpydoc ``doc``."""
    return re.search(r"^( *)Parameters\n", doc, re.MULTILINE).group(1)


def section(doc: str, title: str, until: str) -> str:
    """The section ``title`` of a numpydoc docstring, up to the section ``until``."""
    indent = _indent(doc)
    start = doc.index(f"{indent}{title}\n")
    return doc[start : doc.index(f"{indent}{until}\n", start)].rstrip() + "\n\n"


def entry(doc: str, name: str) -> str:
    """The entry of parameter ``name`` in numpydoc ``doc``: its line
    ``name : type`` and the indented lines (and blank lines) below it."""
    indent = _indent(doc)
    pattern = rf"^{indent}{name} : .*\n((?:{indent}    .*\n|\n)*)"
    match = re.search(pattern, doc, re.MULTILINE)
    if match is None:
        raise KeyError(f"no parameter {name!r} in the docstring")
    return match.group(0).rstrip("\n") + "\n\n"


def with_entries(doc: str, source: str) -> str:
    """``doc`` with each line ``{name}`` (at the entries' indentation) replaced
    by ``name``'s entry in ``source``."""
    placeholder = re.compile(rf"^{_indent(doc)}\{{(\w+)\}}\n", re.MULTILINE)
    return placeholder.sub(lambda m: entry(source, m.group(1)).rstrip("\n") + "\n", doc)
