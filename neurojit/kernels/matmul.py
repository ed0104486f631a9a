"""Matrix product with a sparse 0/1 left operand.

Dense products go to BLAS (``numpy.matmul``), which no hand-written loop beats; these
loops cover the case BLAS cannot exploit: a spike matrix ``a`` whose entries are all 0
or 1 and mostly 0. Then ``out[i, :] = sum_{k: a[i, k] != 0} b[k, :]`` needs no
multiplications and touches only the rows of ``b`` that are selected.

``binary_matmul`` first lists the rows of ``b`` that each row of ``a`` selects (a compressed
form of ``a``, built without a branch per entry), then adds them eight at a time. Where
each row of ``b`` is selected often enough, ``b`` is worked through in panels of columns
(all its rows, about ``PANEL_BYTES``), each copied contiguous so that it stays in L2 while
every output row adds its selected rows' slices; otherwise whole rows of ``b`` are read in
place. The parallel form splits the panels over the threads (or the output rows, without
panels), the AOT thread split the output rows. Every ``out[i, n]`` starts from 0 and
receives its terms in ascending ``k``, as in the textbook loop: the results are the same
numbers whatever the panels or the split.
"""

import numpy as np

from .loop import ARRAY2, Loop

prange = range  # rebound to numba.prange by the JIT backend

#: the panel of ``b`` the output rows read from: half the L2 of a core here (2 MB), the other
#: half for the output rows streaming through (1 MB measured best of 0.5, 1 and 1.5 MB)
PANEL_BYTES = 1 << 20
#: ... copied only when each row of ``b`` is selected at least this many times on average
#: (measured: about even at 6-8, 1.2x faster at 13, 1.1x slower at 4)
PANEL_REUSE = 8


def binary_nonzeros(a, b, limit, counts):
    """Number of non-zero entries of ``a`` if all are 0 or 1, at most ``limit`` and every entry of
    ``b`` is finite; else -1 (an entry of ``a`` other than 0 or 1: stops after the first row with
    one), -2 (more than ``limit``; ``b`` not read) or -3 (``b`` holds NaN or inf). ``counts[i]``
    receives the number of ones of row ``i`` (what :func:`binary_matmul` takes)."""
    count = 0
    n_rows, n_cols = a.shape
    for i in range(n_rows):
        row = a[i]
        ones = 0
        zeros = 0
        for k in range(n_cols):  # no branch per entry: vectorised (1024 x 1024: 0.23 ms, was 1.2)
            ones += row[k] == 1
            zeros += row[k] == 0
        if ones + zeros != n_cols:
            return -1
        counts[i] = ones
        count += ones
    if count > limit:
        return -2
    # x - x is 0 for every finite x, NaN for NaN and inf; an integer sum: vectorised (0.2 ms at 1024^2)
    bad = 0
    for k in range(b.shape[0]):
        row = b[k]
        for n in range(b.shape[1]):
            bad += (row[n] - row[n]) != 0
    return count if bad == 0 else -3


def binary_matmul(a, counts, b, out):
    """``out = a @ b`` for a 0/1 matrix ``a[M, K]``, visiting only its non-zero entries
    (``counts[i]``: the number of ones in row ``i`` of ``a``, from :func:`binary_nonzeros`)."""
    n_rows, n_inner = a.shape
    n_cols = b.shape[1]
    # Row i of a selects rows index[start[i] + i : start[i + 1] + i] of b: one slot of padding per
    # row, because the fill writes every k and advances only past non-zeros (no branch per
    # entry), so its last write lands one past the row's end; rows never share a slot, so they are
    # listed in parallel.
    start = np.empty(n_rows + 1, np.int64)
    start[0] = 0
    for i in range(n_rows):
        start[i + 1] = start[i] + counts[i]
    index = np.empty(start[n_rows] + n_rows, np.int64)
    # column panels of b, each copied contiguous by its thread, where b is wider than one panel
    # and its rows are read often enough to repay the copies; else the rows of out, reading
    # whole rows of b in place (slices of b's rows in place measured slower than whole rows: the
    # prefetcher runs past them). One body for both: a helper for it, inlined, broke the AOT
    # build of network_run (numba 0.68); n_tiles is a variable because numba does not
    # parallelise prange(<conditional expression>).
    width = max(16, PANEL_BYTES // (b.itemsize * max(n_inner, 1)))
    packed = width < n_cols and start[n_rows] >= PANEL_REUSE * n_inner
    n_tiles = (n_cols + width - 1) // width if packed else n_rows
    if packed:  # every panel reads every row's list: all are listed first
        for i in prange(n_rows):
            row = a[i]
            p = start[i] + i
            for k in range(n_inner):
                index[p] = k
                p += row[k] != 0
    for tile in prange(n_tiles):
        if packed:
            lo, hi, i0, i1 = tile * width, min(tile * width + width, n_cols), 0, n_rows
            rows = np.empty((n_inner, hi - lo), b.dtype)
            for k in range(n_inner):
                src = b[k, lo:hi]
                copy = rows[k]
                for n in range(hi - lo):
                    copy[n] = src[n]
        else:  # one row of out, listed by its own thread (no second parallel loop)
            lo, hi, i0, i1 = 0, n_cols, tile, tile + 1
            rows = b
            row = a[tile]
            p = start[tile] + tile
            for k in range(n_inner):
                index[p] = k
                p += row[k] != 0
        for i in range(i0, i1):
            dst = out[i, lo:hi]
            for n in range(hi - lo):
                dst[n] = 0
            # eight rows per pass over dst: every dst[n] receives the same terms in the same
            # order as one row at a time, while dst is loaded and stored an eighth as often
            j = start[i] + i
            end = start[i + 1] + i
            while j + 8 <= end:
                r0, r1, r2, r3 = rows[index[j]], rows[index[j + 1]], rows[index[j + 2]], rows[index[j + 3]]
                r4, r5, r6, r7 = rows[index[j + 4]], rows[index[j + 5]], rows[index[j + 6]], rows[index[j + 7]]
                for n in range(hi - lo):
                    dst[n] = (((((((dst[n] + r0[n]) + r1[n]) + r2[n]) + r3[n]) + r4[n]) + r5[n]) + r6[n]) + r7[n]
                j += 8
            while j < end:
                r0 = rows[index[j]]
                for n in range(hi - lo):
                    dst[n] += r0[n]
                j += 1


LOOPS = (
    Loop(binary_nonzeros, returns="i8", a=ARRAY2, b=ARRAY2, limit="i8", counts="i8[::1]", cost=(0.2, 0.1)),
    Loop(binary_matmul, a=ARRAY2, counts="i8[::1]", b=ARRAY2, out=ARRAY2, batch=("a", "counts", "out"),
         parallel=True, cost=(0.9, 0.7)),
)
