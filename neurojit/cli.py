"""Command line: ``neurojit info``, ``neurojit bench``, ``neurojit demo`` (also ``python -m neurojit ...``)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Sequence

import numpy as np


def _info(args: argparse.Namespace) -> int:
    import warnings

    from . import FallbackWarning, JITCompiler, __version__
    from ._version import DISTRIBUTION
    from .backends import aot, select

    with warnings.catch_warnings():  # the fallback warning would repeat what is printed below
        warnings.simplefilter("ignore", FallbackWarning)
        compiler = JITCompiler()
        info = compiler.get_jit_info()
    print(f"neurojit {__version__} (distribution {DISTRIBUTION})")
    numba_line = f"numba: {info['numba_version'] or 'not available'}"
    print(numba_line + (f" ({info['numba_import_error']}); {select.JIT_HINT}" if info["numba_import_error"] else ""))
    print(f"AOT: {info['aot_variant'] or 'not available'} - {info['aot_status']}")
    print(f"CPU features: {', '.join(sorted(aot.cpu_features()))}")
    print(f"cache folder: {info['cache_directory'] or 'none'} ({info['cache_size_bytes']} bytes of neurojit files)")
    print(f"backend setting: {info['backend']}")
    print("kernels:")
    # the AOT and numba reasons are printed once above; each kernel line refers to them
    said = [(info["aot_status"], "see AOT above")]
    if info["numba_import_error"]:
        said.append((f"numba is not usable ({info['numba_import_error']}); {select.JIT_HINT}", "see numba above"))
    for name, kernel in info["kernels"].items():
        reason = kernel["reason"]
        for text, short in said:
            reason = reason.replace(text, short) if text else reason
        print(f"  {name:<17} {kernel['backend']:<6} {reason}")
    for note in info["options_not_honoured"]:
        print(f"note: {note}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.stdp:
        from .models.stdp import run_stdp_demo

        seconds = args.seconds if args.seconds is not None else (QUICK_STDP_SECONDS if args.quick else 100.0)
        run_stdp_demo(seconds=seconds, plot=args.plot, seed=args.seed)
        return 0
    from .models.demo import run_demo

    run_demo(quick=args.quick, plot=args.plot, seed=args.seed)
    return 0


#: network time of ``neurojit demo --stdp --quick`` (the full run: 100 s)
QUICK_STDP_SECONDS = 20.0


def _bench(args: argparse.Namespace) -> int:
    from . import bench
    from .models.demo import _progress

    grid = bench.QUICK_GRID if args.quick else bench.GRID
    if args.kernel:
        grid = {k: v for k, v in grid.items() if k in args.kernel}
    cases = sum(len(sizes) * len(densities) for sizes, densities in grid.values())
    bar = _progress(cases, "bench")

    def progress(items):
        for item in items:
            bar.set_postfix_str(f"{item[0]} n={item[1]} p={item[2]:g}")
            yield item
            bar.update(1)

    rows = bench.run_grid(grid, repeats=args.repeats, batch=args.batch, steps=args.steps,
                          dtype=np.dtype(args.dtype), progress=progress, settle_threads=not args.no_settle)
    bar.close()
    blas = bench.blas_description()
    print(f"NumPy measured with {blas}")
    slowed = [name for name in SLOWING_VARIABLES if name in os.environ]
    if slowed:
        print(f"note: {', '.join(slowed)} set in this process: NumPy's BLAS may run below full speed "
              "(`neurojit bench` from the command line unsets them)")
    print("each call timed after this process's other threads went idle (BLAS workers spin after a call), "
          "a short one after 5 ms of untimed calls of its own"
          if not args.no_settle else "calls timed back to back (--no-settle)")
    print(bench.format_rows(rows))
    meta = dict(repeats=args.repeats, batch=args.batch, steps=args.steps, dtype=args.dtype, blas=blas,
                settle=not args.no_settle)
    if args.json:
        with open(args.json, "w") as f:
            f.write(bench.rows_to_json(rows, **meta))
        print(f"wrote {args.json}")
    if args.plot:
        bench.plot_rows(rows, args.plot, **meta)
        print(f"wrote {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurojit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="backend of each kernel and why, AOT variant, numba version, cache folder").set_defaults(
        run=_info
    )
    demo = commands.add_parser(
        "demo", help="train and score an ESN on NARMA-10 and an LSM on spike patterns; --stdp: Brian2's STDP example",
        description="Train and score an ESN on NARMA-10 and an LSM on spike patterns; or, with --stdp, run "
                    "Brian2's STDP example (Song, Miller & Abbott 2000: 1000 Poisson inputs -> 1 LIF neuron, 100 s) "
                    "and print the bimodal histogram of the final weights (--plot draws it).")
    demo.add_argument("--plot", metavar="FILE.png",
                      help="draw prediction vs target and a spike raster; with --stdp the weights, their histogram "
                           "and the output rate (needs matplotlib)")
    demo.add_argument("--quick", action="store_true",
                      help=f"smaller models and data (a few seconds); with --stdp {QUICK_STDP_SECONDS:g} s of network time")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    demo.add_argument("--stdp", action="store_true",
                      help="Brian2's STDP example instead: the final weight histogram (text, or --plot)")
    demo.add_argument("--seconds", type=float, metavar="S",
                      help="with --stdp: network time in seconds (default 100; --quick: "
                           f"{QUICK_STDP_SECONDS:g})")
    demo.set_defaults(run=_demo)
    bench = commands.add_parser("bench", help="every kernel on every backend and AOT variant vs the best NumPy code")
    bench.add_argument("--quick", action="store_true", help="one small size per kernel (seconds)")
    from .operations import KERNELS

    public = [name for name, spec in KERNELS.items() if spec.public]
    bench.add_argument("--kernel", action="append", choices=public, help="only this kernel (repeatable)")
    bench.add_argument("--repeats", type=int, default=5, help="interleaved runs per case; medians are reported")
    bench.add_argument("--batch", type=int, default=8, help="batch rows of the sequence kernels (default 8)")
    bench.add_argument("--steps", type=int, default=1000, help="time steps of the sequence kernels (default 1000)")
    bench.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    bench.add_argument("--no-settle", action="store_true",
                       help="time each call right after the previous contender's, without first letting this "
                            "process's threads go idle (NumPy's BLAS workers spin ~0.1 s after each call, on the "
                            "cores the next contender needs)")
    bench.add_argument("--json", metavar="FILE.json", help="write every row to this file")
    bench.add_argument("--plot", metavar="FILE.png", help="draw speedup vs size and density (needs matplotlib)")
    bench.set_defaults(run=_bench)
    return parser


def _argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the parsed arguments, checked before any work starts (None if nothing)."""
    import importlib.util

    from ._version import DISTRIBUTION

    for name in ("repeats", "batch", "steps"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            return f"argument --{name}: must be a positive integer, got {value}"
    seconds = getattr(args, "seconds", None)
    if seconds is not None:
        if not args.stdp:
            return "argument --seconds: only with --stdp (the network time of the STDP example)"
        if args.quick:
            return "argument --seconds: not with --quick (--quick is a shorter --seconds)"
        if not (math.isfinite(seconds) and seconds > 0):
            return f"argument --seconds: must be a positive number of seconds, got {seconds:g}"
        from .models.stdp import SONG2000

        if round(seconds / SONG2000["dt"]) < 1:
            return f"argument --seconds: must be at least one step of the example ({SONG2000['dt']:g} s), got {seconds:g}"
    if getattr(args, "seed", None) is not None and args.seed < 0:
        return f"argument --seed: must be >= 0 (numpy's generators take no negative seed), got {args.seed}"
    if getattr(args, "plot", None) and importlib.util.find_spec("matplotlib") is None:
        return f"argument --plot: needs matplotlib, which is not installed: pip install '{DISTRIBUTION}[plot]'"
    return None


#: environment variables set on some machines for old OpenBLAS builds; they slow a current
#: numpy's BLAS, so the NumPy baselines of ``neurojit bench`` run without them
SLOWING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.command == "bench" and any(name in os.environ for name in SLOWING_VARIABLES):
        # numpy (and its BLAS) is loaded already: run the benchmark in a process without them
        env = {k: v for k, v in os.environ.items() if k not in SLOWING_VARIABLES}
        os.execve(sys.executable, [sys.executable, "-m", "neurojit", *sys.argv[1:]], env)
    problem = _argument_problem(args)
    if problem:
        parser.exit(2, f"{parser.prog} {args.command}: error: {problem}\n")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
