"""A public kernel on a resolver's loops (:class:`Kernel`), its bound form
(:class:`BoundKernel`, API.md section 6) and the resolved loops of one dtype (:class:`Loops`).

Everything a call does comes from the kernel's declaration (:mod:`neurojit.operations`):
the arguments are bound as Python would bind them, checked and converted by their
:class:`~neurojit.declare.Param`, and handed to the declared body with the loops.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable

import numpy as np

from .backends import select
from .declare import REQUIRED, KernelSpec
from .operations import KERNELS
from .validate import Shapes, dtype_for, precision

_DTYPE_NAMES = ("float32", "float64")


def _private(value: Any) -> Any:
    """A copy of an array argument (scalars and None are immutable and kept as they are)."""
    if value is None or isinstance(value, (numbers.Number, np.generic)):
        return value
    return np.array(value, copy=True)


class Loops:
    """The loops of one kernel for one dtype: ``loops.<loop name>(...)``.

    Each loop is resolved at its first use, before it runs (compiled, or its NumPy twin
    where the compile failed), and is then a plain attribute.

    Attributes
    ----------
    native : frozenset of str
        The loops that run compiled code (the others are NumPy twins).
    """

    def __init__(self, resolver: select.Resolver, kernel: str, dtype: str, names: tuple[str, ...]):
        self._resolver, self._kernel, self._dtype = resolver, kernel, dtype
        self.native = frozenset(names) if resolver.backend.native else frozenset()

    def __getattr__(self, name: str) -> Callable:  # only for loops not resolved yet
        if name.startswith("_"):
            raise AttributeError(name)
        function, native = self._resolver.loop(name, self._dtype, self._kernel)
        if not native:
            self.native = self.native - {name}
        setattr(self, name, function)
        return function


class Kernel:
    """A public kernel on a compiler's backend. Call it like the documented function.

    Attributes
    ----------
    name : str
        Kernel name, e.g. ``"spike_processing"``.
    backend : str
        ``"aot"``, ``"jit"`` or ``"python"``: the backend its calls run on.
    """

    def __init__(self, resolver: select.Resolver, spec: KernelSpec):
        self._resolver = resolver
        self.spec = spec
        self.loops = spec.loops
        self.name = self.__name__ = self.__qualname__ = spec.name
        self.__doc__ = spec.doc
        self._parameters = spec.parameters
        self._names = tuple(p.name for p in spec.parameters)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._defaults = tuple(p.default for p in spec.parameters)
        self._arrays = tuple(i for i, p in enumerate(spec.parameters) if p.is_array)
        self._resolved: dict[str, Loops] = {}

    @functools.cached_property
    def __signature__(self):
        return self.spec.signature()

    @property
    def backend(self) -> str:
        return self._resolver.backend_of(self.loops)[0]

    def _loops(self, dtype_name: str) -> Loops:
        """This kernel's loops for ``dtype_name`` (each resolved at its first use)."""
        loops = self._resolved.get(dtype_name)
        if loops is None:
            loops = self._resolved.setdefault(dtype_name, Loops(self._resolver, self.name, dtype_name, self.loops))
        return loops

    def _arguments(self, names: tuple, defaults: tuple, args: tuple, kwargs: dict) -> list:
        """The call's arguments in parameter order, defaults filled in, as Python binds them."""
        if len(args) > len(names):
            raise TypeError(f"{self.name}() takes {len(names)} arguments but {len(args)} were given")
        values = [*args, *defaults[len(args):]]
        for key, value in kwargs.items():
            try:
                i = names.index(key)
            except ValueError:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}") from None
            if i < len(args):
                raise TypeError(f"{self.name}() got multiple values for argument {key!r}")
            values[i] = value
        missing = [n for n, v in zip(names[len(args):], values[len(args):]) if v is REQUIRED] if kwargs or len(
            args) < len(names) else ()
        if missing:
            raise TypeError(f"{self.name}() missing required argument{'s' * (len(missing) > 1)}: {', '.join(missing)}")
        return values

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        values = self._arguments(self._names, self._defaults, args, kwargs)
        names = self._names
        shapes = Shapes(dtype_for(max([precision(names[i], values[i]) for i in self._arrays])))
        checked = [p.check(shapes, v) for p, v in zip(self._parameters, values)]
        return self.spec.body(self._loops(shapes.dtype_name), *checked)

    def bind(self, **arguments: Any) -> "BoundKernel":
        """This kernel with some arguments (by name) taken, checked and converted once.

        Returns
        -------
        BoundKernel
            Takes the remaining arguments in the kernel's order or by name; its results equal
            the unbound call's, bit for bit. The bound arrays are private copies: later
            changes to the caller's arrays do not affect it.

        Examples
        --------
        >>> step = compiler.compile_reservoir_update_kernel().bind(
        ...     input_weights=w_in, reservoir_weights=w, leak_rate=0.3)   # doctest: +SKIP
        >>> x = step(x, u)                                                # doctest: +SKIP
        """
        return BoundKernel(self, arguments)

    def __repr__(self) -> str:
        return f"<neurojit kernel {self.name} on {self.backend}>"


class BoundKernel:
    """A :class:`Kernel` with some arguments bound (see :meth:`Kernel.bind`)."""

    def __init__(self, kernel: Kernel, arguments: dict[str, Any]):
        unknown = [name for name in arguments if name not in kernel._names]
        if unknown:
            raise TypeError(f"{kernel.name}() has no parameter {', '.join(map(repr, unknown))}; "
                            f"its parameters are {', '.join(kernel._names)}")
        self.kernel = kernel
        self.name = self.__name__ = kernel.name
        self.__doc__ = kernel.__doc__
        parameters = kernel.spec.parameters
        # private copies, in the caller's precision (converted per call dtype below)
        self._bound = {i: _private(arguments[p.name]) for i, p in enumerate(parameters) if p.name in arguments}
        self._free = tuple(i for i in range(len(parameters)) if i not in self._bound)
        self._names = tuple(kernel._names[i] for i in self._free)
        self._defaults = tuple(kernel._defaults[i] for i in self._free)
        self._free_arrays = tuple(k for k, i in enumerate(self._free) if parameters[i].is_array)
        self._precision = max([precision(kernel._names[i], v) for i, v in self._bound.items() if parameters[i].is_array],
                              default=0)
        self._prepared: dict[str, tuple] = {}
        self._prepare(dtype_for(self._precision))  # bad bound arguments fail here, not at the first call

    @functools.cached_property
    def __signature__(self):
        return self.kernel.spec.signature(exclude=tuple(self.kernel._names[i] for i in self._bound))

    @property
    def backend(self) -> str:
        return self.kernel.backend

    def _prepare(self, dtype: np.dtype) -> tuple:
        """The bound arguments checked and converted for a call in ``dtype`` (once per dtype)."""
        shapes = Shapes(dtype)
        parameters = self.kernel.spec.parameters
        values: list[Any] = [None] * len(parameters)
        deferred = []
        for i, value in self._bound.items():
            p = parameters[i]
            if p.kind == "vector" and p.dims[0] not in shapes.sizes and np.ndim(value) == 0:
                deferred.append((i, value))  # a scalar to broadcast once the call gives its size
            else:
                values[i] = p.check(shapes, value)
        prepared = (dict(shapes.sizes), values, tuple(deferred))
        self._prepared[shapes.dtype_name] = prepared
        return prepared

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        kernel = self.kernel
        names = self._names
        values = args if len(args) == len(names) and not kwargs else kernel._arguments(names, self._defaults, args, kwargs)
        dtype = dtype_for(max([self._precision, *[precision(names[k], values[k]) for k in self._free_arrays]]))
        prepared = self._prepared.get(_DTYPE_NAMES[dtype.itemsize == 8])
        if prepared is None:
            prepared = self._prepare(dtype)
        sizes, checked, deferred = prepared
        shapes = Shapes(dtype, dict(sizes))
        checked = list(checked)
        parameters = kernel._parameters
        for i, value in zip(self._free, values):
            checked[i] = parameters[i].check(shapes, value)
        for i, value in deferred:
            checked[i] = parameters[i].check(shapes, value)
        return kernel.spec.body(kernel._loops(shapes.dtype_name), *checked)

    def __repr__(self) -> str:
        bound = ", ".join(self.kernel._names[i] for i in self._bound)
        return f"<neurojit kernel {self.name} on {self.backend}, bound: {bound}>"


def kernel_on(backend, name: str) -> Kernel:
    """The kernel ``name`` on a given backend object (benchmarks compare backends this way)."""
    return Kernel(select.Resolver.on(backend), KERNELS[name])
