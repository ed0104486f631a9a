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
from typing import Any, Sequence

import numpy as np

_REAL_KINDS = "biuf"  # bool, signed, unsigned, floating
FLOAT32, FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
_DTYPE_NAMES = {"f": "float32", "d": "float64"}


def _as_ndarray(name: str, value: Any) -> np.ndarray:
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged nested lists and the like
            raise TypeError(f"{name} must be a numeric array: {exc}") from exc
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers (float32 or float64), got dtype {array.dtype}")
    return array


def precision(name: str, value: Any) -> int:
    """How ``value`` takes part in choosing a call's dtype: 0 not at all (None, Python
    scalars, integer and bool arrays), 1 float32 (or float16), 2 float64 or wider.
    Wrong input types raise here, naming the argument."""
    if not isinstance(value, np.ndarray):  # (an ndarray first: the ABC check is slow)
        if value is None or isinstance(value, numbers.Number) and not isinstance(value, np.generic):
            return 0
        value = _as_ndarray(name, value)
    dtype = value.dtype
    if dtype.kind == "f":
        return 1 if dtype.itemsize <= 4 else 2
    if dtype.kind not in _REAL_KINDS:
        _as_ndarray(name, value)  # raises the TypeError
    return 0


def dtype_for(highest: int) -> np.dtype:
    """The call's dtype from the highest :func:`precision` among its arrays: float32 if
    every floating input is float32, else float64."""
    return FLOAT32 if highest == 1 else FLOAT64


def float_dtype(**arrays: Any) -> np.dtype:
    """The dtype a call computes in: float32 if every floating input is float32, else float64.

    Integer and bool inputs (spike arrays, typically) do not take part in the choice;
    float16 counts as float32. Wrong input types raise here, naming the argument.
    """
    return dtype_for(max([precision(name, value) for name, value in arrays.items()], default=0))


def _layout(dims: Sequence[str]) -> str:
    return "(" + ", ".join(dims) + ")"


class Shapes:
    """Collects named dimensions (B, T, N, ...) across the arrays of one call and checks them.

    Parameters
    ----------
    dtype : numpy.dtype
        Every array is converted to this dtype, C-contiguous.
    sizes, origins : dict, optional
        Dimensions already known (a bound kernel's), and the argument each came from.
    """

    __slots__ = ("dtype", "dtype_name", "sizes", "origins")

    def __init__(self, dtype: np.dtype, sizes: dict[str, int] | None = None, origins: dict[str, str] | None = None):
        self.dtype = dtype
        #: "float32" or "float64", the loops' dtype key (``dtype.name`` costs ~2.5 us a call)
        self.dtype_name = _DTYPE_NAMES[dtype.char]
        #: dimension -> size, and dimension -> the argument it was first seen in
        self.sizes: dict[str, int] = {} if sizes is None else sizes
        self.origins: dict[str, str] = {} if origins is None else origins

    def array(self, name: str, value: Any, dims: Sequence[str]) -> np.ndarray:
        """``value`` as a C-contiguous array of the call's dtype with the named ``dims``."""
        array = value if type(value) is np.ndarray and value.dtype is self.dtype else _as_ndarray(name, value)
        shape = array.shape  # (the checks of _dims, inline: this is every call's hot path)
        if len(shape) != len(dims):
            raise ValueError(
                f"{name} must be {len(dims)}-D {_layout(dims)}, got {array.ndim}-D array of shape {array.shape}"
            )
        sizes = self.sizes
        for dim, size in zip(dims, shape):
            known = sizes.get(dim)
            if known is None:
                sizes[dim] = size
                self.origins[dim] = name
            elif known != size:
                self._mismatch(name, dims, shape)
        flags = array.flags
        if array.dtype is self.dtype and flags.c_contiguous and flags.writeable:
            return array  # the common case, without a call into numpy's conversion machinery
        return _writeable(np.ascontiguousarray(array, dtype=self.dtype))

    def index(self, name: str, value: Any, dims: Sequence[str], dtype: np.dtype) -> np.ndarray:
        """``value``, an array of integers, as a C-contiguous ``dtype`` array with the named ``dims``
        (values that ``dtype`` cannot hold raise)."""
        array = value if type(value) is np.ndarray else _as_ndarray(name, value)
        if array.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
        self._dims(name, array, dims)
        flags = array.flags
        if array.dtype == dtype and flags.c_contiguous and flags.writeable:
            return array
        if array.size and array.dtype != dtype and not np.can_cast(array.dtype, dtype):
            info = np.iinfo(dtype)
            low, high = int(array.min()), int(array.max())
            if low < info.min or high > info.max:
                raise ValueError(f"{name} must be in [{info.min}, {info.max}] ({dtype}), got values in [{low}, {high}]")
        return _writeable(np.ascontiguousarray(array, dtype=dtype))

    def _dims(self, name: str, array: np.ndarray, dims: Sequence[str]) -> None:
        """Check ``array``'s rank and its sizes against the named dimensions (recording new ones)."""
        shape = array.shape
        if len(shape) != len(dims):
            raise ValueError(
                f"{name} must be {len(dims)}-D {_layout(dims)}, got {array.ndim}-D array of shape {array.shape}"
            )
        sizes = self.sizes
        for dim, size in zip(dims, shape):
            known = sizes.get(dim)
            if known is None:
                sizes[dim] = size
                self.origins[dim] = name
            elif known != size:
                self._mismatch(name, dims, shape)

    def _mismatch(self, name: str, dims: Sequence[str], shape: tuple) -> None:
        sizes, origins = self.sizes, self.origins
        known = [str(sizes[d]) if d in sizes else d for d in dims]
        expected = f"({known[0]},)" if len(dims) == 1 else "(" + ", ".join(known) + ")"
        where = ", ".join(dict.fromkeys(
            f"{d} = {sizes[d]} from {origins[d]}" for d in dims if d in sizes and origins[d] != name
        )) or "its own axes disagree"
        raise ValueError(f"{name} must be {_layout(dims)} = {expected}, got {shape} ({where})")

    def vector_or_scalar(self, name: str, value: Any, dim: str) -> np.ndarray:
        """A length-``dim`` vector, broadcasting a scalar (``dim`` must already be known)."""
        if type(value) is not np.ndarray and isinstance(value, numbers.Real) or (
            isinstance(value, np.ndarray) and value.ndim == 0
        ):
            return np.full(self.sizes[dim], self.scalar(name, finite_scalar(name, value)), dtype=self.dtype)
        return self.array(name, value, (dim,))

    def scalar(self, name: str, value: float) -> np.generic:
        """A validated Python float as a scalar of the call's dtype, still finite there."""
        converted = self.dtype.type(value)
        if not math.isfinite(converted):
            raise ValueError(f"{name} = {value} is out of the range of {self.dtype_name}")
        return converted


def _writeable(converted: np.ndarray) -> np.ndarray:
    """Read-only arrays do not match the compiled loops' signatures (numba types them as
    readonly); the loops never write their inputs, but a copy is the safe answer."""
    return converted if converted.flags.writeable else converted.copy()


def finite_scalar(name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as a finite float (strictly positive if asked), else a clear error."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name} must be finite, got an integer of {int(value).bit_length()} bits") from None
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
