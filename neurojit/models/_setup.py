"""Set-up shared by the models: their float dtype, the compiler whose kernels they run, and
the checks of their arguments.

Every argument is checked by name before anything is built or run: numbers must be real
numbers of the right kind (an ``int`` where a count is meant: ``2.5`` units or ``"20"`` are
refused, never rounded or parsed), finite and in range; data must be real-valued arrays
(no strings, complex or object arrays) of finite numbers. Wrong types raise ``TypeError``,
wrong values ``ValueError``, each naming the argument.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..validate import finite_scalar, real_ndarray


def dtype_and_compiler(dtype: Any, compiler: Any):
    """``(numpy.dtype, JITCompiler)``: float32/float64 only; ``compiler=None`` means the global one."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if compiler is None:
        from ..compiler import get_global_compiler

        compiler = get_global_compiler()
    return dtype, compiler


def integer(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (Python or numpy integer, not bool), at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def real(name: str, value: Any, low: float | None = None, high: float | None = None, *, open_low: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``open_low``; a bound
    that is None is not checked)."""
    result = finite_scalar(name, value)
    below = low is not None and (result <= low if open_low else result < low)
    if below or (high is not None and result > high):
        if high is None:
            wanted = f"{'>' if open_low else '>='} {low:g}"
        elif low is None:
            wanted = f"<= {high:g}"
        else:
            wanted = f"in {'(' if open_low else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must be {wanted}, got {result}")
    return result


def real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array of finite numbers; strings, complex and objects are refused."""
    return real_ndarray(name, value, finite=True).astype(np.float64, copy=False)


def per_input(name: str, value: Any, n_inputs: int) -> np.ndarray:
    """A scalar or an ``(n_inputs,)`` array of finite reals, as ``(n_inputs,)`` float64."""
    array = real_array(name, value)
    if array.ndim > 1 or (array.ndim == 1 and array.shape[0] != n_inputs):
        raise ValueError(f"{name} must be a scalar or of shape ({n_inputs},), got shape {array.shape}")
    return np.broadcast_to(array, (n_inputs,)).copy()
