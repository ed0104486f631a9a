"""JITCompiler: validated kernels on the best available backend, plus the global compiler.

Data flows one way: a public call validates its arguments (:mod:`neurojit.operations`),
then runs a loop from the backend chosen by :mod:`neurojit.backends.select`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from typing import Any, Callable

import numpy as np

from . import operations
from .backends import python, select
from .backends.select import JITCompileError
from .backends.threads import ThreadedBackend
from .config import JITConfig


LAYOUTS = ("row_major", "column_major", "blocked")
CACHE_LINE_BYTES = 64


class Kernel:
    """A public kernel bound to a compiler's backend. Call it like the documented function.

    Attributes
    ----------
    name : str
        Kernel name, e.g. ``"spike_processing"``.
    backend : str
        ``"aot"``, ``"jit"`` or ``"python"``: the backend its calls run on.
    """

    def __init__(self, compiler: "JITCompiler", name: str):
        self._compiler = compiler
        self._function, self.loops = operations.KERNELS[name]
        self.name = self.__name__ = self.__qualname__ = name
        self.__doc__ = self._function.__doc__

    @functools.cached_property
    def __signature__(self):
        """The documented function's signature without its first (backend) parameter."""
        import inspect  # only for introspection; keeps it off the import path

        signature = inspect.signature(self._function)
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    @property
    def backend(self) -> str:
        return self._compiler._backend_of(self.name)[0].name

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        backend, _ = self._compiler._backend_of(self.name)
        try:
            return self._function(backend, *args, **kwargs)
        except JITCompileError as exc:
            self._compiler._fall_back(self.name, exc)
            return self._function(python, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<neurojit kernel {self.name} on {self.backend}>"


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
        choice = select.choose(self.config.backend, self.config.enable_jit)
        self._lock = threading.Lock()
        self._jit: jit.JITBackend | None = None
        self._backend = self._make_backend(choice.name)
        self._choices = {name: (self._backend, choice.reason) for name in operations.KERNELS}
        self._kernels: dict[str, Kernel] = {}

    # -- backends -------------------------------------------------------------------

    @functools.cached_property
    def cache_directory(self) -> str | None:
        """Folder of the JIT disk cache (``None`` with ``cache_compiled_functions=False``)."""
        if not self.config.cache_compiled_functions:
            return None
        from . import cache

        return os.path.abspath(self.config.cache_directory or cache.default_cache_directory())

    def _make_backend(self, name: str):
        if name == "aot":
            aot_backend = select.aot_status().backend
            # pycc cannot build parallel loops; threads over the batch give the same result.
            return ThreadedBackend(aot_backend) if self.config.enable_parallel_loops else aot_backend
        if name == "jit":
            from .backends import jit  # imports numba: only when the JIT backend is chosen

            self._jit = jit.JITBackend(
                fastmath=self.config.enable_fastmath,
                parallel=self.config.enable_parallel_loops,
                cache_directory=self.cache_directory,
                max_cache_size=self.config.max_cache_size,
                verbose=self.config.verbose,
            )
            return self._jit
        return python

    def _backend_of(self, kernel: str):
        return self._choices[kernel]

    def _fall_back(self, kernel: str, error: Exception) -> None:
        if self.config.backend == "jit":
            raise select.BackendUnavailableError(f"backend 'jit' was requested but {error}") from error
        choice = select.fall_back_from_jit(kernel, error)
        with self._lock:
            self._choices[kernel] = (python, choice.reason)

    def _kernel(self, name: str) -> Kernel:
        kernel = self._kernels.get(name)
        if kernel is None:
            with self._lock:
                kernel = self._kernels.setdefault(name, Kernel(self, name))
        return kernel

    # -- the kernels ------------------------------------------------------------------

    def compile_spike_processing_kernel(self) -> Callable:
        """LIF spike processing: ``kernel(spike_trains, weights, thresholds, dt, tau=0.02, v_reset=0.0)``."""
        return self._kernel("spike_processing")

    def compile_reservoir_update_kernel(self) -> Callable:
        """Echo-state step: ``kernel(states, input_weights, reservoir_weights, input_spikes, leak_rate=1.0, bias=None)``."""
        return self._kernel("reservoir_update")

    def compile_convolution_kernel(self) -> Callable:
        """Causal spike-train filter: ``kernel(spike_trains, kernel)``."""
        return self._kernel("convolution")

    def compile_matrix_multiply_kernel(self) -> Callable:
        """Matrix product, event-driven for a sparse 0/1 left operand: ``kernel(a, b)``."""
        return self._kernel("matrix_multiply")

    def compile_lif_network_kernel(self) -> Callable:
        """Recurrent LIF network run: ``kernel(input_spikes, input_weights, recurrent_weights, thresholds, dt, tau=0.02, v_reset=0.0)``."""
        return self._kernel("lif_network_run")

    def compile_reservoir_run_kernel(self) -> Callable:
        """Echo-state sequence run: ``kernel(inputs, input_weights, reservoir_weights, initial_states, leak_rate=1.0, bias=None)``."""
        return self._kernel("reservoir_run")

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
        kernels = {name: {"backend": b.name, "reason": why} for name, (b, why) in self._choices.items()}
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
        names = list(operations.KERNELS) if kernels is None else list(kernels)
        for name in names:
            if name not in operations.KERNELS:
                raise ValueError(f"unknown kernel {name!r}; expected one of {', '.join(operations.KERNELS)}")
        dtypes = list(dtypes)
        for dtype in dtypes:
            if dtype not in ("float32", "float64"):
                raise ValueError(f"dtypes must be 'float32' or 'float64', got {dtype!r}")
        variants = [
            (loop, dtype)
            for name in names if self._backend_of(name)[0] is self._jit and self._jit is not None
            for loop in operations.KERNELS[name][1]
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


def jit_spike_processing(spike_trains, weights, thresholds, dt, tau=0.02, v_reset=0.0) -> np.ndarray:
    """:func:`neurojit.operations.spike_processing` on the global compiler."""
    return get_global_compiler()._kernel("spike_processing")(spike_trains, weights, thresholds, dt, tau, v_reset)


def jit_reservoir_update(states, input_weights, reservoir_weights, input_spikes, leak_rate=1.0, bias=None) -> np.ndarray:
    """:func:`neurojit.operations.reservoir_update` on the global compiler."""
    return get_global_compiler()._kernel("reservoir_update")(
        states, input_weights, reservoir_weights, input_spikes, leak_rate, bias
    )


def jit_convolution(spike_trains, kernel) -> np.ndarray:
    """:func:`neurojit.operations.convolution` on the global compiler."""
    return get_global_compiler()._kernel("convolution")(spike_trains, kernel)


def jit_matrix_multiply(a, b) -> np.ndarray:
    """:func:`neurojit.operations.matrix_multiply` on the global compiler."""
    return get_global_compiler()._kernel("matrix_multiply")(a, b)


def jit_lif_network_run(input_spikes, input_weights, recurrent_weights, thresholds, dt, tau=0.02, v_reset=0.0) -> np.ndarray:
    """:func:`neurojit.operations.lif_network_run` on the global compiler."""
    return get_global_compiler()._kernel("lif_network_run")(
        input_spikes, input_weights, recurrent_weights, thresholds, dt, tau, v_reset
    )


def jit_reservoir_run(inputs, input_weights, reservoir_weights, initial_states, leak_rate=1.0, bias=None) -> np.ndarray:
    """:func:`neurojit.operations.reservoir_run` on the global compiler."""
    return get_global_compiler()._kernel("reservoir_run")(
        inputs, input_weights, reservoir_weights, initial_states, leak_rate, bias
    )
