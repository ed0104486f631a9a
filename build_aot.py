#!/usr/bin/env python
"""Compile neurojit's loops ahead of time into extension modules that need only NumPy.

Usage::

    python build_aot.py                 # build into neurojit/ (in place, for a source checkout)
    python build_aot.py --output DIR    # build into DIR (setup.py passes build/lib.../neurojit)
    python build_aot.py --list          # print the variants this machine would build, and stop

Every loop declared in ``neurojit/kernels`` (``signatures.LOOPS``) is exported for float32 and
float64 (``lif_run_f32``, ``lif_run_f64``, ...) with ``numba.pycc``, once per CPU variant,
each variant its own module ``neurojit._aot_<variant>`` (a module's name is fixed at build
time; two variants import side by side). On x86-64 the variants are

* ``x86_64_v3`` - LLVM CPU ``x86-64-v3`` (AVX2, FMA, BMI2, ...), used only where numpy's
  CPU feature table reports ``X86_V3``;
* ``baseline``  - generic x86-64 (SSE2), runs everywhere.

Other architectures build the baseline only. No AVX-512 variant: built as ``x86-64-v4`` and
measured against ``x86-64-v3`` on an AVX-512 EPYC (convolution, spike processing, reservoir run,
float32 and float64, 25 interleaved rounds) it ran at 0.99-1.01x the v3 module on every kernel:
LLVM keeps 256-bit vectors on these CPUs and the loops are memory bound. So it is not built,
which also avoids shipping a module that would die with SIGILL if ever dispatched wrongly.

The build also writes ``_aot_manifest.json`` next to the modules (format in
``neurojit/backends/aot.py``): the SHA-256 of the kernel source the modules were built
from, so that a stale build is never used, and the variants, best first, with the numpy
CPU features each needs and the SHA-256 of its module file (a damaged binary is never
imported). If the build fails, the manifest records ``"failed": reason``
(neurojit then warns once and uses JIT or NumPy) and the script exits 1. Under
``setup.py`` a failure does not stop the install, so that an install without a C
compiler still succeeds - unless ``NEUROJIT_REQUIRE_AOT=1`` is set (wheel builds set it).

Properties of the modules:

* the GIL is released around every kernel call (numba's ``release_gil`` flag is set
  while the exports are compiled; pycc's wrapper holds it otherwise);
* built against the NumPy C API of ``NPY_TARGET_VERSION`` (see below), so they run on
  every numpy the package accepts at run time;
* reproducible: two builds of the same source with the same toolchain give byte-identical
  modules (paths are mapped away with ``-ffile-prefix-map``; ``SOURCE_DATE_EPOCH`` is
  fixed when unset).

This script reads ``neurojit/kernels`` as a standalone package and never imports the
rest of neurojit. It is the only place that uses ``numba.pycc`` (pending deprecation in
numba): moving to numba's successor AOT tool means changing :func:`compile_variant` only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
KERNELS_DIR = ROOT / "neurojit" / "kernels"
DEFAULT_OUTPUT = ROOT / "neurojit"
MANIFEST_NAME = "_aot_manifest.json"
MODULE_PREFIX = "_aot_"
ENV_REQUIRE = "NEUROJIT_REQUIRE_AOT"
MANIFEST_FORMAT = 1

#: Oldest NumPy C API the modules may use; must match the run-time requirement
#: ``numpy>=1.22`` in pyproject.toml.
NPY_TARGET_VERSION = "NPY_1_22_API_VERSION"

#: 1980-01-01, the earliest time a wheel (zip) can record; used when SOURCE_DATE_EPOCH is unset.
DEFAULT_SOURCE_DATE_EPOCH = "315532800"

# Name under which neurojit/kernels is imported here, apart from any installed neurojit.
_KERNELS_PACKAGE = "_neurojit_aot_kernels"


@dataclass(frozen=True)
class Variant:
    """One CPU variant: a module name, the LLVM CPU it is compiled for, and the
    numpy CPU features (names in numpy's runtime table) a machine needs to run it."""

    name: str
    target_cpu: str  # LLVM CPU name; "" = the architecture's generic CPU
    cpu_features: tuple[str, ...]

    @property
    def module(self) -> str:
        return MODULE_PREFIX + self.name


X86_64_V3 = Variant("x86_64_v3", "x86-64-v3", ("X86_V3",))
BASELINE = Variant("baseline", "", ())


def variants_for(machine: str | None = None) -> list[Variant]:
    """The variants to build for ``machine`` (``platform.machine()``), best first."""
    machine = (machine or platform.machine()).lower()
    if machine in ("x86_64", "amd64"):
        return [X86_64_V3, BASELINE]
    return [BASELINE]


def load_kernels() -> tuple[ModuleType, dict]:
    """Import neurojit/kernels as a standalone package (never neurojit's ``__init__``).

    Returns the ``signatures`` module and ``{loop name: Python function}``.
    """
    if _KERNELS_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _KERNELS_PACKAGE, KERNELS_DIR / "__init__.py", submodule_search_locations=[str(KERNELS_DIR)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[_KERNELS_PACKAGE] = package
        spec.loader.exec_module(package)
    signatures = importlib.import_module(f"{_KERNELS_PACKAGE}.signatures")
    import numba

    for declaration in signatures.LOOPS.values():
        # the helpers a loop calls are compiled for inlining into it (plain Python otherwise)
        for helper in declaration.calls:
            declaration.function.__globals__[helper.__name__] = numba.njit(inline="always")(helper)
    return signatures, {name: declaration.function for name, declaration in signatures.LOOPS.items()}


def _path_prefixes() -> list[tuple[str, str]]:
    """(build path, stable label) pairs, longest path first: the folders whose names
    differ from build to build (the build environment's site-packages, the checkout)."""
    import numba
    import numpy

    prefixes = {
        Path(numba.__file__).resolve().parent.parent: "site-packages",
        Path(numpy.__file__).resolve().parent.parent: "site-packages",
        Path(sys.prefix).resolve(): "prefix",
        Path(sys.base_prefix).resolve(): "prefix",
        ROOT: "src",
        Path.cwd().resolve(): "src",
    }
    return sorted(((str(path), label) for path, label in prefixes.items()), key=lambda p: -len(p[0]))


def _map_path(path: str) -> str:
    for prefix, label in _path_prefixes():
        if path.startswith(prefix):
            return label + path[len(prefix):]
    return path


def _reproducible_cflags() -> list[str]:
    """C flags that keep build paths out of the modules (debug info, ``__FILE__``)."""
    if os.name == "nt":  # MSVC has no prefix maps; Windows builds are not claimed reproducible
        return []
    # gcc applies the last matching option and clang the first: give the longest path first
    # and last, so that both pick it.
    maps = [f"-ffile-prefix-map={prefix}={label}" for prefix, label in _path_prefixes()]
    return maps + maps[::-1]


@contextlib.contextmanager
def _pycc():
    """``numba.pycc``, with four changes undone on exit:

    * its pending-deprecation warning is silenced;
    * every export is compiled with numba's ``release_gil`` flag (pycc leaves it off: its
      wrappers would hold the GIL for the whole call);
    * every export gets its own copy of the flags: pycc passes one object to all of them, and
      inlining a helper (``inline="always"``) turns its ``enable_ssa`` off, so every later
      export was typed without SSA (``network_run`` then failed: one variable, int64 in one
      loop and uint64 in another, became float64);
    * the source locations numba embeds in error messages have build paths mapped away.
    """
    with warnings.catch_warnings():
        from numba.core.errors import NumbaPendingDeprecationWarning

        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
        from numba.pycc import CC, compiler
    from numba.core import callconv

    class ReleaseGILFlags(compiler.Flags):
        __slots__ = ()

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True

    build_excinfo_struct = callconv.CPUCallConv.build_excinfo_struct

    def build_excinfo_struct_mapped(self, exc, exc_args, loc, func_name):
        exc, exc_args, locinfo = build_excinfo_struct(self, exc, exc_args, loc, func_name)
        if locinfo is not None:
            locinfo = (locinfo[0], _map_path(locinfo[1]), locinfo[2])
        return exc, exc_args, locinfo

    compile_extra = compiler.compile_extra

    def compile_extra_own_flags(typingctx, targetctx, func, args, return_type, flags, **options):
        return compile_extra(typingctx, targetctx, func, args, return_type, flags.copy(), **options)

    flags = compiler.Flags
    compiler.Flags = ReleaseGILFlags
    compiler.compile_extra = compile_extra_own_flags
    callconv.CPUCallConv.build_excinfo_struct = build_excinfo_struct_mapped
    try:
        yield CC
    finally:
        compiler.Flags = flags
        compiler.compile_extra = compile_extra
        callconv.CPUCallConv.build_excinfo_struct = build_excinfo_struct


def compile_variant(variant: Variant, signatures: ModuleType, loops: dict, output_dir: Path) -> Path:
    """Build the module of one variant into ``output_dir``; return its path."""
    with _pycc() as CC:

        class VariantCC(CC):
            def _get_extra_cflags(self):
                return list(super()._get_extra_cflags()) + _reproducible_cflags()

            def _get_mixin_defines(self):
                return super()._get_mixin_defines() + [("NPY_TARGET_VERSION", NPY_TARGET_VERSION)]

        cc = VariantCC(variant.module, source_module=sys.modules[_KERNELS_PACKAGE])
        cc.output_dir = str(output_dir)
        cc.target_cpu = variant.target_cpu
        for loop, function in loops.items():
            for dtype in signatures.TYPE_CODES:
                cc.export(signatures.export_name(loop, dtype), signatures.signature(loop, dtype))(function)
        cc.compile()
        return output_dir / cc.output_file


#: what to install for numba.pycc, per platform (sys.platform prefix)
COMPILER_HINTS = {
    "linux": "gcc, e.g. `apt install gcc`",
    "darwin": "the Xcode command line tools, `xcode-select --install`",
    "win32": "the Microsoft C++ Build Tools (MSVC)",
}


def failure_reason(exc: BaseException) -> str:
    """One line saying why the build failed, for the manifest and the fallback warning.

    numba.pycc's own message for a missing compiler is multi-line, names ``numpy.distutils``
    (gone from numpy 2; pycc means the C compiler distutils would use) and suggests conda
    packages; it is replaced by what to install. Other errors keep their whole message on
    one line (at most 300 characters).
    """
    text = " ".join(str(exc).split())
    if isinstance(exc, RuntimeError) and "without the compiler used by" in text:
        hint = next((h for p, h in COMPILER_HINTS.items() if sys.platform.startswith(p)), "a C compiler")
        compiler = os.environ.get("CC")
        where = f" (CC={compiler!r} does not run)" if compiler else ""
        return f"no C compiler found{where}; numba.pycc needs {hint}"
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason if len(reason) <= 300 else reason[:297] + "..."


def _remove_old_modules(output_dir: Path) -> None:
    for path in output_dir.glob(f"{MODULE_PREFIX}*"):
        if path.suffix in (".so", ".pyd", ".dylib"):
            path.unlink()
    (output_dir / MANIFEST_NAME).unlink(missing_ok=True)


def _write_manifest(output_dir: Path, manifest: dict) -> Path:
    path = output_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def build(output_dir: Path = DEFAULT_OUTPUT, variants: list[Variant] | None = None, log=print) -> dict:
    """Build every variant into ``output_dir`` and write the manifest; return it.

    Raises whatever the build raised; the manifest then records ``"failed"``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH)
    _remove_old_modules(output_dir)
    manifest = {
        "format": MANIFEST_FORMAT,
        "source_digest": None,
        "build_script_digest": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "numba_version": None,
        "npy_target_version": NPY_TARGET_VERSION,
        "release_gil": True,
        "machine": platform.machine(),
        "variants": [],
        "failed": None,
    }
    try:
        signatures, loops = load_kernels()
        manifest["source_digest"] = signatures.source_digest()
        import numba

        manifest["numba_version"] = numba.__version__
        for variant in variants if variants is not None else variants_for():
            start = time.perf_counter()
            path = compile_variant(variant, signatures, loops, output_dir)
            log(f"build_aot: {variant.name:<10} {path.name}  ({time.perf_counter() - start:.1f} s)")
            manifest["variants"].append(
                {"name": variant.name, "module": variant.module, "cpu_features": list(variant.cpu_features),
                 "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}  # checked before import
            )
    except BaseException as exc:
        _remove_old_modules(output_dir)
        manifest["variants"] = []
        manifest["failed"] = failure_reason(exc)
        _write_manifest(output_dir, manifest)
        raise
    _write_manifest(output_dir, manifest)
    return manifest


def build_in_subprocess(output_dir: Path, log=print) -> bool:
    """Run this script in a fresh interpreter (numba stays out of the caller, and the hash
    seed is fixed); for installers. Returns False after a failure, which is also recorded in
    the manifest, or raises ``SystemExit`` when ``NEUROJIT_REQUIRE_AOT=1``."""
    output_dir = Path(output_dir)
    env = dict(os.environ, PYTHONHASHSEED="0")
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--output", str(output_dir)], env=env)
    if result.returncode == 0:
        return True
    manifest_path = output_dir / MANIFEST_NAME
    try:
        failed = json.loads(manifest_path.read_text()).get("failed")
    except (OSError, ValueError):
        failed = None
    if not failed:  # the build died without recording why (e.g. a crash of the compiler)
        failed = f"build_aot.py exited with status {result.returncode}"
        output_dir.mkdir(parents=True, exist_ok=True)
        _write_manifest(output_dir, {"format": MANIFEST_FORMAT, "variants": [], "failed": failed})
    log(f"build_aot: the AOT kernels were not built ({failed}); neurojit will use JIT or NumPy and say so")
    if os.environ.get(ENV_REQUIRE, "") == "1":
        raise SystemExit(f"build_aot: {ENV_REQUIRE}=1 and the AOT build failed: {failed}")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for the modules (default: neurojit/)")
    parser.add_argument("--list", action="store_true", help="print the variants to build and exit")
    args = parser.parse_args(argv)
    if args.list:
        for variant in variants_for():
            print(variant.name, variant.target_cpu or "generic", " ".join(variant.cpu_features))
        return 0
    if os.environ.get("PYTHONHASHSEED") != "0":
        # numba names some constants by hash(); a fixed seed makes the modules reproducible.
        env = dict(os.environ, PYTHONHASHSEED="0")
        argv = sys.argv[1:] if argv is None else argv
        return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], env=env).returncode
    try:
        build(args.output)
    except Exception as exc:
        traceback.print_exc()
        print(f"build_aot: failed: {failure_reason(exc)} ({args.output / MANIFEST_NAME} records why)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
