"""neurojit: compiled neuromorphic kernels (LIF spikes, echo-state reservoirs, spike-train
convolution, matrix multiply) with ahead-of-time, on-demand JIT and NumPy backends.

>>> import neurojit
>>> kernel = neurojit.JITCompiler().compile_spike_processing_kernel()

numba, the JIT disk cache, the models and the spiking networks (``LIFNetwork``) are imported
only when used (numba when the JIT backend is chosen or ``NUMBA_AVAILABLE``/``get_jit_info()``
is asked for), so a process that runs the AOT kernels pays for none of them.
"""

from ._version import __version__
from .errors import BackendUnavailableError, FallbackWarning
from .performance import (
    JITCompiler,
    JITConfig,
    enable_jit_compilation,
    get_global_compiler,
    jit_convolution,
    jit_lif_network_run,
    jit_matrix_multiply,
    jit_reservoir_run,
    jit_reservoir_update,
    jit_spike_processing,
    set_global_compiler,
)
from .performance import __all__ as _api

__all__ = [
    "__version__", "BackendUnavailableError", "FallbackWarning", "CacheWarning", *_api,
    "EchoStateNetwork", "LiquidStateMachine", "LIFNetwork", "LIFState", "SpikeEvents", "STDP",
]


#: names resolved on first access, so that ``import neurojit`` stays cheap for a process that
#: only runs kernels: numba (~0.25 s), the disk cache and the models are imported when used.
_LAZY = {
    "NUMBA_AVAILABLE": ("performance.jit_compilation", "NUMBA_AVAILABLE"),
    "CacheWarning": ("cache", "CacheWarning"),
    "EchoStateNetwork": ("models", "EchoStateNetwork"),
    "LiquidStateMachine": ("models", "LiquidStateMachine"),
    "LIFNetwork": ("network", "LIFNetwork"),
    "LIFState": ("network", "LIFState"),
    "SpikeEvents": ("network", "SpikeEvents"),
    "STDP": ("network", "STDP"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
