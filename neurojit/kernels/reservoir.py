"""Echo-state (leaky tanh) reservoir over a sequence.

Per batch row ``b`` and step ``t``::

    pre = bias + inputs[b, t] @ input_weights + x @ reservoir_weights
    x = (1 - leak_rate) * x + leak_rate * tanh(pre)
    out[b, t] = x

Both products are accumulated row by row (``pre += u_j * W[j, :]``), skipping rows
whose coefficient is zero, so binary spike inputs cost in proportion to the spikes and
the inner loop runs over contiguous memory.

Sparse reservoirs (the usual ESN has 1-10 % connectivity): when ``w_ptr`` is not empty,
the recurrent product reads ``reservoir_weights`` in compressed form instead, the CSR
arrays of its transpose (unit ``i`` receives ``x[w_idx[k]] * w_val[k]`` for
``k = w_ptr[i] .. w_ptr[i+1]-1``, presynaptic index ascending). Each unit then sums the
same non-zero terms in the same order as the dense rows (a zero weight or a zero state
adds nothing), so both forms give the same numbers, and the work falls from N^2 to the
number of connections. ``w_idx`` is unsigned: numba then skips its negative-index check.

Parallel loops: batch rows are independent (``prange`` over ``b``). A single batch row
stays on one core: its recurrent product is dense (tanh states are rarely 0) and memory
bound, and splitting the units into column blocks (the only split that keeps each unit's
summation order) streams ``reservoir_weights`` worse than whole rows - measured 2x slower
on one core and no faster on two for N=2000 (see ``benchmarks/jit_parallel.py``).
"""

import numpy as np

prange = range  # rebound to numba.prange by the JIT backend


def reservoir_run(inputs, input_weights, reservoir_weights, w_ptr, w_idx, w_val, bias, leak_rate, initial_states, out):
    """Run the reservoir over ``inputs[B, T, I]`` from ``initial_states[B, N]``; write ``out[B, T, N]``.

    ``w_ptr``, ``w_idx``, ``w_val``: CSR form of ``reservoir_weights.T``, or all empty (dense rows).
    """
    n_batch, n_steps, n_inputs = inputs.shape
    n_units = bias.shape[0]
    retain = 1 - leak_rate
    sparse = w_ptr.shape[0] > 0
    for b in prange(n_batch):
        x = initial_states[b].copy()
        pre = np.empty_like(bias)
        for t in range(n_steps):
            pre[:] = bias
            for j in range(n_inputs):
                u = inputs[b, t, j]
                if u != 0:
                    for i in range(n_units):
                        pre[i] += u * input_weights[j, i]
            if sparse:
                for i in range(n_units):
                    acc = pre[i]
                    for k in range(w_ptr[i], w_ptr[i + 1]):
                        acc += x[w_idx[k]] * w_val[k]
                    pre[i] = acc
            else:
                for j in range(n_units):
                    s = x[j]
                    if s != 0:
                        for i in range(n_units):
                            pre[i] += s * reservoir_weights[j, i]
            for i in range(n_units):
                x[i] = retain * x[i] + leak_rate * np.tanh(pre[i])
                out[b, t, i] = x[i]
