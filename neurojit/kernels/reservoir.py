"""Echo-state (leaky tanh) reservoir over a sequence.

Per batch row ``b`` and step ``t``::

    pre = bias + inputs[b, t] @ input_weights + x @ reservoir_weights
    x = (1 - leak_rate) * x + leak_rate * tanh(pre)
    out[b, t] = x

``tanh`` is :func:`.mathfn.tanh` (within 2 ulp of ``numpy.tanh``; no libm call, so the
state update vectorises).

Both products are accumulated row by row (``pre += u_j * W[j, :]``, four rows per pass:
:func:`add_rows`), so the inner loop runs over contiguous memory. With ``skip_inputs`` the
input rows of zero inputs are skipped, so binary spike inputs cost in proportion to the
spikes; the caller sets it only when ``input_weights`` is finite (a skipped ``0 * inf``
would be NaN in the equation). The recurrent rows are never skipped: ``x @ reservoir_weights``
is the equation's product, NaN and inf included. ``reservoir_update`` on dense weights runs
:func:`reservoir_step`, the same sums for one step without allocation (a bound step of a small
reservoir :func:`reservoir_step_packed`, the same with fewer arguments).

Sparse reservoirs (the usual ESN has 1-10 % connectivity): when ``w_ptr`` is not empty,
the recurrent product reads ``reservoir_weights`` in compressed form instead, the CSR
arrays of its transpose (unit ``i`` receives ``x[w_idx[k]] * w_val[k]`` for
``k = w_ptr[i] .. w_ptr[i+1]-1``, presynaptic index ascending). Each unit then sums the
same non-zero terms in the same order as the dense rows (a zero weight or a zero state
adds nothing), so both forms give the same numbers, and the work falls from N^2 to the
number of connections. The pointers and ``w_idx`` are unsigned: numba then skips its
negative-index checks (measured 1.6x faster on a 10 % reservoir of 1000 units). Where the
states fit the L1 cache and the units have many entries, one row gathers four units at a time
(:func:`gather`): four independent sums instead of one chain of additions, each unit's terms
still in its own order.

Parallel loops: batch rows are independent (``prange`` over ``b``). With a single batch
row, a parallel compile (``PARALLEL``) of a compressed reservoir of at least
``MIN_BLOCKED`` units splits the units into blocks of ``BLOCK``, one ``prange`` per time
step: each unit gathers its own terms in the same order as the serial loop, and the new
states go to a second buffer, so the results are identical. A single row with dense rows
stays on one core: its product is memory bound, and splitting the units into column
blocks (the only split that keeps each unit's summation order) streams
``reservoir_weights`` worse than whole rows - measured 2x slower on one core and no faster
on two for N=2000 (see ``benchmarks/jit_parallel.py``).
Per-unit leak rates: ``leak_rate`` is an ``(N,)`` array (a scalar broadcast by the caller);
``x[i] = (1 - leak_rate[i]) * x[i] + leak_rate[i] * tanh(pre[i])``.

Sparse input weights: when ``in_ptr`` is not empty, the input product reads the CSR arrays
of ``input_weights`` (input ``j`` reaches unit ``in_idx[k]`` with weight ``in_val[k]``,
``k = in_ptr[j] .. in_ptr[j+1]-1``) instead of its dense rows (then an empty array); each unit
still receives its input terms by ascending ``j``. A ``scipy.sparse`` ``reservoir_weights``
comes as ``w_ptr``/``w_idx``/``w_val`` with an empty dense array: memory and work in
proportion to the connections.

Batch-shared steps: several batch rows advance together, one time step at a time. The
recurrent product walks the rows of ``reservoir_weights`` (or the compressed entries of
each unit) once per step and applies each to every batch row of the group while it is in
cache, so the weights are streamed from memory once per step for the whole group instead
of once per row. Dense rows go to four batch rows per pass (:func:`add_rows_x4`: each
weight loaded once for the four), a remainder of one to three rows one at a time. In compressed
form the states are also kept by unit, four rows per unit (``xt``), so each entry is applied
to four rows from one cache line with the four sums in registers (:func:`gather_x4`); the
group's rows are padded with zeros to a multiple of four. Each unit of each row still sums
the same terms in the same order as a single row would, so results do not depend on the
grouping (bit for bit). A serial loop runs all its rows as one group; the parallel compile
(``prange``) runs groups of ``BATCH_GROUP`` rows on separate threads.
"""

import numpy as np

from .loop import ARRAY1, ARRAY2, ARRAY3, Loop
from .mathfn import tanh

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 128  # units per parallel work item when there is one batch row
MIN_BLOCKED = 512  # below this a parallel launch per time step costs more than it saves
BATCH_GROUP = 4  # batch rows sharing each weight read, per thread of the parallel compile
ADD_BLOCK = 16  # dense rows of the weights applied to every row of a group before the next ones (in cache)
# one row's compressed gather goes four units at a time only with at most LOCKSTEP_UNITS units (the
# states in the L1 cache) of at least LOCKSTEP_ENTRIES entries each on average: measured 1.2x faster
# at 1000 units x 100 entries, 0.97x at 100 x 10, 0.85-0.9x at 4000-20000 units
LOCKSTEP_UNITS = 3072
LOCKSTEP_ENTRIES = 32


def add_rows(acc, coefficients, rows, j0, j1):
    """``acc[i] += coefficients[j] * rows[j, i]`` for ``j = j0 .. j1 - 1`` in that order.

    Four rows per pass over ``acc``: every ``acc[i]`` receives the same terms in the same order
    as one row at a time (so the same numbers), while ``acc`` is loaded and stored a quarter
    as often (measured 11-16 % faster at 100-500 units).
    """
    n = acc.shape[0]
    j = j0
    while j + 4 <= j1:
        s0, s1, s2, s3 = coefficients[j], coefficients[j + 1], coefficients[j + 2], coefficients[j + 3]
        w0, w1, w2, w3 = rows[j], rows[j + 1], rows[j + 2], rows[j + 3]
        for i in range(n):
            acc[i] = (((acc[i] + s0 * w0[i]) + s1 * w1[i]) + s2 * w2[i]) + s3 * w3[i]
        j += 4
    while j < j1:
        s = coefficients[j]
        w = rows[j]
        for i in range(n):
            acc[i] += s * w[i]
        j += 1


def add_rows_x4(acc, coefficients, r, rows, j0, j1):
    """``acc[r + q, i] += coefficients[r + q, j] * rows[j, i]`` for ``q = 0 .. 3``, ``j = j0 .. j1 - 1`` in order.

    Four batch rows and four weight rows per pass: each element of ``rows`` is loaded once for
    the four batch rows (the weights are the traffic) and each ``acc[r + q, i]`` receives the
    same terms in the same order as :func:`add_rows` gives it (measured 1.6-2x faster than
    :func:`add_rows` row by row, four rows of 1000 units).
    """
    p0, p1, p2, p3 = acc[r], acc[r + 1], acc[r + 2], acc[r + 3]
    c0, c1, c2, c3 = coefficients[r], coefficients[r + 1], coefficients[r + 2], coefficients[r + 3]
    n = acc.shape[1]
    j = j0
    while j + 4 <= j1:
        a0, a1, a2, a3 = c0[j], c0[j + 1], c0[j + 2], c0[j + 3]
        b0, b1, b2, b3 = c1[j], c1[j + 1], c1[j + 2], c1[j + 3]
        d0, d1, d2, d3 = c2[j], c2[j + 1], c2[j + 2], c2[j + 3]
        e0, e1, e2, e3 = c3[j], c3[j + 1], c3[j + 2], c3[j + 3]
        w0, w1, w2, w3 = rows[j], rows[j + 1], rows[j + 2], rows[j + 3]
        for i in range(n):
            v0, v1, v2, v3 = w0[i], w1[i], w2[i], w3[i]
            p0[i] = (((p0[i] + a0 * v0) + a1 * v1) + a2 * v2) + a3 * v3
            p1[i] = (((p1[i] + b0 * v0) + b1 * v1) + b2 * v2) + b3 * v3
            p2[i] = (((p2[i] + d0 * v0) + d1 * v1) + d2 * v2) + d3 * v3
            p3[i] = (((p3[i] + e0 * v0) + e1 * v1) + e2 * v2) + e3 * v3
        j += 4
    while j < j1:
        a0, b0, d0, e0 = c0[j], c1[j], c2[j], c3[j]
        w0 = rows[j]
        for i in range(n):
            v0 = w0[i]
            p0[i] += a0 * v0
            p1[i] += b0 * v0
            p2[i] += d0 * v0
            p3[i] += e0 * v0
        j += 1


def gather(acc, x, w_ptr, w_idx, w_val, i0, i1):
    """``acc[i] += x[w_idx[k]] * w_val[k]`` for ``k = w_ptr[i] .. w_ptr[i+1]-1`` in order, ``i = i0 .. i1-1``.

    Where it pays (``LOCKSTEP_UNITS``, ``LOCKSTEP_ENTRIES``), four units at a time, each with its
    own sum in its own order: the four walk their common length in lockstep (four independent
    chains of additions instead of one), then each its remainder (measured 53 -> 44 us per step
    for 1000 units at 10 %).
    """
    i = i0
    lockstep = x.shape[0] <= LOCKSTEP_UNITS and np.int64(w_ptr[i1] - w_ptr[i0]) >= LOCKSTEP_ENTRIES * (i1 - i0)
    while lockstep and i + 4 <= i1:
        k0, k1, k2, k3, e3 = w_ptr[i], w_ptr[i + 1], w_ptr[i + 2], w_ptr[i + 3], w_ptr[i + 4]
        t0, t1, t2, t3 = acc[i], acc[i + 1], acc[i + 2], acc[i + 3]
        m = min(k1 - k0, k2 - k1, k3 - k2, e3 - k3)
        for q in range(m):
            t0 += x[w_idx[k0 + q]] * w_val[k0 + q]
            t1 += x[w_idx[k1 + q]] * w_val[k1 + q]
            t2 += x[w_idx[k2 + q]] * w_val[k2 + q]
            t3 += x[w_idx[k3 + q]] * w_val[k3 + q]
        for k in range(k0 + m, k1):
            t0 += x[w_idx[k]] * w_val[k]
        for k in range(k1 + m, k2):
            t1 += x[w_idx[k]] * w_val[k]
        for k in range(k2 + m, k3):
            t2 += x[w_idx[k]] * w_val[k]
        for k in range(k3 + m, e3):
            t3 += x[w_idx[k]] * w_val[k]
        acc[i], acc[i + 1], acc[i + 2], acc[i + 3] = t0, t1, t2, t3
        i += 4
    while i < i1:
        total = acc[i]
        for k in range(w_ptr[i], w_ptr[i + 1]):
            total += x[w_idx[k]] * w_val[k]
        acc[i] = total
        i += 1


def gather_x4(acc, r, xt, w_ptr, w_idx, w_val):
    """``acc[r + q, i] += xt[4 * w_idx[k] + q] * w_val[k]`` for ``q = 0 .. 3``, each unit's ``k`` in order.

    ``xt`` holds the states of four batch rows by unit (``xt[4 * j + q]``), so one entry is
    applied to the four rows from one cache line, with four sums in registers (measured 2.4x
    faster than a loop over a run-time number of rows).
    """
    for i in range(acc.shape[1]):
        t0, t1, t2, t3 = acc[r, i], acc[r + 1, i], acc[r + 2, i], acc[r + 3, i]
        for k in range(w_ptr[i], w_ptr[i + 1]):
            j = 4 * w_idx[k]
            v = w_val[k]
            t0 += xt[j] * v
            t1 += xt[j + 1] * v
            t2 += xt[j + 2] * v
            t3 += xt[j + 3] * v
        acc[r, i], acc[r + 1, i], acc[r + 2, i], acc[r + 3, i] = t0, t1, t2, t3


def reservoir_run(
    inputs, input_weights, in_ptr, in_idx, in_val, reservoir_weights, w_ptr, w_idx, w_val, bias, leak_rate,
    initial_states, skip_inputs, out
):
    """Run the reservoir over ``inputs[B, T, I]`` from ``initial_states[B, N]``; write ``out[B, T, N]``.

    ``in_ptr``, ``in_idx``, ``in_val``: CSR form of ``input_weights``, or all empty (dense rows).
    ``w_ptr``, ``w_idx``, ``w_val``: CSR form of ``reservoir_weights.T``, or all empty (dense rows).
    ``leak_rate``: one rate per unit.
    """
    n_batch, n_steps, n_inputs = inputs.shape
    n_units = bias.shape[0]
    sparse = w_ptr.shape[0] > 0
    sparse_in = in_ptr.shape[0] > 0
    if PARALLEL and n_batch == 1 and sparse and n_units >= MIN_BLOCKED:
        x = initial_states[0].copy()
        x_new = np.empty_like(x)
        drive = np.empty_like(bias)
        n_blocks = (n_units + BLOCK - 1) // BLOCK
        for t in range(n_steps):
            drive[:] = bias
            for j in range(n_inputs):
                u = inputs[0, t, j]
                if u != 0 or not skip_inputs:
                    if sparse_in:
                        for k in range(in_ptr[j], in_ptr[j + 1]):
                            drive[in_idx[k]] += u * in_val[k]
                    else:
                        for i in range(n_units):
                            drive[i] += u * input_weights[j, i]
            for block in prange(n_blocks):
                i0, i1 = block * BLOCK, min(block * BLOCK + BLOCK, n_units)
                gather(drive, x, w_ptr, w_idx, w_val, i0, i1)
                for i in range(i0, i1):
                    a = leak_rate[i]
                    x_new[i] = (1 - a) * x[i] + a * tanh(drive[i])
                    out[0, t, i] = x_new[i]
            x, x_new = x_new, x
        return
    group = BATCH_GROUP if PARALLEL else max(n_batch, 1)
    n_groups = (n_batch + group - 1) // group
    for g in prange(n_groups):
        b0 = g * group
        rows = min(n_batch, b0 + group) - b0
        x = initial_states[b0:b0 + rows].copy()
        # rows padded to a multiple of four (zeros: the compressed form runs four at a time)
        pre = np.zeros(((rows + 3) // 4 * 4, n_units), x.dtype)
        # compressed form, several rows: the states also by unit, four rows per unit
        # (xt[r // 4, 4 * j + r % 4] = x[r, j]), so that each entry is applied to four rows at once
        xt = np.zeros(((rows + 3) // 4 if sparse and rows > 1 else 0, 4 * n_units), x.dtype)
        for t in range(n_steps):
            for r in range(rows):
                pre[r, :] = bias
            for j in range(n_inputs):
                for r in range(rows):
                    u = inputs[b0 + r, t, j]
                    if u != 0 or not skip_inputs:
                        if sparse_in:
                            for k in range(in_ptr[j], in_ptr[j + 1]):
                                pre[r, in_idx[k]] += u * in_val[k]
                        else:
                            for i in range(n_units):
                                pre[r, i] += u * input_weights[j, i]
            if xt.shape[0] > 0:
                for r in range(rows):
                    for i in range(n_units):
                        xt[r // 4, 4 * i + r % 4] = x[r, i]
            if sparse and rows == 1:
                gather(pre[0], x[0], w_ptr, w_idx, w_val, 0, n_units)
            elif sparse:
                for c in range(xt.shape[0]):
                    gather_x4(pre, 4 * c, xt[c], w_ptr, w_idx, w_val)
            else:
                # dense rows: each block of ADD_BLOCK rows of the weights applied to every row of
                # the group, four rows at a time (then the rest, fewer than four, one at a time)
                n_fours = rows // 4 * 4
                for j0 in range(0, n_units, ADD_BLOCK):
                    j1 = min(j0 + ADD_BLOCK, n_units)
                    for r in range(0, n_fours, 4):
                        add_rows_x4(pre, x, r, reservoir_weights, j0, j1)
                    for r in range(n_fours, rows):
                        add_rows(pre[r], x[r], reservoir_weights, j0, j1)
            for r in range(rows):
                for i in range(n_units):
                    a = leak_rate[i]
                    x[r, i] = (1 - a) * x[r, i] + a * tanh(pre[r, i])
                    out[b0 + r, t, i] = x[r, i]


def step_row(inputs, input_weights, reservoir_weights, bias, leak_rate, states, out, b):
    """Batch row ``b`` of :func:`reservoir_step`: ``out[b]`` from ``inputs[b]`` and ``states[b]``."""
    n_units = bias.shape[0]
    for i in range(n_units):
        out[b, i] = bias[i]
    add_rows(out[b], inputs[b], input_weights, 0, inputs.shape[1])
    add_rows(out[b], states[b], reservoir_weights, 0, n_units)
    for i in range(n_units):
        a = leak_rate[i]
        out[b, i] = (1 - a) * states[b, i] + a * tanh(out[b, i])


def reservoir_step(inputs, input_weights, reservoir_weights, bias, leak_rate, states, out):
    """One step of :func:`reservoir_run` on dense weights: ``inputs[B, I]``, ``states[B, N]`` -> ``out[B, N]``.

    The sums of ``reservoir_run``'s dense rows in the same order (the bias, the input rows by
    ascending ``j``, then the recurrent rows), so both give the same numbers. ``out`` is the
    accumulator: no allocation and seven arguments, so a small call costs little more than
    its sums.
    """
    for b in prange(inputs.shape[0]):
        step_row(inputs, input_weights, reservoir_weights, bias, leak_rate, states, out, b)


def pack_step_constants(input_weights, reservoir_weights, bias, leak_rate):
    """The ``constants`` of :func:`reservoir_step_packed` (plain NumPy, not a loop): the input
    rows, the reservoir rows, the bias and the leak rates, one array of shape ``(I + N + 2, N)``."""
    return np.concatenate((input_weights, reservoir_weights, bias[None], leak_rate[None]))


def reservoir_step_packed(inputs, constants, states, out):
    """:func:`reservoir_step` with its four constant arrays in one (:func:`pack_step_constants`),
    ``constants`` of shape ``(I + N + 2, N)``: the input rows, the reservoir rows, the bias, the leak rates.

    A bound step's loop: a call converts four arrays, not seven (each costs the compiled
    wrapper ~35 ns; measured ~0.15 us less per call at N = 100), and the numbers are
    :func:`reservoir_step`'s (the same row function on views of the same values).
    """
    n_units = constants.shape[1]
    n_inputs = constants.shape[0] - n_units - 2
    input_weights = constants[:n_inputs]
    reservoir_weights = constants[n_inputs:n_inputs + n_units]
    bias, leak_rate = constants[n_inputs + n_units], constants[n_inputs + n_units + 1]
    for b in prange(inputs.shape[0]):
        step_row(inputs, input_weights, reservoir_weights, bias, leak_rate, states, out, b)


LOOPS = (
    Loop(
        reservoir_run,
        inputs=ARRAY3, input_weights=ARRAY2, in_ptr="u8[::1]", in_idx="u4[::1]", in_val=ARRAY1,
        reservoir_weights=ARRAY2, w_ptr="u8[::1]", w_idx="u4[::1]", w_val=ARRAY1, bias=ARRAY1, leak_rate=ARRAY1,
        initial_states=ARRAY2, skip_inputs="b1", out=ARRAY3,
        batch=("inputs", "initial_states", "out"), parallel=True, cost=(2.8, 1.0),
        calls=(tanh, add_rows, add_rows_x4, gather, gather_x4),
    ),
    Loop(
        reservoir_step,
        inputs=ARRAY2, input_weights=ARRAY2, reservoir_weights=ARRAY2, bias=ARRAY1, leak_rate=ARRAY1,
        states=ARRAY2, out=ARRAY2,
        batch=("inputs", "states", "out"), parallel=True, cost=(1.0, 0.5), calls=(step_row, tanh, add_rows),
    ),
    Loop(
        reservoir_step_packed,
        inputs=ARRAY2, constants=ARRAY2, states=ARRAY2, out=ARRAY2,
        batch=("inputs", "states", "out"), parallel=True, cost=(1.0, 0.5), calls=(step_row, tanh, add_rows),
    ),
)
