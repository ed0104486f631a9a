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
    check = _check_dist()
    glibc = check["_glibc"]
    assert glibc("manylinux2014") == (2, 17) < glibc("manylinux_2_28") < glibc("manylinux_2_31")
    with pytest.raises(ValueError):
        glibc("linux")
    named = check["named_manylinux"]
    assert named("n-0.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl") == ["manylinux_2_27", "manylinux_2_28"]
    assert named("n-0.1-cp312-cp312-manylinux2014_aarch64.manylinux_2_17_aarch64.whl") == ["manylinux2014", "manylinux_2_17"]
    assert named("n-0.1-cp311-cp311-linux_x86_64.whl") == []


def test_built_release_files_hold_licence_metadata_and_what_the_tests_need(capsys):
    """The sdist and wheel that .ci/run builds into dist/ (skips when there are none of this version)."""
    check = _check_dist()
    stem = f"{check['STEM']}-{neurojit.__version__}"
    dist = ROOT / "dist"
    if not any(path.name.startswith(stem) for path in dist.glob("*")):
        pytest.skip("no sdist or wheel of this version in dist/ (.ci/run builds them)")
    assert check["main"]([str(dist), "--require-aot"]) == 0, capsys.readouterr().err


# -- the README's first screen, .ci/run and the release workflow --------------------------------


def _readme_commands():
    path = ROOT / "tools" / "readme_commands.py"
    if not path.exists() or not (ROOT / "README.md").exists():
        pytest.skip("not a source checkout")
    import runpy

    return runpy.run_path(str(path))["commands"]((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_first_screen_has_two_commands_each_in_a_fresh_venv():
    commands = _readme_commands()
    for name, tail in (("demo", 'pip install ".[jit]" && neurojit demo'),
                       ("test", 'pip install -e ".[jit,test]" && python -m pytest')):
        assert commands[name] == f"python -m venv --clear .venv && . .venv/bin/activate && {tail}"
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:25])
    assert all(command in first_screen for command in commands.values())


def test_ci_run_runs_the_readme_commands_and_the_release_checks():
    script = ROOT / ".ci" / "run"
    if not script.exists():
        pytest.skip("not a source checkout")
    text = script.read_text()
    for needle in ("tools/readme_commands.py demo", "tools/readme_commands.py test", "tools/check_dist.py",
                   "tools/test_oldest.py", "tools/check_source_install.py", "tools/wheel_tests.py",
                   "--manylinux", "check-jsonschema"):
        assert needle in text, needle


def _workflow() -> dict:
    path = ROOT / ".github" / "workflows" / "ci.yml"
    if not path.exists():
        pytest.skip("not a source checkout")
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text())


def _steps_text(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) + " " + str(step.get("uses", "")) for step in job["steps"])


def test_workflow_tests_builds_and_publishes_on_version_tags_only():
    workflow = _workflow()
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["push"]["tags"] == ["v*"] and "**" in on["push"]["branches"] and "pull_request" in on
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    tests = jobs["tests"]
    assert set(tests["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "macos-14", "windows-latest"}
    assert "tools/readme_commands.py test" in _steps_text(tests) and "--windows" in _steps_text(tests)
    assert "tools/test_oldest.py" in _steps_text(jobs["oldest"])
    sdist = _steps_text(jobs["sdist"])
    for needle in ("python -m build --sdist", "tools/check_dist.py dist", 'pip install "$sdist[test]"',
                   "tools/wheel_tests.py", "tools/check_source_install.py"):
        assert needle in sdist, needle
    wheels = _steps_text(jobs["wheels"])
    assert "pypa/cibuildwheel" in wheels and "--manylinux manylinux_2_28" in wheels and "auditwheel" in wheels
    publish = jobs["publish"]
    assert set(publish["needs"]) == {"tests", "oldest", "sdist", "wheels"}
    assert "startsWith(github.ref, 'refs/tags/v')" in publish["if"] and "push" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi" and DISTRIBUTION in publish["environment"]["url"]
    assert "pypa/gh-action-pypi-publish" in _steps_text(publish)
    assert all("password" not in str(step.get("with", {})) for step in publish["steps"])  # no API token
