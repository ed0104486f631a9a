"""JIT compile time: cold vs warm disk cache, and what parallel compilation buys.

Every measurement runs in a fresh interpreter (numba imported, nothing compiled yet) and
times ``JITCompiler.warmup()`` over all kernels, both dtypes (10 loops):

* ``cold``      - empty cache folder, ``parallel_compilation=False``: numba compiles all 10
* ``warm``      - the same folder again: all 10 loaded from disk
* ``threads``   - empty folder, the 10 loops compiled from a thread pool (what a thread-based
  ``parallel_compilation`` would do; numba's global compiler lock serialises them)
* ``processes`` - empty folder, ``parallel_compilation=True`` (worker processes, then loads)

Usage::

    python benchmarks/jit_cache.py [--repeat 3] [--parallel-loops] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = textwrap.dedent(
    """
    import json, sys, time
    from concurrent.futures import ThreadPoolExecutor
    from neurojit import JITCompiler, JITConfig
    folder, mode, parallel_loops = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    c = JITCompiler(JITConfig(backend="jit", cache_directory=folder, enable_parallel_loops=parallel_loops,
                              parallel_compilation=(mode == "processes")))
    start = time.perf_counter()
    if mode == "threads":
        variants = [(loop, dtype) for loop in ("lif_run", "reservoir_run", "causal_convolution",
                                              "binary_nonzeros", "binary_matmul")
                    for dtype in ("float32", "float64")]
        with ThreadPoolExecutor(len(variants)) as pool:
            list(pool.map(lambda v: c._jit.loop(*v), variants))
        report = {"processes": 0}
    else:
        report = c.warmup()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "processes": report["processes"],
                      "stats": c.get_jit_info()["cache_stats"]}))
    """
)


def run(folder: str, mode: str, parallel_loops: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, folder, mode, "1" if parallel_loops else "0"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallel-loops", action="store_true", help="compile with enable_parallel_loops=True")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {"cold": [], "warm": [], "threads": [], "processes": []}
    processes = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            times["cold"].append(run(folder, "cold", args.parallel_loops)["seconds"])
            warm = run(folder, "warm", args.parallel_loops)
            assert warm["stats"] == {"cache_hits": 10}, warm
            times["warm"].append(warm["seconds"])
        with tempfile.TemporaryDirectory() as folder:
            threads = run(folder, "threads", args.parallel_loops)
            assert threads["stats"]["compiles"] == 10, threads
            times["threads"].append(threads["seconds"])
        with tempfile.TemporaryDirectory() as folder:
            result = run(folder, "processes", args.parallel_loops)
            processes = result["processes"]
            times["processes"].append(result["seconds"])
    median = {k: statistics.median(v) for k, v in times.items()}
    results = {
        "cpu_count": os.cpu_count(),
        "parallel_loops": args.parallel_loops,
        "median_seconds": median,
        "all_seconds": times,
        "cold_over_warm": median["cold"] / median["warm"],
        "threads_speedup": median["cold"] / median["threads"],
        "processes_speedup": median["cold"] / median["processes"],
        "worker_processes": processes,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"10 loops (5 kernels x float32/float64), {'parallel' if args.parallel_loops else 'serial'} loops, "
              f"{os.cpu_count()} CPUs, median of {args.repeat}:")
        print(f"  cold compile      {median['cold']:7.3f} s")
        print(f"  warm (disk cache) {median['warm']:7.3f} s   cold/warm = {results['cold_over_warm']:.0f}x")
        print(f"  threads           {median['threads']:7.3f} s   speedup {results['threads_speedup']:.2f}x")
        print(f"  processes ({processes} + this one) {median['processes']:7.3f} s   speedup {results['processes_speedup']:.2f}x")
    return results


if __name__ == "__main__":
    main()
