"""Sparse, stateful networks of leaky integrate-and-fire neurons (``neurojit.LIFNetwork``).

One loop, ``network_run``, advances a batch of independent rows of one network over the
steps of a run. Per row and step ``t``, in this order (Brian2's default schedule:
groups, thresholds, synapses, resets)::

    1. every neuron i:   acc = acc0[i];  acc = acc + coef[k, i] * I[k, i]     (k = 0 .. K-1, old I)
                         I[k, i] = syn_decay[k] * I[k, i]
                         a[i] = adapt_decay[i] * a[i]                         (with adaptation)
                         v[i] = base[i] + ((acc + em[i] * v[i]) + tail[i])    unless refractory
    2. i spikes where    v[i] > threshold[i] + a[i]  and i is not refractory (ascending i)
    3. delivery, group after group in the order they were added: every synapse s of a source
       that spikes at step t (an input channel, or a neuron of step 2), sources ascending,
       synapses in storage order, adds its weight to I flattened at targets[s] (= k * N + post),
       or with K = 0 (delta synapses) to v[post] where post is not refractory
    4. spiking neurons:  v = v_reset[i];  a += adapt_increment[i];  refractory for R[i] steps

The constants (``neuron`` rows ``EM`` ... ``ADAPT_INC``) come from ``neurojit.network``,
computed in double precision the way Brian2 computes its loop invariants: with
``acc0 = 0, tail = 0, base = v_rest - v_rest * em`` the update is Brian2's
``L12 + ((L13*ge + L14*gi) + L15*v)``, with ``acc0 = bias, tail = em * (-v_rest - bias),
base = v_rest`` its ``El + ((((bias + L13*ge) + L14*gi) + L15*v) + L15*(-El - bias))``.

Refractoriness: the state holds ``refractory[b, i]``, the steps during which neuron ``i``
is still refractory (its ``v`` frozen, it cannot spike; ``I`` and ``a`` still decay). Inside
the loop it becomes the step from which the neuron is free again (``until``); a spike at
step ``t`` sets ``until = t + R``: frozen at ``t + 1 .. t + R - 1``, free to spike again at
``t + R`` (Brian2's ``lastspike`` rule). The vector pass of step 1 updates every ``v``
without reading ``until``; the few refractory neurons are kept in a list and get back the
``v`` they are frozen at right after it (the same numbers as skipping them).

Synapses are stored compressed by source: group ``g`` (``groups[g] = (source kind, offset,
sources, per_synapse, shift)``: kind 0 input channels, 1 neurons) has the synapses of its
source ``j`` at ``ptr[offset + j] .. ptr[offset + j + 1] - 1``; synapse ``s`` weighs
``weights[s + shift]`` when ``per_synapse``, else every synapse of the group weighs
``group_weights[g]`` (Brian2's ``on_pre='ge += we'`` with a constant: no weight stored).
Input spikes of row ``b`` at step ``t`` are ``in_index[in_ptr[b, t] .. in_ptr[b, t + 1] - 1]``
(ascending channels). The loop trusts these arrays completely; ``neurojit.network`` builds
and checks them.

Output (``record``): 0 events (``ev_step``, ``ev_index`` of row ``b``, ``ev_count[b]`` of them),
1 dense (``dense[b, t, i]``), 2 counts (``counts[b, i] += 1``). A row stops before a step for
which its event buffer might not have room (``ev_count[b] + N > capacity``); ``progress[b]``
says how many steps it has done, and a later call with the same state arrays continues
from there. State arrays are updated in place, so a run in chunks equals one run bit for bit.

Plasticity (STDP, API.md section 8): ``plastic[g] = (MODE, WEIGHT_SHIFT, TRACE_SHIFT, POST_TRACES)``;
group ``g``'s synapse ``s`` weighs ``pw[b, s + plastic[g, 1]]`` (the row's absolute step ``n`` is
``clock[b] + t``; ``rates[g]`` = ``1/tau_pre, 1/tau_post``; ``amps[g]`` = ``a_pre, a_post, w_min,
w_max``; on_pre before on_post, as Brian2 runs them; each update touches one weight, so the order
among synapses does not matter).

Per-synapse traces (``MODE`` 1, Brian2's ``examples/synapses/STDP.py`` bit for bit): synapse ``s``
has its traces at ``r = s + plastic[g, 2]`` in ``apre[b, r]``, ``apost[b, r]`` and ``last[b, r]``,
the absolute step of its last event; they decay lazily, at each event of the synapse, as Brian2's
event-driven variables do: ``A *= exp(rates[g, k] * -(n*dt - last*dt))`` (the factor in double
precision with libm ``exp``, then in the row's dtype)::

    3. (delivery) a plastic synapse of a spiking source:  decay both traces;  I += w (the old w);
       A_pre += a_pre;  w = clip(w + A_post, w_min, w_max);  last = n
    3b. after every group's delivery, each spiking neuron i (ascending), its incoming synapses
       with per-synapse traces ``post_syn[post_ptr[i] .. post_ptr[i + 1] - 1]`` (trace columns,
       of groups ``post_grp``): decay both traces;  A_post += a_post;  w = clip(w + A_pre);  last = n

During a call each row keeps these synapses in one 32-byte record each (``w``, ``A_pre``,
``A_post`` in the row's dtype, ``last`` in int64), copied in from and out to the four arrays: 3b
reaches the synapses out of storage order, and it then loads one cache line per synapse instead
of four, after a first pass that only gathers their ``last`` (independent loads that the core
overlaps, where the update's ``exp`` calls and branches would keep it waiting on each). Every
event computes its factor (the same numbers as reusing the factor of an equal ``(group, last)``:
a check that mispredicts on most events cost more than the ``exp`` it saves).

Per-neuron traces (``MODE`` 2, ``STDP(traces="neuron")``): all synapses of a source share its
``A_pre`` and all synapses onto a neuron its ``A_post`` (the same sums of exponentials), kept in
``ntrace[b]`` at columns ``plastic[g, 2] + j`` (source ``j``) and ``plastic[g, 3] + i`` (neuron
``i``) as ``z``, scaled to the start of the trace's epoch: ``A(n) = z * exp(-x)``, ``x = (n mod
E) * dt * rate``, epochs of ``E = max(1, int(min(EPOCH / (rate * dt), 2**40)))`` steps from step 0
(at most ``exp(EPOCH)``: no overflow, in float32 either). At the first step ``n > 0`` of an epoch
every ``z`` of that trace is multiplied by ``exp(-(E * dt) * rate)`` (libm, then the row's dtype);
each step computes ``exp(-x)`` and ``exp(x)`` once per trace. Then a synapse event costs one load
and a multiply, and no trace keeps a step::

    3. (delivery) a spiking source j:  z_pre[j] += a_pre * exp(x_pre); each of its synapses:
       I += w (the old w);  w = clip(w + z_post[target] * exp(-x_post), w_min, w_max)
    3b. each group, each spiking neuron i:  z_post[i] += a_post * exp(x_post); its incoming
       synapses ``neuron_syn[neuron_ptr[u, i] .. neuron_ptr[u, i + 1] - 1]`` (weight columns, of
       sources ``neuron_pre``):  w = clip(w + z_pre[source] * exp(-x_pre), w_min, w_max)

``syn_post[p]`` is the column of weight ``p``'s target trace. These weights stay in ``pw[b]``.
A row with plastic synapses never takes the parallel block pass below (it has no STDP).

Cost per step: the neuron update (step 1 runs over blocks of ``BLOCK`` neurons whose inner
loops vectorise and count the block's spikes - indexed with unsigned bounds into whole-row
arrays: no negative-index checks, and no per-block array views, whose reference counts are
atomic operations that cost more than the arithmetic; step 2 looks for them only in blocks that
have one, with a vector loop of flags read back 8 at a time) plus the delivered synaptic
events. With the same membrane constants for every neuron (``uniform``, the usual case) and
K <= 2 the update reads them as scalars in one pass per block (a third of the memory traffic
of per-neuron constants), and the threshold too where all are equal (``one_threshold``). Rows are independent: ``prange`` over rows in a parallel compile, a
thread per slice of rows on the AOT backend. A single row of at least ``MIN_BLOCKED`` neurons in
a parallel compile splits the block pass of each step over the cores instead (one launch per
step: it pays only with idle cores; ``benchmarks/cuba.py`` measures it).
"""

import math

import numpy as np

from .loop import ARRAY1, ARRAY2, Loop

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 256  # neurons per block of the update (a multiple of 8: spikes are found 8 flags at a time)
MIN_BLOCKED = 16384  # one row of at least this many neurons: blocks in parallel (a launch per step)

#: rows of the ``neuron`` constants
EM, BASE, TAIL, ACC0, THRESHOLD, RESET, ADAPT_DECAY, ADAPT_INC = range(8)
N_CONSTANTS = 8
#: ``record`` codes
EVENTS, DENSE, COUNTS = 0, 1, 2
#: ``groups[g, 0]``: the sources of a synapse group
FROM_INPUTS, FROM_NEURONS = 0, 1
#: columns of ``groups``
KIND, OFFSET, SOURCES, PER_SYNAPSE, SHIFT = range(5)
GROUP_COLUMNS = 5
#: columns of ``plastic``, and its ``MODE`` codes: the group's STDP traces kept per synapse or per neuron
MODE, WEIGHT_SHIFT, TRACE_SHIFT, POST_TRACES = range(4)
PLASTIC_COLUMNS = 4
STATIC, SYNAPSE_TRACES, NEURON_TRACES = range(3)
EPOCH = 32.0  # per-neuron traces are kept scaled to the start of epochs of EPOCH time constants


def network_run(neuron, coef, syn_decay, refractory_steps, adapt, uniform, groups, group_weights, ptr, targets, weights,
                in_index, record, v, i_syn, adaptation, refractory, progress, ev_count, ev_step, ev_index, dense, counts,
                in_ptr, plastic, rates, amps, post_ptr, post_syn, post_grp, neuron_ptr, neuron_syn, neuron_pre, syn_post,
                dt, pw, apre, apost, last, ntrace, clock):
    """Advance every row of the network from ``progress[b]`` to the last step (see the module docstring).

    ``uniform``: every neuron has the same ``em, base, tail, acc0, coef[:, i], adapt_decay`` (column 0
    is read as scalars: one pass per block for K <= 2, a third of the memory traffic).
    STDP (``plastic``, ``rates`` ... ``clock``): see "Plasticity" in the module docstring.
    """
    n_batch = v.shape[0]
    n = v.shape[1]
    n_types = coef.shape[0]
    n_steps = in_ptr.shape[1] - 1
    capacity = ev_step.shape[1]
    n_groups = groups.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    em = neuron[EM]
    base = neuron[BASE]
    tail = neuron[TAIL]
    acc0 = neuron[ACC0]
    threshold = neuron[THRESHOLD]
    v_reset = neuron[RESET]
    adapt_decay = neuron[ADAPT_DECAY]
    adapt_inc = neuron[ADAPT_INC]
    fused = uniform and n_types <= 2 and n > 0
    one_threshold = fused  # the fused update then compares with one scalar threshold
    for i in range(n):
        if threshold[i] != threshold[0]:
            one_threshold = False
    th = threshold[0] if one_threshold else np.zeros(1, v.dtype)[0]
    n_plastic = pw.shape[1]
    max_incoming = 0  # the most plastic synapses onto one neuron
    for i in range(post_ptr.size - 1):
        max_incoming = max(max_incoming, post_ptr[i + 1] - post_ptr[i])
    # the groups with per-neuron traces (their A kept scaled: see "Plasticity" in the module docstring)
    n_neuron_groups = 0
    for g in range(n_groups):
        n_neuron_groups += plastic[g, MODE] == NEURON_TRACES
    neuron_groups = np.empty(n_neuron_groups, np.int64)
    n_neuron_groups = 0
    for g in range(n_groups):
        if plastic[g, MODE] == NEURON_TRACES:
            neuron_groups[n_neuron_groups] = g
            n_neuron_groups += 1
    # each one's epoch in steps (the trace of side 0, A_pre, and of side 1, A_post), the decay
    # factor over one epoch, and per step the factors exp(-x), exp(x) of x = (step - epoch start) * dt / tau
    epoch = np.ones((n_groups, 2), np.int64)
    epoch_decay = np.ones((n_groups, 2), v.dtype)
    for q in range(n_neuron_groups):
        g = neuron_groups[q]
        for side in range(2):
            epoch[g, side] = max(1, int(min(EPOCH / (rates[g, side] * dt), 2.0 ** 40)))
            epoch_decay[g, side] = math.exp(-(epoch[g, side] * dt) * rates[g, side])
    if PARALLEL and n_batch == 1 and n >= MIN_BLOCKED and n_plastic == 0:
        # One row in a parallel compile: the block pass of every step is a prange over neuron
        # blocks (each block finds its own spikes; they are merged in block order), the rest of
        # the step runs on one core. A copy of the row loop below with exactly its arithmetic:
        # edit both together (tests/test_jit_mode.py compares them).
        b = 0
        vb = v[b]
        ib = i_syn[b]
        ab = adaptation[b]
        until = refractory[b]
        acc = np.empty(n, v.dtype)
        spiking = np.empty(n, np.int64)
        block_flags = np.zeros((n_blocks, BLOCK), np.uint8)
        block_spikes = np.empty((n_blocks, BLOCK), np.int64)
        block_found = np.zeros(n_blocks, np.int64)
        # The row's currents in a buffer of its own, with room for two types: the fused path's
        # stand-ins stay 0 where K < 2 (x + 0 * 0 == x). (Choosing between arrays with a
        # conditional expression instead stops numba's parallel compile from vectorising.)
        width = max(n_types, 2) * n
        cur = np.zeros(width, v.dtype)
        for i in range(n_types * n):
            cur[i] = ib[i]
        current0 = cur[0:n]
        current1 = cur[n:2 * n]
        zero = np.zeros(1, v.dtype)[0]
        e = em[0] if fused else zero
        bs = base[0] if fused else zero
        tl = tail[0] if fused else zero
        a0 = acc0[0] if fused else zero
        ea = adapt_decay[0] if fused else zero
        k0 = coef[0, 0] if fused and n_types >= 1 else zero
        k1 = coef[1, 0] if fused and n_types >= 2 else zero
        d0 = syn_decay[0] if n_types >= 1 else zero
        d1 = syn_decay[1] if n_types >= 2 else zero
        t = progress[b]
        count = ev_count[b]
        # the refractory neurons (few at any time): their list and the v each is frozen at
        frozen = np.empty(n, np.int64)
        frozen_v = np.empty(n, v.dtype)
        n_frozen = 0
        for i in range(n):
            if until[i] > 0:
                frozen[n_frozen] = i
                n_frozen += 1
                frozen_v[i] = vb[i]
            until[i] += t
        while t < n_steps:
            if record == EVENTS and count + n > capacity:
                break
            # 1.-2. update every block, find the spikes
            n_spiking = 0
            for block in prange(n_blocks):
                first = block * BLOCK
                # unsigned bounds: numba then skips its negative-index check and the loops vectorise;
                # no array views either (each costs two atomic reference counts)
                lo = np.uint64(first)
                hi = np.uint64(min(first + BLOCK, n))
                hits = 0
                if fused:
                    if adapt:
                        for i in range(lo, hi):
                            x = a0 + k0 * current0[i]
                            x = x + k1 * current1[i]
                            current0[i] = d0 * current0[i]
                            current1[i] = d1 * current1[i]
                            vi = bs + ((x + e * vb[i]) + tl)
                            vb[i] = vi
                            ai = ea * ab[i]
                            ab[i] = ai
                            hits += vi > threshold[i] + ai
                    elif one_threshold:  # a scalar: a sixth less memory traffic
                        for i in range(lo, hi):
                            x = a0 + k0 * current0[i]
                            x = x + k1 * current1[i]
                            current0[i] = d0 * current0[i]
                            current1[i] = d1 * current1[i]
                            vi = bs + ((x + e * vb[i]) + tl)
                            vb[i] = vi
                            hits += vi > th
                    else:
                        for i in range(lo, hi):
                            x = a0 + k0 * current0[i]
                            x = x + k1 * current1[i]
                            current0[i] = d0 * current0[i]
                            current1[i] = d1 * current1[i]
                            vi = bs + ((x + e * vb[i]) + tl)
                            vb[i] = vi
                            hits += vi > threshold[i]
                else:
                    for i in range(lo, hi):
                        acc[i] = acc0[i]
                    for k in range(n_types):
                        offset = np.uint64(k * n)
                        dk = syn_decay[k]
                        for i in range(lo, hi):
                            acc[i] = acc[i] + coef[k, i] * cur[offset + i]
                            cur[offset + i] = dk * cur[offset + i]
                    if adapt:
                        for i in range(lo, hi):
                            vi = base[i] + ((acc[i] + em[i] * vb[i]) + tail[i])
                            vb[i] = vi
                            ai = adapt_decay[i] * ab[i]
                            ab[i] = ai
                            hits += vi > threshold[i] + ai
                    else:
                        for i in range(lo, hi):
                            vi = base[i] + ((acc[i] + em[i] * vb[i]) + tail[i])
                            vb[i] = vi
                            hits += vi > threshold[i]
                found = 0
                if hits:  # the few blocks with a spike: flags (a vector loop), then 8 at a time
                    flags = block_flags[block]
                    words = flags.view(np.uint64)
                    if adapt:
                        for i in range(lo, hi):
                            flags[i - lo] = (until[i] <= t) & (vb[i] > threshold[i] + ab[i])
                    else:
                        for i in range(lo, hi):
                            flags[i - lo] = (until[i] <= t) & (vb[i] > threshold[i])
                    size = min(BLOCK, n - first)
                    for i in range(size, (size + 7) // 8 * 8):
                        flags[i] = 0
                    for w in range((size + 7) // 8):
                        if words[w]:
                            for i in range(8 * w, 8 * w + 8):
                                if flags[i]:
                                    block_spikes[block, found] = first + i
                                    found += 1
                block_found[block] = found
            for block in range(n_blocks):  # the spikes in ascending order, as the serial loop finds them
                for q in range(block_found[block]):
                    spiking[n_spiking] = block_spikes[block, q]
                    n_spiking += 1
            # refractory neurons: v was updated with the others, put back what it was frozen at
            q = 0
            while q < n_frozen:
                i = frozen[q]
                if until[i] <= t:  # free from this step on: its update stands
                    n_frozen -= 1
                    frozen[q] = frozen[n_frozen]
                else:
                    vb[i] = frozen_v[i]
                    q += 1
            # record
            if record == EVENTS:
                for q in range(n_spiking):
                    ev_step[b, count] = t
                    ev_index[b, count] = spiking[q]
                    count += 1
            elif record == DENSE:
                for q in range(n_spiking):
                    dense[b, t, spiking[q]] = True
            else:
                for q in range(n_spiking):
                    counts[b, spiking[q]] += 1
            # 3. delivery
            first_input = in_ptr[b, t]
            last_input = in_ptr[b, t + 1]
            for g in range(n_groups):
                offset = groups[g, 1]
                from_neurons = groups[g, 0] == FROM_NEURONS
                per_synapse = groups[g, 3] != 0
                shift = groups[g, 4]
                w = group_weights[g]
                n_sources = n_spiking if from_neurons else last_input - first_input
                for q in range(n_sources):
                    j = spiking[q] if from_neurons else in_index[first_input + q]
                    start = ptr[offset + j]
                    stop = ptr[offset + j + 1]
                    if n_types:
                        if per_synapse:
                            for s in range(start, stop):
                                cur[targets[s]] += weights[s + shift]
                        else:
                            for s in range(start, stop):
                                cur[targets[s]] += w
                    else:  # delta synapses: onto v, not while the target is refractory
                        for s in range(start, stop):
                            post = targets[s]
                            if until[post] <= t:
                                vb[post] += weights[s + shift] if per_synapse else w
            # 4. reset
            for q in range(n_spiking):
                i = spiking[q]
                vb[i] = v_reset[i]
                if adapt:
                    ab[i] += adapt_inc[i]
                until[i] = t + refractory_steps[i]
                if until[i] > t + 1:  # refractory from the next step on, v frozen at v_reset
                    frozen[n_frozen] = i
                    n_frozen += 1
                    frozen_v[i] = vb[i]
            t += 1
        for i in range(n):
            until[i] = max(until[i] - t, 0)
        for i in range(n_types * n):
            ib[i] = cur[i]
        progress[b] = t
        ev_count[b] = count

        return
    for b in prange(n_batch):
        vb = v[b]
        ib = i_syn[b]
        ab = adaptation[b]
        until = refractory[b]
        acc = np.empty(n, v.dtype)
        spiking = np.empty(n, np.int64)
        flags = np.zeros(BLOCK, np.uint8)
        words = flags.view(np.uint64)
        # The row's currents in a buffer of its own, with room for two types: the fused path's
        # stand-ins stay 0 where K < 2 (x + 0 * 0 == x). (Choosing between arrays with a
        # conditional expression instead stops numba's parallel compile from vectorising.)
        width = max(n_types, 2) * n
        cur = np.zeros(width, v.dtype)
        for i in range(n_types * n):
            cur[i] = ib[i]
        current0 = cur[0:n]
        current1 = cur[n:2 * n]
        zero = np.zeros(1, v.dtype)[0]
        e = em[0] if fused else zero
        bs = base[0] if fused else zero
        tl = tail[0] if fused else zero
        a0 = acc0[0] if fused else zero
        ea = adapt_decay[0] if fused else zero
        k0 = coef[0, 0] if fused and n_types >= 1 else zero
        k1 = coef[1, 0] if fused and n_types >= 2 else zero
        d0 = syn_decay[0] if n_types >= 1 else zero
        d1 = syn_decay[1] if n_types >= 2 else zero
        t = progress[b]
        count = ev_count[b]
        # STDP: this row's plastic synapses, each in one 32-byte record (weight, A_pre, A_post in
        # columns 0-2 of the row's dtype, the step of its last event in int64 column 3), so that
        # on_post, which reaches them out of storage order, loads one cache line per synapse, not
        # four; a buffer for the steps it gathers, and one for decay factors in the row's dtype
        n_records = apre.shape[1]
        rec = np.empty((n_records, 4), np.int64)
        recv = rec.view(v.dtype)
        for g in range(n_groups):
            if plastic[g, MODE] == SYNAPSE_TRACES:
                for s in range(ptr[groups[g, 1]], ptr[groups[g, 1] + groups[g, 2]]):
                    r = s + plastic[g, TRACE_SHIFT]
                    recv[r, 0] = pw[b, s + plastic[g, WEIGHT_SHIFT]]
                    recv[r, 1] = apre[b, r]
                    recv[r, 2] = apost[b, r]
                    rec[r, 3] = last[b, r]
        gathered = np.empty(max_incoming, np.int64)
        # per-neuron traces, scaled to the start of their epoch: A(step) = z * exp(-x); the
        # weights of their groups stay in the row of pw (which the caller gave to be changed)
        n_traces = ntrace.shape[1]
        z = np.empty(n_traces, v.dtype)
        for c in range(n_traces):
            z[c] = ntrace[b, c]
        wrow = pw[b]
        scale = np.ones((n_groups, 4), v.dtype)  # per group: exp(-x), exp(x) of A_pre, then of A_post
        start_step = clock[b]
        factor = np.zeros(2, v.dtype)
        # the refractory neurons (few at any time): their list and the v each is frozen at
        frozen = np.empty(n, np.int64)
        frozen_v = np.empty(n, v.dtype)
        n_frozen = 0
        for i in range(n):
            if until[i] > 0:
                frozen[n_frozen] = i
                n_frozen += 1
                frozen_v[i] = vb[i]
            until[i] += t
        while t < n_steps:
            if record == EVENTS and count + n > capacity:
                break
            # 1.-2. update every block, find the spikes
            n_spiking = 0
            for block in range(n_blocks):
                first = block * BLOCK
                # unsigned bounds: numba then skips its negative-index check and the loops vectorise;
                # no array views either (each costs two atomic reference counts)
                lo = np.uint64(first)
                hi = np.uint64(min(first + BLOCK, n))
                hits = 0
                if fused:
                    if adapt:
                        for i in range(lo, hi):
                            x = a0 + k0 * current0[i]
                            x = x + k1 * current1[i]
                            current0[i] = d0 * current0[i]
                            current1[i] = d1 * current1[i]
                            vi = bs + ((x + e * vb[i]) + tl)
                            vb[i] = vi
                            ai = ea * ab[i]
                            ab[i] = ai
                            hits += vi > threshold[i] + ai
                    elif one_threshold:  # a scalar: a sixth less memory traffic
                        for i in range(lo, hi):
                            x = a0 + k0 * current0[i]
                            x = x + k1 * current1[i]
                            current0[i] = d0 * current0[i]
                            current1[i] = d1 * current1[i]
                            vi = bs + ((x + e * vb[i]) + tl)
                            vb[i] = vi
                            hits += vi > th
                    else:
                        for i in range(lo, hi):
                            x = a0 + k0 * current0[i]
                            x = x + k1 * current1[i]
                            current0[i] = d0 * current0[i]
                            current1[i] = d1 * current1[i]
                            vi = bs + ((x + e * vb[i]) + tl)
                            vb[i] = vi
                            hits += vi > threshold[i]
                else:
                    for i in range(lo, hi):
                        acc[i] = acc0[i]
                    for k in range(n_types):
                        offset = np.uint64(k * n)
                        dk = syn_decay[k]
                        for i in range(lo, hi):
                            acc[i] = acc[i] + coef[k, i] * cur[offset + i]
                            cur[offset + i] = dk * cur[offset + i]
                    if adapt:
                        for i in range(lo, hi):
                            vi = base[i] + ((acc[i] + em[i] * vb[i]) + tail[i])
                            vb[i] = vi
                            ai = adapt_decay[i] * ab[i]
                            ab[i] = ai
                            hits += vi > threshold[i] + ai
                    else:
                        for i in range(lo, hi):
                            vi = base[i] + ((acc[i] + em[i] * vb[i]) + tail[i])
                            vb[i] = vi
                            hits += vi > threshold[i]
                if hits:  # the few blocks with a spike: flags (a vector loop), then 8 at a time
                    if adapt:
                        for i in range(lo, hi):
                            flags[i - lo] = (until[i] <= t) & (vb[i] > threshold[i] + ab[i])
                    else:
                        for i in range(lo, hi):
                            flags[i - lo] = (until[i] <= t) & (vb[i] > threshold[i])
                    size = min(BLOCK, n - first)
                    for i in range(size, (size + 7) // 8 * 8):
                        flags[i] = 0
                    for w in range((size + 7) // 8):
                        if words[w]:
                            for i in range(8 * w, 8 * w + 8):
                                if flags[i]:
                                    spiking[n_spiking] = first + i
                                    n_spiking += 1
            # refractory neurons: v was updated with the others, put back what it was frozen at
            q = 0
            while q < n_frozen:
                i = frozen[q]
                if until[i] <= t:  # free from this step on: its update stands
                    n_frozen -= 1
                    frozen[q] = frozen[n_frozen]
                else:
                    vb[i] = frozen_v[i]
                    q += 1
            # record
            if record == EVENTS:
                for q in range(n_spiking):
                    ev_step[b, count] = t
                    ev_index[b, count] = spiking[q]
                    count += 1
            elif record == DENSE:
                for q in range(n_spiking):
                    dense[b, t, spiking[q]] = True
            else:
                for q in range(n_spiking):
                    counts[b, spiking[q]] += 1
            # 3. delivery
            if n_neuron_groups:  # per-neuron traces: this step's scale (a new epoch: traces rescaled)
                step_now = start_step + t
                for u in range(n_neuron_groups):
                    g = neuron_groups[u]
                    for side in range(2):
                        phase = step_now % epoch[g, side]
                        if phase == 0 and step_now > 0:
                            first = plastic[g, TRACE_SHIFT] if side == 0 else plastic[g, POST_TRACES]
                            stop = first + (groups[g, SOURCES] if side == 0 else n)
                            for c in range(first, stop):
                                z[c] = z[c] * epoch_decay[g, side]
                        exponent = (phase * dt) * rates[g, side]
                        scale[g, 2 * side] = math.exp(-exponent)
                        scale[g, 2 * side + 1] = math.exp(exponent)
            first_input = in_ptr[b, t]
            last_input = in_ptr[b, t + 1]
            for g in range(n_groups):
                offset = groups[g, 1]
                from_neurons = groups[g, 0] == FROM_NEURONS
                per_synapse = groups[g, 3] != 0
                shift = groups[g, 4]
                w = group_weights[g]
                n_sources = n_spiking if from_neurons else last_input - first_input
                if plastic[g, MODE] == SYNAPSE_TRACES:  # STDP: on_pre, synapse by synapse (records in storage order)
                    pshift = plastic[g, TRACE_SHIFT]
                    step_now = start_step + t
                    now = step_now * dt
                    rate_pre = rates[g, 0]
                    rate_post = rates[g, 1]
                    add_pre = amps[g, 0]
                    w_lo = amps[g, 2]
                    w_hi = amps[g, 3]
                    for q in range(n_sources):
                        j = spiking[q] if from_neurons else in_index[first_input + q]
                        for s in range(ptr[offset + j], ptr[offset + j + 1]):
                            p = np.uint64(s + pshift)
                            elapsed = -(now - rec[p, 3] * dt)
                            factor[0] = math.exp(rate_pre * elapsed)
                            factor[1] = factor[0] if rate_post == rate_pre else math.exp(rate_post * elapsed)
                            recv[p, 2] = recv[p, 2] * factor[1]
                            recv[p, 1] = recv[p, 1] * factor[0]
                            wp = recv[p, 0]
                            if n_types:
                                cur[targets[s]] += wp
                            else:
                                post = targets[s]
                                if until[post] <= t:
                                    vb[post] += wp
                            recv[p, 1] = recv[p, 1] + add_pre
                            x = wp + recv[p, 2]
                            recv[p, 0] = w_lo if x < w_lo else (w_hi if x > w_hi else x)
                            rec[p, 3] = step_now
                    continue
                if plastic[g, MODE] == NEURON_TRACES:  # STDP: on_pre with the source's and targets' traces
                    wshift = plastic[g, WEIGHT_SHIFT]
                    pre_col = plastic[g, TRACE_SHIFT]
                    add_pre = amps[g, 0] * scale[g, 1]
                    post_now = scale[g, 2]
                    w_lo = amps[g, 2]
                    w_hi = amps[g, 3]
                    for q in range(n_sources):
                        j = spiking[q] if from_neurons else in_index[first_input + q]
                        c = np.uint64(pre_col + j)
                        z[c] = z[c] + add_pre
                        for s in range(ptr[offset + j], ptr[offset + j + 1]):
                            p = np.uint64(s + wshift)
                            wp = wrow[p]
                            if n_types:
                                cur[targets[s]] += wp
                            else:
                                post = targets[s]
                                if until[post] <= t:
                                    vb[post] += wp
                            x = wp + z[np.uint64(syn_post[p])] * post_now
                            wrow[p] = w_lo if x < w_lo else (w_hi if x > w_hi else x)
                    continue
                for q in range(n_sources):
                    j = spiking[q] if from_neurons else in_index[first_input + q]
                    start = ptr[offset + j]
                    stop = ptr[offset + j + 1]
                    if n_types:
                        if per_synapse:
                            for s in range(start, stop):
                                cur[targets[s]] += weights[s + shift]
                        else:
                            for s in range(start, stop):
                                cur[targets[s]] += w
                    else:  # delta synapses: onto v, not while the target is refractory
                        for s in range(start, stop):
                            post = targets[s]
                            if until[post] <= t:
                                vb[post] += weights[s + shift] if per_synapse else w
            # 3b. STDP: on_post, over the plastic synapses onto each spiking neuron
            if post_ptr.size:  # per-synapse traces
                step_now = start_step + t
                now = step_now * dt
                for q in range(n_spiking):
                    i = spiking[q]
                    r0 = post_ptr[i]
                    incoming = post_ptr[i + 1] - r0
                    # first the records' last steps alone: independent loads, which the core
                    # overlaps, bring every record's line in before the arithmetic needs it
                    for r in range(incoming):
                        gathered[r] = rec[np.uint64(post_syn[r0 + r]), 3]
                    for r in range(incoming):
                        p = np.uint64(post_syn[r0 + r])
                        g = post_grp[r0 + r]
                        elapsed = -(now - gathered[r] * dt)
                        factor[0] = math.exp(rates[g, 0] * elapsed)
                        factor[1] = factor[0] if rates[g, 1] == rates[g, 0] else math.exp(rates[g, 1] * elapsed)
                        recv[p, 2] = recv[p, 2] * factor[1]
                        recv[p, 1] = recv[p, 1] * factor[0]
                        recv[p, 2] = recv[p, 2] + amps[g, 1]
                        x = recv[p, 0] + recv[p, 1]
                        recv[p, 0] = amps[g, 2] if x < amps[g, 2] else (amps[g, 3] if x > amps[g, 3] else x)
                        rec[p, 3] = step_now
            for u in range(n_neuron_groups):  # per-neuron traces: a spiking neuron's own, then its synapses'
                g = neuron_groups[u]
                post_col = plastic[g, POST_TRACES]
                add_post = amps[g, 1] * scale[g, 3]
                pre_now = scale[g, 0]
                w_lo = amps[g, 2]
                w_hi = amps[g, 3]
                for q in range(n_spiking):
                    i = spiking[q]
                    c = np.uint64(post_col + i)
                    z[c] = z[c] + add_post
                    for entry in range(np.uint64(neuron_ptr[u, i]), np.uint64(neuron_ptr[u, i + 1])):
                        p = np.uint64(neuron_syn[entry])
                        x = wrow[p] + z[np.uint64(neuron_pre[entry])] * pre_now
                        wrow[p] = w_lo if x < w_lo else (w_hi if x > w_hi else x)
            # 4. reset
            for q in range(n_spiking):
                i = spiking[q]
                vb[i] = v_reset[i]
                if adapt:
                    ab[i] += adapt_inc[i]
                until[i] = t + refractory_steps[i]
                if until[i] > t + 1:  # refractory from the next step on, v frozen at v_reset
                    frozen[n_frozen] = i
                    n_frozen += 1
                    frozen_v[i] = vb[i]
            t += 1
        for i in range(n):
            until[i] = max(until[i] - t, 0)
        for i in range(n_types * n):
            ib[i] = cur[i]
        for g in range(n_groups):
            if plastic[g, MODE] == SYNAPSE_TRACES:
                for s in range(ptr[groups[g, 1]], ptr[groups[g, 1] + groups[g, 2]]):
                    r = s + plastic[g, TRACE_SHIFT]
                    pw[b, s + plastic[g, WEIGHT_SHIFT]] = recv[r, 0]
                    apre[b, r] = recv[r, 1]
                    apost[b, r] = recv[r, 2]
                    last[b, r] = rec[r, 3]
        for c in range(n_traces):
            ntrace[b, c] = z[c]
        progress[b] = t
        ev_count[b] = count


LOOPS = (
    Loop(
        network_run,
        neuron=ARRAY2, coef=ARRAY2, syn_decay=ARRAY1, refractory_steps="i8[::1]", adapt="b1", uniform="b1",
        groups="i8[:,::1]", group_weights=ARRAY1,
        ptr="i8[::1]", targets="u4[::1]", weights=ARRAY1, in_index="u4[::1]", record="i8",
        v=ARRAY2, i_syn=ARRAY2, adaptation=ARRAY2, refractory="i8[:,::1]", progress="i8[::1]",
        ev_count="i8[::1]", ev_step="i4[:,::1]", ev_index="i4[:,::1]", dense="b1[:,:,::1]", counts="i8[:,::1]",
        in_ptr="i8[:,::1]", plastic="i8[:,::1]", rates="f8[:,::1]", amps=ARRAY2, post_ptr="i8[::1]",
        post_syn="u4[::1]", post_grp="i4[::1]", neuron_ptr="i8[:,::1]", neuron_syn="u4[::1]",
        neuron_pre="u4[::1]", syn_post="u4[::1]", dt="f8", pw=ARRAY2,
        apre=ARRAY2, apost=ARRAY2, last="i8[:,::1]", ntrace=ARRAY2, clock="i8[::1]",
        batch=("v", "i_syn", "adaptation", "refractory", "progress", "ev_count", "ev_step", "ev_index", "dense",
               "counts", "pw", "apre", "apost", "last", "ntrace", "clock", "in_ptr"),
        work=("in_ptr", "v"), parallel=True, cost=(3.0, 2.0),
    ),
)
