"""Reservoir kernels beyond dense weights and one leak rate (issue #15): per-unit leak rates,
``scipy.sparse`` weights kept compressed, batch rows sharing each weight read."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from reference import reservoir_run as reference_run, reservoir_update as reference_update, tolerance

sparse = pytest.importorskip("scipy.sparse")

DTYPES = [np.float32, np.float64]


def _weights(rng, dtype, n=40, i=3, density=0.1):
    w_in = rng.normal(0.0, 0.5, (i, n)).astype(dtype)
    w = (rng.normal(0.0, 1.0, (n, n)) * (rng.random((n, n)) < density) * (0.9 / np.sqrt(density * n))).astype(dtype)
    return w_in, w


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_unit_leak_rates_equal_the_reference(compiler, dtype, rng):
    w_in, w = _weights(rng, dtype)
    inputs = rng.normal(0, 1, (3, 50, 3)).astype(dtype)
    states = rng.normal(0, 0.5, (3, 40)).astype(dtype)
    lr = rng.uniform(0.05, 1.0, 40).astype(dtype)
    lr[0] = 1.0
    out = compiler.compile_reservoir_run_kernel()(inputs, w_in, w, states, leak_rate=lr, bias=0.1)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, reference_run(inputs, w_in, w, states, lr, 0.1), **tolerance(dtype))
    step = compiler.compile_reservoir_update_kernel()(states, w_in, w, inputs[:, 0], leak_rate=lr)
    np.testing.assert_allclose(step, reference_update(states, w_in, w, inputs[:, 0], lr), **tolerance(dtype))


def test_a_scalar_leak_rate_equals_the_same_rate_per_unit(compiler, rng):
    w_in, w = _weights(rng, np.float64)
    inputs, states = rng.normal(0, 1, (2, 40, 3)), rng.normal(0, 0.5, (2, 40))
    kernel = compiler.compile_reservoir_run_kernel()
    np.testing.assert_array_equal(kernel(inputs, w_in, w, states, 0.3), kernel(inputs, w_in, w, states, np.full(40, 0.3)))


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.1, np.nan, np.inf])
def test_bad_per_unit_leak_rates_are_refused(compiler, bad, rng):
    w_in, w = _weights(rng, np.float64)
    lr = np.full(40, 0.5)
    lr[7] = bad
    with pytest.raises(ValueError, match="leak_rate must be in \\(0, 1\\]"):
        compiler.compile_reservoir_run_kernel()(np.zeros((1, 3, 3)), w_in, w, np.zeros((1, 40)), lr)


def test_leak_rates_of_the_wrong_shape_are_refused(compiler, rng):
    w_in, w = _weights(rng, np.float64)
    with pytest.raises(ValueError, match=r"leak_rate must be \(N\) = \(40,\)"):
        compiler.compile_reservoir_run_kernel()(np.zeros((1, 3, 3)), w_in, w, np.zeros((1, 40)), np.full(39, 0.5))
    with pytest.raises(ValueError, match="is 0 in float32"):
        compiler.compile_reservoir_run_kernel()(np.zeros((1, 3, 3), np.float32), w_in.astype(np.float32),
                                                w.astype(np.float32), np.zeros((1, 40), np.float32), 1e-50)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("which", ["reservoir", "input", "both"])
def test_sparse_weights_equal_the_reference(compiler, dtype, fmt, which, rng):
    w_in, w = _weights(rng, dtype, i=5)
    w_in[rng.random(w_in.shape) < 0.6] = 0
    inputs = rng.normal(0, 1, (3, 40, 5)).astype(dtype)
    inputs[rng.random(inputs.shape) < 0.3] = 0
    states = rng.normal(0, 0.5, (3, 40)).astype(dtype)
    lr = rng.uniform(0.1, 1.0, 40).astype(dtype)
    a_in = sparse.csr_matrix(w_in).asformat(fmt) if which in ("input", "both") else w_in
    a_res = sparse.csr_matrix(w).asformat(fmt) if which in ("reservoir", "both") else w
    out = compiler.compile_reservoir_run_kernel()(inputs, a_in, a_res, states, lr, 0.05)
    assert out.dtype == dtype
    expected = reference_run(inputs, w_in, w, states, lr.astype(dtype), 0.05)
    np.testing.assert_allclose(out, expected, **tolerance(dtype))
    step = compiler.compile_reservoir_update_kernel()(states, a_in, a_res, inputs[:, 0], lr, 0.05)
    np.testing.assert_allclose(step, expected[:, 0], **tolerance(dtype))


def test_sparse_weights_take_part_in_the_dtype_choice(compiler, rng):
    w_in, w = _weights(rng, np.float32)
    inputs, states = np.zeros((1, 4, 3), np.float32), np.zeros((1, 40), np.float32)
    kernel = compiler.compile_reservoir_run_kernel()
    assert kernel(inputs, w_in, sparse.csr_matrix(w), states).dtype == np.float32
    assert kernel(inputs, w_in, sparse.csr_matrix(w.astype(np.float64)), states).dtype == np.float64
    assert kernel(inputs, sparse.csr_array(w_in.astype(np.float64)), w, states).dtype == np.float64


def test_sparse_and_dense_give_the_same_numbers_on_compiled_backends(compiler, rng):
    """A sparse matrix runs the compressed loop, the dense one the compressed loop too where it pays:
    both sum each unit's terms in the same order."""
    w_in, w = _weights(rng, np.float64, n=60)
    inputs, states = rng.normal(0, 1, (2, 64, 3)), rng.normal(0, 0.5, (2, 60))
    kernel = compiler.compile_reservoir_run_kernel()
    dense = kernel(inputs, w_in, w, states, 0.4)
    compressed = kernel(inputs, sparse.csr_matrix(w_in), sparse.csc_matrix(w), states, 0.4)
    if compiler.compile_reservoir_run_kernel().backend == "python":
        np.testing.assert_allclose(compressed, dense, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(compressed, dense)


def test_duplicate_entries_are_summed_and_unsorted_indices_work(compiler, rng):
    n = 30
    rows, cols = rng.integers(0, n, 200), rng.integers(0, n, 200)
    values = rng.normal(0, 0.2, 200)
    w = sparse.coo_matrix((values, (rows, cols)), shape=(n, n))  # duplicates (i, j) pairs
    w_csr = sparse.csr_matrix((w.tocsr().data, w.tocsr().indices, w.tocsr().indptr), shape=(n, n))
    w_in = rng.normal(0, 0.5, (2, n))
    inputs, states = rng.normal(0, 1, (2, 20, 2)), rng.normal(0, 0.5, (2, n))
    out = compiler.compile_reservoir_run_kernel()(inputs, w_in, w, states, 0.7)
    np.testing.assert_allclose(out, reference_run(inputs, w_in, w.toarray(), states, 0.7), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiler.compile_reservoir_run_kernel()(inputs, w_in, w_csr, states, 0.7), out,
                               rtol=1e-12, atol=1e-12)


def test_sparse_products_skip_structural_zeros_but_not_stored_ones(compiler):
    """scipy's product: a non-finite state times a structural zero adds nothing."""
    n = 4
    w = sparse.csr_matrix(([0.5, 0.0], ([0, 2], [1, 3])), shape=(n, n))  # stored zero at (2, 3)
    states = np.array([[0.1, np.inf, np.inf, 0.2]])  # unit 1 and 2 infinite
    inputs = np.zeros((1, 1, 1))
    with np.errstate(invalid="ignore"):
        # scipy's sparse product: unit 3 gets inf * 0 = NaN; (1 - 1) * inf is NaN too
        expected = 0.0 * states + np.tanh(states @ w)
    out = compiler.compile_reservoir_run_kernel()(inputs, np.zeros((1, n)), w, states)
    np.testing.assert_array_equal(out[:, 0], expected)
    assert np.isnan(out[0, 0, 3]) and out[0, 0, 0] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["dense", "compressed"])
def test_a_batch_equals_its_rows_run_one_at_a_time_bit_for_bit(compiler, dtype, form, rng):
    w_in, w = _weights(rng, dtype, n=50)
    batch = 7
    inputs = rng.normal(0, 1, (batch, 40, 3)).astype(dtype)
    states = rng.normal(0, 0.5, (batch, 50)).astype(dtype)
    lr = rng.uniform(0.1, 1, 50).astype(dtype)
    kernel = compiler.compile_reservoir_run_kernel()
    weights = w if form == "dense" else sparse.csc_matrix(w)
    together = kernel(inputs, w_in, weights, states, lr)
    for b in range(batch):
        alone = kernel(inputs[b:b + 1], w_in, weights, states[b:b + 1], lr)
        if compiler.compile_reservoir_run_kernel().backend == "python":  # BLAS may block a batch differently from one row
            np.testing.assert_allclose(together[b:b + 1], alone, **tolerance(dtype))
        else:
            np.testing.assert_array_equal(together[b:b + 1], alone)


@pytest.mark.parametrize("batch", [1, 2, 4, 5, 9])
def test_compressed_and_dense_agree_bit_for_bit_for_any_grouping_and_uneven_units(compiler, batch, rng):
    """One row gathers four units at a time, a batch four rows at a time (dense and compressed):
    units of uneven length (none to all presynaptic units), a unit count and batch sizes that are
    not multiples of four, the whole batch and each row alone: all the same numbers."""
    from neurojit.kernels import reservoir

    n = 67
    w_in = rng.normal(0.0, 0.5, (3, n))
    w = rng.normal(0.0, 0.2, (n, n)) * (rng.random((n, n)) < np.linspace(0.2, 1.0, n))  # unit i: column i
    w[:, 5:8] = 0.0  # three units without recurrent input
    assert np.count_nonzero(w) >= reservoir.LOCKSTEP_ENTRIES * n  # one row takes the lockstep gather
    inputs, states = rng.normal(0, 1, (batch, 30, 3)), rng.normal(0, 0.5, (batch, n))
    kernel = compiler.compile_reservoir_run_kernel()
    check = (np.testing.assert_array_equal if kernel.backend != "python"
             else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12))
    compressed = kernel(inputs, w_in, sparse.csc_matrix(w), states, 0.6)
    check(compressed, kernel(inputs, w_in, w, states, 0.6))
    for b in range(batch):
        check(compressed[b:b + 1], kernel(inputs[b:b + 1], w_in, sparse.csc_matrix(w), states[b:b + 1], 0.6))


def test_a_bound_sparse_kernel_equals_the_unbound_call_and_keeps_a_private_copy(compiler, rng):
    w_in, w = _weights(rng, np.float64)
    a_res, a_in = sparse.csr_matrix(w), sparse.csr_matrix(w_in)
    step = compiler.compile_reservoir_update_kernel().bind(input_weights=a_in, reservoir_weights=a_res,
                                                           leak_rate=np.full(40, 0.3))
    states, u = rng.normal(0, 0.5, (2, 40)), rng.normal(0, 1, (2, 3))
    expected = compiler.compile_reservoir_update_kernel()(states, a_in, a_res, u, np.full(40, 0.3))
    a_res.data[:] = 0  # the caller's matrix changes afterwards
    np.testing.assert_array_equal(step(states, u), expected)
    np.testing.assert_array_equal(step(states, u), expected)


def test_bad_sparse_weights_are_refused(compiler, rng):
    w_in, w = _weights(rng, np.float64)
    kernel = compiler.compile_reservoir_run_kernel()
    inputs, states = np.zeros((1, 2, 3)), np.zeros((1, 40))
    with pytest.raises(ValueError, match=r"reservoir_weights must be \(N, N\) = \(40, 40\), got \(40, 39\)"):
        kernel(inputs, w_in, sparse.csr_matrix(w[:, :39]), states)
    with pytest.raises(ValueError, match=r"input_weights must be \(I, N\)"):
        kernel(inputs, sparse.csr_matrix(w_in[:2]), w, states)
    with pytest.raises(TypeError, match="reservoir_weights must hold real numbers"):
        kernel(inputs, w_in, sparse.csr_matrix(w.astype(complex)), states)


@pytest.mark.slow
def test_twenty_thousand_units_at_one_percent_run_in_memory_proportional_to_the_connections(compiler):
    n, density = 20_000, 0.01
    rng = np.random.default_rng(5)
    w = sparse.random(n, n, density=density, format="csr", random_state=rng, dtype=np.float64)
    w.data -= 0.5
    w.data *= 0.9 / np.sqrt(density * n / 12)
    w_in = sparse.random(2, n, density=0.1, format="csr", random_state=rng)
    inputs = rng.normal(0, 1, (1, 5, 2))
    tracemalloc.start()
    try:
        out = compiler.compile_reservoir_run_kernel()(inputs, w_in, w, np.zeros((1, n)), 0.5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense_bytes = n * n * 8
    connections_bytes = w.nnz * (8 + 4)
    assert peak < 4 * connections_bytes + 50e6 < dense_bytes / 10, f"peak {peak / 1e6:.0f} MB"
    # spot check one unit of the first step against the equation
    i = 123
    expected = 0.5 * np.tanh(inputs[0, 0] @ w_in.toarray()[:, i])
    np.testing.assert_allclose(out[0, 0, i], expected, rtol=1e-12)


@pytest.mark.parametrize("form", ["dense", "compressed"])
def test_a_batch_cut_along_time_equals_one_call(compiler, form, rng, monkeypatch):
    """Long calls are cut into pieces along time, all rows together (they share the weight reads)."""
    from neurojit import operations

    w_in, w = _weights(rng, np.float64, n=50)
    weights = w if form == "dense" else sparse.csc_matrix(w)
    inputs, states = rng.normal(0, 1, (5, 64, 3)), rng.normal(0, 0.5, (5, 50))
    kernel = compiler.compile_reservoir_run_kernel()
    whole = kernel(inputs, w_in, weights, states, 0.4)
    monkeypatch.setattr(operations, "CALL_WORK", 2000.0)
    np.testing.assert_array_equal(kernel(inputs, w_in, weights, states, 0.4), whole)
