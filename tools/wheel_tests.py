"""Run neurojit's tests against an installed wheel on the AOT backend, without numba.

    python tools/wheel_tests.py [--with-numba] [pytest arguments]

Used by cibuildwheel's test-command and by .ci/run, in an environment holding the wheel,
numpy and the test tools only. Exits non-zero unless

* ``neurojit`` imports from the installed wheel, not from this checkout;
* the AOT backend is available and an automatic ``JITCompiler`` runs every kernel on it;
* the test suite passes with ``NEUROJIT_BACKEND=aot``;
* neither ``numba`` nor ``llvmlite`` entered ``sys.modules`` (checked after every test).

The tests run from a temporary copy of ``tests/`` and ``benchmarks/`` (with README.md and
pyproject.toml for the pytest settings), so that no subprocess a test starts can import the checkout instead.

``--with-numba`` is for an installed wheel plus the ``jit`` extra (the oldest-dependency run of
``tools/test_oldest.py``): the AOT backend must still be the one an automatic compiler picks, but
``NEUROJIT_BACKEND`` is left alone and numba may be imported, so the JIT tests run too.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("numba", "llvmlite")


def forbidden_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)


class NoNumbaPlugin:
    """pytest plugin: records the first test after which numba or llvmlite was imported."""

    def __init__(self):
        self.culprit: tuple[str, list[str]] | None = None

    def pytest_runtest_teardown(self, item):
        if self.culprit is None and forbidden_modules():
            self.culprit = (item.nodeid, forbidden_modules())


def check_aot_in_use() -> str:
    import neurojit

    location = Path(neurojit.__file__).resolve()
    if PROJECT in location.parents:
        raise SystemExit(f"neurojit was imported from the checkout ({location}), not from the installed wheel")
    info = neurojit.JITCompiler().get_jit_info()
    not_aot = {name: k for name, k in info["kernels"].items() if k["backend"] != "aot"}
    if not info["aot_available"] or not_aot:
        raise SystemExit(f"the AOT backend is not in use: {info['aot_status']}; kernels: {not_aot}")
    return f"neurojit {neurojit.__version__} from {location.parent}: AOT variant {info['aot_variant']}"


def main(argv: list[str]) -> int:
    with_numba = "--with-numba" in argv
    argv = [a for a in argv if a != "--with-numba"]
    if not with_numba:
        os.environ["NEUROJIT_BACKEND"] = "aot"
    print(f"wheel_tests: {check_aot_in_use()}", flush=True)
    plugin = NoNumbaPlugin()
    with tempfile.TemporaryDirectory(prefix="neurojit-wheel-tests-") as tmp:
        root = Path(tmp)
        for folder in ("tests", "benchmarks"):  # some tests run the benchmark scripts
            shutil.copytree(PROJECT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("README.md", "pyproject.toml", "LICENSE"):
            shutil.copy2(PROJECT / name, root / name)
        previous = os.getcwd()
        os.chdir(root)
        try:
            import pytest

            status = pytest.main(["-p", "no:cacheprovider", "tests", *argv], plugins=[] if with_numba else [plugin])
        finally:
            os.chdir(previous)  # Windows cannot delete the current folder
    if with_numba:
        print(f"wheel_tests: pytest exit status {int(status)}", flush=True)
        return int(status)
    if plugin.culprit is not None or forbidden_modules():
        where = f"after {plugin.culprit[0]}: {plugin.culprit[1]}" if plugin.culprit else forbidden_modules()
        print(f"wheel_tests: FAILED, numba/llvmlite were imported ({where})", flush=True)
        return 1
    print(f"wheel_tests: numba and llvmlite never imported; pytest exit status {int(status)}", flush=True)
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
