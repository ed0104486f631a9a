"""Set-up shared by the models: their float dtype and the compiler whose kernels they run."""

from __future__ import annotations

from typing import Any

import numpy as np


def dtype_and_compiler(dtype: Any, compiler: Any):
    """``(numpy.dtype, JITCompiler)``: float32/float64 only; ``compiler=None`` means the global one."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if compiler is None:
        from ..compiler import get_global_compiler

        compiler = get_global_compiler()
    return dtype, compiler
