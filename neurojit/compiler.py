"""JITCompiler: validated kernels on the best available backend, plus the global compiler.

Data flows one way: a public call is checked and converted by its kernel's declaration
(:mod:`neurojit.operations`, :mod:`neurojit.declare`), then runs loops resolved once per
compiler and dtype by :class:`neurojit.backends.select.Resolver`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from typing import Any, Callable

import numpy as np

from .backends import select
from .config import JITConfig
from .kernel import Kernel
from .operations import KERNELS

LAYOUTS = ("row_major", "column_major", "blocked")
CACHE_LINE_BYTES = 64


def _compile_method(kernel: str) -> Callable:
    """A ``JITCompiler.compile_*_kernel`` method returning the kernel ``kernel``."""
    spec = KERNELS[kernel]

    def compile_kernel(self: "JITCompiler") -> Kernel:
        return self.kernel(kernel)

    compile_kernel.__doc__ = f"The ``{kernel}`` kernel: ``kernel{spec.signature()}``."
    return compile_kernel


class JITCompiler:
    """Compiles the neuromorphic kernels and picks, per kernel, AOT, then JIT, then NumPy.

    Parameters
    ----------
    config : JITConfig, optional
        Options; ``JITConfig()`` when omitted.

    Raises
    ------
    BackendUnavailableError
        If ``config.backend`` forces a backend that is not available here.
    """

    def __init__(self, config: JITConfig | None = None):
        if config is not None and not isinstance(config, JITConfig):
            raise TypeError(f"config must be a JITConfig, got {type(config).__name__}")
        self.config = config if config is not None else JITConfig()
        if self.config.verbose:
            _enable_verbose_logging()
        self._resolver = select.Resolver.for_config(self.config, self.cache_directory)
        self._lock = threading.Lock()
        self._kernels: dict[str, Kernel] = {}

    # -- backends -------------------------------------------------------------------

    @functools.cached_property
    def cache_directory(self) -> str | None:
        """Folder of the JIT disk cache (``None`` with ``cache_compiled_functions=False``)."""
        if not self.config.cache_compiled_functions:
            return None
        from . import cache

        return os.path.abspath(self.config.cache_directory or cache.default_cache_directory())

    @property
    def _jit(self):
        return self._resolver.jit

    def kernel(self, name: str) -> Kernel:
        """The kernel declared as ``name`` in :data:`neurojit.operations.KERNELS` (made once per compiler)."""
        kernel = self._kernels.get(name)
        if kernel is None:
            if name not in KERNELS:
                raise ValueError(f"unknown kernel {name!r}; expected one of {', '.join(KERNELS)}")
            with self._lock:
                kernel = self._kernels.setdefault(name, Kernel(self._resolver, KERNELS[name]))
        return kernel

    # -- the kernels (one line each: everything else comes from the declarations) -----

    compile_spike_processing_kernel = _compile_method("spike_processing")
    compile_reservoir_update_kernel = _compile_method("reservoir_update")
    compile_convolution_kernel = _compile_method("convolution")
    compile_matrix_multiply_kernel = _compile_method("matrix_multiply")
    compile_lif_network_kernel = _compile_method("lif_network_run")
    compile_reservoir_run_kernel = _compile_method("reservoir_run")

    # -- utilities --------------------------------------------------------------------

    def optimize_memory_layout(self, array: Any, access_pattern: str = "row_major") -> np.ndarray:
        """Return ``array`` with the same shape, dtype and values in a layout suited to ``access_pattern``.

        Parameters
        ----------
        array : array_like
        access_pattern : {"row_major", "column_major", "blocked"}
            ``"row_major"``: C-contiguous (the layout every kernel reads; no copy if already so).
            ``"column_major"``: Fortran-contiguous.
            ``"blocked"``: C-contiguous with the buffer starting on a 64-byte cache-line
            boundary, so that tiles of whole rows map onto whole cache lines.

        Returns
        -------
        numpy.ndarray
            Equal to ``array`` element for element. When
            ``JITConfig.optimize_memory_layout`` is False, ``numpy.asarray(array)`` unchanged.
        """
        if access_pattern not in LAYOUTS:
            raise ValueError(f"access_pattern must be one of {', '.join(LAYOUTS)}, got {access_pattern!r}")
        array = np.asarray(array)
        if not self.config.optimize_memory_layout:
            return array
        if access_pattern == "row_major":
            return np.asarray(array, order="C")  # unlike ascontiguousarray, keeps 0-d arrays 0-d
        if access_pattern == "column_major":
            return np.asarray(array, order="F")
        if array.flags.c_contiguous and array.ctypes.data % CACHE_LINE_BYTES == 0:
            return array
        buffer = np.empty(array.nbytes + CACHE_LINE_BYTES, dtype=np.uint8)
        offset = -buffer.ctypes.data % CACHE_LINE_BYTES
        aligned = buffer[offset : offset + array.nbytes].view(array.dtype).reshape(array.shape)
        aligned[...] = array
        return aligned

    def is_numba_available(self) -> bool:
        """True if numba imports in this process."""
        from .backends import jit

        return jit.NUMBA_AVAILABLE

    def get_jit_info(self) -> dict[str, Any]:
        """What this compiler actually does: backends and why, options, compiled kernels, cache."""
        from .backends import jit

        aot_state = select.aot_status()
        aot_backend = aot_state.backend
        kernels = {}
        for name, spec in KERNELS.items():
            if spec.public:
                backend, why = self._resolver.backend_of(spec.loops)
                kernels[name] = {"backend": backend, "reason": why}
        uses_aot = any(info["backend"] == "aot" for info in kernels.values())
        not_honoured = []
        if uses_aot and self.config.enable_fastmath:
            not_honoured.append(
                "enable_fastmath: the AOT kernels are built with IEEE semantics (use backend='jit' for fastmath)"
            )
        jit_backend = self._jit
        return {
            "numba_available": jit.NUMBA_AVAILABLE,
            "numba_version": jit.NUMBA_VERSION,
            "numba_import_error": jit.IMPORT_ERROR,
            "aot_available": aot_backend is not None,
            "aot_variant": aot_backend.variant if aot_backend is not None else None,
            "aot_status": aot_state.reason,
            "backend": self.config.backend,
            "kernels": kernels,
            "config": dataclasses.asdict(self.config),
            "options_not_honoured": not_honoured,
            "jit_options": jit_backend.tag if jit_backend is not None else None,
            "compiled_functions": jit_backend.compiled_functions() if jit_backend is not None else [],
            "compilation_times": dict(jit_backend.compilation_times)
            if jit_backend is not None and self.config.profile_compilation
            else {},
            "cache_directory": self.cache_directory,
            "cache_size_bytes": _cache().cache_size(self.cache_directory),
            "max_cache_size": self.config.max_cache_size,
            "cache_stats": dict(jit_backend.stats) if jit_backend is not None else {},
            "cache_problems": dict(jit_backend.cache_problems) if jit_backend is not None else {},
        }

    def benchmark_jit_performance(self, test_sizes: list = [100, 500, 1000], num_iterations: int = 5) -> dict[str, Any]:
        """Time every kernel on this compiler's backends against the NumPy implementation.

        Returns
        -------
        dict
            ``{operation: {size: {"jit_time", "python_time", "speedup", "compile_time",
            "backend"}}, "jit_info": {...}}``. Times are medians over ``num_iterations``
            steady-state calls (seconds); ``compile_time`` is the first call, timed apart.
        """
        from .bench import benchmark_compiler

        return benchmark_compiler(self, list(test_sizes), num_iterations)

    def warmup(self, dtypes=("float32", "float64"), kernels=None) -> dict[str, Any]:
        """Compile (or load from the disk cache) the kernels now rather than on first call.

        With ``JITConfig.parallel_compilation`` the loops missing from the disk cache are
        compiled by several processes at once (numba's compiler lock keeps threads from
        compiling concurrently), then loaded here. Kernels on the AOT or NumPy backend need
        nothing.

        Parameters
        ----------
        dtypes : iterable of {"float32", "float64"}
        kernels : iterable of str, optional
            Kernel names (e.g. ``"spike_processing"``); all of them when omitted.

        Returns
        -------
        dict
            ``{"seconds", "processes", "compiled_in_workers", "loops"}``; ``loops`` lists the
            ``loop[dtype]`` made ready.
        """
        names = [n for n, spec in KERNELS.items() if spec.public] if kernels is None else list(kernels)
        for name in names:
            if name not in KERNELS:
                raise ValueError(f"unknown kernel {name!r}; expected one of {', '.join(KERNELS)}")
        dtypes = list(dtypes)
        for dtype in dtypes:
            if dtype not in ("float32", "float64"):
                raise ValueError(f"dtypes must be 'float32' or 'float64', got {dtype!r}")
        variants = [
            (loop, dtype)
            for name in names if self._jit is not None and self._resolver.backend_of(KERNELS[name].loops)[0] == "jit"
            for loop in KERNELS[name].loops
            for dtype in dtypes
        ]
        if not variants:
            return {"seconds": 0.0, "processes": 0, "compiled_in_workers": [], "loops": []}
        report = self._jit.warmup(variants, concurrent=self.config.parallel_compilation)
        report["loops"] = sorted({f"{loop}[{dtype}]" for loop, dtype in variants})
        return report

    def clear_cache(self) -> None:
        """Forget compiled kernels and delete neurojit's own files in the cache folder (nothing else)."""
        with self._lock:
            self._kernels.clear()
            if self._jit is not None:
                self._jit.clear()
            self._resolver.forget()
        removed = _cache().clear_disk_cache(self.cache_directory)
        import logging

        _logger().log(
            logging.INFO if self.config.verbose else logging.DEBUG,
            "cleared the kernel table and %d cache files in %s", removed, self.cache_directory,
        )


def _logger():
    """neurojit's logger; ``logging`` is imported only when something is logged."""
    import logging

    return logging.getLogger("neurojit")


def _cache():
    """The disk-cache module, imported when first needed (an AOT-only process never needs it)."""
    from . import cache

    return cache


def _enable_verbose_logging() -> None:
    """Make neurojit's INFO records visible (with a stderr handler only if logging is not configured).

    Verbosity is per compiler: a verbose compiler logs its compiles, cache hits, misses and
    evictions at INFO, a quiet one at DEBUG. So this lowers the ``"neurojit"`` logger to INFO
    only, never to DEBUG: a quiet compiler created after a verbose one stays quiet. A level
    the application set itself at INFO or below is left alone.
    """
    import logging

    logger = _logger()
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)


# -- the global compiler -------------------------------------------------------------

_global_compiler: JITCompiler | None = None
_global_lock = threading.Lock()


def enable_jit_compilation(config: JITConfig | None = None) -> JITCompiler:
    """Create a compiler with on-demand compilation enabled, make it the global one, and return it."""
    config = dataclasses.replace(config, enable_jit=True) if config is not None else JITConfig()
    compiler = JITCompiler(config)
    set_global_compiler(compiler)
    return compiler


def set_global_compiler(compiler: JITCompiler) -> None:
    """Make ``compiler`` the one used by the module-level ``jit_*`` functions."""
    if not isinstance(compiler, JITCompiler):
        raise TypeError(f"compiler must be a JITCompiler, got {type(compiler).__name__}")
    global _global_compiler
    with _global_lock:
        _global_compiler = compiler


def get_global_compiler() -> JITCompiler:
    """The compiler used by the ``jit_*`` functions, created with ``JITConfig()`` on first use."""
    global _global_compiler
    with _global_lock:
        if _global_compiler is None:
            _global_compiler = JITCompiler()
        return _global_compiler


class GlobalKernel:
    """A kernel of the global compiler, looked up at each call (so :func:`set_global_compiler`
    takes effect at once): the module-level ``jit_*`` functions."""

    def __init__(self, kernel: str):
        self.kernel = kernel
        self.__name__ = self.__qualname__ = f"jit_{kernel}"
        self.__doc__ = f":func:`neurojit.operations.{kernel}` on the global compiler.\n\n{KERNELS[kernel].doc}"

    @functools.cached_property
    def __signature__(self):
        return KERNELS[self.kernel].signature()

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return get_global_compiler().kernel(self.kernel)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<neurojit global kernel {self.kernel}>"


jit_spike_processing = GlobalKernel("spike_processing")
jit_reservoir_update = GlobalKernel("reservoir_update")
jit_convolution = GlobalKernel("convolution")
jit_matrix_multiply = GlobalKernel("matrix_multiply")
jit_lif_network_run = GlobalKernel("lif_network_run")
jit_reservoir_run = GlobalKernel("reservoir_run")
