"""The one chooser: forcing each backend (NEUROJIT_BACKEND, in a fresh process), which backend
actually ran, bad values, unavailable backends, numba hidden, and the fallback report."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import neurojit
from conftest import backend_params, backend_unavailable_reason, last_json_line, prime_fallback_report, run_python
from neurojit import BackendUnavailableError, JITCompiler, JITConfig
from neurojit._version import DISTRIBUTION
from neurojit.backends import aot, select

# Runs one kernel and reports which backend's loops were really called (not just the label).
PROBE = """
import json, sys
import numpy as np
import neurojit
import neurojit.backends.python as P
import neurojit.backends.aot as A

calls = []
_python_loop = P.loop
P.loop = lambda name, dtype: (calls.append("python"), _python_loop(name, dtype))[1]
_aot_loop = A.AOTBackend.loop
A.AOTBackend.loop = lambda self, name, dtype: (calls.append("aot"), _aot_loop(self, name, dtype))[1]
if neurojit.NUMBA_AVAILABLE:
    import neurojit.backends.jit as J
    _jit_loop = J.JITBackend.loop
    J.JITBackend.loop = lambda self, name, dtype: (calls.append("jit"), _jit_loop(self, name, dtype))[1]

compiler = neurojit.JITCompiler(neurojit.JITConfig(cache_directory=CACHE))
kernel = compiler.compile_spike_processing_kernel()
rng = np.random.default_rng(1)
spikes = (rng.random((2, 30, 8)) < 0.3).astype(np.float64)
weights = rng.normal(0.2, 0.5, (8, 8))
out = kernel(spikes, weights, 0.5, 1e-3)
info = compiler.get_jit_info()
print(json.dumps({
    "setting": compiler.config.backend,
    "kernel_backend": kernel.backend,
    "info_backends": sorted({k["backend"] for k in info["kernels"].values()}),
    "ran": sorted(set(calls)),
    "compiled_functions": info["compiled_functions"],
    "numba_available": neurojit.NUMBA_AVAILABLE,
    "aot_ok": neurojit.backends.select.aot_status().backend is not None,
    "numba_module": repr(sys.modules.get("numba", "absent"))[:20],
    "spikes": int(out.sum()),
}))
"""


def probe(tmp_path, cache_dir, env=None, hide_numba=False, prelude=""):
    code = f"CACHE = {str(cache_dir)!r}\n{prelude}\n{PROBE}"
    result = run_python(code, env=env, hide_numba=hide_numba, tmp_path=tmp_path)
    return last_json_line(result.stdout), result


@pytest.mark.parametrize("backend", backend_params())
def test_forced_backend_is_the_one_that_runs(backend, tmp_path, cache_dir):
    code = f"CACHE = {str(cache_dir)!r}\n{PROBE}"
    result = run_python(code, env={"NEUROJIT_BACKEND": backend}, check=False)
    if result.returncode != 0 and backend == "aot" and aot.load().backend is None:
        pytest.skip("the AOT build became unavailable during the test run (rebuilt or removed meanwhile)")
    assert result.returncode == 0, result.stderr
    report = last_json_line(result.stdout)
    assert report["setting"] == backend
    assert report["kernel_backend"] == backend
    assert report["info_backends"] == [backend]
    assert report["ran"] == [backend], f"loops of {report['ran']} ran, expected only {backend}"
    if backend == "jit":
        assert "lif_run[float64]" in report["compiled_functions"]
    else:
        assert report["compiled_functions"] == []
    assert report["spikes"] > 0


def test_environment_value_is_case_and_space_insensitive(tmp_path, cache_dir):
    report, _ = probe(tmp_path, cache_dir, env={"NEUROJIT_BACKEND": "  Python "})
    assert report["kernel_backend"] == "python"
    assert report["ran"] == ["python"]


def test_bad_environment_value_warns_and_means_auto(tmp_path, cache_dir):
    report, result = probe(tmp_path, cache_dir, env={"NEUROJIT_BACKEND": "gpu"})
    assert "NEUROJIT_BACKEND='gpu'" in result.stderr and "RuntimeWarning" in result.stderr
    assert report["setting"] == "auto"
    # AOT availability as that process saw it (a concurrent rebuild may change it between processes)
    expected = "aot" if report["aot_ok"] else ("jit" if neurojit.NUMBA_AVAILABLE else "python")
    assert report["kernel_backend"] == expected
    assert report["ran"] == [expected]


def test_bad_environment_value_in_process(monkeypatch):
    monkeypatch.setenv("NEUROJIT_BACKEND", "fortran")
    with pytest.warns(RuntimeWarning, match=r"NEUROJIT_BACKEND='fortran' is not one of auto, aot, jit, python"):
        config = JITConfig()
    assert config.backend == "auto"


def test_environment_sets_only_the_default(monkeypatch):
    """An explicit JITConfig(backend=...) wins over NEUROJIT_BACKEND."""
    monkeypatch.setenv("NEUROJIT_BACKEND", "jit" if neurojit.NUMBA_AVAILABLE else "python")
    assert JITConfig(backend="python").backend == "python"
    assert JITConfig().backend == ("jit" if neurojit.NUMBA_AVAILABLE else "python")


# -- unavailable backends --------------------------------------------------------------------


@pytest.mark.parametrize("manifest", ["missing", "corrupt"])
def test_forced_aot_unavailable_raises_clear_error(monkeypatch, tmp_path, cache_dir, manifest):
    """AOT not built (no manifest) or broken (unreadable manifest): forcing it raises, saying why."""
    path = tmp_path / "_aot_manifest.json"
    if manifest == "corrupt":
        path.write_text("{not json")
    monkeypatch.setattr(aot, "MANIFEST", path)
    monkeypatch.setattr(select, "aot_status", aot.load)  # uncached, sees the patched manifest
    with pytest.raises(BackendUnavailableError) as info:
        JITCompiler(JITConfig(backend="aot", cache_directory=str(cache_dir)))
    message = str(info.value)
    assert message.startswith("backend 'aot' was requested but")
    assert ("not built" if manifest == "missing" else "unreadable") in message
    assert "build_aot.py" in message, "the message says how to fix it"


def test_forced_aot_in_process_matches_availability(cache_dir):
    status = select.aot_status()
    if status.backend is None:
        with pytest.raises(BackendUnavailableError, match="backend 'aot' was requested"):
            JITCompiler(JITConfig(backend="aot", cache_directory=str(cache_dir)))
    else:
        compiler = JITCompiler(JITConfig(backend="aot", cache_directory=str(cache_dir)))
        assert compiler.compile_convolution_kernel().backend == "aot"
        assert compiler.get_jit_info()["aot_variant"] == status.backend.variant


def test_aot_not_built_message(monkeypatch, tmp_path):
    """No manifest at all: 'not built', with the fix, and it is an absence, not a fault."""
    monkeypatch.setattr(aot, "MANIFEST", tmp_path / "missing_manifest.json")
    status = aot.load()
    assert status.backend is None and not status.problem
    assert "not built" in status.reason and "build_aot.py" in status.reason


def test_forced_jit_without_numba_raises(tmp_path, cache_dir):
    code = f"""
import neurojit
assert not neurojit.NUMBA_AVAILABLE
try:
    neurojit.JITCompiler(neurojit.JITConfig(backend="jit", cache_directory={str(cache_dir)!r}))
except neurojit.BackendUnavailableError as exc:
    print("ERROR:", exc)
"""
    result = run_python(code, hide_numba=True, tmp_path=tmp_path)
    assert "ERROR: backend 'jit' was requested but numba is not usable" in result.stdout
    assert f"pip install '{DISTRIBUTION}[jit]'" in result.stdout


def test_forced_jit_by_environment_without_numba_raises(tmp_path, cache_dir):
    result = run_python(
        f"CACHE = {str(cache_dir)!r}\n{PROBE}", env={"NEUROJIT_BACKEND": "jit"}, hide_numba=True,
        tmp_path=tmp_path, check=False,
    )
    assert result.returncode != 0
    assert "BackendUnavailableError" in result.stderr and "numba" in result.stderr


def test_import_without_numba_uses_aot_or_python(tmp_path, cache_dir):
    """`import neurojit` works with numba unimportable, and then uses AOT if built, else Python."""
    report, result = probe(tmp_path, cache_dir, hide_numba=True)
    assert report["numba_available"] is False
    assert report["numba_module"] == "None", "numba must stay unimported (the sitecustomize blocks it)"
    expected = "aot" if report["aot_ok"] else "python"
    assert report["kernel_backend"] == expected
    assert report["ran"] == [expected]
    assert report["spikes"] > 0


def test_python_fallback_without_numba_or_aot_is_logged_once(tmp_path):
    """Neither AOT nor numba: the NumPy kernels, and one INFO line saying why and how to fix it."""
    code = """
import logging, json
logging.basicConfig(level=logging.INFO, format="LOG %(name)s %(levelname)s %(message)s")
import neurojit
from neurojit.backends import select, aot
select.aot_status = lambda: aot.AOTStatus(None, "AOT kernels are not built in this install; " + aot.BUILD_HINT)
compilers = [neurojit.JITCompiler(neurojit.JITConfig(cache_compiled_functions=False)) for _ in range(3)]
print(json.dumps(sorted({c.compile_reservoir_run_kernel().backend for c in compilers})))
"""
    result = run_python(code, hide_numba=True, tmp_path=tmp_path)
    assert last_json_line(result.stdout) == ["python"]
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOG neurojit")]
    assert len(lines) == 1, result.stderr
    assert "using the NumPy kernels" in lines[0] and "INFO" in lines[0]
    assert f"pip install '{DISTRIBUTION}[jit]'" in lines[0] and "build_aot.py" in lines[0]


def test_broken_aot_warns_once_and_falls_back(tmp_path, cache_dir):
    """A broken AOT install (corrupt manifest) is one FallbackWarning per process, with the fix."""
    bad = tmp_path / "_aot_manifest.json"
    bad.write_text("{not json")
    code = f"""
import warnings, json
from pathlib import Path
import neurojit
from neurojit.backends import aot
aot.MANIFEST = Path({str(bad)!r})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    backends = [neurojit.JITCompiler(neurojit.JITConfig(cache_directory={str(cache_dir)!r})).compile_convolution_kernel().backend
                for _ in range(3)]
print(json.dumps({{"backends": sorted(set(backends)),
                  "warnings": [(w.category.__name__, str(w.message)) for w in caught]}}))
"""
    report = last_json_line(run_python(code).stdout)
    assert report["backends"] == (["jit"] if neurojit.NUMBA_AVAILABLE else ["python"])
    fallbacks = [message for category, message in report["warnings"] if category == "FallbackWarning"]
    assert len(fallbacks) == 1, report["warnings"]
    assert "unreadable" in fallbacks[0] and "build_aot.py" in fallbacks[0]


@pytest.mark.skipif(not neurojit.NUMBA_AVAILABLE, reason="needs numba for the JIT fallback")
def test_jit_fallback_is_logged_once_in_process(monkeypatch, caplog, cache_dir):
    """AOT absent, numba present: JIT, with one log record on logger 'neurojit' however many compilers."""
    monkeypatch.setattr(select, "aot_status", lambda: aot.AOTStatus(None, "AOT kernels are not built (test)"))
    select._report_once.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="neurojit"):
            compilers = [JITCompiler(JITConfig(cache_directory=str(cache_dir))) for _ in range(3)]
        assert {c.compile_spike_processing_kernel().backend for c in compilers} == {"jit"}
        records = [r for r in caplog.records if r.name == "neurojit" and "using JIT kernels" in r.getMessage()]
        assert len(records) == 1
        assert "AOT kernels are not built (test)" in records[0].getMessage()
        assert records[0].levelno == logging.INFO
    finally:
        monkeypatch.undo()
        select._report_once.cache_clear()
        prime_fallback_report()


def test_enable_jit_false_means_no_compilation(cache_dir):
    compiler = JITCompiler(JITConfig(enable_jit=False, cache_directory=str(cache_dir)))
    expected = "aot" if backend_unavailable_reason("aot") is None else "python"
    kernel = compiler.compile_matrix_multiply_kernel()
    assert kernel.backend == expected
    rng = np.random.default_rng(3)
    a = (rng.random((5, 50)) < 0.05).astype(np.float32)
    b = rng.standard_normal((50, 3)).astype(np.float32)
    np.testing.assert_allclose(kernel(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    assert compiler.get_jit_info()["compiled_functions"] == []


@pytest.mark.skipif(backend_unavailable_reason("aot") is not None, reason="AOT backend not built")
def test_aot_reports_options_it_cannot_honour(cache_dir):
    compiler = JITCompiler(JITConfig(backend="aot", enable_fastmath=True, cache_directory=str(cache_dir)))
    notes = compiler.get_jit_info()["options_not_honoured"]
    assert any("enable_fastmath" in note for note in notes)
    plain = JITCompiler(JITConfig(backend="aot", cache_directory=str(cache_dir)))
    assert not any("enable_fastmath" in note for note in plain.get_jit_info()["options_not_honoured"])


# -- a broken numba, and numba failing to compile ----------------------------------------------

BROKEN_NUMBA = """
import json, sys, warnings
sys.path.insert(0, FAKE)  # a `numba` package whose __init__ raises, ahead of the real one
import numpy as np
import neurojit
from neurojit.backends import aot, select
select.aot_status = lambda: aot.AOTStatus(None, "AOT kernels are not built in this install; " + aot.BUILD_HINT)
rng = np.random.default_rng(5)
spikes = (rng.random((2, 30, 8)) < 0.3).astype(np.float64)
weights = rng.normal(0.2, 0.5, (8, 8))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    compilers = [neurojit.JITCompiler(neurojit.JITConfig(cache_directory=CACHE)) for _ in range(3)]
    kernels = [c.compile_spike_processing_kernel() for c in compilers]
    outs = [k(spikes, weights, 0.5, 1e-3) for k in kernels]
try:
    neurojit.JITCompiler(neurojit.JITConfig(backend="jit", cache_directory=CACHE))
    forced = None
except neurojit.BackendUnavailableError as exc:
    forced = str(exc)
print(json.dumps({
    "numba_available": neurojit.NUMBA_AVAILABLE,
    "import_error": compilers[0].get_jit_info()["numba_import_error"],
    "backends": sorted({k.backend for k in kernels}),
    "warnings": [(w.category.__name__, str(w.message)) for w in caught],
    "forced": forced,
    "out": outs[0].tolist(),
    "same": all(np.array_equal(o, outs[0]) for o in outs),
}))
"""


@pytest.mark.parametrize("error", ["ImportError", "RuntimeError", "OSError"])
def test_broken_numba_warns_once_and_falls_back(tmp_path, cache_dir, error):
    """numba installed but failing to import (not a ModuleNotFoundError): with AOT absent, the
    NumPy kernels run, with exactly one FallbackWarning naming the error and the fix."""
    import reference

    fake = tmp_path / "fake_site"
    (fake / "numba").mkdir(parents=True)
    (fake / "numba" / "__init__.py").write_text(f"raise {error}('numba is broken here (neurojit test)')\n")
    code = f"FAKE = {str(fake)!r}\nCACHE = {str(cache_dir)!r}\n{BROKEN_NUMBA}"
    report = last_json_line(run_python(code, tmp_path=tmp_path).stdout)
    assert report["numba_available"] is False
    assert report["import_error"] == f"{error}: numba is broken here (neurojit test)"
    assert report["backends"] == ["python"]
    fallbacks = [message for category, message in report["warnings"] if category == "FallbackWarning"]
    assert len(fallbacks) == 1, report["warnings"]
    assert f"{error}: numba is broken here" in fallbacks[0]
    assert "using the NumPy kernels" in fallbacks[0] and f"pip install '{DISTRIBUTION}[jit]'" in fallbacks[0]
    assert report["forced"] is not None and report["forced"].startswith("backend 'jit' was requested but")
    assert f"{error}: numba is broken here" in report["forced"]
    rng = np.random.default_rng(5)
    spikes = (rng.random((2, 30, 8)) < 0.3).astype(np.float64)
    weights = rng.normal(0.2, 0.5, (8, 8))
    expected = reference.spike_processing(spikes, weights, 0.5, 1e-3)
    assert report["same"] and expected.sum() > 0
    np.testing.assert_array_equal(np.array(report["out"]), expected)


@pytest.fixture
def numba_cannot_compile(monkeypatch):
    """Every numba compile raises (as a numba bug or an unsupported CPU would); counts the tries."""
    from numba.core import dispatcher, errors

    tries = []

    def fail(self, sig):
        tries.append(sig)
        raise errors.NumbaError("simulated compile failure (neurojit test)")

    monkeypatch.setattr(dispatcher.Dispatcher, "compile", fail)
    select._report_once.cache_clear()
    yield tries
    monkeypatch.undo()
    select._report_once.cache_clear()
    prime_fallback_report()


@pytest.mark.skipif(not neurojit.NUMBA_AVAILABLE, reason="needs numba for the JIT backend")
def test_jit_compile_failure_falls_back_to_numpy_with_one_warning(monkeypatch, numba_cannot_compile, rng):
    """Automatic backend (AOT absent, numba present): a kernel numba cannot compile runs on NumPy,
    with one FallbackWarning, the right result, and no further compile attempts."""
    import reference

    monkeypatch.setattr(select, "aot_status", lambda: aot.AOTStatus(None, "AOT kernels are not built (test)"))
    compiler = JITCompiler(JITConfig(cache_compiled_functions=False))
    kernel = compiler.compile_convolution_kernel()
    assert kernel.backend == "jit"
    spikes = (rng.random((2, 20, 6)) < 0.3).astype(np.float64)
    taps = rng.random(4)
    with pytest.warns(neurojit.FallbackWarning) as caught:
        first = kernel(spikes, taps)
    messages = [str(w.message) for w in caught if issubclass(w.category, neurojit.FallbackWarning)]
    assert len(messages) == 1, messages
    assert "convolution uses NumPy" in messages[0] and "simulated compile failure" in messages[0]
    assert len(numba_cannot_compile) == 1
    expected = reference.convolution(spikes, taps)
    np.testing.assert_allclose(first, expected, rtol=1e-12, atol=1e-12)
    # afterwards: NumPy, silently (filterwarnings=error would turn a second warning into a failure)
    assert kernel.backend == "python"
    info = compiler.get_jit_info()["kernels"]
    assert info["convolution"]["backend"] == "python"
    assert "numba failed to compile it" in info["convolution"]["reason"]
    assert info["spike_processing"]["backend"] == "jit", "only the failing kernel falls back"
    np.testing.assert_allclose(kernel(spikes, taps), expected, rtol=1e-12, atol=1e-12)
    assert len(numba_cannot_compile) == 1, "no second compile attempt"


@pytest.mark.skipif(not neurojit.NUMBA_AVAILABLE, reason="needs numba for the JIT backend")
def test_jit_compile_failure_with_forced_jit_raises(numba_cannot_compile, rng):
    """backend='jit' never falls back silently: the call raises BackendUnavailableError (from the
    JITCompileError) and warns nothing."""
    compiler = JITCompiler(JITConfig(backend="jit", cache_compiled_functions=False))
    kernel = compiler.compile_convolution_kernel()
    spikes = (rng.random((2, 20, 6)) < 0.3).astype(np.float64)
    with pytest.raises(BackendUnavailableError, match="backend 'jit' was requested but numba could not compile") as info:
        kernel(spikes, rng.random(4))
    assert isinstance(info.value.__cause__, select.JITCompileError)
    assert "simulated compile failure" in str(info.value)
    assert kernel.backend == "jit"
    assert compiler.get_jit_info()["compiled_functions"] == []
