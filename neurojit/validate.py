"""The one validation layer in front of every kernel, on every backend.

Compiled loops do no bounds or type checking: a wrong dtype, rank or stride reaching
native code crashes the process or silently gives wrong numbers. Everything is
therefore checked and converted here, once per public call, before dispatch:

* rank and shape agreement, with the dimension names in the message
  (``weights must be (N, N) = (50, 50), got (10, 10)``);
* dtype: float32/float64 pass through, bool/int/float16 are converted, complex, object,
  string and other non-real dtypes raise :class:`TypeError`;
* layout: anything not C-contiguous (strided views, Fortran order) is copied;
* scalars: finite, and positive where the maths needs it.

Inputs are never written to: the loops read them and write a fresh output array.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Sequence

import numpy as np

_REAL_KINDS = "biuf"  # bool, signed, unsigned, floating
FLOAT32, FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)


def _as_ndarray(name: str, value: Any) -> np.ndarray:
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = _asarray_strict(value)
        except (ValueError, TypeError) as exc:  # ragged nested lists and the like
            raise TypeError(f"{name} must be a numeric array: {exc}") from exc
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers (float32 or float64), got dtype {array.dtype}")
    return array


def float_dtype(**arrays: Any) -> np.dtype:
    """The dtype a call computes in: float32 if every floating input is float32, else float64.

    Integer and bool inputs (spike arrays, typically) do not take part in the choice;
    float16 counts as float32. Wrong input types raise here, naming the argument.
    """
    any_floating = any_wide = False
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) and (  # (an ndarray first: the ABC check is slow)
            value is None or isinstance(value, numbers.Number) and not isinstance(value, np.generic)
        ):
            continue  # optional arguments and Python scalars do not choose the precision
        dtype = _as_ndarray(name, value).dtype
        if dtype.kind == "f":
            any_floating = True
            any_wide = any_wide or dtype.itemsize > 4
    return FLOAT32 if any_floating and not any_wide else FLOAT64


def _layout(dims: Sequence[str]) -> str:
    return "(" + ", ".join(dims) + ")"


class Shapes:
    """Collects named dimensions (B, T, N, ...) across the arrays of one call and checks them.

    Parameters
    ----------
    dtype : numpy.dtype
        Every array is converted to this dtype, C-contiguous.
    """

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        #: "float32" or "float64", the loops' dtype key (``dtype.name`` costs ~2.5 us a call)
        self.dtype_name = {"f": "float32", "d": "float64"}[dtype.char]
        self.sizes: dict[str, int] = {}

    def array(self, name: str, value: Any, dims: Sequence[str]) -> np.ndarray:
        """``value`` as a C-contiguous array of the call's dtype with the named ``dims``."""
        array = _as_ndarray(name, value)
        if array.ndim != len(dims):
            raise ValueError(
                f"{name} must be {len(dims)}-D {_layout(dims)}, got {array.ndim}-D array of shape {array.shape}"
            )
        expected = tuple([self.sizes.setdefault(dim, size) for dim, size in zip(dims, array.shape)])
        if expected != array.shape:
            raise ValueError(f"{name} must be {_layout(dims)} = {expected}, got {array.shape}")
        converted = np.ascontiguousarray(array, dtype=self.dtype)
        if not converted.flags.writeable:
            # Read-only arrays do not match the compiled loops' signatures (numba types them
            # as readonly); the loops never write their inputs, but a copy is the safe answer.
            converted = converted.copy()
        return converted

    def vector_or_scalar(self, name: str, value: Any, dim: str) -> np.ndarray:
        """A length-``dim`` vector, broadcasting a scalar (``dim`` must already be known)."""
        if isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0):
            scalar = finite_scalar(name, value)
            return np.full(self.sizes[dim], scalar, dtype=self.dtype)
        return self.array(name, value, (dim,))

    def scalar(self, value: float) -> np.generic:
        """A validated Python float as a scalar of the call's dtype."""
        return self.dtype.type(value)


def finite_scalar(name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as a finite float (strictly positive if asked), else a clear error."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    if positive and result <= 0:
        raise ValueError(f"{name} must be positive, got {result}")
    return result


def fraction(name: str, value: Any) -> float:
    """A finite number in (0, 1]."""
    result = finite_scalar(name, value)
    if not 0 < result <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {result}")
    return result


#: numpy < 1.24 only warns on ragged nested lists (and makes an object array); later ones raise ValueError
_RAGGED_WARNS = np.lib.NumpyVersion(np.__version__) < "1.24.0"
_RAGGED_WARNING = getattr(getattr(np, "exceptions", np), "VisibleDeprecationWarning", DeprecationWarning)


def _asarray_strict(value: Any) -> np.ndarray:
    """``numpy.asarray(value)``, raising ValueError on ragged input with every numpy."""
    if not _RAGGED_WARNS:
        return np.asarray(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", _RAGGED_WARNING)
        try:
            return np.asarray(value)
        except _RAGGED_WARNING:
            raise ValueError("the nested sequences have different lengths (an inhomogeneous shape)") from None
