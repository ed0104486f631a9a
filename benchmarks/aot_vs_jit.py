"""Steady state: every AOT variant against numba JIT, kernel by kernel, at large sizes.

    python benchmarks/aot_vs_jit.py [--repeats 21] [--dtype float32 float64] [--size 1000]

Needs numba (for the JIT side) and an AOT build (``python build_aot.py``). Both sides run
the same loop source on the same arrays, single-threaded (the AOT exports are serial, so
the JIT loops are compiled with ``parallel=False``; neither uses fastmath), through the
same kernel front (``neurojit.kernel.kernel_on``) with inputs made from the kernels'
declarations (``neurojit.bench.make_inputs``), so a change of a loop's arguments cannot
break this script. Prints the median time per call and the ratio AOT / JIT per kernel and
variant; the goal (issue #3) is <= 1.05 for the best variant this CPU runs.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # numpy at full speed (dense matmul is BLAS)
    os.environ.pop(_variable, None)

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from neurojit import bench  # noqa: E402
from neurojit.backends import jit as jit_backend  # noqa: E402
from neurojit.kernel import kernel_on  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--size", type=int, default=1000, help="neurons (default 1000)")
    parser.add_argument("--steps", type=int, default=500, help="time steps of the sequence kernels (default 500)")
    parser.add_argument("--batch", type=int, default=4, help="batch rows (default 4)")
    args = parser.parse_args(argv)
    if min(args.repeats, args.size, args.steps, args.batch) < 1:
        parser.error("--repeats, --size, --steps and --batch must be at least 1")
    if not jit_backend.NUMBA_AVAILABLE:
        sys.exit("numba is not installed: the JIT side cannot run")
    variants = {label: b for label, b in bench.contenders(include_python=False, threads=False).items()
                if label.startswith("aot-")}
    if not variants:
        sys.exit("no current AOT build: run `python build_aot.py`")
    jit = jit_backend.JITBackend(fastmath=False, parallel=False, cache_directory=None)
    rng = np.random.default_rng(0)
    names = list(variants)
    print(f"NumPy BLAS: {bench.blas_description()}")
    print(f"steady state, median of {args.repeats} calls, serial; ratio = AOT variant / JIT (best first: {names[0]})")
    print(f"{'kernel':<18} {'dtype':<8} {'JIT ms':>8} " + " ".join(f"{n + ' ms':>22} {'ratio':>6}" for n in names))
    worst = 0.0
    for kernel in bench.PUBLIC_KERNELS:
        for dtype in args.dtype:
            inputs = bench.make_inputs(kernel, args.size, rng, np.dtype(dtype), 0.1, batch=args.batch, steps=args.steps)
            calls = {"jit": kernel_on(jit, kernel), **{n: kernel_on(b, kernel) for n, b in variants.items()}}
            expected = calls["jit"](**inputs)
            for name in names:
                np.testing.assert_allclose(calls[name](**inputs), expected, rtol=1e-5, atol=1e-6)
            medians = bench.interleaved_medians({n: (lambda c=c: c(**inputs)) for n, c in calls.items()}, args.repeats)
            row = f"{kernel:<18} {dtype:<8} {medians['jit'] * 1e3:8.2f} "
            for name in names:
                row += f"{medians[name] * 1e3:22.2f} {medians[name] / medians['jit']:6.2f} "
            worst = max(worst, medians[names[0]] / medians["jit"])
            print(row)
    print(f"worst best-variant / JIT ratio: {worst:.2f} (goal <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
