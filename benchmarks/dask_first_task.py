"""First task on a fresh Dask worker: AOT vs JIT, and throughput with 1 and 2 workers.

Each run starts a new ``LocalCluster`` (worker processes are new), then times the first
``neurojit.dask.spike_processing`` call from submission to result. Backends:

* ``aot``       - the AOT build (skipped with a note if it is not built here)
* ``jit-cold``  - numba JIT with an empty cache folder
* ``jit-warm``  - numba JIT with a cache folder filled by an earlier run

Medians over ``--runs`` runs, ratios within one invocation. Usage::

    python benchmarks/dask_first_task.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np
import dask.array as da
import distributed

from neurojit import JITConfig
from neurojit import dask as njd
from neurojit.backends.select import aot_status


def _inputs(batch: int, steps: int, neurons: int, density: float, chunk: int):
    rng = np.random.default_rng(0)
    spikes = (rng.random((batch, steps, neurons)) < density).astype(np.float32)
    weights = (rng.standard_normal((neurons, neurons)) / np.sqrt(neurons)).astype(np.float32)
    return da.from_array(spikes, chunks=(chunk, steps, neurons)), weights


def first_task_seconds(config: JITConfig) -> float:
    """Seconds from submitting the first task to a fresh worker until its result arrives."""
    spikes, weights = _inputs(4, 200, 100, 0.05, 4)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(1)
        lazy = njd.spike_processing(spikes, weights, 0.5, 1e-3, config=config)
        start = time.perf_counter()
        client.compute(lazy).result()
        return time.perf_counter() - start


def throughput(config: JITConfig, workers: int, repeats: int) -> float:
    """Batch rows per second for a large batch held on the workers, after a warm-up pass."""
    batch, steps, neurons = 64, 1000, 400
    weights = (np.random.default_rng(0).standard_normal((neurons, neurons)) / np.sqrt(neurons)).astype(np.float32)
    with distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        noise = da.random.default_rng(0).random((batch, steps, neurons), chunks=(4, steps, neurons))
        spikes = client.persist((noise < 0.05).astype(np.float32))  # generated and kept on the workers
        distributed.wait(spikes)
        lazy = njd.spike_processing(spikes, weights, 0.5, 1e-3, config=config).sum()
        lazy.compute()  # warm-up: every worker loads or compiles its kernels
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            lazy.compute()
            times.append(time.perf_counter() - start)
        return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    results: dict = {"first_task_s": {}, "throughput_rows_per_s": {}}
    warm_cache = tempfile.mkdtemp(prefix="neurojit-warm-")
    configs = {
        "jit-cold": lambda: JITConfig(backend="jit", enable_parallel_loops=False, cache_directory=tempfile.mkdtemp(prefix="neurojit-cold-")),
        "jit-warm": lambda: JITConfig(backend="jit", enable_parallel_loops=False, cache_directory=warm_cache),
    }
    if aot_status().backend is not None:
        configs = {"aot": lambda: JITConfig(backend="aot", enable_parallel_loops=False), **configs}
    else:
        print(f"aot: skipped ({aot_status().reason})")
    first_task_seconds(configs["jit-warm"]())  # fills the warm cache
    samples: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.runs):  # interleaved, so machine noise hits every backend alike
        for name, make in configs.items():
            samples[name].append(first_task_seconds(make()))
    for name, values in samples.items():
        results["first_task_s"][name] = statistics.median(values)
        print(f"first task, {name:<9} median {statistics.median(values):.3f} s  runs {[round(v, 3) for v in values]}")
    first = results["first_task_s"]
    if "aot" in first:
        for other in ("jit-cold", "jit-warm"):
            ratio = first[other] / first["aot"]
            results[f"aot_speedup_vs_{other}"] = ratio
            print(f"AOT first task is {ratio:.1f}x faster than {other}")

    best = "aot" if "aot" in configs else "jit-warm"
    for workers in (1, 2):
        rate = throughput(configs[best](), workers, repeats=3)
        results["throughput_rows_per_s"][workers] = rate
        print(f"throughput ({best}), {workers} worker(s): {rate:.1f} batch rows/s")
    scaling = results["throughput_rows_per_s"][2] / results["throughput_rows_per_s"][1]
    results["scaling_2_vs_1"] = scaling
    print(f"2 workers / 1 worker: {scaling:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
