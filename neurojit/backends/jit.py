"""On-demand compilation of the loop source with ``numba.njit``.

Each (loop, dtype) is compiled on first use, exactly once per backend even when many
threads ask at the same moment (one lock per loop and dtype), with the explicit
signature from :mod:`neurojit.kernels.signatures` and the options of the
:class:`~neurojit.config.JITConfig` (fastmath, parallel loops, disk cache). Compiled
loops release the GIL (``nogil=True``).

For parallel loops the loop's ``prange`` global is rebound to ``numba.prange`` and its
``PARALLEL`` global to True in a private copy of the function (numba freezes globals as
constants, so the unused path is compiled away); the loop modules are never changed.

The disk cache is neurojit's own (files and layout in :mod:`neurojit.cache`), plugged
into numba's dispatcher in place of numba's ``cache=True`` machinery: no locator, so
nothing can fail when a function is decorated; one file per loop, dtype and options, so
a serial and a parallel compile never share an entry (numba#6845); a key hashing the
source file, the code object and the globals it reads, so an edit never loads stale
code; checksummed, atomically renamed files, so corrupt files are detected and several
processes can fill one folder at once.

Thread safety of parallel loops: numba's ``workqueue`` threading layer aborts the whole
process when two threads launch parallel loops at the same time. When that layer is the
one in use, neurojit serialises the launches of its own parallel loops with one lock;
numba's settings are never changed.

Fork safety of parallel loops: a process forked after numba's threading layer has started
(GNU OpenMP kills such a child at its first parallel launch, and no layer's worker threads
survive a fork) never launches a parallel loop. There each parallel loop runs its serial
compile instead (compiled or loaded from the disk cache on first use in that process),
which gives the same numbers.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Callable, Iterable

from .. import cache
from ..errors import JITCompileError
from ..kernels import signatures

NAME = "jit"
logger = logging.getLogger("neurojit")

try:  # numba is optional (the ``jit`` extra)
    import numba

    NUMBA_AVAILABLE = True
    NUMBA_VERSION: str | None = numba.__version__
    IMPORT_ERROR: str | None = None
except Exception as exc:  # ModuleNotFoundError, or a broken install (llvmlite mismatch, a failing initialiser)
    numba = None
    NUMBA_AVAILABLE = False
    NUMBA_VERSION = None
    IMPORT_ERROR = f"{type(exc).__name__}: {exc}"

DTYPES = ("float32", "float64")

#: Seconds for a worker process to start and import numba before it compiles anything.
_WORKER_STARTUP = 0.6

#: Longest a warm-up worker process may take, seconds.
WORKER_TIMEOUT = 600.0


def _loop_source(loop: str) -> Callable:
    return signatures.LOOPS[loop].function


_inlined_functions: dict[tuple[Callable, bool], Callable] = {}


def _inlined(function: Callable, fastmath: bool, helpers: tuple[Callable, ...]) -> Callable:
    """``function`` (a helper a loop calls) as a numba function inlined into its callers.

    In a private copy of its globals, a helper that reads a ``FASTMATH`` global sees
    ``fastmath`` there, and the other ``helpers`` of the loop that it calls are their
    inlined forms (a helper may call helpers; the loop declares them all in ``calls``).
    """
    key = (function, fastmath)
    compiled = _inlined_functions.get(key)
    if compiled is None:
        names = function.__code__.co_names
        callees = {h.__name__: _inlined(h, fastmath, helpers) for h in helpers
                   if h is not function and h.__name__ in names}
        if "FASTMATH" in names or callees:
            function = types.FunctionType(function.__code__, dict(function.__globals__, FASTMATH=fastmath, **callees),
                                          function.__name__, function.__defaults__)
        compiled = _inlined_functions.setdefault(key, numba.njit(inline="always")(function))
    return compiled


def options_tag(fastmath: bool, parallel: bool) -> str:
    """Short text naming the compile options, part of every cache key."""
    return f"{'parallel' if parallel else 'serial'}-{'fastmath' if fastmath else 'ieee'}"


# -- cache keys --------------------------------------------------------------------------


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def code_fingerprint(func: Callable) -> str:
    """Hash of what a compile of ``func`` reads: its bytecode, constants, names and the
    values of the simple (number, string, bool) globals it uses.

    Unlike the file hash, it describes the code actually loaded in this process, so an
    entry is never saved under a key that belongs to an edited file the process has not
    re-imported.
    """
    sha = hashlib.sha256()
    names: set[str] = set()

    def visit(code: types.CodeType) -> None:
        sha.update(code.co_code)
        sha.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)).encode())
        names.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                visit(const)
            elif isinstance(const, frozenset):
                sha.update(repr(sorted(map(repr, const))).encode())
            else:
                sha.update(repr(const).encode())

    visit(func.__code__)
    for name in sorted(names):
        value = func.__globals__.get(name)
        if isinstance(value, (bool, int, float, complex, str)):
            sha.update(f"{name}={value!r};".encode())
        elif isinstance(value, types.ModuleType):
            sha.update(f"{name}=<module {value.__name__}>;".encode())
    return sha.hexdigest()


def entry_key(source: Callable, loop: str, dtype: str, tag: str, cpu: tuple) -> tuple:
    """Everything a cache entry depends on. Its hash names the file; it is also stored inside."""
    return (
        "neurojit", cache.__version__, "numba", NUMBA_VERSION, "python", tuple(sys.version_info[:2]),
        loop, dtype, signatures.signature(loop, dtype), tag,
        _file_digest(source.__code__.co_filename), code_fingerprint(source), cpu,
        # the functions it inlines (their files and code)
        tuple((_file_digest(f.__code__.co_filename), code_fingerprint(f)) for f in signatures.LOOPS[loop].calls),
    )


def key_digest(key: tuple) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


# -- numba's cache interface over one neurojit cache file --------------------------------

if NUMBA_AVAILABLE:
    from numba.core.caching import _Cache as _NumbaCacheBase
else:  # pragma: no cover - only the class statement needs a base
    _NumbaCacheBase = object


class _DiskCache(_NumbaCacheBase):
    """The cache of one dispatcher: one file, one key. Never raises; problems become one warning."""

    def __init__(self, backend: "JITBackend", entry: tuple[Path, tuple], name: str):
        self._backend = backend
        self._path, self._key = entry
        self._name = name
        self._enabled = True
        self._save = True  # False once the entry was found unreadable or untrusted: one warning, not two
        self.hit = False

    @property
    def cache_path(self) -> str:
        return str(self._path.parent)

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    def flush(self) -> None:
        cache.remove_entry(self._path)

    def load_overload(self, sig, target_context):
        if not self._enabled:
            return None
        folder = self._path.parent
        try:
            body = cache.read_entry(self._path)
            if body is None:
                self._backend._event("cache_misses", "cache miss: %s (no entry %s)", self._name, self._path.name)
                return None
            key, payload = pickle.loads(body)
            if key != self._key:
                self._backend._event("cache_misses", "cache miss: %s (entry %s has another key)", self._name, self._path.name)
                return None
            target_context.refresh()
            from numba.core.compiler import CompileResult

            cres = CompileResult._rebuild(target_context, *payload)
        except cache.UntrustedCacheError as exc:  # someone else could have written it: never load or write
            self._save = False
            self._backend._event("cache_misses", "cache miss: %s (untrusted: %s)", self._name, exc)
            self._backend._problem("untrusted", folder, _untrusted_message(exc))
            return None
        except OSError as exc:  # exists but unreadable (or not a file, or a too long path): leave it alone
            self._save = False  # writing over it would fail the same way, or clobber what is not ours
            self._backend._event("cache_misses", "cache miss: %s (unreadable: %s)", self._name, exc)
            self._backend._problem(
                "read", folder,
                f"neurojit could not read its JIT cache file {self._path} ({type(exc).__name__}: {exc}); "
                "compiling in memory instead. Fix: make it readable (or move away what is in its place), "
                "choose another JITConfig(cache_directory=...) or set cache_compiled_functions=False.",
            )
            return None
        except Exception as exc:  # truncated, altered or foreign: replace it
            cache.remove_entry(self._path)
            self._backend._event("cache_misses", "cache miss: %s (corrupt entry removed: %s)", self._name, exc)
            self._backend._problem(
                "corrupt", folder,
                f"neurojit found a corrupt JIT cache file {self._path} ({type(exc).__name__}: {exc}); "
                "it was removed and the kernel is compiled again. If this repeats, clear the cache "
                "with JITCompiler().clear_cache() or check the disk.",
            )
            return None
        cache.touch(self._path)
        self.hit = True
        self._backend._event("cache_hits", "cache hit: %s loaded from %s", self._name, self._path)
        return cres

    def save_overload(self, sig, cres) -> None:
        if not self._enabled or not self._save or not _cachable(cres):
            return
        from numba.core.serialize import dumps

        try:
            cache.write_entry(self._path, dumps((self._key, cres._reduce())))
        except cache.UntrustedCacheError as exc:
            self._backend._problem("untrusted", self._path.parent, _untrusted_message(exc))
            return
        except Exception as exc:  # unwritable, vanished or full folder
            self._backend._problem(
                "write", self._path.parent,
                f"neurojit could not write its JIT cache in {self._path.parent} ({type(exc).__name__}: {exc}); "
                "kernels are compiled in memory only. Fix: make the folder writable, choose another "
                "JITConfig(cache_directory=...) or set cache_compiled_functions=False.",
            )
            return
        self._backend._log("saved %s to the JIT cache as %s", self._name, self._path)
        self._backend._evict()


def _untrusted_message(exc: Exception) -> str:
    return (
        f"neurojit does not use its JIT cache here: {exc}. Cache files hold machine code that neurojit "
        "runs, so it only loads and writes folders and files that belong to you and that no one else can "
        "write; kernels are compiled in memory instead. Fix: remove it or `chmod go-w` it (and never link "
        "into the cache folder), or choose a JITConfig(cache_directory=...) of your own."
    )


def _cachable(cres) -> bool:
    return all(getattr(x, "can_cache", True) for x in cres.lifted) and not cres.library.has_dynamic_globals


# -- thread-safe launches of parallel loops ------------------------------------------------

_launch_lock = threading.Lock()
_threading_layer: str | None = None


def _launch_needs_lock() -> bool:
    """True while numba's threading layer is unknown (not yet started) or is ``workqueue``."""
    global _threading_layer
    if _threading_layer is None:
        try:
            _threading_layer = numba.threading_layer()
        except ValueError:  # no parallel loop has run yet: the layer is chosen at the first launch
            return True
    return _threading_layer == "workqueue"


#: True in a process forked after numba's threading layer had started: no parallel launches here.
_forked_after_launch = False


def _after_fork_in_child() -> None:
    global _forked_after_launch
    if _forked_after_launch or not NUMBA_AVAILABLE:
        return
    try:
        numba.threading_layer()  # raises ValueError until a parallel loop has been launched
    except ValueError:
        return
    _forked_after_launch = True


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ParallelLoop:
    """A compiled parallel loop whose launches are serialised when numba's layer requires it,
    and which runs its serial compile (``serial()`` returns it) in a process forked after a launch."""

    __slots__ = ("dispatcher", "serial", "__name__", "__wrapped__")

    def __init__(self, dispatcher, serial: Callable[[], Callable]):
        self.dispatcher = self.__wrapped__ = dispatcher
        self.serial = serial
        self.__name__ = dispatcher.__name__

    def __call__(self, *args):
        if _forked_after_launch:
            return self.serial()(*args)
        if _launch_needs_lock():
            with _launch_lock:
                return self.dispatcher(*args)
        return self.dispatcher(*args)


# -- the backend ---------------------------------------------------------------------------


class JITBackend:
    """Compiles loops on demand with fixed options and remembers the results.

    Parameters
    ----------
    fastmath, parallel : bool
        numba's ``fastmath`` and ``parallel`` options.
    cache_directory : str or None
        Folder for the persistent cache, or ``None`` for no disk cache.
    max_cache_size : int
        After each entry written, least-recently-used entries are evicted until
        neurojit's files in ``cache_directory`` take at most this many bytes.
    verbose : bool
        Log compiles, cache hits and misses, and evictions at INFO level (else DEBUG).

    Attributes
    ----------
    compilation_times : dict
        ``"loop[dtype]"`` -> seconds to compile it, or to load it from the disk cache.
    stats : collections.Counter
        ``compiles`` (numba compiles run), ``cache_hits``, ``cache_misses``, ``evictions``.
    cache_problems : dict
        ``"read"``, ``"corrupt"``, ``"write"`` or ``"untrusted"`` -> the latest such problem with the disk cache
        (each is also a :class:`~neurojit.cache.CacheWarning`, once per folder and process).
    """

    name = NAME
    native = True

    def __init__(
        self,
        *,
        fastmath: bool,
        parallel: bool,
        cache_directory: str | None,
        max_cache_size: int = 512 * 1024 * 1024,
        verbose: bool = False,
    ):
        if not NUMBA_AVAILABLE:
            raise RuntimeError(f"numba is not available ({IMPORT_ERROR})")
        self.fastmath = fastmath
        self.parallel = parallel
        #: threads a parallel loop spreads over (numba's pool), 1 for serial loops
        self.threads = numba.config.NUMBA_NUM_THREADS if parallel else 1
        self.cache_directory = os.path.abspath(cache_directory) if cache_directory is not None else None
        self.max_cache_size = max_cache_size
        self.tag = options_tag(fastmath, parallel)
        self._level = logging.INFO if verbose else logging.DEBUG
        self._compiled: dict[tuple[str, str], Callable] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._stats_lock = threading.Lock()
        self.compilation_times: dict[str, float] = {}
        self.stats: collections.Counter = collections.Counter()
        self.cache_problems: dict[str, str] = {}
        self._serial: JITBackend | None = None  # serial twin, made in a forked child (see ParallelLoop)

    # -- logging and counters

    def _log(self, message: str, *args) -> None:
        logger.log(self._level, message, *args)

    def _event(self, counter: str, message: str, *args) -> None:
        with self._stats_lock:
            self.stats[counter] += 1
        self._log(message, *args)

    def _problem(self, kind: str, folder: Path, message: str) -> None:
        with self._stats_lock:
            self.cache_problems[kind] = message
        cache.warn_once(kind, folder, message)

    def _evict(self) -> None:
        for path, size in cache.evict(self.cache_directory, self.max_cache_size):
            self._event(
                "evictions", "evicted %s (%d bytes) from the JIT cache (max_cache_size=%d)",
                path.name, size, self.max_cache_size,
            )

    # -- compiling

    def loop(self, loop: str, dtype: str) -> Callable:
        """The compiled ``loop`` for ``dtype``, compiling it (or loading it from disk) on first use."""
        key = (loop, dtype)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock_for(key):
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = self._compile(loop, dtype, self.cache_directory)
                    self._compiled[key] = compiled
        return compiled

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def entry_path(self, loop: str, dtype: str, cache_directory: str | None = None) -> tuple[Path, tuple]:
        """Where the disk-cache entry of ``loop`` for ``dtype`` with this backend's options lives, and its key."""
        source = _loop_source(loop)
        tag = options_tag(self.fastmath, self.parallel and signatures.LOOPS[loop].parallel)
        key = entry_key(source, loop, dtype, tag, _cpu())
        folder = cache.version_folder(cache_directory or self.cache_directory, NUMBA_VERSION)
        return folder / cache.entry_name(loop, dtype, tag, key_digest(key)), key

    def _compile(self, loop: str, dtype: str, cache_directory: str | None) -> Callable:
        source = _loop_source(loop)
        name = f"{loop}[{dtype}]"
        if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: the loop runs as plain Python
            return source
        # Only loops declared with a prange form are compiled parallel (others would warn and gain nothing).
        parallel = self.parallel and signatures.LOOPS[loop].parallel
        # A private copy whose globals see numba.prange and PARALLEL (the loop module keeps
        # ``range`` and False, so the plain-Python and AOT builds run the serial path) and the
        # functions it calls compiled for inlining.
        calls = signatures.LOOPS[loop].calls
        inlined = {f.__name__: _inlined(f, self.fastmath, calls) for f in calls}
        func = types.FunctionType(
            source.__code__, dict(source.__globals__, prange=numba.prange, PARALLEL=parallel, **inlined),
            source.__name__, source.__defaults__,
        )
        tag = options_tag(self.fastmath, parallel)
        func.__qualname__ = f"{source.__qualname__}-{dtype}-{tag}"
        func.__module__ = source.__module__
        dispatcher = numba.njit(fastmath=self.fastmath, parallel=parallel, nogil=True)(func)
        disk = None
        if cache_directory is not None:
            disk = dispatcher._cache = _DiskCache(self, self.entry_path(loop, dtype, cache_directory), name)
        start = time.perf_counter()
        try:
            dispatcher.compile(signatures.signature(loop, dtype))
        except Exception as exc:  # numba raises many types; all mean "no compiled loop"
            raise JITCompileError(f"numba could not compile {loop} for {dtype}: {exc}") from exc
        # Validated callers always match the signature; anything else must fail, not recompile.
        dispatcher.disable_compile()
        elapsed = time.perf_counter() - start
        self.compilation_times[name] = elapsed
        if disk is None or not disk.hit:
            self._event("compiles", "compiled %s (%s) in %.3f s", name, tag, elapsed)
        else:
            self._log("loaded %s (%s) from the disk cache in %.3f s", name, tag, elapsed)
        return ParallelLoop(dispatcher, functools.partial(self._serial_loop, loop, dtype)) if parallel else dispatcher

    def _serial_loop(self, loop: str, dtype: str) -> Callable:
        """The serial compile of ``loop``, for a process that must not launch parallel loops."""
        with self._locks_guard:
            if self._serial is None:
                self._serial = JITBackend(
                    fastmath=self.fastmath, parallel=False, cache_directory=self.cache_directory,
                    max_cache_size=self.max_cache_size, verbose=self._level == logging.INFO,
                )
        return self._serial.loop(loop, dtype)

    def compiled_functions(self) -> list[str]:
        """Names of the loops compiled so far, as ``loop[dtype]``."""
        return sorted(f"{loop}[{dtype}]" for loop, dtype in self._compiled)

    def clear(self) -> None:
        """Forget every compiled loop (they are compiled or loaded again on next use)."""
        with self._locks_guard:
            self._compiled.clear()
            self.compilation_times.clear()

    # -- warm-up

    def warmup(self, variants: Iterable[tuple[str, str]], concurrent: bool, workers: int | None = None) -> dict:
        """Compile (or load) every ``(loop, dtype)`` in ``variants`` now.

        numba compiles under one global lock, so threads cannot compile two loops at once.
        With ``concurrent``, the loops that are neither in memory nor in the disk cache are
        compiled by worker processes (and this one) into the disk cache — the configured
        folder, or a temporary one deleted afterwards when the disk cache is off — and then
        loaded from it, which takes a few milliseconds each.

        Returns
        -------
        dict
            ``{"seconds": wall time, "processes": worker processes used,
            "compiled_in_workers": [loop[dtype], ...]}``.
        """
        start = time.perf_counter()
        pending = [v for v in dict.fromkeys(variants) if v not in self._compiled]
        report = {"seconds": 0.0, "processes": 0, "compiled_in_workers": []}
        if concurrent and (workers is None or workers >= 1) and len(pending) > 1 and not numba.config.DISABLE_JIT:
            with tempfile.TemporaryDirectory(prefix="neurojit-warmup-") as scratch:
                folder = self.cache_directory or scratch
                missing = [v for v in pending if not self.entry_path(*v, cache_directory=folder)[0].exists()]
                if workers is None:  # as many as pay off, at most one per other CPU
                    most = max(0, min((os.cpu_count() or 1) - 1, len(missing) - 1))
                    shares = min((_balance(missing, k) for k in range(most + 1)), key=_makespan)
                else:
                    shares = _balance(missing, workers)
                mine, theirs = shares[0], [s for s in shares[1:] if s]
                processes = [self._start_worker(share, folder) for share in theirs]
                report["processes"] = len(processes)
                for v in mine:
                    self.loop(*v)
                for process, share in zip(processes, theirs):
                    if _wait(process):
                        report["compiled_in_workers"] += [f"{loop}[{dtype}]" for loop, dtype in share]
                for v in pending:
                    key = tuple(v)
                    with self._lock_for(key):
                        if key not in self._compiled:
                            self._compiled[key] = self._compile(*key, folder)
        else:
            for v in pending:
                self.loop(*v)
        report["seconds"] = time.perf_counter() - start
        self._log("warm-up of %d loops took %.2f s (%d worker processes)", len(pending), report["seconds"], report["processes"])
        return report

    def _start_worker(self, share: list[tuple[str, str]], folder: str) -> subprocess.Popen:
        # Isolated (-I): the worker neither puts its current folder first on sys.path (a
        # ./neurojit or ./numba there would be imported instead) nor reads PYTHON* variables.
        # It gets this process's absolute sys.path instead, this neurojit's folder first.
        package_root = str(Path(__file__).resolve().parents[2])
        job = {
            "fastmath": self.fastmath, "parallel": self.parallel, "cache_directory": folder,
            "max_cache_size": self.max_cache_size, "variants": share,
            "sys_path": list(dict.fromkeys([package_root] + [p for p in sys.path if p and os.path.isabs(p)])),
        }
        code = (
            "import json, sys; job = json.loads(sys.argv[1]); sys.path[:0] = job['sys_path']; "
            "from neurojit.backends.jit import _warmup_worker; _warmup_worker(job)"
        )
        return subprocess.Popen(
            [sys.executable, "-I", "-c", code, json.dumps(job)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )


def _wait(process: subprocess.Popen) -> bool:
    try:
        _, err = process.communicate(timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    if process.returncode != 0:
        logger.debug("warm-up worker failed (exit %s): %s", process.returncode, err.decode(errors="replace")[-2000:])
    return process.returncode == 0


def _cost(share: list[tuple[str, str]]) -> float:
    """Estimated seconds to compile ``share`` in one process (start-up not included)."""
    total, seen = 0.0, set()
    for loop, _ in share:
        first, more = signatures.LOOPS[loop].cost
        total += more if loop in seen else first
        seen.add(loop)
    return total


def _makespan(shares: list[list[tuple[str, str]]]) -> float:
    """Estimated wall time of a warm-up split into ``shares`` (the first one runs here, the others in workers)."""
    return max([_cost(shares[0])] + [_WORKER_STARTUP + _cost(s) for s in shares[1:] if s])


def _balance(variants: list[tuple[str, str]], workers: int) -> list[list[tuple[str, str]]]:
    """Split ``variants`` between this process (share 0) and ``workers`` worker processes.

    Longest-processing-time first over groups of one loop's dtypes (which share one-time
    set-up), each group going to the share that would finish it soonest.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for loop, dtype in variants:
        groups.setdefault(loop, []).append((loop, dtype))
    shares: list[list[tuple[str, str]]] = [[] for _ in range(workers + 1)]
    loads = [0.0] + [_WORKER_STARTUP] * workers
    for group in sorted(groups.values(), key=lambda g: -_cost(g)):
        i = min(range(len(shares)), key=lambda k: loads[k] + _cost(group))
        shares[i].extend(group)
        loads[i] += _cost(group)
    return shares


def _warmup_worker(job: dict) -> None:
    """Entry point of a warm-up worker process: compile into the disk cache, then exit."""
    import warnings

    warnings.simplefilter("ignore")  # the parent reports cache problems itself
    backend = JITBackend(
        fastmath=job["fastmath"], parallel=job["parallel"], cache_directory=job["cache_directory"],
        max_cache_size=job["max_cache_size"],
    )
    for loop, dtype in job["variants"]:
        backend.loop(loop, dtype)


_cpu_magic: tuple | None = None


def _cpu() -> tuple:
    """numba's description of the code target (triple, CPU name, features), part of every key."""
    global _cpu_magic
    if _cpu_magic is None:
        from numba.core.registry import cpu_target

        _cpu_magic = tuple(cpu_target.target_context.codegen().magic_tuple())
    return _cpu_magic
