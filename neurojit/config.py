"""Configuration of a :class:`~neurojit.JITCompiler`."""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, field, fields

import numpy as np

from ._warnings import warn_from_caller

BACKENDS = ("auto", "aot", "jit", "python")
ENV_BACKEND = "NEUROJIT_BACKEND"


def _backend_from_environment() -> str:
    """``NEUROJIT_BACKEND`` if set to a known backend; a bad value warns and means ``auto``."""
    value = os.environ.get(ENV_BACKEND, "").strip().lower()
    if not value:
        return "auto"
    if value not in BACKENDS:
        warn_from_caller(f"{ENV_BACKEND}={value!r} is not one of {', '.join(BACKENDS)}; using 'auto'", RuntimeWarning)
        return "auto"
    return value


@dataclass
class JITConfig:
    """Options of a :class:`~neurojit.JITCompiler`. Every field is checked on creation.

    Attributes
    ----------
    enable_jit : bool
        Allow on-demand compilation with numba. ``False``: the AOT kernels if built, else NumPy.
    cache_compiled_functions : bool
        Keep JIT-compiled kernels in the on-disk cache between processes.
    parallel_compilation : bool
        Compile several kernels concurrently when warming up.
    optimize_memory_layout : bool
        Let :meth:`JITCompiler.optimize_memory_layout` change layouts (``False``: it returns
        its input unchanged). Kernels always get C-contiguous input regardless, for correctness.
    enable_fastmath : bool
        numba ``fastmath`` in JIT mode (may change results in the last bits).
    enable_parallel_loops : bool
        Run batch loops on several cores (``prange`` in JIT mode).
    cache_directory : str or None
        Folder of the JIT disk cache; ``None`` means the per-user cache folder of the platform.
    max_cache_size : int
        Upper bound in bytes for neurojit's files in ``cache_directory``.
    verbose : bool
        Log compilation, cache hits and misses through ``logging.getLogger("neurojit")``.
    profile_compilation : bool
        Record compile time per kernel in ``get_jit_info()["compilation_times"]``.
    backend : {"auto", "aot", "jit", "python"}
        Force one backend; the default comes from ``NEUROJIT_BACKEND``, else ``"auto"``
        (AOT, then JIT, then Python, per kernel).
    """

    enable_jit: bool = True
    cache_compiled_functions: bool = True
    parallel_compilation: bool = True
    optimize_memory_layout: bool = True
    enable_fastmath: bool = False
    enable_parallel_loops: bool = True
    cache_directory: str | None = None
    max_cache_size: int = 512 * 1024 * 1024
    verbose: bool = False
    profile_compilation: bool = False
    backend: str = field(default_factory=_backend_from_environment)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"JITConfig.{f.name} must be True or False, got {value!r}")
        if self.cache_directory is not None:
            if not isinstance(self.cache_directory, (str, os.PathLike)) or not os.fspath(self.cache_directory):
                raise ValueError(
                    f"JITConfig.cache_directory must be a non-empty path or None, got {self.cache_directory!r}"
                )
            self.cache_directory = os.fspath(self.cache_directory)
        size = self.max_cache_size
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral) or size <= 0:
            raise ValueError(f"JITConfig.max_cache_size must be a positive number of bytes, got {size!r}")
        self.max_cache_size = int(size)  # numpy integers too (e.g. from a computed size)
        if not isinstance(self.backend, str) or self.backend.lower() not in BACKENDS:
            raise ValueError(f"JITConfig.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        self.backend = self.backend.lower()
        if self.backend == "jit" and not self.enable_jit:
            raise ValueError("JITConfig.backend='jit' contradicts enable_jit=False")
