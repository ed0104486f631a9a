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
"""

import numpy as np

prange = range  # rebound to numba.prange by the JIT backend


def lif_run(spikes, input_weights, recurrent_weights, recurrent, thresholds, decay, v_reset, out):
    """Run the LIF population over ``spikes[B, T, I]`` and write ``out[B, T, N]`` (0/1)."""
    n_batch, n_steps, n_inputs = spikes.shape
    n_neurons = thresholds.shape[0]
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
