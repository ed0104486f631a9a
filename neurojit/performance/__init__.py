"""The seed project's import path: ``neurojit.performance`` re-exports the public API."""

from .jit_compilation import *  # noqa: F401,F403
from .jit_compilation import __all__  # noqa: F401
