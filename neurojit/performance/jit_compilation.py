"""The seed project's import path ``src.performance.jit_compilation``, now ``neurojit.performance.jit_compilation``."""

from ..compiler import (
    JITCompiler,
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
from ..config import JITConfig

__all__ = [
    "NUMBA_AVAILABLE",
    "JITConfig",
    "JITCompiler",
    "enable_jit_compilation",
    "set_global_compiler",
    "get_global_compiler",
    "jit_spike_processing",
    "jit_reservoir_update",
    "jit_convolution",
    "jit_matrix_multiply",
    "jit_lif_network_run",
    "jit_reservoir_run",
]


def __getattr__(name: str):
    # NUMBA_AVAILABLE is computed on first access: importing numba costs a quarter of a
    # second, which an AOT-only process should never pay.
    if name == "NUMBA_AVAILABLE":
        from ..backends.jit import NUMBA_AVAILABLE

        return NUMBA_AVAILABLE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
