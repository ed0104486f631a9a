"""Release metadata (issue #14): the distribution name, the licence, the declared floors, the
first screen of the README and the release workflow."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import neurojit
from neurojit._version import DISTRIBUTION

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(neurojit.__file__).resolve().parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None


def _pyproject() -> dict:
    path = ROOT / "pyproject.toml"
    if tomllib is None or not path.exists():
        pytest.skip("needs pyproject.toml and tomllib (Python >= 3.11)")
    return tomllib.loads(path.read_text())


# -- the distribution name ------------------------------------------------------------------


def test_distribution_name_is_not_the_taken_one():
    assert DISTRIBUTION == "neurojit-kernels"
    assert _pyproject()["project"]["name"] == DISTRIBUTION


def _texts_telling_users_to_install():
    files = sorted(PACKAGE.rglob("*.py"))
    for extra in ("README.md", "benchmarks/README.md", "build_aot.py", "setup.py"):
        if (ROOT / extra).exists():
            files.append(ROOT / extra)
    return [(path, path.read_text(encoding="utf-8")) for path in files]


def test_no_message_or_document_installs_the_unrelated_neurojit():
    """``pip install neurojit`` / ``'neurojit[jit]'`` would install the unrelated PyPI project."""
    wrong = re.compile(r"pip install +['\"]?neurojit(?![-_\w])")
    offenders = [f"{path.name}: {m.group(0)}" for path, text in _texts_telling_users_to_install()
                 for m in wrong.finditer(text)]
    assert offenders == []
    readme = ROOT / "README.md"
    if readme.exists():
        assert f"pip install '{DISTRIBUTION}[jit]'" in readme.read_text(encoding="utf-8")


def test_install_hints_use_the_distribution_name():
    from neurojit.backends import aot, select

    assert f"pip install '{DISTRIBUTION}[jit]'" in select.JIT_HINT
    assert f"pip install {DISTRIBUTION}" in aot.BUILD_HINT
