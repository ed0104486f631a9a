"""The one place that chooses and builds a backend, and resolves loops: AOT, then JIT, then Python.

The AOT build is looked for once per process. A forced backend that is unavailable
raises :class:`BackendUnavailableError`; an automatic fallback is logged once with the
reason and the fix, and is a :class:`FallbackWarning` when something is broken rather
than simply not installed. :class:`Resolver` builds a compiler's backend once and
resolves each (loop, dtype) once: the compiled loop or, where numba cannot compile it,
that loop's NumPy twin for that dtype only.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass
from typing import Callable

from ..errors import BackendUnavailableError, FallbackWarning, JITCompileError
from . import aot, python
from .threads import ThreadedBackend

__all__ = [
    "BackendUnavailableError", "Choice", "FallbackWarning", "JITCompileError", "Resolver",
    "aot_status", "choose", "jit_status",
]

JIT_HINT = f"install numba with `pip install '{aot.DISTRIBUTION}[jit]'`"  # (the name from neurojit._version)


@dataclass(frozen=True)
class Choice:
    """Which backend runs the kernels, and why."""

    name: str
    reason: str


@functools.lru_cache(maxsize=None)
def aot_status() -> aot.AOTStatus:
    """The AOT build of this install, looked for once per process."""
    return aot.load()


def _jit():
    """The JIT backend module; importing it imports numba, so only when JIT is in question."""
    from . import jit

    return jit


def jit_status(enable_jit: bool) -> tuple[bool, str, bool]:
    """(usable, reason if not, whether that is a fault rather than an absence)."""
    if not enable_jit:
        return False, "on-demand compilation is disabled (JITConfig.enable_jit=False)", False
    jit = _jit()
    if not jit.NUMBA_AVAILABLE:
        broken = not jit.IMPORT_ERROR.startswith("ModuleNotFoundError")
        return False, f"numba is not usable ({jit.IMPORT_ERROR}); {JIT_HINT}", broken
    return True, "", False


@functools.lru_cache(maxsize=None)
def _report_once(message: str, problem: bool) -> None:
    if problem:
        from .._warnings import caller_stacklevel  # the user's line, however deep the call

        warnings.warn(message, FallbackWarning, stacklevel=caller_stacklevel())
    else:
        import logging  # only when there is something to say

        logging.getLogger("neurojit").info(message)


def choose(backend: str, enable_jit: bool) -> Choice:
    """Pick the backend for ``JITConfig(backend=..., enable_jit=...)``.

    Raises
    ------
    BackendUnavailableError
        If ``backend`` names a backend that cannot be used here.
    """
    if backend == "jit":
        jit_ok, jit_why, _ = jit_status(enable_jit)
        if not jit_ok:
            raise BackendUnavailableError(f"backend 'jit' was requested but {jit_why}")
        return Choice("jit", f"forced (backend='jit'); numba {_jit().NUMBA_VERSION}")
    if backend == "python":
        return Choice("python", "forced (backend='python')")
    aot_state = aot_status()  # only where AOT can be chosen: a forced JIT or NumPy never loads it
    if backend == "aot":
        if aot_state.backend is None:
            raise BackendUnavailableError(f"backend 'aot' was requested but {aot_state.reason}")
        return Choice("aot", f"forced (backend='aot'); {aot_state.reason}")
    if aot_state.backend is not None:
        return Choice("aot", aot_state.reason)  # numba is never imported on this path
    jit_ok, jit_why, jit_broken = jit_status(enable_jit)
    if jit_ok:
        _report_once(f"neurojit: using JIT kernels because {aot_state.reason}", aot_state.problem)
        return Choice("jit", f"AOT unavailable: {aot_state.reason}")
    reason = f"AOT unavailable: {aot_state.reason}; JIT unavailable: {jit_why}"
    _report_once(f"neurojit: using the NumPy kernels (slow) because {reason}", aot_state.problem or jit_broken)
    return Choice("python", reason)


class Resolver:
    """A compiler's backend, built once, and its loops, resolved once each.

    Parameters
    ----------
    backend : backend object
        ``python``, a JIT backend, an AOT backend (or one wrapped in ``ThreadedBackend``).
    choice : Choice
        Its name and why it was chosen.
    forced_jit : bool
        ``backend="jit"`` was asked for: a loop numba cannot compile raises instead of
        falling back to its NumPy twin.
    """

    def __init__(self, backend, choice: Choice, forced_jit: bool = False):
        self.backend = backend
        self.choice = choice
        self.forced_jit = forced_jit
        self.jit = backend if backend.name == "jit" else None
        self._lock = threading.Lock()
        self._loops: dict[tuple[str, str], tuple[Callable, bool]] = {}
        #: "loop[dtype]" -> why it runs on NumPy instead of the chosen backend
        self.fallbacks: dict[str, str] = {}

    @classmethod
    def for_config(cls, config, cache_directory: str | None) -> "Resolver":
        """The backend a :class:`~neurojit.config.JITConfig` asks for, chosen and built.

        ``backend``, ``enable_jit``, ``enable_parallel_loops``, ``enable_fastmath``,
        ``max_cache_size`` and ``verbose`` are read; ``cache_directory`` is the JIT disk cache.

        Raises
        ------
        BackendUnavailableError
            If ``config.backend`` forces a backend that is not available here.
        """
        choice = choose(config.backend, config.enable_jit)
        if choice.name == "aot":
            backend = aot_status().backend
            # pycc cannot build parallel loops; threads over the batch give the same result.
            backend = ThreadedBackend(backend) if config.enable_parallel_loops else backend
        elif choice.name == "jit":
            from . import jit  # imports numba: only when the JIT backend is chosen

            backend = jit.JITBackend(
                fastmath=config.enable_fastmath, parallel=config.enable_parallel_loops,
                cache_directory=cache_directory, max_cache_size=config.max_cache_size, verbose=config.verbose,
            )
        else:
            backend = python
        return cls(backend, choice, forced_jit=config.backend == "jit")

    @classmethod
    def on(cls, backend, reason: str = "given") -> "Resolver":
        """A resolver over an already built backend object (benchmarks compare backends this way)."""
        return cls(backend, Choice(backend.name, reason))

    def backend_of(self, loops: tuple[str, ...]) -> tuple[str, str]:
        """(backend name, why) of a kernel running ``loops``: NumPy where one could not be compiled."""
        fallbacks = [f"{key}: {why}" for key, why in self.fallbacks.items() if key.partition("[")[0] in loops]
        if fallbacks:
            return "python", "; ".join(fallbacks)
        return self.choice.name, self.choice.reason

    def loop(self, name: str, dtype: str, kernel: str) -> tuple[Callable, bool]:
        """``(callable, native)`` for loop ``name`` in ``dtype``; ``native`` is False for NumPy code.

        ``kernel`` names the public kernel asking, for the one warning on a fallback.
        """
        resolved = self._loops.get((name, dtype))
        if resolved is None:
            try:
                resolved = (self.backend.loop(name, dtype), self.backend.native)
            except JITCompileError as error:
                if self.forced_jit:
                    raise BackendUnavailableError(f"backend 'jit' was requested but {error}") from error
                reason = f"numba failed to compile it ({error}); report this as a neurojit bug"
                _report_once(f"neurojit: kernel {kernel} uses NumPy for {dtype} (loop {name}) because {reason}", True)
                with self._lock:
                    self.fallbacks[f"{name}[{dtype}]"] = reason
                resolved = (python.loop(name, dtype), False)
            with self._lock:
                resolved = self._loops.setdefault((name, dtype), resolved)
        return resolved

    def forget(self) -> None:
        """Resolve every loop again on next use (after the JIT backend forgot its compiled loops)."""
        with self._lock:
            self._loops.clear()

