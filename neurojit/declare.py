"""How a public kernel is declared: its parameters (kinds, shapes, defaults), the loops it
runs, the axis it splits along, and its body.

A declaration (:class:`KernelSpec`) is the single source from which a kernel's argument
checking and conversion, its call signature and defaults, its bound form, its Dask
wrapper, its CLI and warm-up entries and its benchmark inputs are derived. The kernels
themselves are declared in :mod:`neurojit.operations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .validate import Shapes, finite_scalar, fraction

REQUIRED = object()  # marks a parameter without a default
KINDS = ("array", "matrix", "vector", "fractions", "index", "scalar", "positive", "fraction", "option")


@dataclass(frozen=True)
class Param:
    """One parameter of a public kernel.

    Parameters
    ----------
    name : str
    kind : {"array", "matrix", "vector", "fractions", "index", "scalar", "positive", "fraction", "option"}
        ``"array"``: an array of the named ``dims`` (in the call's float dtype); ``"matrix"``: a
        2-D array, or a ``scipy.sparse`` matrix kept compressed (a
        :class:`~neurojit.validate.Compressed` of its rows or columns, see ``by``); ``"vector"``:
        a ``(dim,)`` array or a scalar broadcast to it (``None`` means 0); ``"fractions"``: as
        ``"vector"``, every entry in (0, 1]; ``"index"``: an array of integers of the named
        ``dims``, converted to ``dtype`` (it takes no part in the call's float dtype);
        ``"scalar"``: a finite real number; ``"positive"``: finite and > 0; ``"fraction"``:
        finite, in (0, 1]; ``"option"``: one of ``choices``.
    dims : tuple of str
        Named dimensions (``"B"``, ``"T"``, ``"N"``, ...), shared across the call's arrays.
    default : object
        The default value, or :data:`REQUIRED`.
    role : str
        What benchmark and test inputs put there: ``"events"`` (0/1 spikes), ``"operand"``
        (0/1 spikes below density 1, Gaussian at 1), ``"weights"``, ``"state"``,
        ``"threshold"``, ``"taps"``, ``"time"``; empty for parameters left at their default.
    native : bool
        A scalar the loop receives in the call's dtype (checked finite after conversion);
        False for one the body uses in double precision first (``dt``, ``tau``).
    by : {"rows", "columns"}
        For ``"matrix"``: a sparse matrix compressed by rows (CSR) or by columns (CSR of its
        transpose), whichever its loop reads.
    dtype : str
        The integer dtype of an ``"index"`` array.
    choices : tuple
        The values an ``"option"`` takes.

    Attributes
    ----------
    check : callable
        ``check(shapes, value)``: the value validated and converted for a call computing
        in ``shapes.dtype`` (a :class:`~neurojit.validate.Shapes`).
    """

    name: str
    kind: str
    dims: tuple[str, ...] = ()
    default: Any = REQUIRED
    role: str = ""
    native: bool = True
    by: str = "rows"
    dtype: str = "int64"
    choices: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")
        object.__setattr__(self, "check", _checker(self))

    @property
    def is_array(self) -> bool:
        return self.kind in ("array", "matrix", "vector", "fractions", "index")

    @property
    def checks_values(self) -> bool:
        """Its check looks at an array's values, not only at its shape, dtype and layout."""
        return self.kind == "fractions"

    def check_scalar(self, value: Any) -> None:
        """Check a scalar for a vector parameter before its size is known (a bound argument
        fails at ``bind``, not at the first call)."""
        if self.kind == "fractions":
            fraction(self.name, value)
        elif value is not None:
            finite_scalar(self.name, value)

    @property
    def needs_sizes(self) -> bool:
        """A scalar broadcast to a vector needs that vector's size from the call."""
        return self.kind in ("vector", "fractions")


def _checker(p: Param) -> Callable[[Shapes, Any], Any]:
    """``check(shapes, value)``: ``value`` validated and converted for a call in ``shapes.dtype``
    (one closure per parameter, so that a call does no dispatch on the kind)."""
    name, dims = p.name, p.dims
    if p.kind == "array":
        return lambda shapes, value: shapes.array(name, value, dims)
    if p.kind == "matrix":
        by = p.by
        return lambda shapes, value: shapes.matrix(name, value, dims, by)
    if p.kind == "fractions":
        return lambda shapes, value: shapes.fractions(name, value, dims[0])
    if p.kind == "vector":
        return lambda shapes, value: shapes.vector_or_scalar(name, 0.0 if value is None else value, dims[0])
    if p.kind == "index":
        dtype = np.dtype(p.dtype)
        return lambda shapes, value: shapes.index(name, value, dims, dtype)
    if p.kind == "option":
        choices = p.choices

        def option(shapes, value):
            if not isinstance(value, str) or value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
            return value

        return option
    positive = p.kind in ("positive", "fraction")
    if p.kind == "fraction":
        number = lambda value: fraction(name, value)  # noqa: E731
    else:
        number = lambda value: finite_scalar(name, value, positive=positive)  # noqa: E731
    if p.native:
        return lambda shapes, value: shapes.scalar(name, number(value), positive=positive)
    return lambda shapes, value: number(value)


@dataclass(frozen=True)
class KernelSpec:
    """One public kernel, declared once.

    Parameters
    ----------
    body : callable
        ``body(loops, *arguments)``: the validated arguments in declaration order, ``loops``
        the resolved loops (attributes by loop name; ``loops.native`` the set of those that
        run compiled code). Its docstring is the kernel's documentation.
    parameters : tuple of Param
    loops : tuple of str
        The loops (declared in :mod:`neurojit.kernels`) the body may call.
    split : str
        The dimension along which calls can be split into independent parts (Dask chunks).
    public : bool
        Exposed as ``compile_*_kernel``, ``jit_*`` and in :mod:`neurojit.dask`; False for
        kernels that models use through :meth:`JITCompiler.kernel`.
    direct : callable or None
        ``direct(loops, given, memo, *arguments)``: for a call that gave exactly two arrays
        (the parameters at indices ``given``) and took the rest from bound values and
        defaults, a function of those two arrays that does what ``body`` does for any arrays
        of the same shapes, dtype and layout, with the loops it calls looked up once - or
        None where it has none. A bound step then costs its loop call and little more.
        ``memo`` is a dict the bound kernel keeps for it: what it built for an earlier call
        (when calls of other shapes come between).
    """

    name: str
    body: Callable
    parameters: tuple[Param, ...]
    loops: tuple[str, ...]
    split: str = "B"
    public: bool = True
    direct: Callable | None = None

    @property
    def doc(self) -> str:
        return self.body.__doc__ or ""

    def parameter(self, name: str) -> Param:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def signature(self, exclude: tuple[str, ...] = ()):
        """The kernel's call signature (:class:`inspect.Signature`), without ``exclude``."""
        import inspect  # only for introspection; keeps it off the import path

        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        return inspect.Signature([
            inspect.Parameter(p.name, kind, **({} if p.default is REQUIRED else {"default": p.default}))
            for p in self.parameters if p.name not in exclude
        ], return_annotation=np.ndarray)
