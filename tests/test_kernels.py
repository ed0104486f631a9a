"""Every kernel x every available backend x float32/float64 against the reference loops.

Spikes are compared exactly (bit for bit); real-valued outputs within a dtype tolerance.
Covers odd shapes, T=1, N=1, empty batch, T=0, all-zero and all-one spike trains,
bool/int spike input, Fortran-ordered, strided and read-only inputs, and checks that the
caller's arrays are never written to.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cases import KERNELS, METHODS, check_against_reference, kernel_of, make_args, spike_argument
from conftest import available_backends
from reference import REFERENCES, SPIKING, tolerance

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]

#: named dimension sets: odd sizes, and every dimension at its edge once
SHAPES = {
    "odd": dict(B=3, T=7, N=5, I=11, K=4, M=7),
    "T1": dict(B=2, T=1, N=6, I=3, K=1, M=1),
    "N1": dict(B=2, T=9, N=1, I=13, K=5, M=3),  # one neuron, many inputs: long sums in one column
    "I1": dict(B=1, T=6, N=4, I=1, K=2, M=5),
    "B0": dict(B=0, T=5, N=4, I=3, K=3, M=0),
    "T0": dict(B=2, T=0, N=4, I=3, K=0, M=4),
    "longer": dict(B=2, T=40, N=12, I=17, K=6, M=9),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("name", KERNELS)
def test_matches_reference(compiler, name, shape, dtype, rng):
    args, kwargs = make_args(name, rng, dtype, **SHAPES[shape])
    result = kernel_of(compiler, name)(*args, **kwargs)
    check_against_reference(name, result, args, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_nonzero_reset_and_dense_input(compiler, name, dtype, rng):
    """A negative v_reset and 60 % input density: many spikes, many resets."""
    extra = {"v_reset": -0.3} if name in SPIKING else {}
    args, kwargs = make_args(name, rng, dtype, B=2, T=25, N=7, I=9, K=5, M=8, density=0.6, **extra)
    result = kernel_of(compiler, name)(*args, **kwargs)
    expected = check_against_reference(name, result, args, kwargs, dtype)
    if name in SPIKING:
        assert expected.sum() > 0, "the case must actually spike to test anything"


@pytest.mark.parametrize("fill", [0, 1], ids=["all-zero", "all-one"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_constant_spike_trains(compiler, name, dtype, fill, rng):
    dims = dict(B=2, T=11, N=6, I=5, K=4, M=6)
    args, kwargs = make_args(name, rng, dtype, **dims)
    position = spike_argument(name)
    args = list(args)
    args[position] = np.full_like(args[position], fill)
    result = kernel_of(compiler, name)(*args, **kwargs)
    check_against_reference(name, result, args, kwargs, dtype)
    if name == "spike_processing" and fill == 0:
        assert not result.any(), "no input spikes, no output spikes (v stays 0 < positive thresholds)"
    if name == "convolution" and fill == 1:
        np.testing.assert_allclose(result[0, -1], np.full(6, args[1].astype(np.float64).sum()), **tolerance(dtype))


@pytest.mark.parametrize(
    "spike_dtype", [bool, np.int8, np.uint8, np.int64, "three"], ids=["bool", "int8", "uint8", "int64", "value3"]
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_bool_and_int_spikes(compiler, name, dtype, spike_dtype, rng):
    """Integer and bool spike arrays are converted; the output dtype follows the float inputs.

    ``value3`` holds 0/3: any non-zero counts as one spike for the spiking kernels and the
    convolution; the reservoir and the matrix product use the value itself.
    """
    args, kwargs = make_args(name, rng, dtype, B=2, T=10, N=6, I=7, K=3, M=5, density=0.3)
    position = spike_argument(name)
    args = list(args)
    if spike_dtype == "three":
        args[position] = (args[position] * 3).astype(np.int32)
    else:
        args[position] = args[position].astype(spike_dtype)
    result = kernel_of(compiler, name)(*args, **kwargs)
    check_against_reference(name, result, args, kwargs, dtype)
    if spike_dtype == "three" and name in ("spike_processing", "lif_network_run", "convolution"):
        args[position] = (args[position] != 0).astype(dtype)
        np.testing.assert_array_equal(kernel_of(compiler, name)(*args, **kwargs), result)


def _strided(x):
    """The same values as a view with a gap between elements along the last axis."""
    x = np.asarray(x)
    if x.ndim == 0:
        return x
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    big[..., ::2] = x
    view = big[..., ::2]
    assert not view.flags.c_contiguous or view.size <= 1
    return view


def _reversed_view(x):
    """The same values as a view with negative strides on every axis."""
    x = np.asarray(x)
    if x.ndim == 0:
        return x
    flipped = np.flip(x).copy()
    return np.flip(flipped)


def _read_only(x):
    x = np.array(x)
    x.setflags(write=False)
    return x


LAYOUTS = {
    "fortran": np.asfortranarray,
    "strided": _strided,
    "negative-strides": _reversed_view,
    "read-only": _read_only,
}


@pytest.mark.parametrize("layout", list(LAYOUTS), ids=list(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_memory_layouts(compiler, name, dtype, layout, rng):
    """Fortran-ordered, strided, negatively strided and read-only inputs give the same answer."""
    args, kwargs = make_args(name, rng, dtype, B=3, T=8, N=5, I=6, K=3, M=7, density=0.3)
    kernel = kernel_of(compiler, name)
    contiguous = kernel(*args, **kwargs)
    transform = LAYOUTS[layout]
    odd_args = [transform(a) if isinstance(a, np.ndarray) else a for a in args]
    odd_kwargs = {k: transform(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    if layout == "fortran":
        assert any(a.ndim > 1 and not a.flags.c_contiguous for a in odd_args if isinstance(a, np.ndarray))
    result = kernel(*odd_args, **odd_kwargs)
    np.testing.assert_array_equal(result, contiguous)
    check_against_reference(name, result, args, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_caller_arrays_never_modified(compiler, name, dtype, rng):
    args, kwargs = make_args(name, rng, dtype, B=3, T=9, N=5, I=6, K=3, M=7, density=0.4)
    # non-contiguous and already-correct inputs both: a no-copy path must not write either
    for variant in (args, [np.asfortranarray(a) if isinstance(a, np.ndarray) else a for a in args]):
        before = [a.copy() if isinstance(a, np.ndarray) else a for a in variant]
        kwargs_before = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        result = kernel_of(compiler, name)(*variant, **kwargs)
        for old, new in zip(before, variant):
            if isinstance(old, np.ndarray):
                np.testing.assert_array_equal(new, old)
                assert not np.shares_memory(result, new), "the output must be a fresh array"
        for key, old in kwargs_before.items():
            if isinstance(old, np.ndarray):
                np.testing.assert_array_equal(kwargs[key], old)
                assert not np.shares_memory(result, kwargs[key])


def one_spike_per_row(rng, rows, columns, dtype):
    """A 0/1 matrix with a single 1 per row (at most 2 % dense from 50 columns on)."""
    a = np.zeros((rows, columns), dtype)
    a[np.arange(rows), rng.integers(0, columns, rows)] = 1
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "mode", ["sparse-binary", "dense-binary", "real", "all-zero", "all-one", "one-row"]
)
def test_matrix_multiply_operands(compiler, mode, dtype, rng):
    """Both paths of matrix_multiply (event-driven 0/1 rows and BLAS) equal a @ b."""
    M, K, N = 9, 60, 6
    if mode == "sparse-binary":  # at most SPARSE_MATMUL_DENSITY: the event-driven loop
        a = one_spike_per_row(rng, M, K, dtype)
    elif mode == "dense-binary":
        a = (rng.random((M, K)) < 0.5).astype(dtype)
    elif mode == "real":
        a = rng.standard_normal((M, K)).astype(dtype)
    elif mode == "all-zero":
        a = np.zeros((M, K), dtype)
    elif mode == "all-one":
        a = np.ones((M, K), dtype)
    else:  # a single 1 in a matrix of zeros, and a 0/1 matrix with one value 2 (not binary)
        a = np.zeros((M, K), dtype)
        a[3, 7] = 1
    b = rng.standard_normal((K, N)).astype(dtype)
    kernel = compiler.compile_matrix_multiply_kernel()
    result = kernel(a, b)
    check_against_reference("matrix_multiply", result, (a, b), {}, dtype)
    if mode == "one-row":
        np.testing.assert_array_equal(result[3], b[7])
        a[5, 2] = 2  # no longer a 0/1 matrix: must not be treated as one
        check_against_reference("matrix_multiply", kernel(a, b), (a, b), {}, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_multiply_nonfinite_operands(compiler, dtype, rng):
    """NaN and inf in a propagate exactly as in numpy.matmul (never read as spikes)."""
    a = (rng.random((5, 30)) < 0.05).astype(dtype)
    b = rng.standard_normal((30, 4)).astype(dtype)
    a[2, 3] = np.nan
    result = compiler.compile_matrix_multiply_kernel()(a, b)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
    np.testing.assert_allclose(result[~np.isnan(result)], expected[~np.isnan(expected)], **tolerance(dtype))


# -- spike decisions exactly at the threshold ---------------------------------------------


def _sequential_sum(rows, dtype):
    total = np.zeros(rows.shape[1], dtype)
    for row in rows:
        total = (total + row).astype(dtype)
    return total


@pytest.mark.parametrize("dtype", DTYPES)
def test_threshold_boundary_is_exact_single_neuron(compiler, dtype, rng):
    """lif_network_run with N=1 and 64 inputs spiking at once, thresholds at the exact membrane value.

    ``v > threshold`` must be False when the threshold equals v and True one ulp below, which only
    holds if the backend sums the 64 weights in ascending order in the array dtype (as documented),
    not pairwise or in another precision.
    """
    kernel = compiler.compile_lif_network_kernel()
    spikes = np.ones((1, 1, 64), dtype)
    recurrent = np.zeros((1, 1), dtype)
    for _ in range(30):
        w_in = rng.standard_normal((64, 1)).astype(dtype)
        v = _sequential_sum(w_in, dtype)  # t = 0: v = 0 * decay + current = current
        at = kernel(spikes, w_in, recurrent, v, 1e-3)
        below = kernel(spikes, w_in, recurrent, np.nextafter(v, dtype(-np.inf)), 1e-3)
        assert at[0, 0, 0] == 0, "v equal to the threshold is not a spike"
        assert below[0, 0, 0] == 1, "v one ulp above the threshold is a spike"


@pytest.mark.parametrize("dtype", DTYPES)
def test_threshold_boundary_is_exact_population(compiler, dtype, rng):
    """spike_processing: after one decayed step, thresholds at the exact membrane values of all neurons."""
    N = 40
    kernel = compiler.compile_spike_processing_kernel()
    weights = rng.standard_normal((N, N)).astype(dtype)
    dt, tau = 1e-3, 0.02
    decay = dtype(math.exp(-dt / tau))
    first = (rng.random(N) < 0.5).astype(dtype)
    second = (rng.random(N) < 0.5).astype(dtype)
    spikes = np.stack([first, second])[None]
    # step 0 below the (huge) thresholds of step 0 ... one threshold per neuron for both steps,
    # so make step 0 subthreshold by choosing thresholds above every |v0|.
    v0 = _sequential_sum(weights[first != 0], dtype)
    v1 = (v0 * decay).astype(dtype) + _sequential_sum(weights[second != 0], dtype)
    v1 = v1.astype(dtype)
    ok = v1 > np.abs(v0)  # neurons whose step-1 value can be a threshold that step 0 stays under
    assert ok.sum() >= 3
    thresholds = np.where(ok, v1, dtype(1e6)).astype(dtype)
    at = kernel(spikes, weights, thresholds, dt, tau=tau)
    assert not at.any()
    below = kernel(spikes, weights, np.where(ok, np.nextafter(v1, dtype(-np.inf)), dtype(1e6)).astype(dtype), dt, tau=tau)
    np.testing.assert_array_equal(below[0, 1], ok.astype(dtype))
    assert not below[0, 0].any()


# -- all backends agree ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_cross_backend_agreement(compilers, name, dtype, rng):
    """Every available backend gives identical spikes (and equal states) on the same random input."""
    names = available_backends()
    if len(names) < 2:
        pytest.skip(f"only one backend available ({names[0]})")
    args, kwargs = make_args(name, rng, dtype, B=3, T=60, N=20, I=25, K=7, M=12, density=0.2)
    results = {b: kernel_of(compilers[b], name)(*args, **kwargs) for b in names}
    first = results[names[0]]
    if name in SPIKING:
        assert first.sum() > 0
    for backend, result in results.items():
        assert result.dtype == first.dtype
        if name in SPIKING:
            np.testing.assert_array_equal(result, first, err_msg=f"{backend} vs {names[0]}")
        else:
            np.testing.assert_allclose(result, first, **tolerance(dtype), err_msg=f"{backend} vs {names[0]}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("connectivity", [0.0, 0.03, 0.2, 0.5], ids=["empty", "3pc", "20pc", "dense50pc"])
@pytest.mark.parametrize("name", ["reservoir_run", "reservoir_update"])
def test_sparse_reservoir_matches_reference_and_dense_loop(compiler, name, connectivity, dtype, rng, monkeypatch):
    """A sparse reservoir matrix (compressed form, units with no input included) gives the
    reference states, and exactly the states of the dense-row loop."""
    from neurojit import operations

    dims = dict(B=4, T=40, N=30, I=3) if name == "reservoir_run" else dict(B=40, N=30, I=3)
    args, kwargs = make_args(name, rng, dtype, density=0.5, **dims)
    args = list(args)
    w_res = args[2] * (rng.random(args[2].shape) < connectivity)
    w_res[:, 3] = 0  # a unit that receives nothing
    w_res[5, :] = 0  # a unit that sends nothing
    args[2] = (w_res * 3).astype(dtype)  # stronger weights: the recurrent term matters
    kernel = kernel_of(compiler, name)
    result = kernel(*args, **kwargs)
    check_against_reference(name, result, args, kwargs, dtype)
    monkeypatch.setattr(operations, "SPARSE_RESERVOIR_DENSITY", -1.0)  # force the dense rows
    np.testing.assert_array_equal(kernel(*args, **kwargs), result)


def test_sparse_reservoir_is_compressed_only_where_it_pays(rng):
    from neurojit.operations import SPARSE_RESERVOIR_MIN_STEPS, _compressed_rows

    w = rng.standard_normal((50, 50)) * (rng.random((50, 50)) < 0.1)
    w_ptr, w_idx, w_val = _compressed_rows(w, SPARSE_RESERVOIR_MIN_STEPS)
    assert w_ptr.dtype == np.uint64 and w_idx.dtype == np.uint32 and w_val.dtype == w.dtype
    assert w_ptr[-1] == len(w_idx) == len(w_val) == np.count_nonzero(w)
    for i in range(50):  # unit i receives w[j, i] from j = w_idx[...], ascending
        sl = slice(w_ptr[i], w_ptr[i + 1])
        np.testing.assert_array_equal(w_idx[sl], np.nonzero(w[:, i])[0])
        np.testing.assert_array_equal(w_val[sl], w[w_idx[sl], i])
    assert all(a.size == 0 for a in _compressed_rows(w, SPARSE_RESERVOIR_MIN_STEPS - 1))  # too few steps
    assert all(a.size == 0 for a in _compressed_rows(rng.standard_normal((50, 50)), 1000))  # dense
    assert all(a.size == 0 for a in _compressed_rows(np.zeros((0, 0)), 1000))
    assert all(a.size == 0 for a in _compressed_rows(w, 1000, np.array([1.0, np.nan])))  # non-finite input


@pytest.mark.parametrize("where", ["inputs", "initial_states", "bias"])
def test_sparse_reservoir_with_non_finite_values_matches_the_reference(compiler, where, rng):
    """A NaN or inf spreads through zero weights in the dense product (NaN * 0 = NaN): such
    calls keep the dense rows, so every backend gives the reference result, NaNs included."""
    args, kwargs = make_args("reservoir_run", rng, np.float64, B=2, T=40, N=20, I=3)
    args = list(args)
    args[2] = args[2] * (rng.random(args[2].shape) < 0.1)
    if where == "inputs":
        args[0][0, 5, 1] = np.nan
    elif where == "initial_states":
        args[3][1, 4] = np.inf
    else:
        kwargs["bias"][7] = -np.inf
    result = kernel_of(compiler, "reservoir_run")(*args, **kwargs)
    expected = REFERENCES["reservoir_run"](*args, **kwargs)
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
    np.testing.assert_allclose(result[~np.isnan(result)], expected[~np.isnan(expected)], **tolerance(np.float64))


def test_kernel_reports_its_backend(compiler):
    for name, method in METHODS.items():
        kernel = getattr(compiler, method)()
        assert kernel.backend == compiler.config.backend
        assert kernel.name == name
        assert compiler.get_jit_info()["kernels"][name]["backend"] == compiler.config.backend


def test_kernels_accept_keywords(compiler, rng):
    """The documented parameter names work as keywords."""
    args, kwargs = make_args("spike_processing", rng, np.float64)
    s, w, th, dt = args
    kernel = compiler.compile_spike_processing_kernel()
    np.testing.assert_array_equal(
        kernel(spike_trains=s, weights=w, thresholds=th, dt=dt, **kwargs), kernel(s, w, th, dt, **kwargs)
    )
    args, kwargs = make_args("reservoir_run", rng, np.float64)
    u, w_in, w_res, x0 = args
    kernel = compiler.compile_reservoir_run_kernel()
    np.testing.assert_array_equal(
        kernel(inputs=u, input_weights=w_in, reservoir_weights=w_res, initial_states=x0, **kwargs),
        kernel(u, w_in, w_res, x0, **kwargs),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SPIKING)
def test_single_batch_row_large_population(compiler, name, dtype, rng):
    """B = 1 with many neurons (the JIT backend's parallel compile splits neurons into blocks)."""
    args, kwargs = make_args(name, rng, dtype, B=1, T=8, N=700, I=700, density=0.02)
    args = list(args)
    args[1] = (args[1] * 0.3).astype(dtype)  # keep some neurons below threshold
    result = kernel_of(compiler, name)(*args, **kwargs)
    expected = check_against_reference(name, result, args, kwargs, dtype)
    assert 0 < expected.sum() < expected.size


class _SourceBackend:
    """The loop source of neurojit.kernels called as plain Python (what NUMBA_DISABLE_JIT=1 runs)."""

    name = "source"
    native = True  # takes the compiled backends' paths (compressed reservoir, event-driven matmul)

    @staticmethod
    def loop(loop, dtype):
        from neurojit.kernels import signatures

        return signatures.LOOPS[loop].function


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["odd", "N1", "B0", "T0"])
@pytest.mark.parametrize("name", KERNELS)
def test_loop_source_runs_as_plain_python(name, shape, dtype, rng):
    """The loops are written once, in Python that runs without numba and gives the reference result."""
    from neurojit.kernel import kernel_on

    args, kwargs = make_args(name, rng, dtype, **SHAPES[shape])
    kernel = kernel_on(_SourceBackend, name)
    result = kernel(*args, **kwargs)
    check_against_reference(name, result, args, kwargs, dtype)
    if name == "matrix_multiply":  # the event-driven loop too, which dense input never reaches
        a = one_spike_per_row(rng, 5, 60, dtype)
        b = rng.standard_normal((60, 4)).astype(dtype)
        check_against_reference(name, kernel(a, b), (a, b), {}, dtype)


@pytest.mark.parametrize("size, cols, density, event_driven", [
    (1024, 1024, 0.05, True), (1024, 1024, 0.02, True), (1024, 1024, 0.01, True), (1024, 1024, 0.075, False),
    (1024, 1024, 0.1, False), (1024, 1023, 0.05, False), (256, 256, 0.05, False), (256, 256, 0.01, False),
])
def test_matrix_multiply_takes_the_row_sums_only_where_they_beat_blas(size, cols, density, event_driven, rng,
                                                                         monkeypatch):
    """The bench grid's 0/1 operands (5 %, 256 and 1024) and others: the event-driven loop (measured
    slower than numpy.matmul on some backend from 7.5 % on, and below 1024^3 multiply-adds) only up
    to SPARSE_MATMUL_DENSITY and from SPARSE_MATMUL_MIN_WORK on (as shipped), BLAS otherwise."""
    from conftest import MATMUL_MIN_WORK
    from neurojit import operations
    from neurojit.backends import python

    monkeypatch.setattr(operations, "SPARSE_MATMUL_MIN_WORK", MATMUL_MIN_WORK)

    class SpyLoops:
        native, threads, calls = frozenset({"binary_nonzeros", "binary_matmul"}), 1, 0

        def binary_nonzeros(self, a, limit, spans, index):
            return python.binary_nonzeros(a, limit, spans, index)

        def binary_matmul(self, spans, index, b, bad, out):
            SpyLoops.calls += 1
            python.binary_matmul(spans, index, b, bad, out)

    a = np.zeros((size, size), np.float32)
    a.flat[rng.choice(a.size, int(density * a.size), replace=False)] = 1
    b = rng.standard_normal((size, cols)).astype(np.float32)
    np.testing.assert_allclose(operations.matrix_multiply(SpyLoops(), a, b), a @ b, rtol=1e-5, atol=1e-5)
    assert (SpyLoops.calls > 0) == event_driven
