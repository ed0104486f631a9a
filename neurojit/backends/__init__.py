"""Thin adapters that turn a loop name and dtype into something callable.

* :mod:`.aot`    - the ahead-of-time compiled extension built by ``build_aot.py``
* :mod:`.jit`    - ``numba.njit`` of the loop source in :mod:`neurojit.kernels`
* :mod:`.python` - a NumPy implementation of the same loops

:mod:`.select` is the one place that chooses among them.
"""
