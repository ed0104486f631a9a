"""The one validation layer in front of every kernel, on every backend.

Compiled loops do no bounds or type checking: a wrong dtype, rank or stride reaching
native code crashes the process or silently gives wrong numbers. Everything is
therefore checked and converted here, once per public call, before dispatch:

* rank and shape agreement, with the dimension names in the message
  (``weights must be (N, N) = (50, 50), got (10, 10)``);
* dtype: float32/float64 pass through, bool/int/float16 are converted, complex, object,
  string and other non-real dtypes raise :class:`TypeError`;
* layout: anything not C-contiguous (strided views, Fortran order) is copied;
* scalars: finite, and positive where the maths needs it;
* ``scipy.sparse`` matrices (where a parameter accepts them): shape checked, converted to
  the call's dtype in compressed form (:class:`Compressed`), never densified. scipy is
  never imported here: a sparse matrix is recognised by its type's module.

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
_DTYPE_NAMES = {"f": "float32", "d": "float64"}
#: 2**128 - 2**103: the smallest magnitude that rounds to inf in float32
_FLOAT32_OVERFLOW = 3.4028235677973366e38


def real_ndarray(name: str, value: Any, *, finite: bool = False) -> np.ndarray:
    """``value`` as a numpy array of real numbers (bool, int or float; not converted), or a
    ``TypeError`` naming it; with ``finite``, NaN and inf are a ``ValueError``."""
    array = _as_ndarray(name, value)
    if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must hold finite numbers (it has NaN or infinite entries)")
    return array


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


def is_sparse(value: Any) -> bool:
    """Whether ``value`` is a ``scipy.sparse`` matrix or array (without importing scipy)."""
    return type(value).__module__.startswith("scipy.sparse")


class Compressed:
    """A ``scipy.sparse`` matrix checked and converted for a call: its compressed rows
    (``by="rows"``, CSR) or columns (``by="columns"``, CSR of the transpose).

    Attributes
    ----------
    ptr : numpy.ndarray of uint64
        ``ptr[r] .. ptr[r+1]-1`` index the entries of row (column) ``r``.
    idx : numpy.ndarray of uint32
        The column (row) of each entry, ascending within a row (column); duplicates summed.
    val : numpy.ndarray
        The entries, in the call's dtype (explicitly stored zeros kept: they take part).
    shape : tuple
        The matrix's shape (not the transpose's).
    finite : bool
        Whether every stored entry is finite.
    """

    __slots__ = ("ptr", "idx", "val", "shape", "finite", "nnz")

    def __init__(self, ptr: np.ndarray, idx: np.ndarray, val: np.ndarray, shape: tuple):
        self.ptr, self.idx, self.val, self.shape = ptr, idx, val, shape
        self.nnz = val.shape[0]
        self.finite = bool(np.isfinite(val).all())


def compress(name: str, value: Any, dtype: np.dtype, by: str) -> Compressed:
    """A ``scipy.sparse`` ``value`` as :class:`Compressed` rows or columns in ``dtype`` (a private copy)."""
    if value.ndim != 2:
        raise ValueError(f"{name} must be a 2-D sparse matrix, got {value.ndim}-D")
    if value.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers (float32 or float64), got dtype {value.dtype}")
    if max(value.shape, default=0) >= 2**32:
        raise ValueError(f"{name} is too large for the compressed loops (a dimension of 2**32 or more)")
    matrix = value.tocsc(copy=True) if by == "columns" else value.tocsr(copy=True)
    matrix = matrix.astype(dtype, copy=False)
    matrix.sum_duplicates()  # canonical: sorted indices, no duplicates (in place, on the copy)
    val = np.ascontiguousarray(matrix.data, dtype=dtype)
    return Compressed(np.ascontiguousarray(matrix.indptr, dtype=np.uint64),
                      np.ascontiguousarray(matrix.indices, dtype=np.uint32), val, tuple(value.shape))


def precision(name: str, value: Any) -> int:
    """How ``value`` takes part in choosing a call's dtype: 0 not at all (None, Python
    scalars, integer and bool arrays), 1 float32 (or float16), 2 float64 or wider.
    Wrong input types raise here, naming the argument."""
    if not isinstance(value, np.ndarray):  # (an ndarray first: the ABC check is slow)
        if is_sparse(value):
            value = np.empty(0, value.dtype)  # its dtype is all that counts
        elif value is None or isinstance(value, numbers.Number) and not isinstance(value, np.generic):
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
        self._dims(name, array.shape, dims)
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
        self._dims(name, array.shape, dims)
        flags = array.flags
        if array.dtype == dtype and flags.c_contiguous and flags.writeable:
            return array
        if array.size and array.dtype != dtype and not np.can_cast(array.dtype, dtype):
            info = np.iinfo(dtype)
            low, high = int(array.min()), int(array.max())
            if low < info.min or high > info.max:
                raise ValueError(f"{name} must be in [{info.min}, {info.max}] ({dtype}), got values in [{low}, {high}]")
        return _writeable(np.ascontiguousarray(array, dtype=dtype))

    def _dims(self, name: str, shape: tuple, dims: Sequence[str], what: str = "") -> None:
        """Check a ``shape``'s rank and sizes against the named dimensions (recording new ones);
        ``what`` describes the value in the rank error (default: an array of that shape)."""
        if len(shape) != len(dims):
            got = what or f"{len(shape)}-D array of shape {shape}"
            raise ValueError(f"{name} must be {len(dims)}-D {_layout(dims)}, got {got}")
        sizes = self.sizes
        for dim, size in zip(dims, shape):
            known = sizes.get(dim)
            if known is None:
                sizes[dim] = size
                self.origins[dim] = name
            elif known != size:
                self._mismatch(name, dims, shape)

    def matrix(self, name: str, value: Any, dims: Sequence[str], by: str) -> np.ndarray | Compressed:
        """A dense array as :meth:`array`, or a ``scipy.sparse`` matrix as :class:`Compressed`
        rows or columns (``by``) of the call's dtype, its shape checked against ``dims``."""
        if not is_sparse(value):
            return self.array(name, value, dims)
        shape = tuple(value.shape)
        self._dims(name, shape, dims, f"a sparse matrix of shape {shape}")
        return compress(name, value, self.dtype, by)

    def fractions(self, name: str, value: Any, dim: str) -> np.ndarray:
        """A length-``dim`` vector of numbers in (0, 1] in the call's dtype, broadcasting a scalar."""
        if type(value) is not np.ndarray and isinstance(value, numbers.Real) or (
            isinstance(value, np.ndarray) and value.ndim == 0
        ):
            number = self.scalar(name, fraction(name, value), positive=True)
            return np.full(self.sizes[dim], number, dtype=self.dtype)
        array = self.array(name, value, (dim,))
        if not ((array > 0) & (array <= 1)).all():
            bad = array[~((array > 0) & (array <= 1))]
            raise ValueError(f"{name} must be in (0, 1] (in {self.dtype_name}, the call's dtype) for every unit, "
                             f"got {bad.size} outside it (e.g. {bad[0]})")
        return array

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

    def scalar(self, name: str, value: float, *, positive: bool = False) -> np.generic:
        """A validated Python float as a scalar of the call's dtype, still finite there (and
        still positive, if asked: a tiny positive number can round to 0 in float32)."""
        if self.dtype is FLOAT32 and not -_FLOAT32_OVERFLOW < value < _FLOAT32_OVERFLOW:
            raise ValueError(f"{name} = {value} is out of the range of float32 (the call's dtype)")
        converted = self.dtype.type(value)
        if positive and not converted > 0:
            raise ValueError(f"{name} = {value} is 0 in {self.dtype_name} (the call's dtype); it must be positive")
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
        raise ValueError(f"{name} must be finite, got an integer too large for a float ({len(str(abs(int(value))))} digits)") from None
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
