"""Command line: ``neurojit info``, ``neurojit demo`` (also ``python -m neurojit ...``)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _info(args: argparse.Namespace) -> int:
    from . import JITCompiler, __version__
    from .backends import aot

    compiler = JITCompiler()
    info = compiler.get_jit_info()
    print(f"neurojit {__version__}")
    print(f"numba: {info['numba_version'] or 'not available'}"
          + (f" ({info['numba_import_error']})" if info["numba_import_error"] else ""))
    print(f"AOT: {info['aot_variant'] or 'not available'} - {info['aot_status']}")
    print(f"CPU features: {', '.join(sorted(aot.cpu_features()))}")
    print(f"cache folder: {info['cache_directory'] or 'none'} ({info['cache_size_bytes']} bytes of neurojit files)")
    print(f"backend setting: {info['backend']}")
    print("kernels:")
    for name, kernel in info["kernels"].items():
        print(f"  {name:<17} {kernel['backend']:<6} {kernel['reason']}")
    for note in info["options_not_honoured"]:
        print(f"note: {note}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .models.demo import run_demo

    run_demo(quick=args.quick, plot=args.plot, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurojit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="backend of each kernel and why, AOT variant, numba version, cache folder").set_defaults(
        run=_info
    )
    demo = commands.add_parser("demo", help="train and score an ESN on NARMA-10 and an LSM on spike patterns")
    demo.add_argument("--plot", metavar="FILE.png", help="draw prediction vs target and a spike raster (needs matplotlib)")
    demo.add_argument("--quick", action="store_true", help="smaller models and data (a few seconds)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
