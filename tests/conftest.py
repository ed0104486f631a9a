"""Shared fixtures: one compiler per available backend for the whole session, seeded RNGs,
and helpers to run neurojit in a subprocess (forced backends, numba hidden).

JIT compilation costs 1-2 s per loop and dtype, so the compilers are session-scoped and
share one temporary cache folder; no test creates a fresh JIT compiler per call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

import neurojit
from neurojit import JITCompiler, JITConfig, operations
from neurojit.backends import select

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

ALL_BACKENDS = ("python", "jit", "aot")

#: matrix_multiply's bound on the product size for its event-driven loop, as shipped (the
#: fixture below lifts it; test_kernels.py checks the dispatch with it)
MATMUL_MIN_WORK = operations.SPARSE_MATMUL_MIN_WORK


def pytest_report_header(config):
    status = select.aot_status()
    return [
        f"neurojit backends available: {', '.join(available_backends())}",
        f"neurojit AOT: {status.reason}",
    ]


@pytest.fixture(scope="session", autouse=True)
def _report_backend_fallback_once_up_front():
    """Let the chooser make its once-per-process fallback report now, outside any test.

    A stale AOT build (normal in a checkout after a kernel edit) is reported once per
    process as a FallbackWarning; under ``filterwarnings = error`` that would fail
    whichever test happened to create the first automatic compiler. The report itself is
    tested in fresh processes (test_backend_selection.py); the header shows the status.
    """
    prime_fallback_report()
    yield


@pytest.fixture(autouse=True)
def _event_driven_matmul_at_any_size(monkeypatch):
    """The tests' products are small: matrix_multiply takes its event-driven loop for them at
    any size (as shipped only from SPARSE_MATMUL_MIN_WORK multiply-adds on), so that the loop
    is exercised through the public kernel on every backend."""
    monkeypatch.setattr(operations, "SPARSE_MATMUL_MIN_WORK", 0)


def prime_fallback_report() -> None:
    """Make the chooser's once-per-process fallback reports now, silently."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", neurojit.FallbackWarning)
        for enable_jit in (True, False):
            select.choose("auto", enable_jit)


def backend_unavailable_reason(name: str) -> str | None:
    """None if ``name`` can run here, else why not (the skip reason)."""
    if name == "jit" and not neurojit.NUMBA_AVAILABLE:
        return "numba is not importable here, so there is no JIT backend to test"
    if name == "aot" and select.aot_status().backend is None:
        return f"AOT backend unavailable: {select.aot_status().reason}"
    return None


def available_backends() -> list[str]:
    return [name for name in ALL_BACKENDS if backend_unavailable_reason(name) is None]


def backend_params():
    """``pytest.param`` per backend, unavailable ones marked skip with the reason."""
    params = []
    for name in ALL_BACKENDS:
        reason = backend_unavailable_reason(name)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One JIT disk cache for the whole session (never the user's own cache folder)."""
    return tmp_path_factory.mktemp("neurojit-cache")


@pytest.fixture(scope="session")
def compilers(cache_dir):
    """``{backend: JITCompiler}`` for every available backend, created once."""
    return {
        name: JITCompiler(JITConfig(backend=name, cache_directory=str(cache_dir)))
        for name in available_backends()
    }


@pytest.fixture(scope="session", params=backend_params())
def compiler(request, compilers) -> JITCompiler:
    """The session's compiler forced to one backend (parametrized over all three)."""
    return compilers[request.param]


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's id, so every test has its own reproducible stream."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def restore_global_compiler():
    """Put back whatever global compiler existed before the test."""
    from neurojit import compiler as compiler_module

    saved = compiler_module._global_compiler
    yield
    compiler_module._global_compiler = saved


def run_python(code: str, *, env: dict | None = None, hide_numba: bool = False, tmp_path: Path | None = None,
               args: list[str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` (or ``python args`` if given) in a fresh interpreter at the repository root.

    ``hide_numba`` makes ``import numba`` fail with ModuleNotFoundError in that process (a
    ``sitecustomize`` that puts ``None`` in ``sys.modules['numba']``), as on a machine without it.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    path = [str(REPO_ROOT)]
    if hide_numba:
        assert tmp_path is not None, "hide_numba needs a tmp_path for its sitecustomize"
        site = tmp_path / "hide_numba"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(
            "import sys\nsys.modules['numba'] = None  # import numba -> ModuleNotFoundError\n"
        )
        path.insert(0, str(site))
    full_env["PYTHONPATH"] = os.pathsep.join(path + [full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else path)
    full_env.update(env or {})
    command = [sys.executable, *(args if args is not None else ["-c", textwrap.dedent(code)])]
    result = subprocess.run(command, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({result.returncode}):\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def last_json_line(stdout: str):
    """The JSON object printed on the last line of a subprocess's output."""
    return json.loads(stdout.strip().splitlines()[-1])


#: a 0/1 scan's answer for this input is -1 (an entry other than 0 or 1): the cache tests run
#: the cheapest loop, ``binary_nonzeros``, on it
NON_BINARY = np.array([[0.0, 2.0], [1.0, 0.0]])


def binary_scan(loop, a=NON_BINARY):
    """``binary_nonzeros(a, limit, spans, index)`` with room for every entry of ``a`` listed."""
    return loop(a, a.size, np.empty((a.shape[0], 2), np.int64), np.empty(a.size + a.shape[0], np.int64))
