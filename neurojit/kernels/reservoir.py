"""Echo-state (leaky tanh) reservoir over a sequence.

Per batch row ``b`` and step ``t``::

    pre = bias + inputs[b, t] @ input_weights + x @ reservoir_weights
    x = (1 - leak_rate) * x + leak_rate * tanh(pre)
    out[b, t] = x

Both products are accumulated row by row (``pre += u_j * W[j, :]``), skipping rows
whose coefficient is zero, so binary spike inputs cost in proportion to the spikes and
the inner loop runs over contiguous memory.

Parallel loops: batch rows are independent (``prange`` over ``b``). With a single batch
row of at least ``MIN_BLOCKED`` units, a parallel compile (``PARALLEL``) splits the units
into blocks of ``BLOCK`` instead, one ``prange`` per time step reading the previous state
from ``out[0, t-1]``. Every unit receives the same terms in the same order on both paths,
so the results are identical.
"""

import numpy as np

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 256  # units per parallel work item when there is one batch row
MIN_BLOCKED = 1024  # below this a parallel launch per time step costs more than it saves


def reservoir_run(inputs, input_weights, reservoir_weights, bias, leak_rate, initial_states, out):
    """Run the reservoir over ``inputs[B, T, I]`` from ``initial_states[B, N]``; write ``out[B, T, N]``."""
    n_batch, n_steps, n_inputs = inputs.shape
    n_units = bias.shape[0]
    retain = 1 - leak_rate
    if PARALLEL and n_batch == 1 and n_units >= MIN_BLOCKED:
        pre = np.empty_like(bias)
        active = np.empty(n_inputs + n_units, dtype=np.int64)
        n_blocks = (n_units + BLOCK - 1) // BLOCK
        for t in range(n_steps):
            x = initial_states[0] if t == 0 else out[0, t - 1]
            n_in = 0
            for j in range(n_inputs):
                if inputs[0, t, j] != 0:
                    active[n_in] = j
                    n_in += 1
            n_all = n_in
            for j in range(n_units):
                if x[j] != 0:
                    active[n_all] = j
                    n_all += 1
            for block in prange(n_blocks):
                lo = block * BLOCK
                hi = min(lo + BLOCK, n_units)
                # views indexed from 0: numba then vectorises the inner loops
                pb, xb, new = pre[lo:hi], x[lo:hi], out[0, t, lo:hi]
                for i in range(hi - lo):
                    pb[i] = bias[lo + i]
                for a in range(n_in):
                    j = active[a]
                    u = inputs[0, t, j]
                    row = input_weights[j, lo:hi]
                    for i in range(hi - lo):
                        pb[i] += u * row[i]
                for a in range(n_in, n_all):
                    j = active[a]
                    s = x[j]
                    row = reservoir_weights[j, lo:hi]
                    for i in range(hi - lo):
                        pb[i] += s * row[i]
                for i in range(hi - lo):
                    new[i] = retain * xb[i] + leak_rate * np.tanh(pb[i])
        return
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
            for j in range(n_units):
                s = x[j]
                if s != 0:
                    for i in range(n_units):
                        pre[i] += s * reservoir_weights[j, i]
            for i in range(n_units):
                x[i] = retain * x[i] + leak_rate * np.tanh(pre[i])
                out[b, t, i] = x[i]
