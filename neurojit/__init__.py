"""neurojit: compiled neuromorphic kernels (LIF spikes, echo-state reservoirs, spike-train
convolution, matrix multiply) with ahead-of-time, on-demand JIT and NumPy backends.

>>> import neurojit
>>> kernel = neurojit.JITCompiler().compile_spike_processing_kernel()
"""

from ._version import __version__
from .backends.select import BackendUnavailableError, FallbackWarning
from .cache import CacheWarning
from .performance.jit_compilation import *  # noqa: F401,F403
from .performance.jit_compilation import __all__ as _api
from .models import EchoStateNetwork, LiquidStateMachine

__all__ = [
    "__version__", "BackendUnavailableError", "FallbackWarning", "CacheWarning", *_api,
    "EchoStateNetwork", "LiquidStateMachine",
]
