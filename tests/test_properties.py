"""Hypothesis: random small shapes, spike densities and dtypes; every backend equals the
reference loop (spikes exactly, real values within the dtype's tolerance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import KERNELS, kernel_of, make_args
from reference import REFERENCES, SPIKING, tolerance

SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)

dims = st.fixed_dictionaries({
    "B": st.integers(0, 3),
    "T": st.integers(0, 12),
    "N": st.integers(1, 9),
    "I": st.integers(1, 9),
    "K": st.integers(0, 6),
    "M": st.integers(0, 8),
})
densities = st.sampled_from([0.0, 0.02, 0.1, 0.3, 0.7, 1.0]) | st.floats(0.0, 1.0)
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**32 - 1)
resets = st.sampled_from([None, 0.0, -0.25, 0.1])


@pytest.mark.parametrize("name", KERNELS)
@SETTINGS
@given(shape=dims, density=densities, dtype=dtypes, seed=seeds, v_reset=resets)
def test_kernel_equals_reference(compiler, name, shape, density, dtype, seed, v_reset):
    rng = np.random.default_rng(seed)
    extra = {"v_reset": v_reset} if name in SPIKING and v_reset is not None else {}
    args, kwargs = make_args(name, rng, dtype, density=density, **shape, **extra)
    result = kernel_of(compiler, name)(*args, **kwargs)
    expected = REFERENCES[name](*args, **kwargs)
    assert result.dtype == np.dtype(dtype)
    assert result.shape == expected.shape
    if name in SPIKING:
        np.testing.assert_array_equal(result, expected)
    else:
        np.testing.assert_allclose(result, expected, **tolerance(dtype))


@SETTINGS
@given(shape=dims, density=densities, seed=seeds)
def test_float32_and_float64_spikes_agree_where_far_from_threshold(compilers, shape, density, seed):
    """Integer-valued weights and thresholds at half-integers: both precisions are exact, so the
    float32 and float64 runs must spike identically (a precision-independent property)."""
    rng = np.random.default_rng(seed)
    N, I = shape["N"], shape["I"]
    spikes = (rng.random((shape["B"], shape["T"], I)) < density)
    w_in = rng.integers(-2, 4, (I, N)).astype(np.float64)
    w_rec = rng.integers(-2, 3, (N, N)).astype(np.float64)
    thresholds = rng.integers(1, 4, N) + 0.5
    for compiler in compilers.values():
        kernel = compiler.compile_lif_network_kernel()
        # tau huge: decay == 1 in both precisions, every sum an exact small integer
        out64 = kernel(spikes, w_in, w_rec, thresholds, 1e-3, tau=1e30)
        out32 = kernel(spikes, w_in.astype(np.float32), w_rec.astype(np.float32),
                       thresholds.astype(np.float32), 1e-3, tau=1e30)
        assert out32.dtype == np.float32 and out64.dtype == np.float64
        np.testing.assert_array_equal(out32, out64)


@SETTINGS
@given(B=st.integers(1, 3), T=st.integers(1, 15), N=st.integers(1, 6), K=st.integers(1, 6), seed=seeds)
def test_convolution_is_linear_in_spikes(compiler, B, T, N, K, seed):
    """Disjoint spike trains: the filtered sum equals the sum of the filtered parts."""
    rng = np.random.default_rng(seed)
    both = rng.random((B, T, N)) < 0.4
    first = both & (rng.random((B, T, N)) < 0.5)
    second = both & ~first
    taps = rng.standard_normal(K)
    kernel = compiler.compile_convolution_kernel()
    np.testing.assert_allclose(kernel(both, taps), kernel(first, taps) + kernel(second, taps), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(B=st.integers(1, 3), T=st.integers(1, 10), N=st.integers(1, 6), I=st.integers(1, 6), seed=seeds)
def test_reservoir_run_equals_repeated_updates(compiler, B, T, N, I, seed):
    rng = np.random.default_rng(seed)
    args, kwargs = make_args("reservoir_run", rng, np.float64, B=B, T=T, N=N, I=I)
    inputs, w_in, w_res, x0 = args
    states = compiler.compile_reservoir_run_kernel()(*args, **kwargs)
    update = compiler.compile_reservoir_update_kernel()
    x = x0
    for t in range(T):
        x = update(x, w_in, w_res, inputs[:, t], **kwargs)
        np.testing.assert_allclose(states[:, t], x, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(M=st.integers(0, 8), K=st.integers(0, 60), N=st.integers(0, 6), density=densities, seed=seeds,
       dtype=dtypes)
def test_matrix_multiply_equals_matmul(compiler, M, K, N, density, seed, dtype):
    rng = np.random.default_rng(seed)
    a = (rng.random((M, K)) < density).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    result = compiler.compile_matrix_multiply_kernel()(a, b)
    assert result.shape == (M, N) and result.dtype == np.dtype(dtype)
    np.testing.assert_allclose(result, a.astype(np.float64) @ b.astype(np.float64), **tolerance(dtype))
