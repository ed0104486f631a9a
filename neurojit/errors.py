"""neurojit's exceptions and warnings (a leaf module: it imports nothing from the package)."""


class BackendUnavailableError(RuntimeError):
    """A backend that was asked for explicitly cannot be used here."""


class JITCompileError(RuntimeError):
    """numba failed to compile a loop."""


class FallbackWarning(RuntimeWarning):
    """A backend is broken (not merely absent) and a slower one is used instead."""
