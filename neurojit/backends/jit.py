"""On-demand compilation of the loop source with ``numba.njit``.

Each (loop, dtype) is compiled on first use, once, under a lock, with the explicit
signature from :mod:`neurojit.kernels.signatures` and the options of the
:class:`~neurojit.config.JITConfig` (fastmath, parallel loops, disk cache).

For parallel loops the loop's ``prange`` global is rebound to ``numba.prange`` in a
private copy of the function; the loop modules themselves are never changed. The disk
cache is neurojit's own (:mod:`neurojit.cache`), keyed by the options, so a serial and
a parallel compile never overwrite each other (numba#6845).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import types
from typing import Callable

from ..cache import attach_disk_cache
from ..kernels import signatures

NAME = "jit"
logger = logging.getLogger("neurojit")

try:  # numba is optional (the ``jit`` extra)
    import numba

    NUMBA_AVAILABLE = True
    NUMBA_VERSION: str | None = numba.__version__
    IMPORT_ERROR: str | None = None
except ImportError as exc:  # ModuleNotFoundError, or a broken install (e.g. llvmlite mismatch)
    numba = None
    NUMBA_AVAILABLE = False
    NUMBA_VERSION = None
    IMPORT_ERROR = f"{type(exc).__name__}: {exc}"


class JITCompileError(RuntimeError):
    """numba failed to compile a loop."""


def _loop_source(loop: str) -> Callable:
    module_name, _ = signatures.LOOPS[loop]
    module = importlib.import_module(f"..kernels.{module_name}", __package__)
    return getattr(module, loop)


def options_tag(fastmath: bool, parallel: bool) -> str:
    """Short text naming the compile options, part of every cache key."""
    return f"{'parallel' if parallel else 'serial'}-{'fastmath' if fastmath else 'ieee'}"


class JITBackend:
    """Compiles loops on demand with fixed options and remembers the results.

    Parameters
    ----------
    fastmath, parallel : bool
        numba's ``fastmath`` and ``parallel`` options.
    cache_directory : str or None
        Folder for the persistent cache, or ``None`` for no disk cache.
    """

    name = NAME

    def __init__(self, *, fastmath: bool, parallel: bool, cache_directory: str | None):
        if not NUMBA_AVAILABLE:
            raise RuntimeError(f"numba is not available ({IMPORT_ERROR})")
        self.fastmath = fastmath
        self.parallel = parallel
        self.cache_directory = cache_directory
        self.tag = options_tag(fastmath, parallel)
        self._compiled: dict[tuple[str, str], Callable] = {}
        self.compilation_times: dict[str, float] = {}
        self._lock = threading.Lock()

    def loop(self, loop: str, dtype: str) -> Callable:
        """The compiled ``loop`` for ``dtype``, compiling it (or loading it from disk) on first use."""
        key = (loop, dtype)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = self._compile(loop, dtype)
                    self._compiled[key] = compiled
        return compiled

    def _compile(self, loop: str, dtype: str) -> Callable:
        source = _loop_source(loop)
        # A private copy whose globals see numba.prange; the qualname carries the
        # options so that numba's cache files of different options never collide.
        func = types.FunctionType(
            source.__code__, dict(source.__globals__, prange=numba.prange), source.__name__
        )
        func.__qualname__ = f"{source.__qualname__}-{self.tag}"
        func.__module__ = source.__module__
        # Only loops that have a prange are compiled parallel (others would warn and gain nothing).
        parallel = self.parallel and "prange" in source.__code__.co_names
        dispatcher = numba.njit(fastmath=self.fastmath, parallel=parallel)(func)
        cached = self.cache_directory is not None and attach_disk_cache(
            dispatcher, func, source, self.cache_directory, self.tag
        )
        start = time.perf_counter()
        try:
            dispatcher.compile(signatures.signature(loop, dtype))
        except Exception as exc:  # numba raises many types; all mean "no compiled loop"
            raise JITCompileError(f"numba could not compile {loop} for {dtype}: {exc}") from exc
        # Validated callers always match the signature; anything else must fail, not recompile.
        dispatcher.disable_compile()
        elapsed = time.perf_counter() - start
        name = f"{loop}[{dtype}]"
        self.compilation_times[name] = self.compilation_times.get(name, 0.0) + elapsed
        logger.debug(
            "compiled %s (%s, disk cache %s) in %.3f s", name, self.tag, "on" if cached else "off", elapsed
        )
        return dispatcher

    def compiled_functions(self) -> list[str]:
        """Names of the loops compiled so far, as ``loop[dtype]``."""
        return sorted(f"{loop}[{dtype}]" for loop, dtype in self._compiled)

    def clear(self) -> None:
        """Forget every compiled loop (they are compiled or loaded again on next use)."""
        with self._lock:
            self._compiled.clear()
            self.compilation_times.clear()
