"""neurojit: compiled neuromorphic kernels (LIF spikes, echo-state reservoirs, spike-train
convolution, matrix multiply) with ahead-of-time, on-demand JIT and NumPy backends.

>>> import neurojit
>>> kernel = neurojit.JITCompiler().compile_spike_processing_kernel()

numba is imported only when the JIT backend is chosen or asked about (``NUMBA_AVAILABLE``,
``get_jit_info()``), so a process running the AOT kernels never pays for it.
"""

from ._version import __version__
from .backends.select import BackendUnavailableError, FallbackWarning
from .cache import CacheWarning
from .models import EchoStateNetwork, LiquidStateMachine
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
    "EchoStateNetwork", "LiquidStateMachine",
]


def __getattr__(name: str):
    if name == "NUMBA_AVAILABLE":  # computed on first access: importing numba takes ~0.25 s
        from .performance import jit_compilation

        return jit_compilation.NUMBA_AVAILABLE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
