"""Benchmark machinery: inputs of a given size for every kernel, and interleaved timing.

Timings are medians of interleaved runs (backend A, backend B, A, B, ...) so that a
noisy, shared machine slows both sides alike; results are reported as ratios.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from . import operations
from .backends import python


def make_inputs(kernel: str, size: int, rng: np.random.Generator, dtype=np.float32, density: float = 0.1) -> tuple:
    """Positional arguments for ``kernel`` with ``size`` neurons (batch 4, 100 steps)."""
    batch, steps = 4, 100
    spikes = (rng.random((batch, steps, size)) < density).astype(dtype)
    weights = (rng.standard_normal((size, size)) * (1.0 / np.sqrt(size))).astype(dtype)
    thresholds = np.full(size, 0.5, dtype)
    if kernel == "spike_processing":
        return spikes, weights, thresholds, 1e-3
    if kernel == "lif_network_run":
        return spikes, weights, 0.5 * weights, thresholds, 1e-3
    if kernel == "reservoir_update":
        states = rng.standard_normal((batch, size)).astype(dtype)
        return states, weights, weights, spikes[:, 0, :]
    if kernel == "reservoir_run":
        return spikes, weights, 0.9 * weights, np.zeros((batch, size), dtype), 0.5
    if kernel == "convolution":
        return spikes, np.exp(-np.arange(20) / 5.0).astype(dtype)
    if kernel == "matrix_multiply":
        return rng.standard_normal((size, size)).astype(dtype), weights
    raise ValueError(f"unknown kernel {kernel!r}")


def interleaved_medians(functions: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time of each zero-argument function, run alternately ``repeats`` times."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(max(1, repeats)):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def benchmark_compiler(compiler, test_sizes: list[int], num_iterations: int) -> dict[str, Any]:
    """The result of :meth:`neurojit.JITCompiler.benchmark_jit_performance`."""
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, int) or num_iterations < 1:
        raise ValueError(f"num_iterations must be a positive integer, got {num_iterations!r}")
    sizes = list(test_sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"test_sizes must be positive integers, got {test_sizes!r}")
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {}
    for name, (function, _) in operations.KERNELS.items():
        kernel = compiler._kernel(name)
        results[name] = {}
        for size in sizes:
            args = make_inputs(name, int(size), rng)
            start = time.perf_counter()
            kernel(*args)  # first call: compiles (JIT) or loads (AOT)
            first_call = time.perf_counter() - start
            medians = interleaved_medians(
                {"compiled": lambda: kernel(*args), "python": lambda: function(python, *args)}, num_iterations
            )
            results[name][int(size)] = {
                "jit_time": medians["compiled"],
                "python_time": medians["python"],
                "speedup": medians["python"] / medians["compiled"] if medians["compiled"] > 0 else float("inf"),
                "compile_time": max(first_call - medians["compiled"], 0.0),
                "backend": kernel.backend,
            }
    results["jit_info"] = compiler.get_jit_info()
    return results
