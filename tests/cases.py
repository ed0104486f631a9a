"""Random inputs for every kernel, drawn from a seeded generator, in a chosen dtype.

``make_args(kernel, rng, dtype, **dims)`` returns ``(args, kwargs)`` for the public kernel.
Dimensions: ``B`` batch, ``T`` steps, ``N`` neurons, ``I`` inputs, ``K`` taps; for
``matrix_multiply`` ``M, K, N``. ``density`` is the fraction of spikes; ``spikes`` may
override the spike array (e.g. all zeros, all ones).
"""

from __future__ import annotations

import numpy as np

from reference import REFERENCES, SPIKING, tolerance

from neurojit.operations import KERNELS as DECLARED

#: the public kernels, from their declarations (each needs a reference and a case below)
KERNELS = tuple(name for name, spec in DECLARED.items() if spec.public)

#: the seed API's JITCompiler method of each kernel (written out: the names users call)
METHODS = {
    "spike_processing": "compile_spike_processing_kernel",
    "reservoir_update": "compile_reservoir_update_kernel",
    "convolution": "compile_convolution_kernel",
    "matrix_multiply": "compile_matrix_multiply_kernel",
    "lif_network_run": "compile_lif_network_kernel",
    "reservoir_run": "compile_reservoir_run_kernel",
}


def kernel_of(compiler, name):
    """The compiled public kernel ``name`` of ``compiler``."""
    return compiler.kernel(name)


def spike_array(rng, shape, density, dtype):
    return (rng.random(shape) < density).astype(dtype)


def make_args(kernel, rng, dtype, *, B=3, T=7, N=5, I=4, K=3, M=6, density=0.3, spikes=None, v_reset=None):
    dtype = np.dtype(dtype)
    if kernel == "spike_processing":
        s = spike_array(rng, (B, T, N), density, dtype) if spikes is None else spikes
        weights = rng.normal(0.2, 0.6, (N, N)).astype(dtype)
        thresholds = rng.uniform(0.2, 1.0, N).astype(dtype)
        kwargs = {"tau": float(rng.uniform(0.005, 0.05))}
        if v_reset is not None:
            kwargs["v_reset"] = v_reset
        return (s, weights, thresholds, float(rng.uniform(5e-4, 5e-3))), kwargs
    if kernel == "lif_network_run":
        s = spike_array(rng, (B, T, I), density, dtype) if spikes is None else spikes
        w_in = rng.normal(0.2, 0.6, (I, N)).astype(dtype)
        w_rec = rng.normal(0.0, 0.4, (N, N)).astype(dtype)
        thresholds = rng.uniform(0.2, 1.0, N).astype(dtype)
        kwargs = {"tau": float(rng.uniform(0.005, 0.05))}
        if v_reset is not None:
            kwargs["v_reset"] = v_reset
        return (s, w_in, w_rec, thresholds, float(rng.uniform(5e-4, 5e-3))), kwargs
    if kernel in ("reservoir_update", "reservoir_run"):
        w_in = rng.normal(0.0, 0.5, (I, N)).astype(dtype)
        w_res = (rng.normal(0.0, 1.0, (N, N)) * (0.9 / np.sqrt(max(N, 1)))).astype(dtype)
        states = rng.normal(0.0, 0.5, (B, N)).astype(dtype)
        kwargs = {"leak_rate": float(rng.uniform(0.1, 1.0)), "bias": rng.normal(0.0, 0.1, N).astype(dtype)}
        if kernel == "reservoir_update":
            u = spike_array(rng, (B, I), density, dtype) if spikes is None else spikes
            return (states, w_in, w_res, u), kwargs
        u = spike_array(rng, (B, T, I), density, dtype) if spikes is None else spikes
        return (u, w_in, w_res, states), kwargs
    if kernel == "convolution":
        s = spike_array(rng, (B, T, N), density, dtype) if spikes is None else spikes
        taps = (np.exp(-np.arange(K) / 2.0) * rng.uniform(0.5, 1.5, K)).astype(dtype)
        return (s, taps), {}
    if kernel == "matrix_multiply":
        a = spike_array(rng, (M, K), density, dtype) if spikes is None else spikes
        b = rng.standard_normal((K, N)).astype(dtype)
        return (a, b), {}
    raise ValueError(kernel)


def spike_argument(kernel) -> int:
    """Position of the spike (or input) array among the positional arguments."""
    return 3 if kernel == "reservoir_update" else 0


def check_against_reference(name, result, args, kwargs, dtype):
    expected = REFERENCES[name](*args, **kwargs)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.dtype(dtype), f"output dtype {result.dtype}, expected {np.dtype(dtype)}"
    assert result.shape == expected.shape
    if name in SPIKING:
        assert np.isin(result, (0, 1)).all()
        np.testing.assert_array_equal(result, expected.astype(result.dtype), err_msg=f"{name}: spikes differ")
    else:
        np.testing.assert_allclose(result, expected, **tolerance(dtype), err_msg=name)
    return expected
