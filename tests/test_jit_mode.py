"""JIT mode under concurrency: threads, processes, parallel loops, warm-up.

* 8 threads first-calling one kernel compile it once;
* 4 processes compiling into one cache folder all get correct results, and the folder
  ends consistent;
* parallel loops (``prange``, batch rows, or neuron blocks when B=1) give exactly the
  serial results, and concurrent calls of parallel kernels are safe under numba's
  ``workqueue`` threading layer (which aborts the process on concurrent launches);
* ``JITCompiler.warmup`` compiles everything, in worker processes when
  ``parallel_compilation`` is on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import run_python
from neurojit import JITCompiler, JITConfig, cache, operations
from neurojit.backends import jit
from neurojit.kernels import convolution, lif, network, reservoir, signatures

pytestmark = pytest.mark.skipif(not jit.NUMBA_AVAILABLE, reason="numba is not installed")


def jit_compiler(cache_directory=None, **options) -> JITCompiler:
    if cache_directory is None:
        options.setdefault("cache_compiled_functions", False)
    else:
        cache_directory = str(cache_directory)
    return JITCompiler(JITConfig(backend="jit", cache_directory=cache_directory, **options))


@pytest.fixture(scope="module")
def serial_and_parallel(cache_dir):
    """Two JIT compilers, serial and parallel loops, sharing the session's cache folder, warmed up."""
    compilers = {p: jit_compiler(cache_dir, enable_parallel_loops=p) for p in (False, True)}
    for c in compilers.values():
        c.warmup(kernels=["lif_network_run", "reservoir_run", "convolution"])
    return compilers


# -- threads -------------------------------------------------------------------------


def test_eight_threads_first_calling_one_kernel_compile_it_once():
    compiler = jit_compiler(enable_parallel_loops=False)
    kernel = compiler.compile_convolution_kernel()
    rng = np.random.default_rng(8)
    spikes = (rng.random((3, 20, 7)) < 0.2).astype(np.float64)
    taps = rng.random(4)
    expected = JITCompiler(JITConfig(backend="python")).compile_convolution_kernel()(spikes, taps)
    barrier = threading.Barrier(8)
    results, errors = [None] * 8, []

    def first_call(i):
        try:
            barrier.wait()
            results[i] = kernel(spikes, taps)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for result in results:
        np.testing.assert_array_equal(result, expected)
    assert compiler.get_jit_info()["cache_stats"]["compiles"] == 1
    assert compiler.get_jit_info()["compiled_functions"] == ["causal_convolution[float64]"]


def test_parallel_kernels_from_many_threads_under_workqueue(cache_dir):
    """numba's workqueue layer aborts the process on concurrent parallel launches; neurojit serialises them."""
    code = f"""
        import threading, numba, numpy as np
        from neurojit import JITCompiler, JITConfig
        c = JITCompiler(JITConfig(backend="jit", enable_parallel_loops=True, cache_directory={str(cache_dir)!r}))
        conv, lif = c.compile_convolution_kernel(), c.compile_spike_processing_kernel()
        rng = np.random.default_rng(0)
        s = (rng.random((1, 100, 300)) < 0.1).astype(np.float64)
        taps, w = rng.random(6), rng.standard_normal((300, 300)) * 0.3
        ref_conv, ref_lif = conv(s, taps), lif(s, w, 0.5, 1e-3)
        bad = []
        def work(i):
            for _ in range(25):
                if i % 2:
                    bad.append(not np.array_equal(conv(s, taps), ref_conv))
                else:
                    bad.append(not np.array_equal(lif(s, w, 0.5, 1e-3), ref_lif))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(numba.threading_layer(), len(bad), sum(bad))
    """
    result = run_python(code, env={"NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"})
    assert result.stdout.split() == ["workqueue", "100", "0"]


# -- parallel loops equal serial ones -----------------------------------------------------


def random_case(rng, batch, dtype, n, inputs=90, steps=20):
    """Spikes into ``inputs`` and into ``n`` neurons, weights, initial states."""
    return {
        "input_spikes": (rng.random((batch, steps, inputs)) < 0.1).astype(dtype),
        "spikes": (rng.random((batch, steps, n)) < 0.1).astype(dtype),
        "w_in": (rng.standard_normal((inputs, n)) * 0.5).astype(dtype),
        "w_rec": (rng.standard_normal((n, n)) * 0.3 / np.sqrt(n / 150)).astype(dtype),
        "states": (rng.standard_normal((batch, n)) * 0.1).astype(dtype),
        "taps": np.linspace(1, 0.2, 5).astype(dtype),
        # B=1: several channel blocks of the parallel convolution, the last one partial
        "channels": (rng.random((batch, steps, convolution.BLOCK + 77 if batch == 1 else n)) < 0.1).astype(dtype),
        # a compressed (5 %-connected) reservoir over enough steps: B=1 takes the unit blocks
        "long_inputs": rng.standard_normal((batch, operations.SPARSE_RESERVOIR_MIN_STEPS + 8, inputs)).astype(dtype),
        "w_sparse": (rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.05) * 4 / np.sqrt(n)).astype(dtype),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("batch", [1, 3], ids=["B1-neuron-blocks", "B3-batch-rows"])
def test_parallel_loops_give_exactly_the_serial_results(serial_and_parallel, batch, dtype):
    # B=1 large enough for the neuron-block path of a parallel compile, with a partial last block
    n = lif.MIN_BLOCKED + lif.BLOCK // 3 if batch == 1 else 150
    x = random_case(np.random.default_rng(batch), batch, dtype, n)
    outputs = {}
    for parallel, c in serial_and_parallel.items():
        outputs[parallel] = [
            c.compile_lif_network_kernel()(x["input_spikes"], x["w_in"], x["w_rec"], 0.8, 1e-3),
            c.compile_spike_processing_kernel()(x["spikes"], x["w_rec"], 0.5, 1e-3),
            c.compile_reservoir_run_kernel()(x["input_spikes"], x["w_in"], x["w_rec"] * 0.3, x["states"], 0.3, 0.1),
            c.compile_reservoir_update_kernel()(x["states"], x["w_in"], x["w_rec"], x["input_spikes"][:, 0], 0.5),
            c.compile_convolution_kernel()(x["channels"], x["taps"]),
            c.compile_reservoir_run_kernel()(x["long_inputs"], x["w_in"], x["w_sparse"], x["states"], 0.3, 0.1),
        ]
    assert n >= reservoir.MIN_BLOCKED or batch > 1
    assert operations._compressed_rows(x["w_sparse"], x["long_inputs"].shape[1])[0].size  # compressed
    for spikes in outputs[False][:2]:
        assert spikes.any() and not spikes.all()  # a real test: some spikes, not all
    for serial, parallel in zip(outputs[False], outputs[True]):
        np.testing.assert_array_equal(parallel, serial)
    python = JITCompiler(JITConfig(backend="python"))
    np.testing.assert_array_equal(
        outputs[True][0], python.compile_lif_network_kernel()(x["input_spikes"], x["w_in"], x["w_rec"], 0.8, 1e-3))
    np.testing.assert_array_equal(outputs[True][4], python.compile_convolution_kernel()(x["channels"], x["taps"]))


@pytest.mark.parametrize("case", ["uniform", "per-neuron-adapt", "plastic"])
def test_network_neuron_blocks_give_exactly_the_serial_results(serial_and_parallel, case):
    """One row of a LIFNetwork big enough for the neuron-block path (a partial last block): the
    parallel compile's spikes and state equal the serial loop's and the NumPy twin's (with STDP
    on the recurrent synapses too: a plastic row does not take the block path, which has no STDP)."""
    from neurojit import STDP, LIFNetwork

    rng = np.random.default_rng(7)
    n, n_in = network.MIN_BLOCKED + network.BLOCK // 3, 30
    options = dict(tau_m=0.02, v_rest=1.1, v_threshold=1.0, refractory=2e-3, tau_syn=(5e-3, 1e-2))
    if case == "per-neuron-adapt":
        options.update(bias=rng.uniform(0, 0.2, n), v_threshold=rng.uniform(0.9, 1.1, n), tau_adapt=0.05,
                       adapt_increment=0.05)
    pre = np.repeat(np.arange(n), 5)
    post, types = rng.integers(0, n, pre.size), rng.integers(0, 2, pre.size)
    weights = rng.normal(0.05, 0.1, pre.size) if case == "per-neuron-adapt" else 0.05
    plasticity = None
    if case == "plastic":
        weights = np.full(pre.size, 0.05)
        plasticity = STDP(5e-3, 5e-3, 0.01, -0.0105, 0.0, 0.1)
    in_pre, in_post = rng.integers(0, n_in, 4 * n), rng.integers(0, n, 4 * n)
    spikes = rng.random((1, 60, n_in)) < 0.05
    v0 = rng.uniform(0, 1, (1, n))
    results = []
    for c in (*serial_and_parallel.values(), JITCompiler(JITConfig(backend="python"))):
        net = LIFNetwork(n, dt=1e-3, compiler=c, **options)
        net.connect(pre, post, weights, syn_type=types, plasticity=plasticity)
        net.connect_input(n_in, in_pre, in_post, 0.3)
        results.append(net.run(spikes, net.initial_state(v=v0)))
    (serial, s_state), (parallel, p_state), (twin, t_state) = results
    assert len(serial) > 100
    assert serial == parallel == twin
    if plasticity is not None:
        learned = s_state.weights[0]
        assert (learned != 0.05).sum() > 1000  # the weights did change
        np.testing.assert_array_equal(p_state.weights[0], learned)
        np.testing.assert_array_equal(t_state.weights[0], learned)
        for a, b, c in zip(s_state.traces[0], p_state.traces[0], t_state.traces[0]):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
    for a, b, c in zip((s_state.v, s_state.i_syn, s_state.refractory, s_state.adaptation),
                       (p_state.v, p_state.i_syn, p_state.refractory, p_state.adaptation),
                       (t_state.v, t_state.i_syn, t_state.refractory, t_state.adaptation)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_parallel_compiler_really_compiles_parallel_loops(serial_and_parallel):
    loops = {p: c._jit.loop("lif_run", "float64") for p, c in serial_and_parallel.items()}
    assert isinstance(loops[True], jit.ParallelLoop) and loops[True].dispatcher.targetoptions["parallel"]
    assert not isinstance(loops[False], jit.ParallelLoop) and not loops[False].targetoptions.get("parallel")
    assert serial_and_parallel[True].get_jit_info()["jit_options"] == "parallel-ieee"


# -- warm-up -----------------------------------------------------------------------------


def test_warmup_compiles_every_loop_concurrently_then_a_new_compiler_only_loads(tmp_path):
    c = jit_compiler(tmp_path, enable_parallel_loops=False, parallel_compilation=True)
    report = c.warmup(kernels=["matrix_multiply", "convolution"])
    expected = sorted(f"{loop}[{dtype}]" for loop in ("binary_matmul", "binary_nonzeros", "causal_convolution")
                      for dtype in ("float32", "float64"))
    assert report["loops"] == expected and c.get_jit_info()["compiled_functions"] == expected
    if (os.cpu_count() or 1) > 1:
        assert report["processes"] >= 1 and report["compiled_in_workers"]
    assert len(cache.neurojit_files(tmp_path)) == 6

    again = jit_compiler(tmp_path, enable_parallel_loops=False)
    assert again.warmup(kernels=["matrix_multiply", "convolution"])["processes"] == 0
    assert again.get_jit_info()["cache_stats"] == {"cache_hits": 6}


def test_warmup_without_disk_cache_uses_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    c = jit_compiler(enable_parallel_loops=False, parallel_compilation=True)
    report = c.warmup(kernels=["matrix_multiply"])
    assert report["loops"] == c.get_jit_info()["compiled_functions"] == [
        "binary_matmul[float32]", "binary_matmul[float64]", "binary_nonzeros[float32]", "binary_nonzeros[float64]"]
    assert list(tmp_path.iterdir()) == []  # the scratch folder is gone
    a = (np.random.default_rng(0).random((20, 30)) < 0.05).astype(np.float32)
    b = np.ones((30, 4), np.float32)
    np.testing.assert_array_equal(c.compile_matrix_multiply_kernel()(a, b), a @ b)


def test_warmup_serial_when_parallel_compilation_is_off(tmp_path):
    c = jit_compiler(tmp_path, enable_parallel_loops=False, parallel_compilation=False)
    report = c.warmup(dtypes=["float32"], kernels=["matrix_multiply"])
    assert report["processes"] == 0
    assert report["loops"] == ["binary_matmul[float32]", "binary_nonzeros[float32]"]
    assert c.get_jit_info()["cache_stats"]["compiles"] == 2


def test_warmup_arguments_are_checked_and_other_backends_need_nothing():
    c = jit_compiler()
    with pytest.raises(ValueError, match="dtypes"):
        c.warmup(dtypes=["int8"])
    with pytest.raises(ValueError, match="unknown kernel"):
        c.warmup(kernels=["nope"])
    python = JITCompiler(JITConfig(backend="python"))
    assert python.warmup() == {"seconds": 0.0, "processes": 0, "compiled_in_workers": [], "loops": []}


def test_balance_keeps_a_loops_dtypes_together_and_pays_off():
    variants = [(loop, dtype) for loop in signatures.LOOPS for dtype in ("float32", "float64")]
    one_worker = jit._balance(variants, 1)
    assert sorted(v for share in one_worker for v in share) == sorted(variants)
    for share in one_worker:
        assert len({loop for loop, _ in share}) * 2 == len(share)  # both dtypes of each loop
    assert all(one_worker) and jit._makespan(one_worker) < jit._makespan(jit._balance(variants, 0))
    # a single cheap loop is not worth a process: it stays here
    assert jit._balance(variants[-2:], 1) == [variants[-2:], []]


# -- processes ----------------------------------------------------------------------------

WORKER = """
import json, os, sys, time
import numpy as np
from neurojit import JITCompiler, JITConfig
folder, go = sys.argv[1], sys.argv[2]
c = JITCompiler(JITConfig(backend="jit", enable_parallel_loops=False, cache_directory=folder))
rng = np.random.default_rng(4)
spikes = (rng.random((2, 30, 40)) < 0.15)
w = rng.standard_normal((40, 40)) * 0.4
while not os.path.exists(go):
    time.sleep(0.005)
out = {str(dt): c.compile_spike_processing_kernel()(spikes.astype(dt), w.astype(dt), 0.6, 1e-3).tolist()
       for dt in (np.float32, np.float64)}
print(json.dumps({"out": out, "stats": c.get_jit_info()["cache_stats"]}))
"""


def test_four_processes_compiling_into_one_folder(tmp_path, repo_env):
    folder, go = tmp_path / "cache", tmp_path / "go"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    processes = [
        subprocess.Popen([sys.executable, str(script), str(folder), str(go)], env=repo_env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    go.write_text("")
    results = []
    for p in processes:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert err == "", err  # no warning
        results.append(json.loads(out.strip().splitlines()[-1]))

    rng = np.random.default_rng(4)
    spikes = (rng.random((2, 30, 40)) < 0.15)
    w = rng.standard_normal((40, 40)) * 0.4
    python = JITCompiler(JITConfig(backend="python")).compile_spike_processing_kernel()
    for dt in (np.float32, np.float64):
        expected = python(spikes.astype(dt), w.astype(dt), 0.6, 1e-3)
        assert expected.any()
        for r in results:
            np.testing.assert_array_equal(np.array(r["out"][str(dt)], dt), expected)

    # consistent: exactly the two entries, complete, no temporary leftovers
    files = cache.neurojit_files(folder)
    assert sorted(p.name.split("-")[1] for p in files) == ["float32", "float64"]
    for path in files:
        assert cache.read_entry(path) is not None
    # a fifth process only loads
    fifth = subprocess.run([sys.executable, str(script), str(folder), str(go)], env=repo_env,
                           capture_output=True, text=True, timeout=300)
    assert fifth.returncode == 0 and fifth.stderr == ""
    assert json.loads(fifth.stdout.strip().splitlines()[-1])["stats"] == {"cache_hits": 2}


@pytest.fixture
def repo_env():
    from pathlib import Path

    root = str(Path(jit.__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


# -- options reach numba -----------------------------------------------------------------


@pytest.mark.parametrize("fastmath", [False, True], ids=["ieee", "fastmath"])
def test_enable_fastmath_reaches_numba(fastmath):
    """JITConfig.enable_fastmath is numba's fastmath: in the dispatcher's options, the options
    tag, and the generated code (LLVM ``fast`` flags on the floating-point arithmetic)."""
    import re

    c = jit_compiler(enable_fastmath=fastmath, enable_parallel_loops=False)
    loop = c._jit.loop("causal_convolution", "float64")
    assert loop.targetoptions["fastmath"] is fastmath
    assert c.get_jit_info()["jit_options"] == ("serial-fastmath" if fastmath else "serial-ieee")
    ir = "".join(loop.inspect_llvm().values())
    arithmetic = re.findall(r"= (?:fadd|fsub|fmul)( fast)? ", ir)
    assert arithmetic, "the loop has floating-point arithmetic"
    assert all(arithmetic) if fastmath else not any(arithmetic)
    # and the parallel build carries it too
    p = jit_compiler(enable_fastmath=fastmath, enable_parallel_loops=True)
    assert p._jit.loop("causal_convolution", "float64").dispatcher.targetoptions["fastmath"] is fastmath
    assert p.get_jit_info()["jit_options"] == ("parallel-fastmath" if fastmath else "parallel-ieee")


def test_numba_disable_jit_runs_the_loop_source_through_the_jit_backend(tmp_path):
    """NUMBA_DISABLE_JIT=1 with backend='jit': the JIT backend hands out the plain Python loop
    source (no compile, no cache file), and every kernel matches the reference and the NumPy
    backend in both dtypes."""
    folder = tmp_path / "cache"
    code = f"""
        import json, sys
        sys.path.insert(0, "tests")
        import numpy as np, numba
        from cases import KERNELS, kernel_of, make_args, check_against_reference
        from neurojit import JITCompiler, JITConfig, cache, operations
        from neurojit.backends import jit
        operations.SPARSE_MATMUL_MIN_WORK = 0  # small products take the event-driven loop too
        c = JITCompiler(JITConfig(backend="jit", cache_directory={str(folder)!r}))
        python = JITCompiler(JITConfig(backend="python"))
        rng = np.random.default_rng(11)
        for name in KERNELS:
            for dtype in (np.float32, np.float64):
                args, kwargs = make_args(name, rng, dtype)
                result = kernel_of(c, name)(*args, **kwargs)
                check_against_reference(name, result, args, kwargs, dtype)
                check_against_reference(name, kernel_of(python, name)(*args, **kwargs), args, kwargs, dtype)
            # a sparse 0/1 left operand, so that matrix_multiply runs its event-driven loop too
            a = np.zeros((8, 40), dtype)
            a[rng.integers(0, 8, 6), rng.integers(0, 40, 6)] = 1
            args = (a, rng.standard_normal((40, 3)).astype(dtype))
            check_against_reference("matrix_multiply", c.compile_matrix_multiply_kernel()(*args), args, {{}}, dtype)
            # a bound step called again, so that reservoir_update runs its packed loop too
            x, w_in, w, u = (np.asarray(v, dtype) for v in (rng.random((1, 6)), rng.random((2, 6)),
                                                             rng.random((6, 6)) * 0.3, rng.random((1, 2))))
            step = c.compile_reservoir_update_kernel().bind(input_weights=w_in, reservoir_weights=w)
            step(x, u)
            np.testing.assert_array_equal(step(x, u), c.compile_reservoir_update_kernel()(x, w_in, w, u))
        compiled = c.get_jit_info()["compiled_functions"]
        plain = all(c._jit.loop(loop, dtype) is jit._loop_source(loop)
                    for loop, dtype in (f.rstrip("]").split("[") for f in compiled))
        print(json.dumps({{
            "disabled": bool(numba.config.DISABLE_JIT),
            "backends": sorted({{k["backend"] for k in c.get_jit_info()["kernels"].values()}}),
            "loops": sorted({{f.split("[")[0] for f in compiled}}),
            "plain": plain,
            "compiles": c.get_jit_info()["cache_stats"].get("compiles", 0),
            "files": len(cache.neurojit_files({str(folder)!r})),
        }}))
    """
    result = run_python(code, env={"NUMBA_DISABLE_JIT": "1"})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["disabled"] is True
    assert report["backends"] == ["jit"]
    from neurojit.operations import KERNELS

    public_loops = sorted({loop for spec in KERNELS.values() if spec.public for loop in spec.loops})
    assert report["loops"] == public_loops, "every loop of the public kernels went through the JIT backend"
    assert report["plain"] is True, "the loops are the plain Python source, not numba dispatchers"
    assert report["compiles"] == 0 and report["files"] == 0
