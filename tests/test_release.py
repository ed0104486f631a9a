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


# -- the licence and what the release files hold ---------------------------------------------


def test_licence_is_declared_the_pep639_way():
    project = _pyproject()
    assert project["project"]["license"] == "BSD-3-Clause"
    assert project["project"]["license-files"] == ["LICENSE"]
    assert "setuptools>=77" in project["build-system"]["requires"][0].replace(" ", "")
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in text


def _check_dist():
    path = ROOT / "tools" / "check_dist.py"
    if not path.exists() or not (ROOT / "LICENSE").exists():
        pytest.skip("not a source checkout")
    import runpy

    return runpy.run_path(str(path))


def test_manylinux_tags_order_by_glibc():
    glibc = _check_dist()["_glibc"]
    assert glibc("manylinux2014") == (2, 17) < glibc("manylinux_2_28") < glibc("manylinux_2_31")
    with pytest.raises(ValueError):
        glibc("linux")


def test_built_release_files_hold_licence_metadata_and_what_the_tests_need(capsys):
    """The sdist and wheel that .ci/run builds into dist/ (skips when there are none of this version)."""
    check = _check_dist()
    stem = f"{check['STEM']}-{neurojit.__version__}"
    dist = ROOT / "dist"
    if not any(path.name.startswith(stem) for path in dist.glob("*")):
        pytest.skip("no sdist or wheel of this version in dist/ (.ci/run builds them)")
    assert check["main"]([str(dist), "--require-aot"]) == 0, capsys.readouterr().err
