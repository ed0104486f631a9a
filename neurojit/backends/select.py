"""The one place that chooses a backend: AOT, then JIT, then Python.

The AOT build is looked for once per process. A forced backend that is unavailable
raises :class:`BackendUnavailableError`; an automatic fallback is logged once with the
reason and the fix, and is a :class:`FallbackWarning` when something is broken rather
than simply not installed.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

from . import aot


JIT_HINT = f"install numba with `pip install '{aot.DISTRIBUTION}[jit]'`"  # (the name from neurojit._version)


class BackendUnavailableError(RuntimeError):
    """A backend that was asked for explicitly cannot be used here."""


class JITCompileError(RuntimeError):
    """numba failed to compile a loop."""


class FallbackWarning(RuntimeWarning):
    """A backend is broken (not merely absent) and a slower one is used instead."""


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
    aot_state = aot_status()
    if backend == "aot":
        if aot_state.backend is None:
            raise BackendUnavailableError(f"backend 'aot' was requested but {aot_state.reason}")
        return Choice("aot", f"forced (backend='aot'); {aot_state.reason}")
    if backend == "jit":
        jit_ok, jit_why, _ = jit_status(enable_jit)
        if not jit_ok:
            raise BackendUnavailableError(f"backend 'jit' was requested but {jit_why}")
        return Choice("jit", f"forced (backend='jit'); numba {_jit().NUMBA_VERSION}")
    if backend == "python":
        return Choice("python", "forced (backend='python')")
    if aot_state.backend is not None:
        return Choice("aot", aot_state.reason)  # numba is never imported on this path
    jit_ok, jit_why, jit_broken = jit_status(enable_jit)
    if jit_ok:
        _report_once(f"neurojit: using JIT kernels because {aot_state.reason}", aot_state.problem)
        return Choice("jit", f"AOT unavailable: {aot_state.reason}")
    reason = f"AOT unavailable: {aot_state.reason}; JIT unavailable: {jit_why}"
    _report_once(f"neurojit: using the NumPy kernels (slow) because {reason}", aot_state.problem or jit_broken)
    return Choice("python", reason)


def fall_back_from_jit(kernel: str, error: Exception) -> Choice:
    """The backend a kernel uses after numba failed to compile it (reported once)."""
    reason = f"numba failed to compile it ({error}); report this as a neurojit bug"
    _report_once(f"neurojit: kernel {kernel} uses NumPy because {reason}", True)
    return Choice("python", reason)

