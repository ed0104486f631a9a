"""Benchmark machinery: inputs for every kernel, the best NumPy implementations to compare
against, every available backend and AOT variant, and interleaved timing.

Timings are medians of interleaved runs (A, B, C, A, B, C, ...), so that a noisy, shared
machine slows every contender alike; results are reported as ratios within one run. Before each
timed call the process's other threads are let go idle (:func:`settle`): OpenBLAS's workers
keep spinning about 0.1 s after each NumPy product, on the cores the next contender needs (the
wait is busy: a core left idle runs the next call slower); a short call is then preceded by
5 ms of untimed calls of its own, so that it is timed with its own threads awake
(``neurojit bench --no-settle`` times back to back, as before).
Used by ``neurojit bench``, ``benchmarks/`` and :meth:`JITCompiler.benchmark_jit_performance`.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import numpy as np

from . import operations
from .backends import aot, jit, python, select
from .backends.threads import ThreadedBackend
from .kernel import kernel_on

DT, TAU = 1e-3, 0.02


# -- inputs -------------------------------------------------------------------------------


#: what each declared dimension is in a benchmark case of ``size`` neurons
TAPS = 50


def make_inputs(kernel: str, size: int, rng: np.random.Generator, dtype=np.float32, density: float = 0.1,
                batch: int = 4, steps: int = 100) -> dict[str, Any]:
    """Arguments (by name) for ``kernel`` with ``size`` neurons, ``batch`` rows and ``steps`` steps,
    made from the kernel's declaration: each parameter with a role gets an input of its shape.

    Spike inputs (role ``"events"``) have the given ``density``; an ``"operand"`` (the left
    side of ``matrix_multiply``) is a 0/1 spike matrix of that density, or Gaussian when
    ``density >= 1``; weights are Gaussian with variance ``1/size`` (recurrent ones scaled
    down so that the networks stay stable); states are in (-1, 1).
    """
    spec = operations.KERNELS[kernel]
    sizes = {"B": batch, "T": steps, "N": size, "I": size, "M": size, "K": size}
    arguments: dict[str, Any] = {}
    for p in spec.parameters:
        shape = tuple(TAPS if (p.role == "taps" and d == "K") else sizes[d] for d in p.dims)
        if p.role == "events" or (p.role == "operand" and density < 1):
            arguments[p.name] = (rng.random(shape) < density).astype(dtype)
        elif p.role == "operand":
            arguments[p.name] = rng.standard_normal(shape).astype(dtype)
        elif p.role == "weights":
            scale = 0.5 if p.name == "recurrent_weights" else 0.9 if p.name == "reservoir_weights" else 1.0
            arguments[p.name] = (rng.standard_normal(shape) * (scale / np.sqrt(size))).astype(dtype)
        elif p.role == "state":
            arguments[p.name] = np.tanh(rng.standard_normal(shape)).astype(dtype)
        elif p.role == "threshold":
            arguments[p.name] = np.full(shape, 0.5, dtype)
        elif p.role == "taps":
            arguments[p.name] = np.exp(-np.arange(shape[0]) / 10.0).astype(dtype)
        elif p.role == "time":
            arguments[p.name] = DT
    if any(p.name == "leak_rate" for p in spec.parameters):
        arguments["leak_rate"] = 0.5
    return arguments


# -- the best NumPy implementation of each kernel (what a NumPy user would write) ----------


def _numpy_lif(spikes, input_weights, recurrent_weights, thresholds, dt, tau=TAU, v_reset=0.0):
    """One GEMM for all input currents, then a loop over time vectorised over batch and neurons."""
    batch, steps, _ = spikes.shape
    dtype = thresholds.dtype
    currents = (spikes.reshape(batch * steps, -1) @ input_weights).reshape(batch, steps, -1)
    decay = dtype.type(np.exp(-dt / tau))
    v = np.zeros((batch, thresholds.shape[0]), dtype)
    out = np.empty_like(currents)
    fired = np.zeros_like(v, dtype=bool)
    for t in range(steps):
        v = v * decay + currents[:, t]
        if recurrent_weights is not None and t:
            v += fired.astype(dtype) @ recurrent_weights
        fired = v > thresholds
        out[:, t] = fired
        v[fired] = v_reset
    return out


def _numpy_reservoir_run(inputs, input_weights, reservoir_weights, initial_states, leak_rate=1.0, bias=None):
    drive = inputs @ input_weights + (0.0 if bias is None else bias)
    states = initial_states
    out = np.empty(inputs.shape[:2] + (reservoir_weights.shape[0],), states.dtype)
    x = states
    for t in range(inputs.shape[1]):
        x = (1 - leak_rate) * x + leak_rate * np.tanh(drive[:, t] + x @ reservoir_weights)
        out[:, t] = x
    return out


def _numpy_lif_network(input_spikes, input_weights, recurrent_weights, thresholds, dt, tau=TAU, v_reset=0.0):
    return _numpy_lif(input_spikes, input_weights, recurrent_weights, thresholds, dt, tau, v_reset)


def _numpy_convolution(spike_trains, kernel):
    spikes, taps = spike_trains, kernel
    out = np.zeros_like(spikes)
    steps = spikes.shape[1]
    for k in range(min(len(taps), steps)):  # a loop over taps, each a vectorised shifted add
        out[:, k:] += taps[k] * spikes[:, : steps - k]
    return out


def _numpy_reservoir_update(states, input_weights, reservoir_weights, input_spikes, leak_rate=1.0, bias=None):
    pre = states @ reservoir_weights + input_spikes @ input_weights + (0.0 if bias is None else bias)
    return (1 - leak_rate) * states + leak_rate * np.tanh(pre)


#: public kernel -> the best NumPy implementation, called with the kernel's arguments by name
BEST_NUMPY: dict[str, Callable] = {
    "spike_processing": lambda spike_trains, weights, **lif: _numpy_lif(spike_trains, weights, None, **lif),
    "lif_network_run": _numpy_lif_network,
    "reservoir_update": _numpy_reservoir_update,
    "reservoir_run": _numpy_reservoir_run,
    "convolution": _numpy_convolution,
    "matrix_multiply": lambda a, b: np.matmul(a, b),
}


def blas_description() -> str:
    """The BLAS numpy calls here: library, version, CPU core type and threads where known."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                return (f"{lib.get('internal_api')} {lib.get('version')}, core {lib.get('architecture')}, "
                        f"{lib.get('num_threads')} threads")
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # numpy < 1.25 has no mode="dicts"
        name = "unknown BLAS"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f"{name}, core {'forced ' + forced if forced else 'chosen by OpenBLAS'} (install threadpoolctl for details)"


# -- contenders ----------------------------------------------------------------------------


#: label of neurojit's own NumPy backend among the contenders (not the reference, which is
#: :data:`BEST_NUMPY`, reported as ``numpy_median_s``)
PYTHON_LABEL = "python-backend"


def contenders(include_python: bool = True, threads: bool = True) -> dict[str, Any]:
    """Every backend available here, by label: ``python-backend`` (neurojit's NumPy backend),
    ``jit``, ``jit-parallel``, ``aot-<variant>`` and ``aot-<variant>-threads`` for each variant
    this CPU runs."""
    found: dict[str, Any] = {}
    if include_python:
        found[PYTHON_LABEL] = python
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


#: :func:`settle` polls this often until SETTLE_QUIET polls in a row are idle, and waits no longer than SETTLE_MAX_S
SETTLE_POLL_S = 0.005
SETTLE_QUIET = 3
SETTLE_MAX_S = 0.5
#: after settling, a function whose last call took less than WARM_CALL_S is first called untimed
#: for WARM_S: its own thread pool (BLAS's, numba's) is awake and the core at its working pace when
#: it is timed, as in a loop of its calls (0.2 ms of wake-ups on 0.2 ms 256^3 products, measured;
#: after a single untimed call 256^3 products still took 5-15 % longer than back to back)
WARM_CALL_S = 0.02
WARM_S = 0.005


def settle(max_wait: float = SETTLE_MAX_S) -> float:
    """Wait until this process's other threads are idle: their CPU time stops growing while this
    thread waits (BLAS workers spin for a while after a call, numba's for a moment). Returns
    the seconds waited. Threads of other processes are not this function's business.

    The wait is busy, not a sleep: after even a few ms asleep the core runs the next call slower
    (a 0.6 ms reservoir run took 1.6x as long after ``time.sleep`` polls as after busy ones)."""
    begin = time.perf_counter()
    quiet = 0
    while True:
        others = time.process_time() - time.thread_time()  # the CPU time of the other threads
        until = time.perf_counter() + SETTLE_POLL_S
        while time.perf_counter() < until:
            time.sleep(0)  # lets a thread waiting for the GIL run (no clock-down: the thread stays runnable)
        now = time.perf_counter()
        # idle over SETTLE_QUIET polls in a row: on a loaded machine a spinning thread can miss one
        quiet = quiet + 1 if time.process_time() - time.thread_time() - others < SETTLE_POLL_S / 5 else 0
        if quiet >= SETTLE_QUIET or now - begin >= max_wait:
            return now - begin


def interleaved_medians(functions: dict[str, Callable[[], Any]], repeats: int,
                        settle_threads: bool = True) -> dict[str, float]:
    """Median wall time of each zero-argument function, run alternately ``repeats`` times.

    Unless ``settle_threads`` is false, each timed call comes after :func:`settle` (no other
    function's threads still spinning) and, for a short function (last call under
    ``WARM_CALL_S``), untimed calls of its own for ``WARM_S``."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(max(1, repeats)):
        for name, function in functions.items():
            if settle_threads:
                settle()
                if not times[name] or times[name][-1] < WARM_CALL_S:
                    warm_until = time.perf_counter() + WARM_S
                    function()
                    while time.perf_counter() < warm_until:
                        function()
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


#: the kernels a user calls (``compile_*_kernel``), in declaration order
PUBLIC_KERNELS = tuple(name for name, spec in operations.KERNELS.items() if spec.public)

#: default grid: kernel -> (sizes, densities); batch 8 and 1000 steps for the sequence kernels
_GRID_CHOICES = {
    "reservoir_update": ([100, 1000], [0.1]),
    "reservoir_run": ([100, 1000], [0.1]),
    "convolution": ([100, 500], [0.05, 0.5]),
    "matrix_multiply": ([256, 1024], [0.05, 1.0]),
}
GRID = {name: _GRID_CHOICES.get(name, ([250, 1000], [0.01, 0.1])) for name in PUBLIC_KERNELS}
QUICK_GRID = {kernel: ([64], densities[:1]) for kernel, (_, densities) in GRID.items()}


def run_grid(grid: dict[str, tuple[list[int], list[float]]], *, repeats: int = 5, batch: int = 8, steps: int = 1000,
             dtype=np.float32, include_python: bool = True, progress: Callable[[Iterable], Iterable] | None = None,
             settle_threads: bool = True) -> list[Row]:
    """Time every kernel of ``grid`` on every contender against the best NumPy implementation
    (each call after the process's threads went idle, unless ``settle_threads`` is false)."""
    found = contenders(include_python=include_python)
    cases = [(k, s, d) for k, (sizes, densities) in grid.items() for s in sizes for d in densities]
    rows: list[Row] = []
    rng = np.random.default_rng(0)
    for kernel, size, density in progress(cases) if progress else cases:
        args = make_inputs(kernel, size, rng, dtype, density, batch=batch, steps=steps)
        runs = {"numpy": lambda: BEST_NUMPY[kernel](**args)}
        for label, backend in found.items():
            on_backend = kernel_on(backend, kernel)
            on_backend(**args)  # compile or load outside the timing
            runs[label] = lambda on_backend=on_backend: on_backend(**args)
        medians = interleaved_medians(runs, repeats, settle_threads)
        for label, median in medians.items():
            if label != "numpy":
                rows.append(Row(kernel, size, density, label, median, medians["numpy"], medians["numpy"] / median))
    return rows


def format_rows(rows: list[Row]) -> str:
    """A plain-text table of ``rows``: each contender's median next to the NumPy reference's."""
    lines = [
        "NumPy ms: the reference, the best plain-NumPy code for the kernel (neurojit.bench.BEST_NUMPY); "
        f"speedup = NumPy ms / median ms; {PYTHON_LABEL} is neurojit's own NumPy backend",
        f"{'kernel':<17} {'size':>5} {'density':>7} {'contender':<22} {'median ms':>10} {'NumPy ms':>10} {'speedup':>8}",
    ]
    for r in rows:
        lines.append(f"{r.kernel:<17} {r.size:>5} {r.density:>7.2f} {r.contender:<22} "
                     f"{r.median_s * 1e3:>10.3f} {r.numpy_median_s * 1e3:>10.3f} {r.speedup_vs_numpy:>7.2f}x")
    return "\n".join(lines)


def rows_to_json(rows: list[Row], **meta: Any) -> str:
    return json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2)


def _describe(meta: dict[str, Any]) -> str:
    parts = [str(meta["dtype"])] if "dtype" in meta else []
    if "batch" in meta:
        parts.append(f"batch {meta['batch']}")
    if "steps" in meta:
        parts.append(f"{meta['steps']} steps (matrix_multiply: one product)")
    if "repeats" in meta:
        parts.append(f"median of {meta['repeats']} interleaved run{'s' if meta['repeats'] != 1 else ''}"
                     + (" back to back" if meta.get("settle") is False else ""))
    if "blas" in meta:
        parts.append(f"NumPy: {meta['blas']}")
    return ", ".join(parts)


def plot_rows(rows: list[Row], path: str, **meta: Any) -> None:
    """Draw :func:`figure_of_rows` into ``path`` (PNG, SVG, PDF: by its extension)."""
    figure_of_rows(rows, **meta).savefig(path, dpi=100, bbox_inches="tight")  # "tight": the legend is outside


def figure_of_rows(rows: list[Row], **meta: Any):
    """A matplotlib figure of the speedup over the best NumPy code, one panel per kernel.

    With several sizes per kernel: speedup against size, one line per contender (its colour)
    and density (its line style and marker). With one size per kernel (``--quick``): bars per
    contender (colour) and density (hatch). One legend, outside the panels; the title gives
    ``meta`` (dtype, batch, steps, repeats: what :func:`run_grid` was called with). Made without
    pyplot, so no matplotlib backend or global state is touched.
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    kernels = list(dict.fromkeys(r.kernel for r in rows))
    labels = list(dict.fromkeys(r.contender for r in rows))
    densities = sorted({r.density for r in rows})
    palette = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    colours = {label: palette(i % palette.N) for i, label in enumerate(labels)}
    line_styles = dict(zip(densities, [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")] * len(densities)))
    hatches = dict(zip(densities, ["", "//", "..", "xx"] * len(densities)))
    bars = all(len({r.size for r in rows if r.kernel == k}) == 1 for k in kernels)
    columns = min(3, len(kernels))
    panel_rows = -(-len(kernels) // columns)
    fig = Figure(figsize=(4.6 * columns, 3.8 * panel_rows))
    axes = fig.subplots(panel_rows, columns, squeeze=False)
    for ax, kernel in zip(axes.flat, kernels):
        mine = [r for r in rows if r.kernel == kernel]
        sizes = sorted({r.size for r in mine})
        mine_densities = sorted({r.density for r in mine})
        speedup = {(r.contender, r.density, r.size): r.speedup_vs_numpy for r in mine}
        if bars:
            width = 0.8 / len(mine_densities)
            for j, density in enumerate(mine_densities):
                for i, label in enumerate(labels):
                    if (label, density, sizes[0]) in speedup:
                        ax.bar(i + (j - (len(mine_densities) - 1) / 2) * width, speedup[label, density, sizes[0]],
                               width, color=colours[label], hatch=hatches[density], edgecolor="white")
            ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
            ax.set(xlabel=f"contender (size {sizes[0]})")
        else:
            for label in labels:
                for density in mine_densities:
                    points = [(size, speedup[label, density, size]) for size in sizes if (label, density, size) in speedup]
                    if points:
                        ls, marker = line_styles[density]
                        ax.plot(*zip(*points), color=colours[label], ls=ls, marker=marker)
            ax.set(xscale="log", xlabel="size (neurons)")
            ax.set_xticks(sizes, [str(size) for size in sizes])
            ax.minorticks_off()
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        ax.set(title=kernel, ylabel="speedup over NumPy", yscale="log")
    for ax in list(axes.flat)[len(kernels):]:
        ax.axis("off")
    if bars:
        handles = [Patch(color=colours[label], label=label) for label in labels]
        handles += [Patch(facecolor="grey", edgecolor="white", hatch=hatches[d], label=f"density {d:g}")
                    for d in densities]
    else:
        handles = [Line2D([], [], color=colours[label], lw=2, label=label) for label in labels]
        handles += [Line2D([], [], color="grey", ls=line_styles[d][0], marker=line_styles[d][1], label=f"density {d:g}")
                    for d in densities]
    handles.append(Line2D([], [], color="black", lw=0.8, ls="--", label="NumPy reference (1x)"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    description = _describe(meta)
    fig.suptitle("neurojit bench: speedup over the best NumPy code" + (f"\n{description}" if description else ""),
                 fontsize=10)
    fig.tight_layout()
    return fig


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
    for name in PUBLIC_KERNELS:
        kernel = compiler.kernel(name)
        on_numpy = kernel_on(python, name)
        results[name] = {}
        for size in sizes:
            args = make_inputs(name, int(size), rng)
            start = time.perf_counter()
            kernel(**args)  # first call: compiles (JIT) or loads (AOT)
            first_call = time.perf_counter() - start
            medians = interleaved_medians(
                {"compiled": lambda: kernel(**args), "python": lambda: on_numpy(**args)}, num_iterations
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
