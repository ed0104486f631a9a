"""Leaky integrate-and-fire population, event-driven.

One loop serves both public LIF kernels: ``spike_processing`` (feed-forward,
``recurrent=False``) and ``lif_network_run`` (the population's own spikes of the
previous step feed back through ``recurrent_weights``).

Per batch row ``b`` and time step ``t``, in this order::

    current = sum_{j: spikes[b, t, j] != 0} input_weights[j, :]          (ascending j)
            + sum_{j: out[b, t-1, j] != 0} recurrent_weights[j, :]      (if recurrent, t > 0)
    v = v * decay + current                                             (decay = exp(-dt/tau))
    out[b, t, :] = v > thresholds
    v[out[b, t, :] != 0] = v_reset

Only the rows of presynaptic neurons that spiked are read, so the cost of the synaptic
input grows with the number of spikes, not with the size of the weight matrices.
The current is accumulated in the array's own dtype, row by row in ascending order, so
the NumPy backend (which sums the same rows in the same order) agrees bit for bit.

Parallel loops: batch rows are independent (``prange`` over ``b``). With a single batch
row of at least ``MIN_BLOCKED`` neurons, a parallel compile (``PARALLEL``) splits the
neurons into blocks of ``BLOCK`` instead, one ``prange`` per time step (the spiking
presynaptic indices are gathered first). Every neuron receives the same terms in the
same order on both paths, so the results are identical.
"""

import numpy as np

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 256  # neurons per parallel work item when there is one batch row
MIN_BLOCKED = 1024  # below this a parallel launch per time step costs more than it saves


def lif_run(spikes, input_weights, recurrent_weights, recurrent, thresholds, decay, v_reset, out):
    """Run the LIF population over ``spikes[B, T, I]`` and write ``out[B, T, N]`` (0/1)."""
    n_batch, n_steps, n_inputs = spikes.shape
    n_neurons = thresholds.shape[0]
    if PARALLEL and n_batch == 1 and n_neurons >= MIN_BLOCKED:
        v = np.zeros_like(thresholds)
        current = np.zeros_like(thresholds)
        active = np.empty(n_inputs + n_neurons, dtype=np.int64)
        n_blocks = (n_neurons + BLOCK - 1) // BLOCK
        for t in range(n_steps):
            n_in = 0
            for j in range(n_inputs):
                if spikes[0, t, j] != 0:
                    active[n_in] = j
                    n_in += 1
            n_all = n_in
            if recurrent and t > 0:
                for j in range(n_neurons):
                    if out[0, t - 1, j] != 0:
                        active[n_all] = j
                        n_all += 1
            for block in prange(n_blocks):
                lo = block * BLOCK
                hi = min(lo + BLOCK, n_neurons)
                # views indexed from 0: numba then vectorises the inner loops
                cur, vb, th, spiked = current[lo:hi], v[lo:hi], thresholds[lo:hi], out[0, t, lo:hi]
                for i in range(hi - lo):
                    cur[i] = 0
                for a in range(n_in):
                    row = input_weights[active[a], lo:hi]
                    for i in range(hi - lo):
                        cur[i] += row[i]
                for a in range(n_in, n_all):
                    row = recurrent_weights[active[a], lo:hi]
                    for i in range(hi - lo):
                        cur[i] += row[i]
                for i in range(hi - lo):
                    vi = vb[i] * decay + cur[i]
                    if vi > th[i]:
                        spiked[i] = 1
                        vi = v_reset
                    else:
                        spiked[i] = 0
                    vb[i] = vi
        return
    for b in prange(n_batch):
        v = np.zeros_like(thresholds)
        current = np.zeros_like(thresholds)
        for t in range(n_steps):
            current[:] = 0
            for j in range(n_inputs):
                if spikes[b, t, j] != 0:
                    for i in range(n_neurons):
                        current[i] += input_weights[j, i]
            if recurrent and t > 0:
                for j in range(n_neurons):
                    if out[b, t - 1, j] != 0:
                        for i in range(n_neurons):
                            current[i] += recurrent_weights[j, i]
            for i in range(n_neurons):
                vi = v[i] * decay + current[i]
                if vi > thresholds[i]:
                    out[b, t, i] = 1
                    vi = v_reset
                else:
                    out[b, t, i] = 0
                v[i] = vi
