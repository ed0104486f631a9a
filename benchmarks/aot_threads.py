"""AOT kernels on many cores: threads calling them at once, and one call's batch split.

* **Independent threads** (the GIL is released): each thread calls ``spike_processing``
  on its own batch row (B = 1, T = 1000, N = 500, 5 % input) on the AOT backend without
  neurojit's own batch splitting, ``--calls`` times. Throughput = calls per second over all
  threads, reported against one thread (issue #6: two threads >= 1.7x one on 2 idle cores).
* **Batch split** (``enable_parallel_loops``): one call with B = ``--batch`` rows of
  ``spike_processing`` and ``lif_network_run`` (T = 1000, N = 1000, 5 % input), split over
  1, 2, 4, ... threads by :class:`neurojit.backends.threads.ThreadedBackend`; the results
  are checked equal to the unsplit call.

Thread counts go up to the cores available to this process (``--max-threads`` caps them).

    python benchmarks/aot_threads.py [--calls 40] [--repeats 5] [--batch 32] [--max-threads 16]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from neurojit import JITCompiler, JITConfig
from neurojit.kernel import kernel_on
from neurojit.backends.threads import ThreadedBackend, available_cores
from neurojit.bench import contenders, interleaved_medians


def throughput(kernel, spikes: list, weights, threads: int, calls: int) -> float:
    def work(row):
        for _ in range(calls):
            kernel(row, weights, 0.5, 1e-3)

    workers = [threading.Thread(target=work, args=(spikes[i],)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * calls / (time.perf_counter() - start)


def thread_counts(limit: int) -> list[int]:
    counts = [1]
    while counts[-1] * 2 <= limit:
        counts.append(counts[-1] * 2)
    return counts if counts[-1] == limit else counts + [limit]


def independent_threads(counts: list[int], calls: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    spikes = [(rng.random((1, 1000, 500)) < 0.05).astype(np.float32) for _ in range(counts[-1])]
    weights = (rng.standard_normal((500, 500)) / np.sqrt(500)).astype(np.float32)
    kernel = JITCompiler(JITConfig(backend="aot", enable_parallel_loops=False)).compile_spike_processing_kernel()
    kernel(spikes[0], weights, 0.5, 1e-3)
    rates = {k: [] for k in counts}
    for _ in range(repeats):  # interleaved
        for k in counts:
            rates[k].append(throughput(kernel, spikes, weights, k, calls))
    one = statistics.median(rates[1])
    for k in counts:
        rate = statistics.median(rates[k])
        print(f"  {k:>2} threads: {rate:8.1f} calls/s -> {rate / one:5.2f}x one thread")


def batch_split(counts: list[int], batch: int, repeats: int) -> None:
    backend = next((b for label, b in contenders(include_python=False, threads=False).items()
                    if label.startswith("aot-")), None)
    if backend is None:
        print("  no AOT build here (python build_aot.py), skipped")
        return
    rng = np.random.default_rng(1)
    spikes = (rng.random((batch, 1000, 1000)) < 0.05).astype(np.float32)
    weights = (rng.standard_normal((1000, 1000)) / np.sqrt(1000)).astype(np.float32)
    cases = {
        "spike_processing": (spikes, weights, 0.5, 1e-3),
        "lif_network_run": (spikes, weights, 0.3 * weights, 0.5, 1e-3),
    }
    for name, args in cases.items():
        expected = kernel_on(backend, name)(*args)
        runs = {}
        for k in counts:
            split = kernel_on(ThreadedBackend(backend, threads=k), name)
            np.testing.assert_array_equal(split(*args), expected)
            runs[k] = lambda split=split: split(*args)
        medians = interleaved_medians(runs, repeats)
        line = ", ".join(f"{k}: {medians[1] / medians[k]:.2f}x" for k in counts)
        print(f"  {name} B={batch} ({backend.name}, one thread {medians[1] * 1e3:.0f} ms): {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-threads", type=int, default=available_cores())
    args = parser.parse_args()
    counts = thread_counts(max(1, min(args.max_threads, available_cores())))
    print(f"{available_cores()} cores available")
    print("independent threads calling AOT spike_processing (B=1, T=1000, N=500):")
    independent_threads(counts, args.calls, args.repeats)
    print("one call's batch split over threads (T=1000, N=1000, 5 % input), speedup over one thread:")
    batch_split(counts, args.batch, args.repeats)


if __name__ == "__main__":
    main()
