"""Scaling of JIT parallel loops (``enable_parallel_loops``) over the cores of this machine.

Each case runs on a serial JIT compiler and on a parallel one with 1, 2, 4, ... threads
(``numba.set_num_threads``, up to numba's thread count); results are checked equal to the
serial ones (the serial loops are the row-by-row originals, which the AOT build runs too).
B=1 cases exercise the neuron-block ``prange`` (one parallel launch per time step, so it
suffers most when another process holds a core), B>1 cases the batch-row ``prange``.

Usage::

    python benchmarks/jit_parallel.py [--repeat 5] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402

from neurojit import JITCompiler, JITConfig  # noqa: E402


def cases(rng, quick: bool):
    scale = 0.25 if quick else 1.0
    steps = int(200 * scale) or 1

    def spikes(*shape, p=0.05):
        return (rng.random(shape) < p).astype(np.float64)

    n_big, n_mid = 4000, 1000  # B=1 neuron blocks need at least MIN_BLOCKED (1024) neurons
    w_big = rng.standard_normal((n_big, n_big)) * 0.05
    w_mid = rng.standard_normal((n_mid, n_mid)) * 0.05
    w_res = rng.standard_normal((2000, 2000)) * 0.02
    yield ("lif_network_run B=1 N=4000 (neuron blocks)", "compile_lif_network_kernel",
           (spikes(1, steps, 500), rng.standard_normal((500, n_big)) * 0.3, w_big, 1.0, 1e-3))
    yield ("lif_network_run B=16 N=1000 (batch rows)", "compile_lif_network_kernel",
           (spikes(16, steps, 200), rng.standard_normal((200, n_mid)) * 0.3, w_mid, 1.0, 1e-3))
    yield ("reservoir_run B=1 N=2000 dense (one core by design)", "compile_reservoir_run_kernel",
           (spikes(1, steps, 100), rng.standard_normal((100, 2000)) * 0.3, w_res, np.zeros((1, 2000)), 0.3))
    w_sparse = w_res * (rng.random(w_res.shape) < 0.1) * 3
    yield ("reservoir_run B=1 N=2000 10 % connected (unit blocks)", "compile_reservoir_run_kernel",
           (spikes(1, steps, 100), rng.standard_normal((100, 2000)) * 0.3, w_sparse, np.zeros((1, 2000)), 0.3))
    yield ("reservoir_run B=16 N=1000 (batch rows)", "compile_reservoir_run_kernel",
           (spikes(16, steps, 100), rng.standard_normal((100, n_mid)) * 0.3, w_mid, np.zeros((16, n_mid)), 0.3))
    yield ("convolution B=1 T=1000 N=20000 K=20 (channel blocks)", "compile_convolution_kernel",
           (spikes(1, int(1000 * scale), 20000), np.exp(-np.arange(20) / 5.0)))
    yield ("matrix_multiply sparse 4000x4000 @ 4000x500 (rows)", "compile_matrix_multiply_kernel",
           (spikes(4000, 4000, p=0.02), rng.standard_normal((4000, 500))))


def timed(kernel, args, repeat: int) -> tuple[float, np.ndarray]:
    result = kernel(*args)  # compile / warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        kernel(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    serial = JITCompiler(JITConfig(backend="jit", enable_parallel_loops=False))
    parallel = JITCompiler(JITConfig(backend="jit", enable_parallel_loops=True))
    max_threads = numba.config.NUMBA_NUM_THREADS
    counts = sorted({1, max_threads} | {2**k for k in range(1, 8) if 2**k < max_threads})
    results = {"numba_threads": max_threads, "threading_layer": None, "cases": {}}
    for name, method, kernel_args in cases(np.random.default_rng(0), args.quick):
        base, expected = timed(getattr(serial, method)(), kernel_args, args.repeat)
        row = {"serial_s": base, "parallel_s": {}, "speedup": {}}
        for n in counts:
            numba.set_num_threads(n)
            seconds, result = timed(getattr(parallel, method)(), kernel_args, args.repeat)
            np.testing.assert_array_equal(result, expected)
            row["parallel_s"][n], row["speedup"][n] = seconds, base / seconds
        numba.set_num_threads(max_threads)
        results["cases"][name] = row
    results["threading_layer"] = numba.threading_layer()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"numba threads: {max_threads}, layer: {results['threading_layer']}; speedup over the serial JIT loop")
        header = "".join(f"{n:>8}T" for n in counts)
        print(f"{'case':55} {'serial':>9}{header}")
        for name, row in results["cases"].items():
            cells = "".join(f"{row['speedup'][n]:8.2f}x" for n in counts)
            print(f"{name:55} {row['serial_s'] * 1e3:7.1f}ms{cells}")
    return results


if __name__ == "__main__":
    main()
