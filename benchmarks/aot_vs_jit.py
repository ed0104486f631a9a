"""Steady state: every AOT variant against numba JIT, loop by loop, at large sizes.

    python benchmarks/aot_vs_jit.py [--repeats 21] [--dtype float32 float64]

Needs numba (for the JIT side) and an AOT build (``python build_aot.py``). Both sides run
the same loop source on the same arrays, single-threaded (the AOT exports are serial, so
the JIT loops are compiled with ``parallel=False``; neither uses fastmath). Prints the
median time per call and the ratio AOT / JIT per loop and variant; the goal (issue #3) is
<= 1.05 for the best variant this CPU runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from neurojit.backends import aot  # noqa: E402
from neurojit.backends.jit import JITBackend  # noqa: E402
from neurojit.kernels import signatures  # noqa: E402


def inputs(loop: str, dtype: str, rng: np.random.Generator):
    """Large arguments of ``loop`` (plus its output array, or None)."""
    f = np.dtype(dtype).type
    if loop == "lif_run":  # recurrent LIF, 10 % input spikes
        n, i = 1000, 500
        spikes = (rng.random((4, 500, i)) < 0.1).astype(dtype)
        w_in = (rng.standard_normal((i, n)) * 0.1).astype(dtype)
        w_rec = (rng.standard_normal((n, n)) * 0.05).astype(dtype)
        return (spikes, w_in, w_rec, True, np.full(n, 1.0, dtype), f(0.95), f(0.0)), np.empty((4, 500, n), dtype)
    if loop == "reservoir_run":  # dense tanh reservoir
        n = 1000
        x = rng.standard_normal((4, 100, 50)).astype(dtype)
        w_in = rng.standard_normal((50, n)).astype(dtype)
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(dtype)
        args = (x, w_in, w, rng.standard_normal(n).astype(dtype), f(0.3), np.zeros((4, n), dtype))
        return args, np.empty((4, 100, n), dtype)
    if loop == "causal_convolution":
        spikes = (rng.random((8, 1000, 1000)) < 0.05).astype(dtype)
        return (spikes, rng.standard_normal(32).astype(dtype)), np.empty_like(spikes)
    if loop == "binary_nonzeros":
        return ((rng.random((4000, 4000)) < 0.05).astype(dtype),), None
    if loop == "binary_matmul":
        a = (rng.random((2000, 2000)) < 0.05).astype(dtype)
        b = rng.standard_normal((2000, 1000)).astype(dtype)
        return (a, b), np.empty((2000, 1000), dtype)
    raise AssertionError(loop)


def median_times(functions: list, args, out, repeats: int) -> list[float]:
    """Median seconds per call of each function; calls interleaved so that load drifts hit all alike."""
    calls = [(lambda f=f: f(*args, out)) if out is not None else (lambda f=f: f(*args)) for f in functions]
    for call in calls:
        call()  # warm-up (and JIT compile)
    times = [[] for _ in calls]
    for _ in range(repeats):
        for call, series in zip(calls, times):
            start = time.perf_counter()
            call()
            series.append(time.perf_counter() - start)
    return [statistics.median(series) for series in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    args = parser.parse_args()

    manifest = json.loads(Path(aot.MANIFEST).read_text())
    if manifest.get("failed") or manifest.get("source_digest") != signatures.source_digest():
        sys.exit("no current AOT build: run `python build_aot.py`")
    have = aot.cpu_features()
    variants = [v for v in manifest["variants"] if set(v["cpu_features"]) <= have]
    modules = {v["name"]: importlib.import_module(f"neurojit.{v['module']}") for v in variants}
    jit = JITBackend(fastmath=False, parallel=False, cache_directory=None)
    rng = np.random.default_rng(0)

    names = list(modules)
    print(f"steady state, median of {args.repeats} calls, serial; ratio = AOT variant / JIT (best first: {names[0]})")
    print(f"{'loop':<20} {'dtype':<8} {'JIT ms':>8} " + " ".join(f"{n + ' ms':>14} {'ratio':>6}" for n in names))
    worst = 0.0
    for loop in signatures.LOOPS:
        for dtype in args.dtype:
            loop_args, out = inputs(loop, dtype, rng)
            functions = [jit.loop(loop, dtype)] + [
                getattr(modules[name], signatures.export_name(loop, dtype)) for name in names
            ]
            t_jit, *t_aot = median_times(functions, loop_args, out, args.repeats)
            row = f"{loop:<20} {dtype:<8} {t_jit * 1e3:8.2f} "
            for t in t_aot:
                row += f"{t * 1e3:14.2f} {t / t_jit:6.2f} "
            worst = max(worst, t_aot[0] / t_jit)
            print(row)
    print(f"worst best-variant / JIT ratio: {worst:.2f} (goal <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
