"""Two threads calling AOT kernels: throughput against one thread (the GIL is released).

Each thread calls ``spike_processing`` on its own batch row (B = 1, T = 1000, N = 500,
5 % input) on the AOT backend without neurojit's own batch splitting, ``--calls`` times.
Throughput = calls per second over all threads; the ratio 2 threads / 1 thread is the
goal of issue #6 (>= 1.7x on 2 idle cores).

    python benchmarks/aot_threads.py [--calls 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from neurojit import JITCompiler, JITConfig


def throughput(kernel, inputs, threads: int, calls: int) -> float:
    def work(spikes):
        for _ in range(calls):
            kernel(spikes, inputs["weights"], 0.5, 1e-3)

    workers = [threading.Thread(target=work, args=(inputs["spikes"][i],)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    inputs = {
        "spikes": [(rng.random((1, 1000, 500)) < 0.05).astype(np.float32) for _ in range(2)],
        "weights": (rng.standard_normal((500, 500)) / np.sqrt(500)).astype(np.float32),
    }
    kernel = JITCompiler(JITConfig(backend="aot", enable_parallel_loops=False)).compile_spike_processing_kernel()
    kernel(inputs["spikes"][0], inputs["weights"], 0.5, 1e-3)
    rates = {1: [], 2: []}
    for _ in range(args.repeats):  # interleaved
        for threads in (1, 2):
            rates[threads].append(throughput(kernel, inputs, threads, args.calls))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"AOT spike_processing: 1 thread {one:.1f} calls/s, 2 threads {two:.1f} calls/s -> {two / one:.2f}x")


if __name__ == "__main__":
    main()
