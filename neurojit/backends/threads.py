"""Batch-parallel calls of the AOT loops on a thread pool.

``numba.pycc`` cannot compile parallel loops, but the AOT loops release the GIL, so
threads run them truly in parallel. With ``JITConfig(enable_parallel_loops=True)`` the
AOT backend is wrapped in :class:`ThreadedBackend`, which splits the batch axis of the
loops below into one slice per core (slices of C-contiguous arrays along axis 0 stay
C-contiguous, so the loops get exactly the arrays they expect). Batch rows are
independent, so the results equal a single call bit for bit.

The pool is made on the first split and shared by every compiler of the process. Two
situations where it cannot serve are handled here:

* ``os.fork()`` (also ``multiprocessing``'s ``fork`` start method): a child inherits the
  pool object but not its threads, so work submitted to it would wait forever. The child
  forgets the inherited pool (``os.register_at_fork``) and makes its own on its first split.
* interpreter shutdown: ``concurrent.futures`` refuses new work once it has begun (e.g. in an
  ``atexit`` handler); the slices it refuses run in the calling thread, one after another.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np

from ..kernels import signatures

#: below this many output elements per slice, threading costs more than it saves
MIN_ELEMENTS_PER_THREAD = 16_384

_pool = None  # a concurrent.futures.ThreadPoolExecutor, made on first split
_pool_lock = threading.Lock()


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _shared_pool() -> "ThreadPoolExecutor":
    from concurrent.futures import ThreadPoolExecutor

    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=available_cores(), thread_name_prefix="neurojit")
        return _pool


def _forget_pool_in_child() -> None:
    """After ``os.fork()``, in the child: the inherited pool has no threads; make a new one when needed."""
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()  # another thread may have held it at the moment of the fork


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_pool_in_child)


class ThreadedBackend:
    """Wraps a backend whose loops release the GIL and splits their batch across threads.

    Parameters
    ----------
    inner : backend
        Anything with ``name`` and ``loop(name, dtype)``.
    threads : int, optional
        Slices per call at most; default: the cores available to this process.
    """

    def __init__(self, inner, threads: int | None = None):
        self.inner = inner
        self.name = inner.name
        self.native = inner.native
        self.threads = threads if threads is not None else available_cores()

    def loop(self, name: str, dtype: str) -> Callable:
        loop = self.inner.loop(name, dtype)
        # the arguments whose axis 0 is the batch, as declared beside the loop
        declaration = signatures.LOOPS[name]
        positions = declaration.batch_positions
        if not positions or self.threads < 2:
            return loop
        first, work, split = positions[0], declaration.work_positions, self._split

        def split_loop(*args):
            if args[first].shape[0] < 2:  # one row, the usual small call: nothing to split
                return loop(*args)
            return split(loop, positions, work, *args)

        split_loop.unsplit = loop  # what a call of one row runs (see kernel.Loops.one_row)
        return split_loop

    def _split(self, loop: Callable, positions: tuple[int, ...], work: tuple[int, ...], *args) -> None:
        rows = args[positions[0]].shape[0]
        # the declared measure of the work (by default the output's size): rows x the per-row sizes
        elements = rows
        for p in work:
            elements *= args[p].size // rows if rows else 0
        slices = min(self.threads, rows, elements // MIN_ELEMENTS_PER_THREAD)
        if slices < 2:
            loop(*args)
            return
        bounds = np.linspace(0, rows, slices + 1).astype(int)

        def run(lo: int, hi: int) -> None:
            sliced = list(args)
            for p in positions:
                sliced[p] = args[p][lo:hi]
            loop(*sliced)

        pool = _shared_pool()
        futures, refused = [], []
        for lo, hi in zip(bounds[1:-1], bounds[2:]):
            try:
                futures.append(pool.submit(run, lo, hi))
            except RuntimeError:  # "cannot schedule new futures after (interpreter) shutdown"
                refused.append((lo, hi))
        run(bounds[0], bounds[1])  # the calling thread takes the first slice ...
        for lo, hi in refused:  # ... and those the pool would not take
            run(lo, hi)
        for future in futures:
            future.result()
