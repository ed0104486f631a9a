"""The declaration of a compiled loop: its arguments and their types, which of them split
over the batch, whether it has a parallel form, and what it costs to compile.

Each loop module ends with a ``LOOPS`` tuple of :class:`Loop` declarations, one per loop;
:mod:`.signatures` collects them. Everything else about a loop - its numba signature for
each dtype, its AOT export name, the arguments the AOT thread splitter slices, the JIT
backend's parallel compile and warm-up balance, the disk-cache key - is derived from that
one declaration. Like the loops, this module imports nothing beyond the standard library.
"""

from __future__ import annotations

from typing import Callable

#: dtype name -> numba type code; a declaration's types write ``{t}`` for the float type
TYPE_CODES = {"float32": "f4", "float64": "f8"}

# Shorthands for the usual argument types (C-contiguous arrays of the float type, a scalar).
SCALAR = "{t}"
ARRAY1 = "{t}[::1]"
ARRAY2 = "{t}[:,::1]"
ARRAY3 = "{t}[:,:,::1]"


class Loop:
    """One loop, declared once.

    Parameters
    ----------
    function : callable
        The loop (plain Python over NumPy arrays).
    returns : str
        numba type of the result, ``"void"`` when the loop writes into an ``out`` array.
    batch : tuple of str
        Arguments whose axis 0 is the batch: a batch split slices exactly these (the first
        one's length is the number of rows). Empty when the loop cannot be split.
    work : tuple of str
        Batch arguments whose sizes per row multiply to a measure of one row's work (what a
        batch split weighs against its cost); default: the last batch argument (the output).
    parallel : bool
        The loop has a ``prange`` form (compiled with ``parallel=True`` in the JIT backend).
    cost : (float, float)
        Compile seconds of the loop's first dtype in a process and of each further one, on
        one core of an x86-64 server; only their proportions matter (warm-up balancing).
    calls : tuple of callable
        Functions of this package the loop calls (e.g. :func:`.mathfn.tanh`), and those they
        call: compiled with it and inlined (``numba.njit(inline="always")``) by the JIT
        backend and the AOT build, called as they are in plain Python.
    **types : str
        Every argument, in the function's order, with its numba type (``{t}`` = float type).
    """

    def __init__(
        self,
        function: Callable,
        *,
        returns: str = "void",
        batch: tuple[str, ...] = (),
        work: tuple[str, ...] = (),
        parallel: bool = False,
        cost: tuple[float, float] = (0.5, 0.4),
        calls: tuple[Callable, ...] = (),
        **types: str,
    ):
        code = function.__code__
        arguments = code.co_varnames[: code.co_argcount]
        if tuple(types) != arguments:
            raise TypeError(f"the declaration of {function.__name__} lists {tuple(types)}, the loop takes {arguments}")
        unknown = set(batch) - set(arguments)
        if unknown:
            raise TypeError(f"{function.__name__}: batch arguments {sorted(unknown)} are not arguments of the loop")
        if not set(work) <= set(batch):
            raise TypeError(f"{function.__name__}: work arguments {sorted(set(work) - set(batch))} are not batch arguments")
        if parallel != ("prange" in code.co_names):
            raise TypeError(f"{function.__name__}: parallel={parallel} but the loop {'does not use' if parallel else 'uses'} prange")
        self.function = function
        self.name: str = function.__name__
        self.module: str = function.__module__.rpartition(".")[2]
        self.arguments: tuple[str, ...] = arguments
        self.types = types
        self.returns = returns
        self.batch_positions: tuple[int, ...] = tuple(arguments.index(name) for name in batch)
        self.work_positions: tuple[int, ...] = tuple(arguments.index(name) for name in (work or batch[-1:]))
        self.parallel = parallel
        self.cost = cost
        self.calls = calls
        missing = [f.__name__ for f in calls if function.__globals__.get(f.__name__) is not f]
        if missing:
            raise TypeError(f"{self.name}: calls {missing} are not the functions of those names the loop sees")

    def signature(self, dtype: str) -> str:
        """numba signature string for ``dtype`` ("float32" or "float64")."""
        t = TYPE_CODES[dtype]
        return f"{self.returns.format(t=t)}({', '.join(v.format(t=t) for v in self.types.values())})"

    def export_name(self, dtype: str) -> str:
        """Name of the AOT export for ``dtype``, e.g. ``lif_run_f32``."""
        return f"{self.name}_f{dtype[-2:]}"

    def __repr__(self) -> str:
        return f"Loop({self.name})"
