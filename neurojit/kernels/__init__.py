"""The compiled loops, written once.

Every module here imports only :mod:`numpy` and :mod:`math`, never numba and never the
rest of neurojit, so the same source runs as plain Python, is wrapped by ``numba.njit``
in :mod:`neurojit.backends.jit` and is exported by ``build_aot.py`` with ``numba.pycc``.

The loops trust their arguments completely (types, shapes, contiguity): they are only
ever called through :mod:`neurojit.operations`, which validates first. Each writes its
result into a caller-allocated ``out`` array, so a batch can be split across threads by
passing slices.

``prange`` is bound to :func:`range` here; the JIT backend rebinds it to
``numba.prange`` when parallel loops are enabled.
"""
