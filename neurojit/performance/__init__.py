"""The seed project's import path: ``neurojit.performance`` re-exports the public API."""

from . import jit_compilation
from .jit_compilation import (  # noqa: F401
    JITCompiler,
    JITConfig,
    __all__,
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


def __getattr__(name: str):
    if name == "NUMBA_AVAILABLE":  # computed on first access, see jit_compilation
        return jit_compilation.NUMBA_AVAILABLE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
