"""Leaky integrate-and-fire population, event-driven.

One loop serves both public LIF kernels: ``spike_processing`` (feed-forward,
``recurrent=False``) and ``lif_network_run`` (the population's own spikes of the
previous step feed back through ``recurrent_weights``).

The loop is stateful: it starts from the membrane ``v[B, N]`` and the previous step's
spikes ``fired[B, N]`` it is given, and leaves the final membrane and the last step's
spikes in the same arrays, so a sequence run in chunks gives the same spikes as one run.
Per batch row ``b`` and time step ``t``, in this order::

    prev = fired[b] if t == 0 else out[b, t-1]
    current = sum_{j: spikes[b, t, j] != 0} input_weights[j, :]          (ascending j)
            + sum_{j: prev[j] != 0} recurrent_weights[j, :]             (if recurrent)
    v = v * decay + current                                             (decay = exp(-dt/tau))
    out[b, t, :] = v > thresholds
    v[out[b, t, :] != 0] = v_reset

Event semantics: a silent input (a zero entry) contributes nothing, whatever the weight
behind it (also a NaN or inf one); this is the same on every backend.

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

from .loop import ARRAY1, ARRAY2, ARRAY3, SCALAR, Loop

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 256  # neurons per parallel work item when there is one batch row
MIN_BLOCKED = 1024  # below this a parallel launch per time step costs more than it saves


def lif_run(spikes, input_weights, recurrent_weights, recurrent, thresholds, decay, v_reset, v, fired, out):
    """Run the LIF population over ``spikes[B, T, I]``, write ``out[B, T, N]`` (0/1) and leave
    the final state in ``v[B, N]`` and ``fired[B, N]``."""
    n_batch, n_steps, n_inputs = spikes.shape
    n_neurons = thresholds.shape[0]
    if n_steps == 0:
        return
    if PARALLEL and n_batch == 1 and n_neurons >= MIN_BLOCKED:
        vv = v[0]
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
            if recurrent:
                prev = fired[0] if t == 0 else out[0, t - 1]
                for j in range(n_neurons):
                    if prev[j] != 0:
                        active[n_all] = j
                        n_all += 1
            for block in prange(n_blocks):
                lo = block * BLOCK
                hi = min(lo + BLOCK, n_neurons)
                # views indexed from 0: numba then vectorises the inner loops
                cur, vb, th, spiked = current[lo:hi], vv[lo:hi], thresholds[lo:hi], out[0, t, lo:hi]
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
        fired[0, :] = out[0, n_steps - 1]
        return
    for b in prange(n_batch):
        vb = v[b]
        current = np.zeros_like(thresholds)
        for t in range(n_steps):
            current[:] = 0
            for j in range(n_inputs):
                if spikes[b, t, j] != 0:
                    for i in range(n_neurons):
                        current[i] += input_weights[j, i]
            if recurrent:
                prev = fired[b] if t == 0 else out[b, t - 1]
                for j in range(n_neurons):
                    if prev[j] != 0:
                        for i in range(n_neurons):
                            current[i] += recurrent_weights[j, i]
            for i in range(n_neurons):
                vi = vb[i] * decay + current[i]
                if vi > thresholds[i]:
                    out[b, t, i] = 1
                    vi = v_reset
                else:
                    out[b, t, i] = 0
                vb[i] = vi
        fired[b, :] = out[b, n_steps - 1]


LOOPS = (
    Loop(
        lif_run,
        spikes=ARRAY3, input_weights=ARRAY2, recurrent_weights=ARRAY2, recurrent="b1", thresholds=ARRAY1,
        decay=SCALAR, v_reset=SCALAR, v=ARRAY2, fired=ARRAY2, out=ARRAY3,
        batch=("spikes", "v", "fired", "out"), parallel=True, cost=(0.9, 0.8),
    ),
)
