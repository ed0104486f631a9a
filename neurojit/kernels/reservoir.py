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
:func:`reservoir_step`, the same sums for one step without allocation.

Sparse reservoirs (the usual ESN has 1-10 % connectivity): when ``w_ptr`` is not empty,
the recurrent product reads ``reservoir_weights`` in compressed form instead, the CSR
arrays of its transpose (unit ``i`` receives ``x[w_idx[k]] * w_val[k]`` for
``k = w_ptr[i] .. w_ptr[i+1]-1``, presynaptic index ascending). Each unit then sums the
same non-zero terms in the same order as the dense rows (a zero weight or a zero state
adds nothing), so both forms give the same numbers, and the work falls from N^2 to the
number of connections. The pointers and ``w_idx`` are unsigned: numba then skips its
negative-index checks (measured 1.6x faster on a 10 % reservoir of 1000 units).

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
of once per row. In compressed form the states are also kept by unit (``xt[j, r]``), so
each entry is applied to all rows of the group in one contiguous (vectorised) inner loop. Each unit of each row still sums the same terms in the same order as a
single row would, so results do not depend on the grouping (bit for bit). A serial loop
runs all its rows as one group; the parallel compile (``prange``) runs groups of
``BATCH_GROUP`` rows on separate threads.
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
                for i in range(block * BLOCK, min(block * BLOCK + BLOCK, n_units)):
                    acc = drive[i]
                    for k in range(w_ptr[i], w_ptr[i + 1]):
                        acc += x[w_idx[k]] * w_val[k]
                    a = leak_rate[i]
                    x_new[i] = (1 - a) * x[i] + a * tanh(acc)
                    out[0, t, i] = x_new[i]
            x, x_new = x_new, x
        return
    group = BATCH_GROUP if PARALLEL else max(n_batch, 1)
    n_groups = (n_batch + group - 1) // group
    for g in prange(n_groups):
        b0 = g * group
        rows = min(n_batch, b0 + group) - b0
        x = initial_states[b0:b0 + rows].copy()
        pre = np.empty_like(x)
        # compressed form, several rows: the states also by unit (xt[j, r]), so that each
        # entry is applied to all rows in one contiguous inner loop
        xt = np.empty((n_units, rows), x.dtype)
        acc = np.empty(rows, x.dtype)
        for r in range(rows):
            for i in range(n_units):
                xt[i, r] = x[r, i]
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
            if sparse and rows == 1:
                for i in range(n_units):
                    total = pre[0, i]
                    for k in range(w_ptr[i], w_ptr[i + 1]):
                        total += x[0, w_idx[k]] * w_val[k]
                    pre[0, i] = total
            elif sparse:
                for i in range(n_units):
                    for r in range(rows):
                        acc[r] = pre[r, i]
                    for k in range(w_ptr[i], w_ptr[i + 1]):
                        j = w_idx[k]
                        v = w_val[k]
                        for r in range(rows):
                            acc[r] += xt[j, r] * v
                    for r in range(rows):
                        pre[r, i] = acc[r]
            else:  # dense rows: each block of ADD_BLOCK rows of the weights applied to every row of the group
                for j0 in range(0, n_units, ADD_BLOCK):
                    for r in range(rows):
                        add_rows(pre[r], x[r], reservoir_weights, j0, min(j0 + ADD_BLOCK, n_units))
            for r in range(rows):
                for i in range(n_units):
                    a = leak_rate[i]
                    x[r, i] = (1 - a) * x[r, i] + a * tanh(pre[r, i])
                    out[b0 + r, t, i] = x[r, i]
            if sparse and rows > 1:
                for r in range(rows):
                    for i in range(n_units):
                        xt[i, r] = x[r, i]


def reservoir_step(inputs, input_weights, reservoir_weights, bias, leak_rate, states, out):
    """One step of :func:`reservoir_run` on dense weights: ``inputs[B, I]``, ``states[B, N]`` -> ``out[B, N]``.

    The sums of ``reservoir_run``'s dense rows in the same order (the bias, the input rows by
    ascending ``j``, then the recurrent rows), so both give the same numbers. ``out`` is the
    accumulator: no allocation and seven arguments, so a small call costs little more than
    its sums (the bound step of an echo-state network).
    """
    n_batch, n_inputs = inputs.shape
    n_units = bias.shape[0]
    for b in prange(n_batch):
        for i in range(n_units):
            out[b, i] = bias[i]
        add_rows(out[b], inputs[b], input_weights, 0, n_inputs)
        add_rows(out[b], states[b], reservoir_weights, 0, n_units)
        for i in range(n_units):
            a = leak_rate[i]
            out[b, i] = (1 - a) * states[b, i] + a * tanh(out[b, i])


LOOPS = (
    Loop(
        reservoir_run,
        inputs=ARRAY3, input_weights=ARRAY2, in_ptr="u8[::1]", in_idx="u4[::1]", in_val=ARRAY1,
        reservoir_weights=ARRAY2, w_ptr="u8[::1]", w_idx="u4[::1]", w_val=ARRAY1, bias=ARRAY1, leak_rate=ARRAY1,
        initial_states=ARRAY2, skip_inputs="b1", out=ARRAY3,
        batch=("inputs", "initial_states", "out"), parallel=True, cost=(2.8, 1.0), calls=(tanh, add_rows),
    ),
    Loop(
        reservoir_step,
        inputs=ARRAY2, input_weights=ARRAY2, reservoir_weights=ARRAY2, bias=ARRAY1, leak_rate=ARRAY1,
        states=ARRAY2, out=ARRAY2,
        batch=("inputs", "states", "out"), parallel=True, cost=(1.0, 0.5), calls=(tanh, add_rows),
    ),
)
