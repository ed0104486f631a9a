"""Loader for the ahead-of-time compiled loops built by ``build_aot.py``.

The build writes one extension module per CPU variant (``neurojit._aot_<variant>``), each
exporting every loop of :data:`neurojit.kernels.signatures.LOOPS` for float32 and float64
(``lif_run_f32``, ...) with the GIL released during the call, and a manifest,
``neurojit/_aot_manifest.json``::

    {"format": 1,
     "source_digest": "<sha256 of the kernel source, signatures.source_digest()>",
     "numba_version": "0.68.1", "npy_target_version": "NPY_1_22_API_VERSION",
     "release_gil": true, "machine": "x86_64",
     "variants": [{"name": "x86_64_v3", "module": "_aot_x86_64_v3", "cpu_features": ["X86_V3"],
                   "sha256": "<sha256 of the module file>"},
                  {"name": "baseline", "module": "_aot_baseline", "cpu_features": [],
                   "sha256": "..."}],     # best first
     "failed": null}                      # or the reason the build could not compile

At the first kernel, the loader picks the one named by ``NEUROJIT_AOT_VARIANT`` (a name that
is not built, or a variant this CPU cannot run, warns and is ignored), or else the best variant all of whose ``cpu_features``
are reported present by numpy's runtime CPU feature table (a name the table does not have
counts as absent, so a module the CPU might not run is never chosen). numpy < 2.4 has no
``X86_V3`` entry: there it is inferred from the parts of x86-64-v3 the table lists (AVX2,
FMA3, F16C, ...) plus those it does not (BMI1/2, LZCNT, MOVBE, XSAVE) read from
``/proc/cpuinfo``; where that file is missing the baseline is used. A binary built from other kernel source than
the installed one is never used.

A damaged install must not take the process down: a manifest of the wrong shape is
reported, never half-read, and the chosen module's file is hashed and compared with the
manifest's ``sha256`` before it is imported (a binary whose code was damaged can crash at
import, before any Python check could run). Either problem is one warning and the next
backend. Importing this module imports neither numba nor the extensions.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from typing import Callable

from .._version import DISTRIBUTION, __version__
from .._warnings import warn_from_caller
from ..kernels import signatures

NAME = "aot"
ENV_VARIANT = "NEUROJIT_AOT_VARIANT"
#: path of the manifest (a str; os.path rather than pathlib keeps ``import neurojit`` cheap)
MANIFEST = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "_aot_manifest.json")
MANIFEST_FORMAT = 1
BUILD_HINT = f"build it with `python build_aot.py` in a source checkout, or install a wheel: `pip install {DISTRIBUTION}`"
#: rebuilds a source install from its sdist: without --no-cache-dir pip reuses the wheel it built
#: (without AOT modules) the first time, and --no-binary keeps it from taking any other wheel
REBUILD_COMMAND = f"pip install --no-cache-dir --force-reinstall --no-binary {DISTRIBUTION} --no-deps {DISTRIBUTION}=={__version__}"


#: x86-64-v3 as far as numpy < 2.4's feature table names it ...
V3_IN_NUMPY = {"SSE3", "SSSE3", "SSE41", "SSE42", "POPCNT", "AVX", "AVX2", "FMA3", "F16C"}
#: ... and the rest, as Linux names them in /proc/cpuinfo (``abm`` is LZCNT)
V3_IN_CPUINFO = {"cx16", "lahf_lm", "bmi1", "bmi2", "abm", "movbe", "xsave"}
CPUINFO = "/proc/cpuinfo"


def _numpy_cpu_table() -> dict[str, bool]:
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return __cpu_features__


def _cpuinfo_flags() -> set[str]:
    """The first processor's flags in /proc/cpuinfo; empty where there is no such file."""
    try:
        with open(CPUINFO, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def cpu_features() -> set[str]:
    """Names of the CPU features this machine supports, from numpy's runtime dispatch table
    (``X86_V3`` inferred on numpy < 2.4, whose table lacks it; see the module docstring)."""
    table = _numpy_cpu_table()
    have = {name for name, present in table.items() if present}
    if "X86_V3" not in table and V3_IN_NUMPY <= have and V3_IN_CPUINFO <= _cpuinfo_flags():
        have.add("X86_V3")
    return have


class AOTBackend:
    """Calls the exported loops of one compiled variant."""

    name = NAME
    native = True

    def __init__(self, module, variant: str):
        self.module = module
        self.variant = variant

    def loop(self, loop: str, dtype: str) -> Callable:
        return getattr(self.module, signatures.export_name(loop, dtype))

    def has(self, loop: str) -> bool:
        return all(hasattr(self.module, signatures.export_name(loop, d)) for d in signatures.TYPE_CODES)


@dataclass(frozen=True)
class AOTStatus:
    """Outcome of looking for the AOT build.

    ``backend`` is None when unavailable; ``reason`` says why (or which variant was
    chosen and why); ``problem`` is True when something is broken rather than absent.
    """

    backend: AOTBackend | None
    reason: str
    problem: bool = False


def _choose_variant(variants: list[dict]) -> tuple[dict | None, str]:
    """The variant to load and why. A ``NEUROJIT_AOT_VARIANT`` that names no built variant, or
    one this CPU cannot run, warns (``RuntimeWarning``) and the best variant is used instead."""
    forced = os.environ.get(ENV_VARIANT, "").strip()
    names = [v["name"] for v in variants]
    have = cpu_features()
    problem = ""
    if forced:
        chosen = next((v for v in variants if v["name"] == forced), None)
        if chosen is None:
            problem = f"is not a built variant (built: {', '.join(names)})"
        else:
            missing = set(chosen.get("cpu_features", [])) - have
            if not missing:
                return chosen, f"forced by {ENV_VARIANT}"
            problem = f"needs CPU features this machine lacks ({', '.join(sorted(missing))})"
    best = next((v for v in variants if set(v.get("cpu_features", [])) <= have), None)  # best first
    ignored = ""
    if problem:
        instead = f"using the best variant this CPU supports, {best['name']}" if best else "no variant runs here"
        warn_from_caller(f"neurojit: {ENV_VARIANT}={forced!r} {problem}; {instead}", RuntimeWarning)
        ignored = f"; {ENV_VARIANT}={forced!r} ignored: it {problem}"
    if best is None:
        return None, f"this CPU supports none of the built variants ({', '.join(names)}){ignored}"
    return best, f"best variant this CPU supports{ignored}"


_MODULE_NAME = re.compile(r"^_aot_[A-Za-z0-9_]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _manifest_problem(manifest) -> str | None:
    """What is wrong with the shape of a parsed manifest, or None if it is well formed."""
    if not isinstance(manifest, dict):
        return f"it holds a JSON {type(manifest).__name__}, not an object"
    failed = manifest.get("failed")
    if failed is not None and not isinstance(failed, str):
        return f'"failed" is a {type(failed).__name__}, not a string or null'
    if failed:
        return None  # a failed build records only why; nothing else is read
    if not isinstance(manifest.get("format", MANIFEST_FORMAT), int):
        return f'"format" is {manifest.get("format")!r}, not an integer'
    if manifest.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
        return None  # another format: reported as such, its fields are not read
    if not isinstance(manifest.get("source_digest"), str):
        return '"source_digest" is missing or not a string'
    variants = manifest.get("variants")
    if not isinstance(variants, list) or not variants:
        return f'"variants" is {type(variants).__name__ if variants is not None else "missing"}, not a non-empty list'
    for i, variant in enumerate(variants):
        if not isinstance(variant, dict):
            return f"variant {i} is a {type(variant).__name__}, not an object"
        if not isinstance(variant.get("name"), str):
            return f'variant {i} has no "name" string'
        if not isinstance(variant.get("module"), str) or not _MODULE_NAME.match(variant["module"]):
            return f'variant {variant["name"]!r} has no "module" named _aot_<variant>'
        features = variant.get("cpu_features", [])
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            return f'variant {variant["name"]!r} has a "cpu_features" that is not a list of strings'
        if not isinstance(variant.get("sha256"), str) or not _SHA256.match(variant["sha256"]):
            return f'variant {variant["name"]!r} has no "sha256" of its module (built by an older build_aot.py?)'
    return None


def _file_sha256(path: str) -> str:
    sha = signatures.sha256()  # the interpreter's own SHA-256 (no OpenSSL to load)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _import_checked(variant: dict):
    """Import the module of ``variant`` after checking its file against the manifest's digest.

    Returns ``(module, None)`` or ``(None, why not)``.
    """
    name = f"{__package__.rpartition('.')[0]}.{variant['module']}"
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        spec, error = None, exc
    else:
        error = None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None, f"the AOT module {variant['module']} does not import ({error or 'no such module'}); {BUILD_HINT}"
    try:
        digest = _file_sha256(spec.origin)
    except OSError as exc:
        return None, f"the AOT module {spec.origin} is unreadable ({exc}); {BUILD_HINT}"
    if digest != variant["sha256"]:
        return None, (
            f"the AOT module {spec.origin} is damaged or was replaced: its SHA-256 does not match the "
            f"manifest, so it was not loaded; reinstall neurojit, or {BUILD_HINT}"
        )
    try:
        return importlib.import_module(name), None
    except ImportError as exc:
        return None, f"the AOT module {variant['module']} does not import ({exc}); {BUILD_HINT}"


def load() -> AOTStatus:
    """Find, check and import the best AOT variant for this machine."""
    try:
        with open(MANIFEST, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        return AOTStatus(None, f"AOT kernels are not built in this install; {BUILD_HINT}")
    except (OSError, ValueError) as exc:
        return AOTStatus(None, f"the AOT manifest {MANIFEST} is unreadable ({exc}); {BUILD_HINT}", True)
    problem = _manifest_problem(manifest)
    if problem is not None:
        return AOTStatus(None, f"the AOT manifest {MANIFEST} is malformed ({problem}); {BUILD_HINT}", True)
    if manifest.get("failed"):
        return AOTStatus(
            None,
            f"the AOT build of this install failed ({manifest['failed']}); after installing a C compiler, "
            f"rebuild with `{REBUILD_COMMAND}` (in a source checkout: `python build_aot.py`)",
            True,
        )
    if manifest.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
        return AOTStatus(
            None, f"the AOT manifest {MANIFEST} has format {manifest.get('format')!r}, not {MANIFEST_FORMAT}; {BUILD_HINT}", True
        )
    if manifest.get("source_digest") != signatures.source_digest():
        return AOTStatus(
            None,
            "the AOT binaries were built from other kernel source than the installed one "
            f"(stale build, e.g. an editable install after a kernel edit); rebuild: {BUILD_HINT}",
            True,
        )
    variant, why = _choose_variant(manifest["variants"])
    if variant is None:
        return AOTStatus(None, why, True)
    module, error = _import_checked(variant)
    if module is None:
        return AOTStatus(None, error, True)
    backend = AOTBackend(module, variant["name"])
    missing = [loop for loop in signatures.LOOPS if not backend.has(loop)]
    if missing:
        return AOTStatus(None, f"the AOT module {variant['module']} lacks {', '.join(missing)}; {BUILD_HINT}", True)
    return AOTStatus(backend, f"variant {variant['name']} ({why})")
