"""The AOT build (issue #3): CPU dispatch, the GIL, stale binaries, numba-free import,
reproducibility and the wheel configuration.

Nothing here builds the modules (that takes ~10 s per variant): the tests that need them
skip when ``build_aot.py`` has not been run (``pip install -e .`` runs it in place; the
wheel holds them).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import neurojit
from conftest import last_json_line, run_python
from neurojit import operations
from neurojit._version import DISTRIBUTION
from neurojit.backends import aot, python
from neurojit.kernels import reservoir, signatures

PACKAGE = Path(neurojit.__file__).resolve().parent
REPO = PACKAGE.parent


def _manifest() -> dict | None:
    try:
        return json.loads(Path(aot.MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _built_variants() -> list[str]:
    manifest = _manifest()
    if not manifest or manifest.get("failed") or manifest.get("source_digest") != signatures.source_digest():
        return []
    return [v["name"] for v in manifest["variants"] if set(v["cpu_features"]) <= aot.cpu_features()]


BUILT = _built_variants()
needs_build = pytest.mark.skipif(not BUILT, reason=f"no current AOT build here ({aot.load().reason})")


def _variant_module(name: str):
    return importlib.import_module(f"neurojit._aot_{name}")


# -- CPU dispatch (no build needed) ------------------------------------------------------

VARIANTS = [
    {"name": "x86_64_v3", "module": "_aot_x86_64_v3", "cpu_features": ["X86_V3"]},
    {"name": "baseline", "module": "_aot_baseline", "cpu_features": []},
]


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ({"SSE2", "X86_V2", "X86_V3", "AVX512F"}, "x86_64_v3"),
        ({"SSE2", "X86_V2", "AVX", "AVX2", "FMA3"}, "baseline"),  # no X86_V3 in the table: old numpy
        (set(), "baseline"),
    ],
)
def test_dispatch_picks_the_best_variant_the_cpu_runs(monkeypatch, features, expected):
    monkeypatch.delenv(aot.ENV_VARIANT, raising=False)
    monkeypatch.setattr(aot, "cpu_features", lambda: features)
    variant, why = aot._choose_variant(VARIANTS)
    assert variant["name"] == expected, why


OLD_NUMPY_TABLE = {name: True for name in aot.V3_IN_NUMPY | {"SSE", "SSE2", "AVX512F"}}
V3_FLAGS = "flags\t\t: fpu sse2 " + " ".join(sorted(aot.V3_IN_CPUINFO)) + " avx2\n"


@pytest.mark.parametrize(
    ("table", "cpuinfo", "has_v3"),
    [
        ({**OLD_NUMPY_TABLE, "X86_V3": False}, V3_FLAGS, False),  # numpy >= 2.4 says no: no
        ({**OLD_NUMPY_TABLE, "X86_V3": True}, None, True),  # numpy >= 2.4 says yes: yes
        (OLD_NUMPY_TABLE, V3_FLAGS, True),  # numpy < 2.4: the rest of v3 from /proc/cpuinfo
        (OLD_NUMPY_TABLE, V3_FLAGS.replace(" bmi2", ""), False),  # a v3 part missing
        ({**OLD_NUMPY_TABLE, "FMA3": False}, V3_FLAGS, False),
        (OLD_NUMPY_TABLE, None, False),  # no /proc/cpuinfo (not Linux): baseline
    ],
)
def test_x86_v3_is_inferred_on_numpy_without_it(monkeypatch, tmp_path, table, cpuinfo, has_v3):
    monkeypatch.setattr(aot, "_numpy_cpu_table", lambda: table)
    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text("processor\t: 0\n" + cpuinfo + "\nprocessor\t: 1\n")
    monkeypatch.setattr(aot, "CPUINFO", str(path))
    assert ("X86_V3" in aot.cpu_features()) is has_v3


def test_forced_variant_is_used_only_if_the_cpu_runs_it(monkeypatch):
    """A variant the CPU cannot run, or a name that is not built, warns and the best one is used."""
    monkeypatch.setattr(aot, "cpu_features", lambda: {"SSE2"})
    monkeypatch.setenv(aot.ENV_VARIANT, "baseline")
    assert aot._choose_variant(VARIANTS)[0]["name"] == "baseline"
    monkeypatch.setattr(aot, "cpu_features", lambda: {"SSE2", "X86_V3"})
    assert aot._choose_variant(VARIANTS)[0]["name"] == "baseline"  # forced below the best: honoured
    monkeypatch.setattr(aot, "cpu_features", lambda: {"SSE2"})
    monkeypatch.setenv(aot.ENV_VARIANT, "x86_64_v3")
    with pytest.warns(RuntimeWarning, match=r"NEUROJIT_AOT_VARIANT='x86_64_v3' needs .*X86_V3.*best variant .* baseline"):
        variant, why = aot._choose_variant(VARIANTS)
    assert variant["name"] == "baseline" and "ignored" in why and "X86_V3" in why
    monkeypatch.setenv(aot.ENV_VARIANT, "x86-64-v3")  # mistyped
    monkeypatch.setattr(aot, "cpu_features", lambda: {"SSE2", "X86_V3"})
    with pytest.warns(RuntimeWarning, match=r"'x86-64-v3' is not a built variant \(built: x86_64_v3, baseline\)"):
        variant, why = aot._choose_variant(VARIANTS)
    assert variant["name"] == "x86_64_v3" and "not a built variant" in why
    with pytest.warns(RuntimeWarning, match="no variant runs here"):
        variant, why = aot._choose_variant([dict(VARIANTS[0], cpu_features=["AVX9000"])])
    assert variant is None and "none of the built variants" in why


@needs_build
def test_a_mistyped_variant_keeps_the_aot_backend(tmp_path):
    code = """
        import json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import neurojit
            info = neurojit.JITCompiler().get_jit_info()
        print(json.dumps({"variant": info["aot_variant"], "status": info["aot_status"],
                          "backends": sorted({k["backend"] for k in info["kernels"].values()}),
                          "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}))
    """
    result = last_json_line(run_python(code, env={aot.ENV_VARIANT: "x86-64-v3"}).stdout)
    assert result["variant"] == BUILT[0] and result["backends"] == ["aot"], result
    assert [w for w in result["warnings"] if "NEUROJIT_AOT_VARIANT" in w] == [
        f"RuntimeWarning: neurojit: NEUROJIT_AOT_VARIANT='x86-64-v3' is not a built variant (built: "
        f"{', '.join(_manifest_variant_names())}); using the best variant this CPU supports, {BUILT[0]}"
    ]


def _manifest_variant_names() -> list[str]:
    return [v["name"] for v in _manifest()["variants"]]


def _build_script():
    """``build_aot.py`` of this checkout as a module (skips in an installed wheel's test run)."""
    spec = importlib.util.spec_from_file_location("build_aot_under_test", REPO / "build_aot.py")
    if spec is None or not (REPO / "build_aot.py").exists():
        pytest.skip("build_aot.py is not next to the package (installed wheel)")
    build_aot = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build_aot  # dataclasses look their module up
    try:
        spec.loader.exec_module(build_aot)
    finally:
        del sys.modules[spec.name]
    return build_aot


def test_build_script_variants_match_the_loader_contract():
    build_aot = _build_script()
    x86 = build_aot.variants_for("x86_64")
    assert [v.name for v in x86] == ["x86_64_v3", "baseline"]  # best first, baseline last
    assert x86[-1].cpu_features == () and "X86_V3" in x86[0].cpu_features
    assert all(not v.target_cpu.startswith("skylake-avx512") for v in x86)
    assert [v.name for v in build_aot.variants_for("aarch64")] == ["baseline"]
    assert [v.name for v in build_aot.variants_for("AMD64")] == ["x86_64_v3", "baseline"]


# -- the built modules --------------------------------------------------------------------


@needs_build
def test_manifest_describes_the_installed_build():
    manifest = _manifest()
    assert manifest["failed"] is None and manifest["release_gil"] is True
    assert manifest["source_digest"] == signatures.source_digest()
    assert manifest["variants"][-1]["cpu_features"] == []  # a baseline that runs everywhere
    for variant in manifest["variants"]:
        assert list(PACKAGE.glob(f"{variant['module']}.*")), variant


def _loop_inputs(loop: str, dtype, rng, scale: int = 1):
    """Arguments of ``loop`` (plus the output array) at a size that grows with ``scale``."""
    f = np.dtype(dtype).type
    if loop == "lif_run":
        n = 60 * scale
        spikes = (rng.random((2, 40 * scale, n)) < 0.2).astype(dtype)
        w = rng.standard_normal((n, n)).astype(dtype) * f(0.3)
        state = rng.random((2, n)).astype(dtype)  # v in (0, 1): not from rest
        fired = (rng.random((2, n)) < 0.2).astype(dtype)
        args = (spikes, w, w.copy(), True, np.full(n, 0.5, dtype), f(0.9), f(0.0), state, fired)
        return args, np.empty(spikes.shape, dtype)
    if loop == "reservoir_run":
        n = 50 * scale
        inputs = rng.standard_normal((2, 20 * scale, 8)).astype(dtype)
        w_in = rng.standard_normal((8, n)).astype(dtype)
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(dtype)
        w[rng.random((n, n)) < 0.8] = 0  # sparse: the compressed (CSR) form of w.T is passed too
        csr = operations._compressed_rows(w, operations.SPARSE_RESERVOIR_MIN_STEPS)
        assert csr[0].size, "the case must exercise the compressed form"
        w_in[rng.random((8, n)) < 0.5] = 0  # its CSR rows go in too: the compressed input product
        ptr = np.concatenate(([0], np.cumsum(np.count_nonzero(w_in, axis=1)))).astype(np.uint64)
        cols = np.nonzero(w_in)[1].astype(np.uint32)
        in_csr = (ptr, cols, np.ascontiguousarray(w_in[np.nonzero(w_in)]))
        leak = rng.uniform(0.1, 1.0, n).astype(dtype)  # one rate per unit
        args = (inputs, w_in, *in_csr, w, *csr, rng.standard_normal(n).astype(dtype), leak, np.zeros((2, n), dtype),
                True)
        return args, np.empty((2, inputs.shape[1], n), dtype)
    if loop == "reservoir_step":
        n = 50 * scale
        rows = 12  # at the largest scale a call long enough for the GIL test
        states, inputs = rng.uniform(-1, 1, (rows, n)).astype(dtype), rng.standard_normal((rows, 8)).astype(dtype)
        w_in, w = rng.standard_normal((8, n)).astype(dtype), (rng.standard_normal((n, n)) / np.sqrt(n)).astype(dtype)
        args = (inputs, w_in, w, rng.standard_normal(n).astype(dtype), rng.uniform(0.1, 1.0, n).astype(dtype), states)
        return args, np.empty((rows, n), dtype)
    if loop == "reservoir_step_packed":
        args, out = _loop_inputs("reservoir_step", dtype, rng, scale)
        inputs, w_in, w, bias, leak, states = args
        return (inputs, reservoir.pack_step_constants(w_in, w, bias, leak), states), out
    if loop == "causal_convolution":
        spikes = (rng.random((2, 100 * scale, 40 * scale)) < 0.3).astype(dtype)
        return (spikes, rng.standard_normal(12).astype(dtype)), np.empty(spikes.shape, dtype)
    if loop == "binary_nonzeros":
        a = (rng.random((200 * scale, 300 * scale)) < 0.1).astype(dtype)
        return (a, a.size, np.zeros((a.shape[0], 2), np.int64), np.zeros(a.size + a.shape[0], np.int64)), None
    if loop == "binary_matmul":
        a = (rng.random((40 * scale, 60 * scale)) < 0.1).astype(dtype)
        b = rng.standard_normal((60 * scale, 50 * scale)).astype(dtype)
        spans, index = np.zeros((a.shape[0], 2), np.int64), np.zeros(a.size + a.shape[0], np.int64)
        assert python.binary_nonzeros(a, a.size, spans, index) == np.count_nonzero(a)
        return (spans, index, b, np.full(a.shape[0], -7, np.int64)), np.empty((a.shape[0], b.shape[1]), dtype)
    if loop == "network_run":  # a recurrent network with inputs, per-neuron bias and adaptation
        from neurojit import JITCompiler, JITConfig
        from neurojit.network import STDP, LIFNetwork

        n, n_in, steps = 100 * scale, 40, 100 * scale
        net = LIFNetwork(n, dt=1e-4, tau_m=0.02, v_rest=-0.052, v_reset=-0.06, v_threshold=-0.05, refractory=2e-3,
                         tau_syn=(5e-3, 1e-2), bias=rng.uniform(0, 4e-3, n), tau_adapt=0.1, adapt_increment=1e-3,
                         dtype=dtype, compiler=JITCompiler(JITConfig(backend="python")))
        pre, post = np.nonzero(rng.random((n, n)) < min(0.05, 20 / n))
        net.connect(pre, post, 1e-3, syn_type=rng.integers(0, 2, pre.size))
        pre, post = np.nonzero(rng.random((n_in, n)) < 0.1)
        net.connect_input(n_in, pre, post, rng.uniform(0, 3e-3, pre.size),  # STDP, per-neuron traces, on the inputs
                          plasticity=STDP(0.01, 0.02, 5e-5, -6e-5, 0.0, 3e-3, traces="neuron"))
        pre, post = np.nonzero(rng.random((n, n)) < min(0.05, 20 / n))  # STDP on a recurrent group
        net.connect(pre, post, rng.uniform(0, 1e-3, pre.size), plasticity=STDP(0.02, 0.01, 1e-4, -1.1e-4, 0.0, 1e-3))
        in_ptr, in_index, batch = net._inputs(rng.random((2, steps, n_in)) < 0.02, None)
        state = net.initial_state(2, v=rng.uniform(-0.06, -0.05, (2, n)))
        capacity = 64 * n  # a row whose events outgrow it stops early (on every backend alike)
        args = (net._neuron, net._coef, net._syn_decay, net._refractory_steps, True, False, net._groups,
                net._group_weights, net._ptr, net._targets, net._weights, in_index, 0, state.v,
                state.i_syn.reshape(2, -1), state.adaptation, state.refractory, np.zeros(2, np.int64),
                np.zeros(2, np.int64), np.zeros((2, capacity), np.int32), np.zeros((2, capacity), np.int32),
                np.zeros((2, 0, 0), bool), np.zeros((2, 0), np.int64), in_ptr)
        plastic, rates, *by_target, dt, pw, a_pre, a_post, last, traces, _ = net._plastic_arguments(state)
        args += (plastic, rates.view(np.float64), *by_target, dt, pw, a_pre, a_post, last, traces,
                 np.array([0, 7], np.int64))  # row 1 starts at absolute step 7
        return args, None
    raise AssertionError(loop)


def _call(function, args, out):
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # in/out state stays fresh
    result = function(*args, out) if out is not None else function(*args)
    if out is None and result is None:  # a loop that leaves its results in its arguments (state, outputs)
        return [a for a in args if isinstance(a, np.ndarray)]
    return result if out is None else out


@needs_build
@pytest.mark.parametrize("variant", BUILT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loop", list(signatures.LOOPS))
def test_every_variant_agrees_with_numpy(variant, dtype, loop, rng):
    module = _variant_module(variant)
    args, out = _loop_inputs(loop, dtype, rng)
    got = _call(getattr(module, signatures.export_name(loop, dtype)), args, out)
    expected = _call(python.loop(loop, dtype), args, None if out is None else np.empty_like(out))
    if loop in ("lif_run", "binary_nonzeros"):
        np.testing.assert_array_equal(got, expected)
        if loop == "binary_nonzeros":  # and the lists of a it leaves (the spare slots aside)
            lists = [(np.full(args[2].shape, -7, np.int64), np.full(args[3].shape, -7, np.int64)) for _ in range(2)]
            getattr(module, signatures.export_name(loop, dtype))(*args[:2], *lists[0])
            python.loop(loop, dtype)(*args[:2], *lists[1])
            (spans, index), (spans_np, index_np) = lists
            np.testing.assert_array_equal(spans, spans_np)
            for (begin, end), row in zip(spans, args[0]):
                np.testing.assert_array_equal(index[begin:end], np.flatnonzero(row))
                np.testing.assert_array_equal(index_np[begin:end], np.flatnonzero(row))
    elif loop == "binary_matmul":  # the product where b is finite, and the count of its NaN and inf
        tol = 1e-4 if dtype == "float32" else 1e-11
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
        spans, index, b, _ = args
        b = b.copy()
        b[3, 4], b[-1, 0] = np.inf, np.nan
        for function in (getattr(module, signatures.export_name(loop, dtype)), python.loop(loop, dtype)):
            bad = np.full(spans.shape[0], -7, np.int64)
            function(spans, index, b, bad, np.empty(out.shape, dtype))
            assert bad[0] == 2 and not bad[1:].any()
            function(spans, index, args[2], bad, np.empty(out.shape, dtype))
            assert not bad.any()
    elif loop == "network_run":  # the state and the spike events, bit for bit
        arrays = [name for name, a in zip(signatures.LOOPS[loop].arguments, args) if isinstance(a, np.ndarray)]
        progress = got[arrays.index("progress")]
        assert len(got) == len(expected) and progress.min() > 0  # every row did some steps
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
    else:
        tol = 1e-4 if dtype == "float32" else 1e-11
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _longest_pause_during(function, args, out) -> tuple[float, float]:
    """Run ``function`` in a thread while this thread counts; return (call seconds, the
    longest time this thread could not run Python during the call)."""
    done = threading.Event()
    times = {}

    def worker():
        times["start"] = time.perf_counter()
        _call(function, args, out)
        times["end"] = time.perf_counter()
        done.set()

    thread = threading.Thread(target=worker)
    stamps = []
    thread.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
    thread.join()
    inside = [t for t in stamps if times["start"] <= t <= times["end"]]
    edges = [times["start"], *inside, times["end"]]
    return times["end"] - times["start"], max(b - a for a, b in zip(edges, edges[1:]))


@needs_build
@pytest.mark.parametrize("variant", BUILT)
@pytest.mark.parametrize("loop", list(signatures.LOOPS))
def test_every_kernel_releases_the_gil(variant, loop, rng):
    """Another thread keeps running Python while a long AOT call is in progress."""
    function = getattr(_variant_module(variant), signatures.export_name(loop, "float64"))
    scale = 1
    while True:  # grow the problem until one call takes a clearly measurable time
        args, out = _loop_inputs(loop, "float64", rng, scale)
        start = time.perf_counter()
        _call(function, args, out)
        if time.perf_counter() - start > 0.08 or scale >= 64:
            break
        scale *= 2
    duration, pause = _longest_pause_during(function, args, out)
    assert duration > 0.04
    # Holding the GIL would stop this thread for the whole call.
    assert pause < duration / 2, f"{loop}: this thread stalled {pause:.3f} s of a {duration:.3f} s call"


@needs_build
def test_aot_runs_with_numba_hidden_and_reports_its_variant(tmp_path):
    """numba's test_pycc idea: the AOT module works in a process where numba cannot be imported."""
    code = """
        import json, sys
        sys.modules['llvmlite'] = None
        import numpy as np
        import neurojit
        from neurojit import JITCompiler, JITConfig
        rng = np.random.default_rng(0)
        spikes = (rng.random((2, 30, 20)) < 0.2).astype(np.float32)
        w = rng.standard_normal((20, 20)).astype(np.float32)
        c = JITCompiler(JITConfig(backend="aot"))
        aot = c.compile_spike_processing_kernel()(spikes, w, 0.5, 1e-3)
        ref = JITCompiler(JITConfig(backend="python")).compile_spike_processing_kernel()(spikes, w, 0.5, 1e-3)
        info = c.get_jit_info()
        print(json.dumps({"equal": bool((aot == ref).all()), "variant": info["aot_variant"],
                          "backends": sorted({k["backend"] for k in info["kernels"].values()}),
                          "numba": [m for m in sys.modules if m.split('.')[0] == 'numba' and sys.modules[m] is not None]}))
    """
    for variant in BUILT:
        result = last_json_line(
            run_python(code, hide_numba=True, tmp_path=tmp_path, env={aot.ENV_VARIANT: variant}).stdout
        )
        assert result == {"equal": True, "variant": variant, "backends": ["aot"], "numba": []}


# -- stale or broken builds ---------------------------------------------------------------


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "neurojit", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "neurojit"


FALLBACK_REPORT = """
    import json, sys, warnings
    from pathlib import Path
    # An editable install's import hook would serve neurojit's submodules from the checkout.
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    import neurojit
    assert Path(neurojit.__file__).resolve().parent == Path.cwd().resolve() / "neurojit", neurojit.__file__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernels = [neurojit.JITCompiler(neurojit.JITConfig(cache_directory="cache")).get_jit_info() for _ in range(2)]
    print(json.dumps({
        "aot": kernels[0]["aot_available"], "status": kernels[0]["aot_status"],
        "backends": sorted({k["backend"] for info in kernels for k in info["kernels"].values()}),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, neurojit.FallbackWarning)],
    }))
"""


def _fallback_report(tmp_path: Path) -> dict:
    env = {"PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", FALLBACK_REPORT.replace("\n    ", "\n")], cwd=tmp_path, env=_clean_env(env),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _clean_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


@needs_build
def test_a_stale_build_is_never_used(tmp_path):
    """A kernel edited after the build (an editable install): one warning, then JIT or NumPy."""
    package = _copy_package(tmp_path)
    lif = package / "kernels" / "lif.py"
    lif.write_text(lif.read_text() + "\n# edited after the AOT build\n")
    report = _fallback_report(tmp_path)
    assert report["aot"] is False and "other kernel source" in report["status"]
    assert report["backends"] == (["jit"] if neurojit.NUMBA_AVAILABLE else ["python"])
    assert len(report["warnings"]) == 1 and "rebuild" in report["warnings"][0]


def test_a_failed_build_warns_once_and_falls_back(tmp_path):
    package = _copy_package(tmp_path)
    for module in package.glob("_aot_*"):
        module.unlink()
    manifest = {"format": 1, "variants": [], "failed": "RuntimeError: no C compiler"}
    (package / "_aot_manifest.json").write_text(json.dumps(manifest))
    report = _fallback_report(tmp_path)
    assert report["aot"] is False and "no C compiler" in report["status"]
    assert len(report["warnings"]) == 1 and "failed" in report["warnings"][0]


NO_COMPILER = "no C compiler found; numba.pycc needs gcc, e.g. `apt install gcc`"


def _failed_build_package(tmp_path: Path) -> Path:
    package = _copy_package(tmp_path)
    for module in package.glob("_aot_*"):
        module.unlink()
    (package / "_aot_manifest.json").write_text(json.dumps({"format": 1, "variants": [], "failed": NO_COMPILER}))
    return package


def test_a_failed_build_says_how_to_rebuild_at_the_callers_line(tmp_path):
    """The warning names the user's line (not ``sys:1`` or neurojit's insides) and gives a
    reinstall command that bypasses pip's cached wheel (run for real by tools/check_source_install.py)."""
    _failed_build_package(tmp_path)
    script = tmp_path / "user_script.py"
    script.write_text("import neurojit\n\nkernel = neurojit.JITCompiler().compile_convolution_kernel()\n")
    result = subprocess.run([sys.executable, "-W", "always::neurojit.FallbackWarning", str(script)], cwd=tmp_path,
                            env=_clean_env({"PYTHONPATH": str(tmp_path)}), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{script}:3: FallbackWarning: neurojit:" in result.stderr, result.stderr
    assert result.stderr.count("FallbackWarning") == 1
    assert f"({NO_COMPILER})" in result.stderr
    assert f"`{aot.REBUILD_COMMAND}`" in result.stderr
    assert aot.REBUILD_COMMAND == (f"pip install --no-cache-dir --force-reinstall --no-binary {DISTRIBUTION} "
                                   f"--no-deps {DISTRIBUTION}=={neurojit.__version__}")


def test_info_gives_the_failure_reason_once(tmp_path):
    _failed_build_package(tmp_path)
    result = subprocess.run([sys.executable, "-m", "neurojit", "info"], cwd=tmp_path,
                            env=_clean_env({"PYTHONPATH": str(tmp_path)}), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(NO_COMPILER) == 1 and result.stdout.count(aot.REBUILD_COMMAND) == 1, result.stdout
    assert "FallbackWarning" not in result.stderr  # info prints the reason itself
    kernel_lines = result.stdout.split("kernels:\n")[1].splitlines()[:len(operations.KERNELS)]
    assert all("AOT unavailable: see AOT above" in line and len(line) < 100 for line in kernel_lines), kernel_lines


def test_build_failure_reason_is_one_line_naming_what_to_install():
    build_aot = _build_script()
    numba_message = RuntimeError(
        "Attempted to compile AOT function without the compiler used by `numpy.distutils` present. "
        "If using conda try:\n\n#> conda install gcc_linux-64 gxx_linux-64"
    )
    reason = build_aot.failure_reason(numba_message)
    assert "\n" not in reason and "conda" not in reason and "numpy.distutils" not in reason
    assert reason.startswith("no C compiler found") and "numba.pycc needs" in reason
    long = build_aot.failure_reason(ValueError("first line\nsecond line " + "x" * 400))
    assert long.startswith("ValueError: first line second line") and len(long) == 300


def test_a_build_without_a_compiler_records_why(tmp_path):
    pytest.importorskip("numba")
    build_aot = _build_script()
    result = subprocess.run([sys.executable, str(build_aot.__file__), "--output", str(tmp_path)],
                            env=_clean_env({"CC": str(tmp_path / "no-such-cc")}), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1
    failed = json.loads((tmp_path / "_aot_manifest.json").read_text())["failed"]
    assert failed.startswith(f"no C compiler found (CC={str(tmp_path / 'no-such-cc')!r} does not run)"), failed
    assert "conda" not in failed and f"build_aot: failed: {failed}" in result.stderr


@needs_build
def test_a_missing_module_warns_once_and_falls_back(tmp_path):
    package = _copy_package(tmp_path)
    for module in package.glob("_aot_*.*"):
        if module.suffix != ".json":
            module.unlink()
    report = _fallback_report(tmp_path)
    assert report["aot"] is False and "does not import" in report["status"]
    assert len(report["warnings"]) == 1


# -- reproducibility: the wheel's modules equal the in-place build of the same commit -----


def _dist_wheels() -> list[Path]:
    return sorted((REPO / "dist").glob(f"{DISTRIBUTION.replace('-', '_')}-*-cp{sys.version_info[0]}{sys.version_info[1]}-*.whl"))


@needs_build
def test_wheel_modules_are_byte_identical_to_the_in_place_build():
    """Two builds of one commit (the CI's wheel, built from the sdist in its own build
    environment, and the editable install's in-place build) give identical modules."""
    manifest = _manifest()
    for wheel in _dist_wheels():
        with zipfile.ZipFile(wheel) as archive:
            try:
                wheel_manifest = json.loads(archive.read("neurojit/_aot_manifest.json"))
            except KeyError:
                continue
            if wheel_manifest != manifest:
                continue  # another commit, build script or numba: nothing to compare
            for name in archive.namelist():
                if name.startswith("neurojit/_aot_") and not name.endswith(".json"):
                    assert archive.read(name) == (REPO / name).read_bytes(), f"{name} differs in {wheel.name}"
            return
    pytest.skip("no wheel of this exact build in dist/ (.ci/run builds one)")


# -- wheels configuration -----------------------------------------------------------------

EXPECTED_IDENTIFIERS = {
    ("linux", "x86_64"): [f"cp3{m}-manylinux_x86_64" for m in range(10, 15)],
    ("linux", "aarch64"): [f"cp3{m}-manylinux_aarch64" for m in range(10, 15)],
    ("macos", "arm64"): [f"cp3{m}-macosx_arm64" for m in range(10, 15)],
    ("windows", "AMD64"): [f"cp3{m}-win_amd64" for m in range(10, 15)],
}


@pytest.mark.parametrize(("platform", "arch"), list(EXPECTED_IDENTIFIERS))
def test_cibuildwheel_builds_exactly_the_supported_wheels(platform, arch):
    cibuildwheel = shutil.which("cibuildwheel", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if cibuildwheel is None or not (REPO / "pyproject.toml").exists():
        pytest.skip("cibuildwheel is not installed here (pip install --group wheels)")
    result = subprocess.run(
        [cibuildwheel, "--print-build-identifiers", "--platform", platform, "--archs", arch, str(REPO)],
        capture_output=True, text=True, timeout=120, env=_clean_env({}),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == EXPECTED_IDENTIFIERS[platform, arch]


def test_wheel_workflow_builds_on_native_runners_and_requires_aot():
    workflow = REPO / ".github" / "workflows" / "ci.yml"
    if not workflow.exists():
        pytest.skip("not a source checkout")
    text = workflow.read_text()
    for needle in ("ubuntu-24.04-arm", "macos-14", "windows-latest", "pypa/cibuildwheel"):
        assert needle in text
    pyproject = (REPO / "pyproject.toml").read_text()
    for needle in ('NEUROJIT_REQUIRE_AOT = "1"', "auditwheel repair --strip", "tools/wheel_tests.py"):
        assert needle in pyproject
