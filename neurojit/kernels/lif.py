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

Each step of a batch row is three passes, each a helper inlined into the loop: :func:`spiking`
lists the spiking presynaptic indices (branch-free, so its cost does not depend on the spike
pattern), :func:`add_rows` sums their rows four per pass over ``current`` (the same terms in
the same order as one row at a time, with a quarter of the loads and stores of ``current``;
the first pass starts from zero instead of a cleared ``current``, ``0 + w`` as in the
equation), and :func:`fire` updates the membrane and writes the output row (branch-free, on
arrays indexed from 0, so it compiles to packed compares and blends). These loops make no
array view inside a loop over inputs or neurons: numba counts the references of every view it
makes, a call per iteration. Measured against one row at a time with a branch per input
(B = 8, T = 1000, N = 1000, float32, two threads): 1.15-1.3x at 1 % input, 1.1-1.4x at
10 %, the recurrent network 1.4x; on one thread 1.05-1.1x.

Parallel loops: batch rows are independent (``prange`` over ``b``). With a single batch
row of at least ``MIN_BLOCKED`` neurons, a parallel compile (``PARALLEL``) splits the
neurons into blocks of ``BLOCK`` instead, one ``prange`` per time step (the spiking
presynaptic indices are gathered first, by :func:`spiking`; each block ends with
:func:`fire`). Every neuron receives the same terms in the same order on both paths, so
the results are identical.
"""

import numpy as np

from .loop import ARRAY1, ARRAY2, ARRAY3, SCALAR, Loop

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 256  # neurons per parallel work item when there is one batch row
MIN_BLOCKED = 1024  # below this a parallel launch per time step costs more than it saves


def spiking(values, found):
    """Write the indices of the non-zero entries of ``values`` to ``found[0:count]`` in
    ascending order; return ``count``.

    Every index is written and the count advances by 0 or 1, so there is no branch per entry
    to mispredict on each spike (``found`` needs room for all of ``values``).
    """
    count = 0
    for j in range(values.shape[0]):
        found[count] = j
        count += values[j] != 0
    return count


def add_rows(current, weights, rows, count, first):
    """``current[i] (+)= weights[rows[0], i] + ... + weights[rows[count - 1], i]``, left to right;
    with ``first``, from zero (``current`` is not read).

    Four rows per pass over ``current``: every element receives the same terms in the same
    order as one row at a time, so the same numbers. The first pass of a sum from zero adds
    to a zero of the array's type (``0 + w``, not ``w``: they differ for ``w = -0.0``).
    """
    n = current.shape[0]
    a = 0
    if first:
        if count >= 4:
            zero = current.dtype.type(0)
            r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
            for i in range(n):
                current[i] = (((zero + weights[r0, i]) + weights[r1, i]) + weights[r2, i]) + weights[r3, i]
            a = 4
        else:
            current[:] = 0
    while a + 4 <= count:
        r0, r1, r2, r3 = rows[a], rows[a + 1], rows[a + 2], rows[a + 3]
        for i in range(n):
            current[i] = (((current[i] + weights[r0, i]) + weights[r1, i]) + weights[r2, i]) + weights[r3, i]
        a += 4
    while a < count:
        r0 = rows[a]
        for i in range(n):
            current[i] += weights[r0, i]
        a += 1


def fire(v, current, thresholds, decay, v_reset, spiked):
    """``v = v * decay + current``, ``spiked = v > thresholds`` (1 or 0), ``v = v_reset`` where spiked."""
    for i in range(v.shape[0]):
        vi = v[i] * decay + current[i]
        s = vi > thresholds[i]
        spiked[i] = s
        v[i] = v_reset if s else vi


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
            n_in = spiking(spikes[0, t], active)
            n_all = n_in
            if recurrent:
                n_all += spiking(fired[0] if t == 0 else out[0, t - 1], active[n_in:])
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
                fire(vb, cur, th, decay, v_reset, spiked)
        fired[0, :] = out[0, n_steps - 1]
        return
    for b in prange(n_batch):
        vb = v[b]
        current = np.empty_like(thresholds)
        active = np.empty(max(n_inputs, n_neurons), dtype=np.int64)  # input, then recurrent indices
        for t in range(n_steps):
            n_in = spiking(spikes[b, t], active)
            add_rows(current, input_weights, active, n_in, True)
            if recurrent:
                n_rec = spiking(fired[b] if t == 0 else out[b, t - 1], active)
                add_rows(current, recurrent_weights, active, n_rec, False)
            fire(vb, current, thresholds, decay, v_reset, out[b, t])
        fired[b, :] = out[b, n_steps - 1]


LOOPS = (
    Loop(
        lif_run,
        spikes=ARRAY3, input_weights=ARRAY2, recurrent_weights=ARRAY2, recurrent="b1", thresholds=ARRAY1,
        decay=SCALAR, v_reset=SCALAR, v=ARRAY2, fired=ARRAY2, out=ARRAY3,
        batch=("spikes", "v", "fired", "out"), parallel=True, cost=(0.9, 0.8),
        calls=(spiking, add_rows, fire),
    ),
)
