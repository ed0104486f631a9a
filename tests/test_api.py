"""The public API of API.md section 3: get_jit_info, optimize_memory_layout, is_numba_available,
clear_cache, the global compiler and jit_* functions, the import paths, the benchmark's result
structure and the command line."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

import neurojit
from cases import KERNELS, METHODS, kernel_of, make_args
from conftest import available_backends, backend_unavailable_reason, run_python
from neurojit import JITCompiler, JITConfig
from neurojit.backends import select

PUBLIC_NAMES = [
    "NUMBA_AVAILABLE", "JITConfig", "JITCompiler", "enable_jit_compilation", "set_global_compiler",
    "get_global_compiler", "jit_spike_processing", "jit_reservoir_update", "jit_convolution",
    "jit_matrix_multiply", "jit_lif_network_run", "jit_reservoir_run",
]


# -- import paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["neurojit", "neurojit.performance", "neurojit.performance.jit_compilation"])
def test_import_paths_export_the_same_objects(module):
    mod = importlib.import_module(module)
    for name in PUBLIC_NAMES:
        assert getattr(mod, name) is getattr(neurojit, name), f"{module}.{name}"
    assert set(PUBLIC_NAMES) <= set(mod.__all__)


def test_exceptions_are_public():
    assert issubclass(neurojit.BackendUnavailableError, Exception)
    assert issubclass(neurojit.FallbackWarning, Warning)


# -- get_jit_info ---------------------------------------------------------------------------

INFO_KEYS = {
    "numba_available", "numba_version", "aot_available", "aot_variant", "backend", "kernels",
    "config", "compiled_functions", "compilation_times", "cache_directory", "cache_size_bytes",
}


def test_jit_info_keys_and_truth(compiler):
    info = compiler.get_jit_info()
    assert INFO_KEYS <= set(info)
    try:
        import numba
    except ImportError:
        numba = None
    assert info["numba_available"] is (numba is not None) is neurojit.NUMBA_AVAILABLE
    assert info["numba_version"] == (numba.__version__ if numba is not None else None)
    status = select.aot_status()
    assert info["aot_available"] is (status.backend is not None)
    assert info["aot_variant"] == (status.backend.variant if status.backend is not None else None)
    assert info["config"] == dataclasses.asdict(compiler.config)
    assert info["backend"] == compiler.config.backend
    assert set(info["kernels"]) == set(KERNELS)
    for name in KERNELS:
        kernel = kernel_of(compiler, name)
        assert info["kernels"][name]["backend"] == kernel.backend
        assert isinstance(info["kernels"][name]["reason"], str) and info["kernels"][name]["reason"]
    assert isinstance(info["cache_size_bytes"], int) and info["cache_size_bytes"] >= 0


def test_jit_info_auto_backend_is_truthful(cache_dir):
    compiler = JITCompiler(JITConfig(backend="auto", cache_directory=str(cache_dir)))
    expected = available_backends()
    best = "aot" if "aot" in expected else ("jit" if "jit" in expected else "python")
    info = compiler.get_jit_info()
    for name in KERNELS:
        assert kernel_of(compiler, name).backend == info["kernels"][name]["backend"] == best


@pytest.mark.skipif(backend_unavailable_reason("jit") is not None, reason="needs numba")
def test_compiled_functions_and_profiled_compile_times(cache_dir, rng):
    profiled = JITCompiler(JITConfig(backend="jit", profile_compilation=True, cache_directory=str(cache_dir)))
    assert profiled.get_jit_info()["compiled_functions"] == []
    args, kwargs = make_args("convolution", rng, np.float64)
    profiled.compile_convolution_kernel()(*args, **kwargs)
    info = profiled.get_jit_info()
    assert info["compiled_functions"] == ["causal_convolution[float64]"]
    assert set(info["compilation_times"]) == {"causal_convolution[float64]"}
    assert all(t >= 0 for t in info["compilation_times"].values())
    quiet = JITCompiler(JITConfig(backend="jit", profile_compilation=False, cache_directory=str(cache_dir)))
    quiet.compile_convolution_kernel()(*args, **kwargs)
    assert quiet.get_jit_info()["compilation_times"] == {}


def test_is_numba_available(compiler):
    assert compiler.is_numba_available() is neurojit.NUMBA_AVAILABLE
    assert isinstance(neurojit.NUMBA_AVAILABLE, bool)


# -- optimize_memory_layout ----------------------------------------------------------------


def _arrays(rng):
    base = rng.standard_normal((13, 7))
    return {
        "c": base,
        "fortran": np.asfortranarray(base),
        "strided": rng.standard_normal((20, 9))[::2, 1::2],
        "vector": rng.standard_normal(33).astype(np.float32),
        "cube": rng.integers(0, 5, (3, 4, 5)).astype(np.int16),
        "misaligned": np.frombuffer(rng.standard_normal(101).tobytes()[8:], dtype=np.float64).reshape(10, 10),
        "list": [[1.0, 2.0], [3.0, 4.0]],
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 5)),
        "bool": rng.random((4, 3)) < 0.5,
    }


@pytest.mark.parametrize("pattern", ["row_major", "column_major", "blocked"])
def test_optimize_memory_layout_patterns(compilers, pattern, rng):
    compiler = compilers["python"]
    for label, array in _arrays(rng).items():
        original = np.array(array, copy=True)
        result = compiler.optimize_memory_layout(array, pattern)
        assert isinstance(result, np.ndarray)
        assert result.shape == original.shape and result.dtype == original.dtype, label
        np.testing.assert_array_equal(result, original, err_msg=label)
        np.testing.assert_array_equal(np.asarray(array), original, err_msg=f"{label}: input changed")
        if pattern == "row_major":
            assert result.flags.c_contiguous, label
        elif pattern == "column_major":
            assert result.flags.f_contiguous, label
        else:
            assert result.flags.c_contiguous, label
            if result.size:  # an empty array has no data to align (numpy keeps the base pointer)
                assert result.ctypes.data % 64 == 0, f"{label}: blocked result not 64-byte aligned"


def test_optimize_memory_layout_default_is_row_major(compilers, rng):
    array = np.asfortranarray(rng.standard_normal((5, 6)))
    assert compilers["python"].optimize_memory_layout(array).flags.c_contiguous


def test_optimize_memory_layout_disabled_returns_input(cache_dir, rng):
    compiler = JITCompiler(JITConfig(backend="python", optimize_memory_layout=False, cache_directory=str(cache_dir)))
    array = rng.standard_normal((20, 9))[::2, 1::2]
    for pattern in ("row_major", "column_major", "blocked"):
        assert compiler.optimize_memory_layout(array, pattern) is array


def test_optimized_layouts_feed_the_kernels(compiler, rng):
    """Arrays in any of the three layouts give the same kernel result."""
    args, kwargs = make_args("lif_network_run", rng, np.float32, B=2, T=20, N=9, I=7)
    kernel = compiler.compile_lif_network_kernel()
    expected = kernel(*args, **kwargs)
    for pattern in ("row_major", "column_major", "blocked"):
        laid_out = [compiler.optimize_memory_layout(a, pattern) if isinstance(a, np.ndarray) else a for a in args]
        np.testing.assert_array_equal(kernel(*laid_out, **kwargs), expected)


# -- clear_cache ---------------------------------------------------------------------------


@pytest.mark.skipif(backend_unavailable_reason("jit") is not None, reason="needs numba to write a JIT cache")
def test_clear_cache_removes_only_neurojit_files(tmp_path, rng):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "notes.txt").write_text("mine")
    (cache / "project").mkdir()
    (cache / "project" / "data.bin").write_bytes(b"\x00\x01")
    (cache / "neurojit-not-mine").mkdir()
    (cache / "neurojit-not-mine" / "keep.nbi").write_text("a user's file with a cache-like name")
    compiler = JITCompiler(JITConfig(backend="jit", enable_parallel_loops=False, cache_directory=str(cache)))
    args, _ = make_args("convolution", rng, np.float64)
    kernel = compiler.compile_convolution_kernel()
    before = kernel(*args)
    assert compiler.get_jit_info()["cache_size_bytes"] > 0, "the JIT compile wrote nothing to the cache"
    user_files = {p.relative_to(cache) for p in cache.rglob("*")
                  if "notes" in p.name or "project" in str(p) or "not-mine" in str(p)}

    compiler.clear_cache()

    info = compiler.get_jit_info()
    assert info["cache_size_bytes"] == 0
    assert info["compiled_functions"] == []
    assert (cache / "notes.txt").read_text() == "mine"
    assert (cache / "project" / "data.bin").read_bytes() == b"\x00\x01"
    assert (cache / "neurojit-not-mine" / "keep.nbi").exists()
    assert {p.relative_to(cache) for p in cache.rglob("*")} >= user_files
    # kernels still work (compiled again), old and new kernel objects alike
    np.testing.assert_array_equal(compiler.compile_convolution_kernel()(*args), before)
    np.testing.assert_array_equal(kernel(*args), before)
    assert compiler.get_jit_info()["compiled_functions"] == ["causal_convolution[float64]"]


def test_clear_cache_on_every_backend(compiler, tmp_path, rng):
    """clear_cache never breaks a compiler, whatever its backend."""
    # serial loops: the same cache machinery, and a faster compile than parallel ones
    fresh = JITCompiler(JITConfig(backend=compiler.config.backend, enable_parallel_loops=False,
                                  cache_directory=str(tmp_path)))
    (tmp_path / "keep.txt").write_text("x")
    args, kwargs = make_args("convolution", rng, np.float64)  # the cheapest loop to compile
    kernel = fresh.compile_convolution_kernel()
    before = kernel(*args, **kwargs)
    fresh.clear_cache()
    fresh.clear_cache()  # twice is fine
    np.testing.assert_array_equal(fresh.compile_convolution_kernel()(*args, **kwargs), before)
    assert (tmp_path / "keep.txt").read_text() == "x"


def test_clear_cache_without_disk_cache(compilers):
    compiler = JITCompiler(JITConfig(backend="python", cache_compiled_functions=False))
    assert compiler.get_jit_info()["cache_directory"] is None
    compiler.clear_cache()


# -- the global compiler -------------------------------------------------------------------


def test_enable_jit_compilation_sets_the_global_compiler(restore_global_compiler, cache_dir):
    compiler = neurojit.enable_jit_compilation()
    assert isinstance(compiler, JITCompiler)
    assert neurojit.get_global_compiler() is compiler
    assert compiler.config.enable_jit is True
    config = JITConfig(enable_jit=False, cache_directory=str(cache_dir))
    second = neurojit.enable_jit_compilation(config)
    assert neurojit.get_global_compiler() is second
    assert second.config.enable_jit is True, "enable_jit_compilation turns on JIT"
    assert config.enable_jit is False, "the caller's config is not modified"
    assert second.config.cache_directory == str(cache_dir)


def test_set_global_compiler_type_check(restore_global_compiler):
    for bad in (None, "jit", JITConfig):
        with pytest.raises(TypeError, match="compiler"):
            neurojit.set_global_compiler(bad)


def test_global_compiler_created_on_first_use(restore_global_compiler):
    from neurojit import compiler as compiler_module

    compiler_module._global_compiler = None
    first = neurojit.get_global_compiler()
    assert isinstance(first, JITCompiler)
    assert neurojit.get_global_compiler() is first


JIT_FUNCTIONS = {
    "spike_processing": "jit_spike_processing",
    "reservoir_update": "jit_reservoir_update",
    "convolution": "jit_convolution",
    "matrix_multiply": "jit_matrix_multiply",
    "lif_network_run": "jit_lif_network_run",
    "reservoir_run": "jit_reservoir_run",
}


@pytest.mark.parametrize("name", KERNELS)
def test_jit_functions_use_the_global_compiler(compiler, name, restore_global_compiler, rng):
    neurojit.set_global_compiler(compiler)
    args, kwargs = make_args(name, rng, np.float64)
    function = getattr(neurojit, JIT_FUNCTIONS[name])
    np.testing.assert_array_equal(function(*args, **kwargs), kernel_of(compiler, name)(*args, **kwargs))
    # the jit_* functions validate like the kernels
    with pytest.raises((TypeError, ValueError)):
        function(None, *args[1:], **kwargs)


def test_compile_methods_return_the_same_kernel(compiler):
    for method in METHODS.values():
        assert getattr(compiler, method)() is getattr(compiler, method)()
        assert callable(getattr(compiler, method)())


# -- benchmark_jit_performance ---------------------------------------------------------------


@pytest.mark.parametrize("backend", ["python", "best"])
def test_benchmark_result_structure(compilers, cache_dir, backend):
    compiler = compilers["python"] if backend == "python" else compilers[available_backends()[-1]]
    results = compiler.benchmark_jit_performance(test_sizes=[8, 13], num_iterations=2)
    assert set(results) == set(KERNELS) | {"jit_info"}
    assert results["jit_info"]["kernels"] == compiler.get_jit_info()["kernels"]
    for operation in KERNELS:
        assert set(results[operation]) == {8, 13}
        for size, metrics in results[operation].items():
            assert {"jit_time", "python_time", "speedup", "compile_time"} <= set(metrics)
            for key in ("jit_time", "python_time", "compile_time"):
                assert np.isfinite(metrics[key]) and metrics[key] >= 0, (operation, size, key)
            if metrics["jit_time"] > 0:
                assert metrics["speedup"] == pytest.approx(metrics["python_time"] / metrics["jit_time"])
            assert metrics.get("backend", compiler.config.backend) == compiler.config.backend


@pytest.mark.skipif(not neurojit.NUMBA_AVAILABLE, reason="needs numba for a fresh JIT compiler")
def test_benchmark_times_compilation_apart_on_a_fresh_jit_compiler(tmp_path):
    """A JIT compiler with an empty cache compiles on each kernel's first call: the benchmark
    reports that time apart (compile_time > 0, first call slower than the steady state)."""
    compiler = JITCompiler(JITConfig(backend="jit", cache_directory=str(tmp_path), enable_parallel_loops=False))
    from neurojit import operations

    results = compiler.benchmark_jit_performance(test_sizes=[8], num_iterations=1)
    compiled: set[str] = set()
    for operation in [name for name in results if name != "jit_info"]:  # in the benchmark's order
        metrics = results[operation][8]
        assert metrics["backend"] == "jit"
        loops = set(operations.KERNELS[operation].loops)
        if not loops <= compiled:  # kernels sharing a loop compile it once (lif_run, reservoir_run)
            assert metrics["compile_time"] > 0, operation
            assert metrics["first_call_time"] > metrics["jit_time"], operation
        compiled |= loops
        assert metrics["compile_time"] == pytest.approx(max(metrics["first_call_time"] - metrics["jit_time"], 0.0))
    info = results["jit_info"]
    assert info["cache_stats"]["compiles"] == len(info["compiled_functions"]) > 0, "compiled, not loaded"


# -- command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("forced", [None, "python"])
def test_cli_info_prints_each_kernels_backend(forced):
    env = {"NEUROJIT_BACKEND": forced} if forced else {}
    result = run_python("", args=["-m", "neurojit", "info"], env=env)
    aot_line = [line for line in result.stdout.splitlines() if line.startswith("AOT:")]
    assert len(aot_line) == 1, result.stdout
    aot_ok = not aot_line[0].startswith("AOT: not available")  # as that process saw it
    expected = forced or ("aot" if aot_ok else "jit" if neurojit.NUMBA_AVAILABLE else "python")
    for name in KERNELS:
        lines = [line for line in result.stdout.splitlines() if line.split()[:1] == [name]]
        assert len(lines) == 1, f"no line for {name} in:\n{result.stdout}"
        assert lines[0].split()[1] == expected
    assert "numba" in result.stdout.lower() and "cache" in result.stdout.lower()


def test_cli_rejects_unknown_command():
    result = run_python("", args=["-m", "neurojit", "frobnicate"], check=False)
    assert result.returncode != 0
    assert "frobnicate" in result.stderr


def test_installed_console_script_info(tmp_path):
    """The ``neurojit`` script installed next to this interpreter runs ``info``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / ("neurojit.exe" if os.name == "nt" else "neurojit")
    if not script.exists():
        pytest.skip(f"no console script at {script} (neurojit not installed in this environment)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    env["XDG_CACHE_HOME"] = str(tmp_path)  # never look at the user's cache folder
    result = subprocess.run([str(script), "info"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"neurojit {neurojit.__version__}")
    assert sum(line.startswith("numba:") for line in lines) == 1
    assert sum(line.startswith("AOT:") for line in lines) == 1
    assert "backend setting: auto" in lines
    for name in KERNELS:
        rows = [line.split() for line in lines if line.split()[:1] == [name]]
        assert len(rows) == 1, f"no line for {name} in:\n{result.stdout}"
        assert rows[0][1] in ("aot", "jit", "python")
