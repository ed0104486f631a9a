"""Benchmark machinery: inputs for every kernel, the best NumPy implementations to compare
against, every available backend and AOT variant, and interleaved timing.

Timings are medians of interleaved runs (A, B, C, A, B, C, ...), so that a noisy, shared
machine slows every contender alike; results are reported as ratios within one run.
Used by ``neurojit bench``, ``benchmarks/`` and :meth:`JITCompiler.benchmark_jit_performance`.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import numpy as np

from . import operations
from .backends import aot, jit, python, select
from .backends.threads import ThreadedBackend

DT, TAU = 1e-3, 0.02


# -- inputs -------------------------------------------------------------------------------


def make_inputs(kernel: str, size: int, rng: np.random.Generator, dtype=np.float32, density: float = 0.1,
                batch: int = 4, steps: int = 100) -> tuple:
    """Positional arguments for ``kernel`` with ``size`` neurons (``batch`` rows, ``steps`` steps).

    Spike inputs have the given ``density``; ``matrix_multiply`` gets a dense Gaussian ``a``
    when ``density >= 1`` and a 0/1 spike matrix of that density otherwise.
    """
    spikes = (rng.random((batch, steps, size)) < density).astype(dtype)
    weights = (rng.standard_normal((size, size)) * (1.0 / np.sqrt(size))).astype(dtype)
    thresholds = np.full(size, 0.5, dtype)
    if kernel == "spike_processing":
        return spikes, weights, thresholds, DT
    if kernel == "lif_network_run":
        return spikes, weights, 0.5 * weights, thresholds, DT
    if kernel == "reservoir_update":
        states = np.tanh(rng.standard_normal((batch, size))).astype(dtype)
        return states, weights, 0.9 * weights, spikes[:, 0, :]
    if kernel == "reservoir_run":
        return spikes, weights, 0.9 * weights, np.zeros((batch, size), dtype), 0.5
    if kernel == "convolution":
        return spikes, np.exp(-np.arange(50) / 10.0).astype(dtype)
    if kernel == "matrix_multiply":
        if density >= 1:
            return rng.standard_normal((size, size)).astype(dtype), weights
        return (rng.random((size, size)) < density).astype(dtype), weights
    raise ValueError(f"unknown kernel {kernel!r}")


# -- the best NumPy implementation of each kernel (what a NumPy user would write) ----------


def _numpy_lif(spikes, input_weights, recurrent_weights, thresholds, dt):
    """One GEMM for all input currents, then a loop over time vectorised over batch and neurons."""
    batch, steps, _ = spikes.shape
    dtype = thresholds.dtype
    currents = (spikes.reshape(batch * steps, -1) @ input_weights).reshape(batch, steps, -1)
    decay = dtype.type(np.exp(-dt / TAU))
    v = np.zeros((batch, thresholds.shape[0]), dtype)
    out = np.empty_like(currents)
    fired = np.zeros_like(v, dtype=bool)
    for t in range(steps):
        v = v * decay + currents[:, t]
        if recurrent_weights is not None and t:
            v += fired.astype(dtype) @ recurrent_weights
        fired = v > thresholds
        out[:, t] = fired
        v[fired] = 0
    return out


def _numpy_reservoir_run(inputs, input_weights, reservoir_weights, states, leak_rate):
    drive = inputs @ input_weights
    out = np.empty(inputs.shape[:2] + (reservoir_weights.shape[0],), states.dtype)
    x = states
    for t in range(inputs.shape[1]):
        x = (1 - leak_rate) * x + leak_rate * np.tanh(drive[:, t] + x @ reservoir_weights)
        out[:, t] = x
    return out


def _numpy_convolution(spikes, taps):
    out = np.zeros_like(spikes)
    steps = spikes.shape[1]
    for k in range(min(len(taps), steps)):  # a loop over taps, each a vectorised shifted add
        out[:, k:] += taps[k] * spikes[:, : steps - k]
    return out


BEST_NUMPY: dict[str, Callable] = {
    "spike_processing": lambda s, w, thr, dt: _numpy_lif(s, w, None, thr, dt),
    "lif_network_run": lambda s, w_in, w_rec, thr, dt: _numpy_lif(s, w_in, w_rec, thr, dt),
    "reservoir_update": lambda s, w_in, w_res, u: np.tanh(s @ w_res + u @ w_in),
    "reservoir_run": _numpy_reservoir_run,
    "convolution": _numpy_convolution,
    "matrix_multiply": np.matmul,
}


# -- contenders ----------------------------------------------------------------------------


def contenders(include_python: bool = True, threads: bool = True) -> dict[str, Any]:
    """Every backend available here, by label: ``python``, ``jit``, ``jit-parallel``,
    ``aot-<variant>`` and ``aot-<variant>-threads`` for each variant this CPU runs."""
    found: dict[str, Any] = {}
    if include_python:
        found["python"] = python
    if jit.NUMBA_AVAILABLE:
        found["jit"] = jit.JITBackend(fastmath=False, parallel=False, cache_directory=None)
        if threads:
            found["jit-parallel"] = jit.JITBackend(fastmath=False, parallel=True, cache_directory=None)
    status = select.aot_status()
    if status.backend is not None:
        with open(aot.MANIFEST, encoding="utf-8") as f:
            manifest = json.load(f)
        have = aot.cpu_features()
        for variant in manifest["variants"]:
            if not set(variant.get("cpu_features", [])) <= have:
                continue
            module, _ = aot._import_checked(variant)  # a damaged binary is never imported
            if module is None:
                continue
            backend = aot.AOTBackend(module, variant["name"])
            found[f"aot-{variant['name']}"] = backend
            if threads:
                found[f"aot-{variant['name']}-threads"] = ThreadedBackend(backend)
    return found


# -- timing --------------------------------------------------------------------------------


def interleaved_medians(functions: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time of each zero-argument function, run alternately ``repeats`` times."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(max(1, repeats)):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


@dataclass
class Row:
    """One measured case: medians in seconds and the speedup over the best NumPy implementation."""

    kernel: str
    size: int
    density: float
    contender: str
    median_s: float
    numpy_median_s: float
    speedup_vs_numpy: float


#: default grid: kernel -> (sizes, densities); batch 8 and 1000 steps for the sequence kernels
GRID = {
    "spike_processing": ([250, 1000], [0.01, 0.1]),
    "lif_network_run": ([250, 1000], [0.01, 0.1]),
    "reservoir_update": ([100, 1000], [0.1]),
    "reservoir_run": ([100, 1000], [0.1]),
    "convolution": ([100, 500], [0.05, 0.5]),
    "matrix_multiply": ([256, 1024], [0.05, 1.0]),
}
QUICK_GRID = {kernel: ([64], densities[:1]) for kernel, (_, densities) in GRID.items()}


def run_grid(grid: dict[str, tuple[list[int], list[float]]], *, repeats: int = 5, batch: int = 8, steps: int = 1000,
             dtype=np.float32, include_python: bool = True, progress: Callable[[Iterable], Iterable] | None = None) -> list[Row]:
    """Time every kernel of ``grid`` on every contender against the best NumPy implementation."""
    found = contenders(include_python=include_python)
    cases = [(k, s, d) for k, (sizes, densities) in grid.items() for s in sizes for d in densities]
    rows: list[Row] = []
    rng = np.random.default_rng(0)
    for kernel, size, density in progress(cases) if progress else cases:
        function = operations.KERNELS[kernel][0]
        n_steps = 1 if kernel == "matrix_multiply" else steps
        args = make_inputs(kernel, size, rng, dtype, density, batch=batch, steps=n_steps)
        runs = {"numpy": lambda: BEST_NUMPY[kernel](*args)}
        for label, backend in found.items():
            function(backend, *args)  # compile or load outside the timing
            runs[label] = lambda backend=backend: function(backend, *args)
        medians = interleaved_medians(runs, repeats)
        for label, median in medians.items():
            if label != "numpy":
                rows.append(Row(kernel, size, density, label, median, medians["numpy"], medians["numpy"] / median))
    return rows


def format_rows(rows: list[Row]) -> str:
    """A plain-text table of ``rows``."""
    lines = [f"{'kernel':<17} {'size':>5} {'density':>7} {'contender':<22} {'median ms':>10} {'vs NumPy':>9}"]
    for r in rows:
        lines.append(f"{r.kernel:<17} {r.size:>5} {r.density:>7.2f} {r.contender:<22} "
                     f"{r.median_s * 1e3:>10.3f} {r.speedup_vs_numpy:>8.2f}x")
    return "\n".join(lines)


def rows_to_json(rows: list[Row], **meta: Any) -> str:
    return json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2)


def plot_rows(rows: list[Row], path: str) -> None:
    """Speedup over NumPy against size, one panel per kernel, one line per contender and density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kernels = list(dict.fromkeys(r.kernel for r in rows))
    fig, axes = plt.subplots(2, (len(kernels) + 1) // 2, figsize=(5 * ((len(kernels) + 1) // 2), 8), squeeze=False)
    for ax, kernel in zip(axes.flat, kernels):
        mine = [r for r in rows if r.kernel == kernel]
        for contender in dict.fromkeys(r.contender for r in mine):
            for density in sorted({r.density for r in mine}):
                line = sorted((r.size, r.speedup_vs_numpy) for r in mine if r.contender == contender and r.density == density)
                ax.plot(*zip(*line), marker="o", label=f"{contender} @ {density:g}")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set(title=kernel, xlabel="neurons (size)", ylabel="speedup vs best NumPy", xscale="log", yscale="log")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(kernels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- JITCompiler.benchmark_jit_performance ------------------------------------------------


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
                "first_call_time": first_call,
                "backend": kernel.backend,
            }
    results["jit_info"] = compiler.get_jit_info()
    return results
