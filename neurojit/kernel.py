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
from .validate import FLOAT32, FLOAT64, Shapes, dtype_for, is_sparse, precision

_DTYPE_NAMES = ("float64", "float32")  # indexed by "is the call float32"
#: types whose values cannot change: a slot given the same object again needs no new check
_IMMUTABLE = (float, int, bool, str, type(None))
_NOTHING = object()  # matches no argument
_NDARRAY = np.ndarray
_C_CONTIGUOUS_WRITEABLE = 0x1 | 0x400  # NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_WRITEABLE (numpy's flags.num bits)
#: dtype character -> its part in choosing the call's dtype (see validate.precision)
_PRECISION = {"e": 1, "f": 1, "d": 2, "g": 2, "?": 0, "b": 0, "B": 0, "h": 0, "H": 0, "i": 0, "I": 0,
              "l": 0, "L": 0, "q": 0, "Q": 0}


def _private(value: Any) -> Any:
    """A copy of an array argument (scalars and None are immutable and kept as they are)."""
    if value is None or isinstance(value, (numbers.Number, np.generic)):
        return value
    if is_sparse(value):
        return value.copy()
    return np.array(value, copy=True)


class Loops:
    """The loops of one kernel for one dtype: ``loops.<loop name>(...)``.

    Each loop is resolved at its first use, before it runs (compiled, or its NumPy twin
    where the compile failed), and is then a plain attribute.

    Attributes
    ----------
    native : frozenset of str
        The loops that run compiled code (the others are NumPy twins).
    threads : int
        Threads one call of a loop spreads over (batch split or prange), at least 1.
    """

    def __init__(self, resolver: select.Resolver, kernel: str, dtype: str, names: tuple[str, ...]):
        self._resolver, self._kernel, self._dtype = resolver, kernel, dtype
        self.native = frozenset(names) if resolver.backend.native else frozenset()
        self.threads = max(1, getattr(resolver.backend, "threads", 1))

    def __getattr__(self, name: str) -> Callable:  # only for loops not resolved yet
        if name.startswith("_"):
            raise AttributeError(name)
        function, native = self._resolver.loop(name, self._dtype, self._kernel)
        if not native:
            self.native = self.native - {name}
        setattr(self, name, function)
        return function

    def one_row(self, name: str) -> Callable:
        """The loop ``name`` for calls whose batch is one row: the loop itself, without the
        thread split's wrapper (which calls it as it is for one row)."""
        function = getattr(self, name)
        return getattr(function, "unsplit", function)


class BoundKernel:
    """A public kernel with some arguments bound (see :meth:`Kernel.bind`); a :class:`Kernel`
    is one with none bound. Call it like the documented function, less the bound arguments.

    A call binds its arguments as Python would, works out the dtype (float32 only if every
    floating array is float32), checks and converts what it was given with each parameter's
    declared check (the bound arguments and the defaults were checked once per dtype), and
    runs the declared body with the loops resolved for that dtype.

    Attributes
    ----------
    name : str
        Kernel name, e.g. ``"spike_processing"``.
    backend : str
        ``"aot"``, ``"jit"`` or ``"python"``: the backend its calls run on.
    """

    def __init__(self, kernel: "Kernel | None", arguments: dict[str, Any], *, spec: KernelSpec | None = None,
                 resolver: select.Resolver | None = None):
        self.spec = spec = spec if spec is not None else kernel.spec
        self._resolver = resolver if resolver is not None else kernel._resolver
        self._resolved: dict[str, Loops] = {} if kernel is None else kernel._resolved
        self.loops = spec.loops
        self.name = self.__name__ = self.__qualname__ = spec.name
        self.__doc__ = spec.doc
        parameters = self._parameters = spec.parameters
        names = tuple(p.name for p in parameters)
        unknown = [name for name in arguments if name not in names]
        if unknown:
            raise TypeError(f"{spec.name}() has no parameter {', '.join(map(repr, unknown))}; "
                            f"its parameters are {', '.join(names)}")
        # private copies, in the caller's precision (converted per call dtype below)
        self._bound = {i: _private(arguments[p.name]) for i, p in enumerate(parameters) if p.name in arguments}
        self._free = tuple(i for i in range(len(parameters)) if i not in self._bound)
        self._names = tuple(names[i] for i in self._free)
        self._required = sum(parameters[i].default is REQUIRED for i in self._free)
        self._array_slots = tuple(k for k, i in enumerate(self._free) if parameters[i].is_array)
        self._precision = max(
            [precision(names[i], v) for i, v in self._bound.items() if parameters[i].is_array], default=0
        )
        self._prepared: dict[str, tuple] = {}
        self._prepare(dtype_for(self._precision))  # bad bound arguments fail here, not at the first call
        #: the previous positional call: (number of arguments, its array slots as (slot, parameter
        #: index, shape), its other slots as (slot, parameter index, the immutable value given or
        #: _NOTHING, its checked form), dtype, Shapes, checked values without the call's own (None
        #: when the call gave every parameter as an array that passed as it is), loops)
        self._last: tuple | None = None
        #: instead of _last, for a previous call of exactly two arrays that passed as they are and
        #: nothing else (a product, a bound step): (dtype, shape of each, the function of the two
        #: that does the rest), checked inline - a loop over slots costs as much again
        self._pair: tuple | None = None
        self._direct_memo: dict = {}  # what the declaration's direct function keeps between calls
        self._body = spec.body

    @functools.cached_property
    def __signature__(self):
        return self.spec.signature(exclude=tuple(self._parameters[i].name for i in self._bound))

    @property
    def backend(self) -> str:
        return self._resolver.backend_of(self.loops)[0]

    def _loops(self, dtype_name: str) -> Loops:
        """The kernel's loops for ``dtype_name`` (each resolved at its first use)."""
        loops = self._resolved.get(dtype_name)
        if loops is None:
            loops = self._resolved.setdefault(dtype_name, Loops(self._resolver, self.name, dtype_name, self.loops))
        return loops

    def _prepare(self, dtype: np.dtype) -> tuple:
        """The bound arguments and the defaults checked and converted for ``dtype`` (once per dtype).

        Those that need a size only the call gives (a scalar broadcast to a vector) are left
        for the call: ``later`` (bound) and ``later_defaults`` (slot -> default).
        """
        shapes = Shapes(dtype)
        parameters = self._parameters
        values: list[Any] = [REQUIRED] * len(parameters)
        later = []
        for i, value in self._bound.items():
            p = parameters[i]
            if p.needs_sizes and p.dims[0] not in shapes.sizes and np.ndim(value) == 0:
                p.check_scalar(value)
                later.append((i, value))
            else:
                values[i] = p.check(shapes, value)
        later_defaults = {}
        for k, i in enumerate(self._free):
            p = parameters[i]
            if p.default is REQUIRED:
                continue
            if p.needs_sizes and p.dims[0] not in shapes.sizes:
                later_defaults[k] = p.default
            else:
                values[i] = p.check(shapes, p.default)
        prepared = (shapes.sizes, shapes.origins, values, tuple(later), later_defaults)
        self._prepared[shapes.dtype_name] = prepared
        return prepared

    def _given(self, args: tuple, kwargs: dict) -> dict[int, Any]:
        """Slot (index into the free parameters) -> value, bound as Python binds a call."""
        names = self._names
        if len(args) > len(names):
            raise TypeError(f"{self.name}() takes {len(names)} arguments but {len(args)} were given")
        given = dict(enumerate(args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
            k = names.index(key)
            if k in given:
                raise TypeError(f"{self.name}() got multiple values for argument {key!r}")
            given[k] = value
        missing = [names[k] for k in range(self._required) if k not in given]
        if missing:
            raise TypeError(f"{self.name}() missing required argument{'s' * (len(missing) > 1)}: {', '.join(missing)}")
        return given

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        pair = self._pair
        if pair is not None and len(args) == 2 and not kwargs:
            a, b = args
            dtype, shape_a, shape_b, rest = pair
            if (type(a) is _NDARRAY and type(b) is _NDARRAY and a.dtype is dtype and b.dtype is dtype
                    and a.shape == shape_a and b.shape == shape_b
                    and a.flags.num & b.flags.num & _C_CONTIGUOUS_WRITEABLE == _C_CONTIGUOUS_WRITEABLE):
                return rest(a, b)
        last = self._last
        if last is not None and not kwargs and len(args) == last[0]:
            # A call like the previous one (same number of arguments, arrays of the same shapes,
            # dtype and layout) reuses its checked bound arguments and defaults.
            _, array_slots, scalar_slots, dtype, shapes, template, loops = last
            for k, i, shape in array_slots:
                value = args[k]
                if type(value) is not np.ndarray or value.dtype is not dtype or value.shape != shape or (
                    value.flags.num & _C_CONTIGUOUS_WRITEABLE != _C_CONTIGUOUS_WRITEABLE
                ):
                    break
            else:
                if template is None:  # every parameter given, each an array that passes as it is
                    return self._body(loops, *args)
                values = template.copy()
                for k, i, _ in array_slots:
                    values[i] = args[k]
                parameters = self._parameters
                for k, i, previous, checked in scalar_slots:
                    value = args[k]
                    if value is previous:  # the same immutable object as last time: its checked value
                        values[i] = checked
                        continue
                    # anything that could choose another dtype (an array, a sparse matrix, a list
                    # for an array parameter) goes the full way; Python numbers and None cannot
                    if parameters[i].is_array and not (value is None or type(value) in (float, int)):
                        break
                    values[i] = parameters[i].check(shapes, value)
                else:
                    return self._body(loops, *values)
        return self._call_in_full(args, kwargs)

    def _call_in_full(self, args: tuple, kwargs: dict) -> Any:
        """A call checked from the start; it leaves what the next call like it can reuse
        (``_pair`` or ``_last``). Apart from ``__call__`` because its comprehensions make
        ``args`` a closure cell, which would cost every call."""
        given = self._given(args, kwargs) if kwargs or not self._required <= len(args) <= len(self._names) else dict(
            enumerate(args))
        highest = self._precision
        names = self._names
        for k in self._array_slots:
            if k in given:
                value = given[k]
                level = _PRECISION.get(value.dtype.char) if type(value) is np.ndarray else None
                if level is None:
                    level = precision(names[k], value)
                if level > highest:
                    highest = level
        dtype = FLOAT32 if highest == 1 else FLOAT64
        prepared = self._prepared.get(_DTYPE_NAMES[highest == 1])
        if prepared is None:
            prepared = self._prepare(dtype)
        sizes, origins, values, later, later_defaults = prepared
        shapes = Shapes(dtype, sizes.copy(), origins.copy())
        values = values.copy()
        parameters, free = self._parameters, self._free
        for k, value in given.items():
            i = free[k]
            values[i] = parameters[i].check(shapes, value)
        for i, value in later:
            values[i] = parameters[i].check(shapes, value)
        for k, value in later_defaults.items():
            if k not in given:
                values[free[k]] = parameters[free[k]].check(shapes, value)
        loops = self._loops(shapes.dtype_name)
        if not kwargs:
            n = len(args)
            # the slots given an ndarray that passed as it is (checked by shape, dtype and layout
            # next time, unless their parameter looks at the values); the others are checked by
            # their parameter each time, except an immutable scalar given again as the same object
            arrays = [k for k in range(n) if type(args[k]) is np.ndarray and values[free[k]] is args[k]
                      and not parameters[free[k]].checks_values]
            template = values.copy()
            for k in range(n):
                template[free[k]] = None  # filled by each call: nothing keeps the caller's arrays
            every = n == len(parameters) and len(arrays) == n  # then the call's arguments are the values
            if n == 2 and len(arrays) == 2:  # checked inline next time (a miss there would miss here too)
                self._pair = (dtype, args[0].shape, args[1].shape,
                              self._rest_of_pair(loops, None if every else template, (free[0], free[1]), values))
                self._last = None
            else:
                self._pair = None
                self._last = (
                    n,
                    tuple((k, free[k], args[k].shape) for k in arrays),
                    tuple((k, free[k], args[k], values[free[k]]) if type(args[k]) in _IMMUTABLE
                          else (k, free[k], _NOTHING, None) for k in range(n) if k not in arrays),
                    dtype, shapes, None if every else template, loops,
                )
        return self._body(loops, *values)

    def _rest_of_pair(self, loops: Loops, template: list | None, given: tuple[int, int], values: list) -> Callable:
        """What a call of two arrays like this one (``values``, checked) does once they passed:
        the declaration's direct function where it has one, else the body on the template."""
        direct = self.spec.direct
        rest = direct(loops, given, self._direct_memo, *values) if direct is not None else None
        if rest is not None:
            return rest
        body = self._body
        if template is None:
            return functools.partial(body, loops)
        i_a, i_b = given

        def body_on_template(a, b):
            values = template.copy()
            values[i_a], values[i_b] = a, b
            return body(loops, *values)

        return body_on_template

    def __repr__(self) -> str:
        bound = ", ".join(self._parameters[i].name for i in self._bound)
        return f"<neurojit kernel {self.name} on {self.backend}{', bound: ' + bound if bound else ''}>"


class Kernel(BoundKernel):
    """A public kernel on a compiler's backend, nothing bound. Call it like the documented function."""

    def __init__(self, resolver: select.Resolver, spec: KernelSpec):
        super().__init__(None, {}, spec=spec, resolver=resolver)

    def bind(self, **arguments: Any) -> BoundKernel:
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


def kernel_on(backend, name: str) -> Kernel:
    """The kernel ``name`` on a given backend object (benchmarks compare backends this way)."""
    return Kernel(select.Resolver.on(backend), KERNELS[name])
