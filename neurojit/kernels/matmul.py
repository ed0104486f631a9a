"""Matrix product with a sparse 0/1 left operand.

Dense products go to BLAS (``numpy.matmul``), which no hand-written loop beats; these
loops cover the case BLAS cannot exploit: a spike matrix ``a`` whose entries are all 0
or 1 and mostly 0. Then ``out[i, :] = sum_{k: a[i, k] != 0} b[k, :]`` needs no
multiplications and touches only the rows of ``b`` that are selected.

``binary_nonzeros``, the scan that decides whether ``a`` qualifies, lists on the way the rows
of ``b`` that each row of ``a`` selects (a compressed form of ``a``, built without a branch
per entry); ``binary_matmul`` adds them eight at a time. Where
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


def binary_nonzeros(a, limit, spans, index):
    """Number of non-zero entries of ``a`` if all are 0 or 1 and at most ``limit``; else -1 (an
    entry of ``a`` other than 0 or 1) or -2 (more than ``limit`` ones). The scan stops at the
    first row that decides -1 or -2 (that row's 0/1 check first), so a dense ``a`` costs a few rows.

    On the way it lists ``a`` compressed, for :func:`binary_matmul`: row ``i`` selects rows
    ``index[spans[i, 0] : spans[i, 1]]`` of ``b`` (ascending). ``index`` holds at least ``limit
    + M`` slots: the fill writes every ``k`` and advances only past non-zeros (no branch per
    entry), so its last write lands one slot past the row's list; each row keeps that slot.
    """
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
        if count + ones > limit:
            return -2
        p = count + i  # the row is still in L1: listed now, not in a second pass over a
        spans[i, 0] = p
        for k in range(n_cols):
            index[p] = k
            p += row[k] != 0
        spans[i, 1] = p
        count += ones
    return count


def binary_matmul(spans, index, b, bad, out):
    """``out = a @ b`` for a 0/1 matrix ``a[M, K]`` listed by :func:`binary_nonzeros` (``spans``,
    ``index``), visiting only its non-zero entries, where ``b`` is finite: ``bad[0]`` receives the
    number of entries of ``b`` that are NaN or inf (the others of ``bad[M]``, 0: each piece of a
    split has a slot of its own); where it is not 0, ``out`` is not ``a @ b`` (``0 * inf`` and
    ``0 * NaN`` are NaN, the rows of ``b`` that ``a`` does not select are skipped) and the caller takes
    ``numpy.matmul``. The check costs no pass of its own over ``b``: the panel copies make it, or
    without panels each row of ``out`` checks its share of the rows of ``b``; in the parallel loop
    either way."""
    n_rows = spans.shape[0]
    n_inner, n_cols = b.shape
    total = 0
    for i in range(n_rows):
        total += spans[i, 1] - spans[i, 0]
        bad[i] = 0
    # One parallel loop (each one more costs a wait whenever a core is busy elsewhere): over
    # column panels of b, each copied contiguous by its thread, where b is wider than one panel
    # and its rows are read often enough to repay the copies; else over the rows of out,
    # reading whole rows of b in place (slices of b's rows in place measured slower than whole
    # rows: the prefetcher runs past them). One body for both: a helper for it, inlined, broke
    # the AOT build of network_run (numba 0.68); n_tiles is a variable because numba does not
    # parallelise prange(<conditional expression>).
    width = max(16, PANEL_BYTES // (b.itemsize * max(n_inner, 1)))
    packed = width < n_cols and total >= PANEL_REUSE * n_inner
    n_tiles = (n_cols + width - 1) // width if packed else n_rows
    found_all = 0
    for tile in prange(n_tiles):
        if packed:
            lo, hi, i0, i1 = tile * width, min(tile * width + width, n_cols), 0, n_rows
            rows = np.empty((n_inner, hi - lo), b.dtype)
            # x - x is 0 for every finite x, NaN for NaN and inf: an integer count beside the
            # copy, vectorised with it (the copy reads b from memory anyway)
            found = 0
            for k in range(n_inner):
                src = b[k, lo:hi]
                copy = rows[k]
                for n in range(hi - lo):
                    copy[n] = src[n]
                    found += (src[n] - src[n]) != 0
        else:
            lo, hi, i0, i1 = 0, n_cols, tile, tile + 1
            rows = b
            found = 0
            for k in range(tile * n_inner // n_rows, (tile + 1) * n_inner // n_rows):  # this row's share of b
                src = b[k]
                for n in range(n_cols):
                    found += (src[n] - src[n]) != 0
        found_all += found  # a reduction over the tiles
        for i in range(i0, i1):
            dst = out[i, lo:hi]
            for n in range(hi - lo):
                dst[n] = 0
            # eight rows per pass over dst: every dst[n] receives the same terms in the same
            # order as one row at a time, while dst is loaded and stored an eighth as often
            j = spans[i, 0]
            end = spans[i, 1]
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
    if n_rows:
        bad[0] = found_all


LOOPS = (
    Loop(binary_nonzeros, returns="i8", a=ARRAY2, limit="i8", spans="i8[:,::1]", index="i8[::1]", cost=(0.2, 0.1)),
    Loop(binary_matmul, spans="i8[:,::1]", index="i8[::1]", b=ARRAY2, bad="i8[::1]", out=ARRAY2,
         batch=("spans", "bad", "out"), parallel=True, cost=(0.9, 0.7)),
)
