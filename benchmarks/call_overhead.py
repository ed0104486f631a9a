"""Cost of small kernel calls against the NumPy expression a user would write instead.

Three ratios (issue #8 goals), each the median of interleaved rounds in one process:

* ``reservoir_update`` with N = 100, B = 1, float64, unbound: at most 1.0x the NumPy
  expression ``(1 - a) * x + a * np.tanh(x @ W + u @ Win)``;
* the same step bound (``kernel.bind(input_weights=Win, reservoir_weights=W, leak_rate=a)``,
  then ``step(x, u)``): at most 0.5x;
* ``matrix_multiply`` 16 x 16 (dense, float64): at most 2x ``numpy.matmul``.

NumPy runs with its best BLAS kernel: ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are
removed from this process's environment before numpy loads (never in tests or CI), and
the BLAS measured against is printed.

Usage::

    python benchmarks/call_overhead.py [--rounds 2000] [--backend auto|aot|jit|python] [--json]
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # before numpy is imported
    os.environ.pop(_variable, None)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurojit import JITCompiler, JITConfig  # noqa: E402
from neurojit.bench import blas_description  # noqa: E402

GOALS = {"reservoir_update": 1.0, "reservoir_update bound": 0.5, "matrix_multiply 16x16": 2.0}


def per_call(functions: dict, rounds: int, calls: int = 20) -> dict[str, float]:
    """Median seconds per call of each zero-argument function, in interleaved rounds of ``calls`` calls."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls):
                function()
            times[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--backend", default="auto", choices=["auto", "aot", "jit", "python"])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    compiler = JITCompiler(JITConfig(backend=args.backend))
    rng = np.random.default_rng(0)
    n, a = 100, 0.3
    x = np.tanh(rng.standard_normal((1, n)))
    u = rng.random((1, 1))
    w_in = rng.uniform(-1, 1, (1, n))
    w = rng.standard_normal((n, n)) * (0.9 / np.sqrt(n))
    update = compiler.compile_reservoir_update_kernel()
    step = update.bind(input_weights=w_in, reservoir_weights=w, leak_rate=a) if hasattr(update, "bind") else (lambda x, u: update(x, w_in, w, u, a))
    expected = (1 - a) * x + a * np.tanh(x @ w + u @ w_in)
    np.testing.assert_allclose(update(x, w_in, w, u, a), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(step(x, u), update(x, w_in, w, u, a))

    m = rng.standard_normal((16, 16))
    matmul = compiler.compile_matrix_multiply_kernel()
    np.testing.assert_allclose(matmul(m, m), m @ m, rtol=1e-12)

    medians = per_call(
        {
            "numpy expression": lambda: (1 - a) * x + a * np.tanh(x @ w + u @ w_in),
            "reservoir_update": lambda: update(x, w_in, w, u, a),
            "reservoir_update bound": lambda: step(x, u),
            "numpy.matmul": lambda: np.matmul(m, m),
            "matrix_multiply 16x16": lambda: matmul(m, m),
        },
        args.rounds,
    )
    ratios = {
        "reservoir_update": medians["reservoir_update"] / medians["numpy expression"],
        "reservoir_update bound": medians["reservoir_update bound"] / medians["numpy expression"],
        "matrix_multiply 16x16": medians["matrix_multiply 16x16"] / medians["numpy.matmul"],
    }
    result = {
        "backend": update.backend,
        "blas": blas_description(),
        "microseconds": {k: v * 1e6 for k, v in medians.items()},
        "ratios": ratios,
        "goals": GOALS,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"backend: {update.backend}; NumPy BLAS: {result['blas']}")
    for name, seconds in medians.items():
        print(f"  {name:<24} {seconds * 1e6:8.2f} us")
    for name, ratio in ratios.items():
        verdict = "met" if ratio <= GOALS[name] else "missed"
        print(f"  {name:<24} {ratio:5.2f}x the NumPy call (goal <= {GOALS[name]}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
