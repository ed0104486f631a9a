"""The examples of the user's seed document (../shared/spec/jit-compilation.md), run as tests with
``src.performance`` replaced by ``neurojit.performance``.

The code is the document's, in its order, with two changes: random data come from a seeded
``np.random.default_rng`` instead of the global ``np.random`` functions (same shapes and
distributions), and each example ends with assertions on its result (against the reference
loops, or numpy). The compiler is the document's "custom configuration" one (fastmath,
verbose). Nothing is written to the user's own cache folder. The two examples that use numba
directly ("Memory Access Optimization", "Custom JIT Kernels") run only where numba is installed;
where numba rejects the document's code, the smallest change that compiles runs next to it.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

import reference
from neurojit import cache as neurojit_cache

SEED = 20240601


@pytest.fixture(scope="module", autouse=True)
def private_default_cache(cache_dir):
    """JITCompiler() with no cache_directory uses the session's cache folder, not ~/.cache/neurojit."""
    folder = cache_dir
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neurojit_cache, "default_cache_directory", lambda: str(folder))
        yield folder


@pytest.fixture(scope="module", autouse=True)
def restore_logging_level():
    """verbose=True lowers neurojit's logger level; put it back afterwards."""
    logger = logging.getLogger("neurojit")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(SEED)


@pytest.fixture(scope="module")
def compiler():
    # --- "Configuration / Basic Configuration" (its last assignment is the compiler used below)
    from neurojit.performance import JITCompiler, JITConfig

    # Default configuration
    compiler = JITCompiler()

    # Custom configuration
    config = JITConfig(
        enable_jit=True,                  # Enable JIT compilation
        cache_compiled_functions=True,    # Cache compiled functions
        enable_fastmath=True,             # Enable fast math optimizations
        enable_parallel_loops=True,       # Enable parallel loops
        verbose=True                      # Enable verbose logging
    )

    compiler = JITCompiler(config)
    return compiler


def fastmath_in_effect(kernel) -> bool:
    """Only the JIT backend honours enable_fastmath (AOT and NumPy are IEEE)."""
    return kernel.backend == "jit" and kernel._resolver.backend.fastmath


def assert_spikes_match(result, expected, kernel):
    """Exact, except that fastmath may flip a rare spike whose membrane sits within an ulp of threshold."""
    mismatches = int(np.count_nonzero(result != expected))
    if fastmath_in_effect(kernel):
        assert mismatches <= 0.001 * expected.size, f"{mismatches} spikes differ under fastmath"
    else:
        assert mismatches == 0, f"{mismatches} spikes differ"


# -- Installation / Verification ------------------------------------------------------------


def test_verification(capsys, compiler):
    from neurojit.performance.jit_compilation import JITCompiler, NUMBA_AVAILABLE

    print(f"Numba available: {NUMBA_AVAILABLE}")

    if NUMBA_AVAILABLE:
        compiler = JITCompiler()
        print(compiler.get_jit_info())

    out = capsys.readouterr().out
    assert f"Numba available: {NUMBA_AVAILABLE}" in out
    if NUMBA_AVAILABLE:
        assert "'kernels'" in out and "numba_version" in out


def test_configuration(compiler):
    assert compiler.config.enable_fastmath is True and compiler.config.verbose is True
    assert compiler.config.enable_parallel_loops is True and compiler.config.cache_compiled_functions is True
    # verbose compilers log their compiles at INFO
    assert logging.getLogger("neurojit").isEnabledFor(logging.INFO), "verbose=True enables compile logging"
    # --- "Parallel Loop Optimization"
    from neurojit.performance import JITCompiler, JITConfig

    config = JITConfig(
        enable_parallel_loops=True,
        enable_fastmath=True
    )
    parallel = JITCompiler(config)
    assert parallel.get_jit_info()["config"]["enable_parallel_loops"] is True


# -- API Reference / Core Methods -------------------------------------------------------------


@pytest.fixture(scope="module")
def spike_example(compiler, rng):
    # Create test data
    batch_size, time_steps, num_neurons = 4, 100, 50
    spike_trains = rng.random((batch_size, time_steps, num_neurons)).astype(np.float32)
    spike_trains = (spike_trains > 0.9).astype(np.float32)  # Sparse spikes

    weights = rng.standard_normal((num_neurons, num_neurons)).astype(np.float32) * 0.1
    thresholds = np.ones(num_neurons, dtype=np.float32) * 0.5
    dt = 0.001

    # Compile and use kernel
    kernel = compiler.compile_spike_processing_kernel()
    result = kernel(spike_trains, weights, thresholds, dt)
    return dict(spike_trains=spike_trains, weights=weights, thresholds=thresholds, dt=dt, kernel=kernel,
                result=result)


def test_spike_processing_example(spike_example):
    ex = spike_example
    assert ex["result"].shape == (4, 100, 50) and ex["result"].dtype == np.float32
    expected = reference.spike_processing(ex["spike_trains"], ex["weights"], ex["thresholds"], ex["dt"])
    assert expected.sum() > 0
    assert_spikes_match(ex["result"], expected, ex["kernel"])


@pytest.fixture(scope="module")
def reservoir_example(compiler, rng):
    # Create reservoir data
    batch_size, num_neurons, input_size = 8, 100, 50
    reservoir_states = rng.standard_normal((batch_size, num_neurons)).astype(np.float32)
    input_weights = rng.standard_normal((input_size, num_neurons)).astype(np.float32)
    reservoir_weights = rng.standard_normal((num_neurons, num_neurons)).astype(np.float32)
    input_spikes = rng.random((batch_size, input_size)).astype(np.float32)
    input_spikes = (input_spikes > 0.9).astype(np.float32)

    # Compile and use kernel
    kernel = compiler.compile_reservoir_update_kernel()
    result = kernel(reservoir_states, input_weights, reservoir_weights, input_spikes)
    return dict(states=reservoir_states, input_weights=input_weights, reservoir_weights=reservoir_weights,
                spikes=input_spikes, result=result)


def test_reservoir_update_example(reservoir_example):
    ex = reservoir_example
    assert ex["result"].shape == (8, 100) and ex["result"].dtype == np.float32
    expected = reference.reservoir_update(ex["states"], ex["input_weights"], ex["reservoir_weights"], ex["spikes"])
    # float32 sums of ~100 unit-size products: absolute error up to ~100 * 2**-24 * |terms|
    np.testing.assert_allclose(ex["result"], expected, rtol=0, atol=1e-4)


def test_convolution_example(compiler, rng):
    # Create convolution data
    batch_size, time_steps, num_neurons = 4, 200, 20
    kernel_size = 10

    spike_trains = rng.random((batch_size, time_steps, num_neurons)).astype(np.float32)
    spike_trains = (spike_trains > 0.8).astype(np.float32)
    kernel = rng.standard_normal(kernel_size).astype(np.float32)

    # Compile and use kernel
    conv_kernel = compiler.compile_convolution_kernel()
    result = conv_kernel(spike_trains, kernel)

    assert result.shape == spike_trains.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, reference.convolution(spike_trains, kernel), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def matmul_example(compiler, rng):
    # Create matrices
    M, K, N = 500, 300, 400
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)

    # Compile and use kernel
    matmul_kernel = compiler.compile_matrix_multiply_kernel()
    result = matmul_kernel(a, b)
    return dict(a=a, b=b, result=result)


def test_matrix_multiply_example(matmul_example):
    ex = matmul_example
    assert ex["result"].shape == (500, 400) and ex["result"].dtype == np.float32
    exact = ex["a"].astype(np.float64) @ ex["b"].astype(np.float64)
    # float32, 300 terms of size ~1: error well under 1e-3
    np.testing.assert_allclose(ex["result"], exact, rtol=0, atol=1e-3)
    np.testing.assert_allclose(ex["result"], np.matmul(ex["a"], ex["b"]), rtol=1e-5, atol=1e-4)


# -- Memory Layout Optimization ---------------------------------------------------------------


def test_memory_layout_example(compiler, rng):
    # Optimize for different access patterns
    array = rng.standard_normal((1000, 500))

    # Row-major optimization (C-style)
    row_major = compiler.optimize_memory_layout(array, "row_major")

    # Column-major optimization (Fortran-style)
    col_major = compiler.optimize_memory_layout(array, "column_major")

    # Blocked optimization
    blocked = compiler.optimize_memory_layout(array, "blocked")

    for result in (row_major, col_major, blocked):
        np.testing.assert_array_equal(result, array)
    assert row_major.flags.c_contiguous
    assert col_major.flags.f_contiguous
    assert blocked.flags.c_contiguous and blocked.ctypes.data % 64 == 0


# -- Utility Methods ------------------------------------------------------------------------


def test_utility_methods(compiler):
    import neurojit

    assert compiler.is_numba_available() is neurojit.NUMBA_AVAILABLE
    info = compiler.get_jit_info()
    assert isinstance(info, dict) and info["config"]["enable_fastmath"] is True


# -- Compilation Overhead ---------------------------------------------------------------------


def test_compilation_overhead_example(capsys, spike_example):
    from neurojit.performance import JITCompiler, JITConfig

    # a compiler of its own so that the first call really is a first call
    compiler = JITCompiler(JITConfig(enable_fastmath=True))
    spike_trains, weights = spike_example["spike_trains"], spike_example["weights"]
    thresholds, dt = spike_example["thresholds"], spike_example["dt"]

    # First call includes compilation time
    start_time = time.time()
    kernel = compiler.compile_spike_processing_kernel()
    result1 = kernel(spike_trains, weights, thresholds, dt)
    first_call_time = time.time() - start_time

    # Subsequent calls use cached version
    start_time = time.time()
    result2 = kernel(spike_trains, weights, thresholds, dt)
    cached_call_time = time.time() - start_time

    print(f"First call (with compilation): {first_call_time:.3f}s")
    print(f"Cached call: {cached_call_time:.3f}s")
    print(f"Speedup after compilation: {first_call_time / max(cached_call_time, 1e-9):.1f}x")

    np.testing.assert_array_equal(result1, result2)
    out = capsys.readouterr().out
    assert "First call (with compilation):" in out and "Speedup after compilation:" in out


# -- Performance Optimization / Memory Access Optimization -------------------------------------------


def test_memory_access_optimization_example(matmul_example):
    """The document's blocked, parallel, fastmath matrix multiply, decorated with numba itself.

    As written it steps ``prange`` by ``block_size``, which numba rejects ("Only constant step
    size of 1 is supported for prange"); the one change that makes it compile is a ``prange``
    over block numbers. The written form must either work or fail with exactly that message.
    """
    pytest.importorskip("numba")
    from numba import njit, prange
    from numba.core.errors import UnsupportedRewriteError

    # Cache-friendly memory access patterns
    @njit(parallel=True, fastmath=True)
    def optimized_matrix_multiply(a, b):
        """Cache-friendly blocked matrix multiplication."""
        M, K = a.shape
        K2, N = b.shape
        result = np.zeros((M, N), dtype=np.float32)

        block_size = 64  # Optimize for cache line size

        for i_block in prange(0, M, block_size):
            for j_block in range(0, N, block_size):
                for k_block in range(0, K, block_size):
                    # Process block
                    i_end = min(i_block + block_size, M)
                    j_end = min(j_block + block_size, N)
                    k_end = min(k_block + block_size, K)

                    for i in range(i_block, i_end):
                        for j in range(j_block, j_end):
                            temp_sum = 0.0
                            for k in range(k_block, k_end):
                                temp_sum += a[i, k] * b[k, j]
                            result[i, j] += temp_sum

        return result

    # the same, with prange over block numbers (step 1) instead of block starts
    @njit(parallel=True, fastmath=True)
    def optimized_matrix_multiply_step1(a, b):
        """Cache-friendly blocked matrix multiplication."""
        M, K = a.shape
        K2, N = b.shape
        result = np.zeros((M, N), dtype=np.float32)

        block_size = 64  # Optimize for cache line size

        for i_number in prange((M + block_size - 1) // block_size):
            i_block = i_number * block_size
            for j_block in range(0, N, block_size):
                for k_block in range(0, K, block_size):
                    # Process block
                    i_end = min(i_block + block_size, M)
                    j_end = min(j_block + block_size, N)
                    k_end = min(k_block + block_size, K)

                    for i in range(i_block, i_end):
                        for j in range(j_block, j_end):
                            temp_sum = 0.0
                            for k in range(k_block, k_end):
                                temp_sum += a[i, k] * b[k, j]
                            result[i, j] += temp_sum

        return result

    # the matrices of "Matrix Multiplication Kernel" (500x300 @ 300x400: no size is a multiple of 64)
    a, b = matmul_example["a"], matmul_example["b"]
    exact = a.astype(np.float64) @ b.astype(np.float64)
    results = [optimized_matrix_multiply_step1(a, b)]
    try:
        results.append(optimized_matrix_multiply(a, b))
    except UnsupportedRewriteError as exc:
        assert "Only constant step size of 1 is supported for prange" in str(exc)
    for result in results:
        assert result.shape == (500, 400) and result.dtype == np.float32
        np.testing.assert_allclose(result, exact, rtol=0, atol=1e-3)
        np.testing.assert_allclose(result, matmul_example["result"], rtol=0, atol=1e-3)
    options = optimized_matrix_multiply_step1.targetoptions
    assert options["parallel"] and options["fastmath"]


# -- Integration Examples -----------------------------------------------------------------------


def test_global_jit_compilation_example(spike_example, reservoir_example, matmul_example, restore_global_compiler):
    from neurojit.performance import enable_jit_compilation, set_global_compiler
    from neurojit.performance.jit_compilation import (
        jit_spike_processing, jit_reservoir_update, jit_matrix_multiply
    )

    a, b = matmul_example["a"], matmul_example["b"]
    spike_trains, weights = spike_example["spike_trains"], spike_example["weights"]
    thresholds, dt = spike_example["thresholds"], spike_example["dt"]
    states, input_weights = reservoir_example["states"], reservoir_example["input_weights"]
    reservoir_weights, spikes = reservoir_example["reservoir_weights"], reservoir_example["spikes"]

    # Enable JIT compilation globally
    compiler = enable_jit_compilation()
    set_global_compiler(compiler)

    # Use global JIT functions
    result = jit_matrix_multiply(a, b)
    spike_result = jit_spike_processing(spike_trains, weights, thresholds, dt)
    reservoir_result = jit_reservoir_update(states, input_weights, reservoir_weights, spikes)

    import neurojit

    assert neurojit.get_global_compiler() is compiler
    np.testing.assert_array_equal(result, compiler.compile_matrix_multiply_kernel()(a, b))
    expected = reference.spike_processing(spike_trains, weights, thresholds, dt)
    assert_spikes_match(spike_result, expected, compiler.compile_spike_processing_kernel())
    np.testing.assert_allclose(
        reservoir_result, reference.reservoir_update(states, input_weights, reservoir_weights, spikes), rtol=0, atol=1e-4
    )


def test_liquid_state_machine_integration_example(rng):
    from neurojit.models import LiquidStateMachine
    from neurojit.performance import JITCompiler

    class OptimizedLSM(LiquidStateMachine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.jit_compiler = JITCompiler()

            # Pre-compile kernels
            self.spike_kernel = self.jit_compiler.compile_spike_processing_kernel()
            self.reservoir_kernel = self.jit_compiler.compile_reservoir_update_kernel()

        def optimized_step(self, state, input_spikes, dt, t, key=None):
            # Use JIT-compiled kernels for critical computations
            reservoir_currents = self.reservoir_kernel(
                state.neuron_state.spikes.astype(np.float32),
                state.input_weights.astype(np.float32),
                state.reservoir_weights.astype(np.float32),
                input_spikes.astype(np.float32)
            )
            self.last_currents = reservoir_currents

            # Continue with standard LSM processing
            return super().step(state, input_spikes, dt, t, key)

    lsm = OptimizedLSM(n_inputs=6, n_neurons=30, seed=3)
    state = lsm.init_state(batch_size=2)
    inputs = (rng.random((40, 2, 6)) < 0.3).astype(np.float64)
    spikes = []
    for step in range(40):
        state = lsm.optimized_step(state, inputs[step], lsm.dt, step * lsm.dt)
        spikes.append(state.neuron_state.spikes)
        assert lsm.last_currents.shape == (2, 30) and lsm.last_currents.dtype == np.float32
        assert np.all(np.abs(lsm.last_currents) <= 1)
    # stepping equals running the whole sequence at once
    np.testing.assert_array_equal(np.stack(spikes, axis=1), lsm.run(inputs.transpose(1, 0, 2)))


# -- Troubleshooting ------------------------------------------------------------------------------


def test_troubleshooting_numba_not_available(capsys):
    # Check Numba availability
    from neurojit.performance.jit_compilation import NUMBA_AVAILABLE

    if not NUMBA_AVAILABLE:
        print("Numba not available - using Python fallbacks")
        # JIT compilation will be disabled automatically
    out = capsys.readouterr().out
    assert ("Numba not available" in out) is (not NUMBA_AVAILABLE)


def test_troubleshooting_compilation_errors(spike_example):
    from neurojit.performance import JITCompiler, JITConfig

    # Enable verbose logging to debug compilation issues
    config = JITConfig(verbose=True)
    compiler = JITCompiler(config)

    try:
        kernel = compiler.compile_spike_processing_kernel()
    except Exception as e:
        print(f"Compilation error: {e}")
        kernel = None
    assert kernel is not None
    ex = spike_example
    np.testing.assert_array_equal(
        kernel(ex["spike_trains"], ex["weights"], ex["thresholds"], ex["dt"]),
        reference.spike_processing(ex["spike_trains"], ex["weights"], ex["thresholds"], ex["dt"]),
    )


def test_troubleshooting_performance_issues(capsys, spike_example):
    from neurojit.performance import JITCompiler, JITConfig

    # Profile compilation and execution times
    config = JITConfig(
        profile_compilation=True,
        verbose=True
    )
    compiler = JITCompiler(config)
    ex = spike_example
    kernel = compiler.compile_spike_processing_kernel()
    kernel(ex["spike_trains"], ex["weights"], ex["thresholds"], ex["dt"])

    # Check compilation times
    info = compiler.get_jit_info()
    print("Compilation times:", info.get('compilation_times', {}))

    assert "Compilation times:" in capsys.readouterr().out
    if kernel.backend == "jit":
        assert "lif_run[float32]" in info["compilation_times"]


def test_memory_issues_config():
    from neurojit.performance import JITConfig

    # Optimize memory usage
    config = JITConfig(
        optimize_memory_layout=True,
        max_cache_size=512 * 1024 * 1024  # 512MB cache limit
    )
    assert config.max_cache_size == 512 * 1024 * 1024 == JITConfig().max_cache_size


def test_cache_management_example(capsys, compiler, spike_example):
    ex = spike_example
    before = compiler.compile_spike_processing_kernel()(ex["spike_trains"], ex["weights"], ex["thresholds"], ex["dt"])

    # Clear cache if needed
    compiler.clear_cache()

    # Check cache status
    info = compiler.get_jit_info()
    print(f"Compiled functions: {info['compiled_functions']}")

    assert info["compiled_functions"] == []
    assert "Compiled functions: []" in capsys.readouterr().out
    after = compiler.compile_spike_processing_kernel()(ex["spike_trains"], ex["weights"], ex["thresholds"], ex["dt"])
    np.testing.assert_array_equal(after, before)


# -- Advanced Usage / Custom JIT Kernels -----------------------------------------------------------


def custom_kernel_numpy(spikes, weights, dt):
    """NumPy version of the document's custom kernel: the same float64 sums and float32 membrane."""
    batch_size, time_steps, num_neurons = spikes.shape
    output = np.zeros_like(spikes)
    for batch_idx in range(batch_size):
        v = np.zeros(num_neurons, dtype=np.float32)
        for t in range(time_steps):
            synaptic_input = (spikes[batch_idx, t] > 0.5).astype(np.float64) @ weights.astype(np.float64)
            v = (v.astype(np.float64) + synaptic_input * dt).astype(np.float32)
            fired = v > 1.0
            output[batch_idx, t, fired] = 1.0
            v[fired] = 0.0
            v = (v.astype(np.float64) * 0.95).astype(np.float32)
    return output


def test_custom_jit_kernel_example(spike_example, monkeypatch, tmp_path):
    numba = pytest.importorskip("numba")
    # cache=True: numba's own cache goes to a temporary folder, not next to this file
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    from numba import njit, prange

    @njit(parallel=True, fastmath=True, cache=True)
    def custom_neuromorphic_kernel(spikes, weights, dt):
        """Custom JIT-compiled neuromorphic kernel."""
        batch_size, time_steps, num_neurons = spikes.shape
        output = np.zeros_like(spikes)

        for batch_idx in prange(batch_size):
            membrane_potentials = np.zeros(num_neurons, dtype=np.float32)

            for t in range(time_steps):
                # Custom neuromorphic computation
                for i in range(num_neurons):
                    synaptic_input = 0.0
                    for j in range(num_neurons):
                        if spikes[batch_idx, t, j] > 0.5:
                            synaptic_input += weights[j, i]

                    membrane_potentials[i] += synaptic_input * dt

                    if membrane_potentials[i] > 1.0:  # Threshold
                        output[batch_idx, t, i] = 1.0
                        membrane_potentials[i] = 0.0  # Reset

                    membrane_potentials[i] *= 0.95  # Decay

        return output

    spike_trains, weights, dt = spike_example["spike_trains"], spike_example["weights"], spike_example["dt"]

    # Use custom kernel
    result = custom_neuromorphic_kernel(spike_trains, weights, dt)

    assert result.shape == spike_trains.shape and result.dtype == np.float32
    np.testing.assert_array_equal(result, custom_kernel_numpy(spike_trains, weights, dt))
    assert list(tmp_path.rglob("*.nbi")), "cache=True saved the compiled kernel (in the temporary folder)"
    # The document's data never reach the threshold (dt = 1 ms); a larger step makes it spike.
    result = custom_neuromorphic_kernel(spike_trains, weights * 10, 0.5)
    expected = custom_kernel_numpy(spike_trains, weights * 10, 0.5)
    assert 0 < expected.sum() < expected.size
    mismatches = int(np.count_nonzero(result != expected))
    assert mismatches <= 0.001 * expected.size, f"{mismatches} spikes differ (fastmath reorders only)"


# -- Advanced Usage / Performance Profiling -------------------------------------------------------


def test_performance_profiling_example(capsys, compiler, spike_example):
    import cProfile
    import pstats

    spike_trains, weights = spike_example["spike_trains"], spike_example["weights"]
    thresholds, dt = spike_example["thresholds"], spike_example["dt"]

    # Profile JIT compilation and execution
    profiler = cProfile.Profile()

    # Compile kernel (includes compilation time)
    profiler.enable()
    kernel = compiler.compile_spike_processing_kernel()
    profiler.disable()

    compilation_stats = pstats.Stats(profiler)
    print("Compilation profile:")
    compilation_stats.sort_stats('cumulative').print_stats(5)

    # Profile execution (compiled kernel)
    profiler = cProfile.Profile()
    profiler.enable()
    result = kernel(spike_trains, weights, thresholds, dt)
    profiler.disable()

    execution_stats = pstats.Stats(profiler)
    print("Execution profile:")
    execution_stats.sort_stats('cumulative').print_stats(5)

    out = capsys.readouterr().out
    assert "Compilation profile:" in out and "Execution profile:" in out
    assert_spikes_match(result, reference.spike_processing(spike_trains, weights, thresholds, dt), kernel)


# -- Benchmarking -------------------------------------------------------------------------------


def _print_benchmark(results):
    # Analyze results
    print("JIT Performance Results:")
    for operation, size_results in results.items():
        if operation == 'jit_info':
            continue

        print(f"\n{operation.title()}:")
        for size, metrics in size_results.items():
            if isinstance(metrics, dict) and 'speedup' in metrics:
                print(f"  Size {size}: {metrics['speedup']:.2f}x speedup")


def _check_benchmark(results, sizes, out):
    operations = [op for op in results if op != "jit_info"]
    assert len(operations) == 6 and "jit_info" in results
    for operation in operations:
        assert f"\n{operation.title()}:" in out
        assert sorted(results[operation]) == sorted(sizes)
        for size in sizes:
            assert f"  Size {size}: " in out
            assert results[operation][size]["speedup"] > 0


def test_benchmarking_example_small(capsys, compiler):
    results = compiler.benchmark_jit_performance(test_sizes=[16, 40], num_iterations=3)
    _print_benchmark(results)
    _check_benchmark(results, [16, 40], capsys.readouterr().out)


@pytest.mark.slow
def test_benchmarking_example_as_written(capsys, compiler):
    """The document's own call: test sizes 100, 500, 1000 and 10 iterations (about 20 s)."""
    # Comprehensive performance benchmark
    results = compiler.benchmark_jit_performance(
        test_sizes=[100, 500, 1000],
        num_iterations=10
    )
    _print_benchmark(results)
    _check_benchmark(results, [100, 500, 1000], capsys.readouterr().out)
