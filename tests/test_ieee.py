"""IEEE results are the same on every backend: NaN and inf propagate as in the equations
(``0 * inf`` and ``0 * NaN`` are NaN), except where a kernel's documented event semantics
say a silent input contributes nothing (the LIF kernels)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_binary_matmul_equals_a_at_b_with_non_finite_rows_of_b(compiler, bad, rng):
    a = (rng.random((30, 40)) < 0.05).astype(np.float64)
    a[:, 7] = 0  # row 7 of b is selected by no row of a
    b = rng.standard_normal((40, 6))
    b[7, 2] = bad
    with np.errstate(invalid="ignore"):  # numpy's own warning, where the product is numpy's
        expected = a @ b
        result = compiler.compile_matrix_multiply_kernel()(a, b)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("selected", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_matmul_with_panels_equals_a_at_b_with_a_non_finite_b(compiler, selected, dtype, rng):
    """Wide enough for the compiled loop's column panels (which count b's NaN and inf as they copy)."""
    a = (rng.random((200, 300)) < 0.05).astype(dtype)
    b = rng.standard_normal((300, 1000)).astype(dtype)
    a[:, 11] = 0
    a[5, 11] = selected
    b[11, 900] = np.inf
    with np.errstate(invalid="ignore"):
        expected = a @ b
        result = compiler.compile_matrix_multiply_kernel()(a, b)
    np.testing.assert_array_equal(result, expected)
    b[11, 900] = 1.0
    np.testing.assert_allclose(compiler.compile_matrix_multiply_kernel()(a, b), a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("where", ["reservoir", "input"])
@pytest.mark.parametrize("steps", [1, 40])
def test_reservoir_propagates_a_non_finite_weight_behind_a_zero(compiler, where, steps, rng):
    n, i = 12, 3
    w = rng.standard_normal((n, n)) * 0.2
    w_in = rng.standard_normal((i, n))
    inputs = rng.random((2, steps, i))
    states = np.tanh(rng.standard_normal((2, n)))
    if where == "reservoir":
        states[:, 4] = 0.0          # a zero state ...
        w[4, 5] = np.inf            # ... times an infinite weight: NaN in x @ W
    else:
        inputs[:, 0, 1] = 0.0       # a zero input ...
        w_in[1, 5] = np.nan         # ... times a NaN weight
    out = compiler.compile_reservoir_run_kernel()(inputs, w_in, w, states, 0.5)
    with np.errstate(invalid="ignore"):
        pre = states @ w + inputs[:, 0] @ w_in
    first = 0.5 * states + 0.5 * np.tanh(pre)
    np.testing.assert_array_equal(np.isnan(out[:, 0]), np.isnan(first))
    assert np.isnan(out[:, 0, 5]).all()


def test_lif_silent_input_contributes_nothing_on_every_backend(compiler):
    """The LIF kernels' event semantics: a zero input adds nothing, whatever its weight."""
    spikes = np.zeros((1, 5, 3))
    spikes[0, 2, 0] = 1
    weights = np.array([[1.0, 0.0, 0.0], [np.nan, np.inf, -np.inf], [0.0, 0.0, 0.0]])
    out = compiler.compile_spike_processing_kernel()(spikes, weights, 0.5, 1e-3)
    expected = np.zeros((1, 5, 3))
    expected[0, 2, 0] = 1
    np.testing.assert_array_equal(out, expected)
