"""Matrix product with a sparse 0/1 left operand.

Dense products go to BLAS (``numpy.matmul``), which no hand-written loop beats; these
loops cover the case BLAS cannot exploit: a spike matrix ``a`` whose entries are all 0
or 1 and mostly 0. Then ``out[i, :] = sum_{k: a[i, k] != 0} b[k, :]`` needs no
multiplications and touches only the rows of ``b`` that are selected.
"""

from .loop import ARRAY2, Loop

prange = range  # rebound to numba.prange by the JIT backend


def binary_nonzeros(a):
    """Number of non-zero entries of ``a`` if all are 0 or 1, else -1 (stops at the first other value)."""
    count = 0
    n_rows, n_cols = a.shape
    for i in range(n_rows):
        for k in range(n_cols):
            x = a[i, k]
            if x != 0:
                if x != 1:
                    return -1
                count += 1
    return count


def binary_matmul(a, b, out):
    """``out = a @ b`` for a 0/1 matrix ``a[M, K]``, visiting only its non-zero entries."""
    n_rows, n_inner = a.shape
    n_cols = b.shape[1]
    for i in prange(n_rows):
        for n in range(n_cols):
            out[i, n] = 0
        for k in range(n_inner):
            if a[i, k] != 0:
                for n in range(n_cols):
                    out[i, n] += b[k, n]


LOOPS = (
    Loop(binary_nonzeros, returns="i8", a=ARRAY2, cost=(0.15, 0.08)),
    Loop(binary_matmul, a=ARRAY2, b=ARRAY2, out=ARRAY2, batch=("a", "out"), parallel=True, cost=(0.15, 0.13)),
)
