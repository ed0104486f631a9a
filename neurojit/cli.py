"""Command line: ``neurojit info`` (also ``python -m neurojit info``)."""

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurojit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="backend of each kernel and why, AOT variant, numba version, cache folder").set_defaults(
        run=_info
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
