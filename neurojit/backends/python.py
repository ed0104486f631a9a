"""NumPy implementations of the loops in :mod:`neurojit.kernels`, same names and arguments.

Vectorised over neurons (and over batch rows or taps where the maths allows); only the
time recursion stays a Python loop. Sums are taken over the same rows in the same
order as the compiled loops (``numpy.add.reduce`` along the leading axis adds rows one
after another), so the spiking kernels agree bit for bit with them.
"""

import math

import numpy as np

from ..kernels import signatures

NAME = "python"
name = NAME  # backends are identified by `.name` (as JITBackend and AOTBackend)
native = False  # NumPy code: the event-driven forms (compressed reservoir, 0/1 scan) do not pay here


def lif_run(spikes, input_weights, recurrent_weights, recurrent, thresholds, decay, v_reset, v, fired, out):
    n_batch, n_steps, _ = spikes.shape
    current = np.empty_like(v)
    active = spikes != 0
    for t in range(n_steps):
        for b in range(n_batch):
            rows = input_weights[active[b, t]]
            if recurrent:
                previous = fired[b] if t == 0 else out[b, t - 1]
                rows = np.concatenate((rows, recurrent_weights[previous != 0]))
            if rows.shape[1] == 1:
                # One column: numpy would sum it pairwise; the loops add rows in order.
                current[b] = np.cumsum(rows[:, 0])[-1] if rows.shape[0] else 0
            else:
                current[b] = rows.sum(axis=0)  # adds whole rows one after another
        v *= decay
        v += current
        spiking = v > thresholds
        out[:, t] = spiking
        v[spiking] = v_reset
    if n_steps:
        fired[...] = out[:, -1]


def reservoir_run(
    inputs, input_weights, in_ptr, in_idx, in_val, reservoir_weights, w_ptr, w_idx, w_val, bias, leak_rate,
    initial_states, skip_inputs, out
):
    # The input drive does not depend on the state: one matrix product for all steps.
    # The CSR form of a dense reservoir (w_ptr, ... next to a full reservoir_weights) is not
    # used: BLAS on the dense matrix is the fastest product NumPy has. A scipy.sparse matrix
    # (an empty dense array next to its CSR arrays; scipy is installed, it made them) runs
    # as scipy's sparse product.
    # Non-finite values propagate as in the compiled loops, which do not warn (inf * 0 = NaN).
    n_batch, n_steps, n_inputs = inputs.shape
    n_units = bias.shape[0]
    with np.errstate(invalid="ignore", over="ignore"):
        if in_ptr.shape[0] and input_weights.shape[0] != n_inputs:
            drive = (_csr(in_val, in_idx, in_ptr, (n_inputs, n_units)).T @ inputs.reshape(-1, n_inputs).T).T
            drive = drive.reshape(n_batch, n_steps, n_units) + bias
        else:
            drive = inputs @ input_weights + bias
        if w_ptr.shape[0] and reservoir_weights.shape[0] != n_units:
            w_t = _csr(w_val, w_idx, w_ptr, (n_units, n_units))  # reservoir_weights.T
            product = lambda x: (w_t @ x.T).T  # noqa: E731
        else:
            product = lambda x: x @ reservoir_weights  # noqa: E731
        x = initial_states
        for t in range(n_steps):
            x = (1 - leak_rate) * x + leak_rate * np.tanh(drive[:, t] + product(x))
            out[:, t] = x


def reservoir_step(inputs, input_weights, reservoir_weights, bias, leak_rate, states, out):
    with np.errstate(invalid="ignore", over="ignore"):  # as reservoir_run
        drive = inputs @ input_weights + bias
        out[...] = (1 - leak_rate) * states + leak_rate * np.tanh(drive + states @ reservoir_weights)


def reservoir_step_packed(inputs, constants, states, out):
    n_units = constants.shape[1]
    n_inputs = constants.shape[0] - n_units - 2
    reservoir_step(inputs, constants[:n_inputs], constants[n_inputs:-2], constants[-2], constants[-1], states, out)


def _csr(values, indices, pointers, shape):
    import scipy.sparse  # only reached with a scipy.sparse argument

    return scipy.sparse.csr_matrix((values, indices, pointers.astype(np.int64)), shape=shape)


def causal_convolution(spikes, taps, out):
    n_steps = spikes.shape[1]
    events = (spikes != 0).astype(out.dtype)
    out[...] = 0
    # Taps in decreasing order: each output receives its terms by increasing source time.
    for k in range(min(taps.shape[0], n_steps) - 1, -1, -1):
        out[:, k:] += taps[k] * events[:, : n_steps - k]


def binary_nonzeros(a, limit, spans, index):
    # the loop's answer for the first row that decides it (its 0/1 check before the limit)
    nonzero = a != 0
    ones = np.count_nonzero(nonzero, axis=1)
    other = np.flatnonzero((nonzero & (a != 1)).any(axis=1))
    over = np.flatnonzero(np.cumsum(ones) > limit)
    if other.size and (not over.size or other[0] <= over[0]):
        return -1
    if over.size:
        return -2
    # row i's list starts after the lists and the one spare slot of the rows before it
    spans[:, 0] = np.cumsum(ones) - ones + np.arange(a.shape[0])
    spans[:, 1] = spans[:, 0] + ones
    rows, columns = np.nonzero(nonzero)  # row by row, columns ascending
    index[(np.arange(rows.size) + rows)] = columns
    return int(ones.sum())


def binary_matmul(spans, index, b, bad, out):
    bad[:] = 0
    if bad.size:
        bad[0] = b.size - np.count_nonzero(np.isfinite(b))
    # the rows of a back from its lists; then BLAS, the fastest NumPy has, sparse or not
    a = np.zeros((spans.shape[0], b.shape[0]), b.dtype)
    for i, (begin, end) in enumerate(spans):
        a[i, index[begin:end]] = 1
    with np.errstate(invalid="ignore"):  # 0 * inf where b is not finite: the caller takes numpy.matmul's
        np.matmul(a, b, out=out)


def _synapses_of(sources, ptr, offset):
    """Indices of the synapses of ``sources`` (in order), each source's in storage order."""
    starts = ptr[offset + sources]
    lengths = ptr[offset + sources + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    # start of each source's run, repeated, plus the position within the run
    first = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return first + np.arange(total)


def network_run(neuron, coef, syn_decay, refractory_steps, adapt, uniform, groups, group_weights, ptr, targets, weights,
                in_index, record, v, i_syn, adaptation, refractory, progress, ev_count, ev_step, ev_index, dense, counts,
                in_ptr, plastic, rates, amps, post_ptr, post_syn, post_grp, neuron_ptr, neuron_syn, neuron_pre, syn_post, dt,
                pw, apre, apost, last, ntrace, clock):
    # Row by row (each may stop at its own step when its event buffer is full), vectorised over
    # neurons; the same operations in the same order as the loop (``uniform`` only picks the
    # loop's faster path to the same numbers). np.add.at adds the synaptic
    # weights one after another in the order given: sources ascending, storage order.
    from ..kernels.network import (ACC0, ADAPT_DECAY, ADAPT_INC, BASE, DENSE, EM, EPOCH, EVENTS, FROM_NEURONS, MODE,
                                   NEURON_TRACES, POST_TRACES, RESET, SOURCES, SYNAPSE_TRACES, TAIL, THRESHOLD,
                                   TRACE_SHIFT, WEIGHT_SHIFT)

    n_batch, n = v.shape
    n_types = coef.shape[0]
    n_steps = in_ptr.shape[1] - 1
    capacity = ev_step.shape[1]
    em, base, tail, acc0 = neuron[EM], neuron[BASE], neuron[TAIL], neuron[ACC0]
    threshold, v_reset, adapt_decay, adapt_inc = neuron[THRESHOLD], neuron[RESET], neuron[ADAPT_DECAY], neuron[ADAPT_INC]
    currents = i_syn.reshape(n_batch, n_types, n)
    # per-neuron traces: each group's epochs (the loop's arithmetic, in Python floats = float64)
    neuron_groups = np.flatnonzero(plastic[:, MODE] == NEURON_TRACES)
    epoch = {(g, side): max(1, int(min(EPOCH / (rates[g, side] * dt), 2.0 ** 40)))
             for g in neuron_groups for side in (0, 1)}
    epoch_decay = {key: v.dtype.type(math.exp(-(steps * dt) * rates[key])) for key, steps in epoch.items()}
    scale = np.ones((plastic.shape[0], 4), v.dtype)
    with np.errstate(all="ignore"):  # non-finite values propagate as in the compiled loop, silently
        for b in range(n_batch):
            vb, ib, ab, flat = v[b], currents[b], adaptation[b], i_syn[b]
            t = int(progress[b])
            count = int(ev_count[b])
            until = refractory[b] + t
            while t < n_steps:
                if record == EVENTS and count + n > capacity:
                    break
                acc = acc0.copy()
                for k in range(n_types):
                    acc = acc + coef[k] * ib[k]
                    ib[k] = syn_decay[k] * ib[k]
                free = until <= t
                vb[:] = np.where(free, base + ((acc + em * vb) + tail), vb)
                if adapt:
                    ab[:] = adapt_decay * ab
                    spiking = np.flatnonzero((vb > threshold + ab) & free)
                else:
                    spiking = np.flatnonzero((vb > threshold) & free)
                if record == EVENTS:
                    ev_step[b, count:count + spiking.size] = t
                    ev_index[b, count:count + spiking.size] = spiking
                    count += spiking.size
                elif record == DENSE:
                    dense[b, t, spiking] = True
                else:
                    counts[b, spiking] += 1
                inputs = in_index[in_ptr[b, t]:in_ptr[b, t + 1]].astype(np.int64)
                step = int(clock[b]) + t
                for (g, side), steps in epoch.items():  # per-neuron traces: this step's scale
                    phase = step % steps
                    if phase == 0 and step > 0:
                        first = plastic[g, TRACE_SHIFT] if side == 0 else plastic[g, POST_TRACES]
                        width = groups[g, SOURCES] if side == 0 else n
                        ntrace[b, first:first + width] *= epoch_decay[g, side]
                    exponent = (phase * dt) * rates[g, side]
                    scale[g, 2 * side:2 * side + 2] = math.exp(-exponent), math.exp(exponent)
                for g, ((source, offset, _, per_synapse, shift), weight) in enumerate(zip(groups, group_weights)):
                    synapses = _synapses_of(spiking if source == FROM_NEURONS else inputs, ptr, offset)
                    post = targets[synapses]
                    if plastic[g, MODE] == SYNAPSE_TRACES:  # STDP on_pre: each synapse once (a source spikes once a step)
                        p = synapses + plastic[g, WEIGHT_SHIFT]
                        r = synapses + plastic[g, TRACE_SHIFT]
                        values = pw[b, p].copy()  # I += w: the weight before this update
                        _stdp_decay(apre[b], apost[b], last[b], r, step, dt, rates[g, 0], rates[g, 1])
                        apre[b, r] += amps[g, 0]
                        pw[b, p] = _clip(values + apost[b, r], amps[g, 2], amps[g, 3])
                        if not n_types:
                            values = values[free[post]]
                    elif plastic[g, MODE] == NEURON_TRACES:  # on_pre with the sources' and targets' traces
                        sources = spiking if source == FROM_NEURONS else inputs
                        ntrace[b, sources + plastic[g, TRACE_SHIFT]] += amps[g, 0] * scale[g, 1]
                        p = synapses + plastic[g, WEIGHT_SHIFT]
                        values = pw[b, p].copy()
                        pw[b, p] = _clip(values + ntrace[b, syn_post[p]] * scale[g, 2], amps[g, 2], amps[g, 3])
                        if not n_types:
                            values = values[free[post]]
                    else:
                        values = None
                    if not n_types:  # delta synapses: onto v, not while the target is refractory
                        keep = free[post]
                        synapses, post = synapses[keep], post[keep]
                    if values is None:
                        values = weights[synapses + shift] if per_synapse else np.full(synapses.size, weight)
                    np.add.at(flat if n_types else vb, post, values)
                if post_ptr.size and spiking.size:  # STDP on_post, per-synapse traces
                    r = _synapses_of(spiking, post_ptr, 0)
                    p, g = post_syn[r], post_grp[r]  # p: the synapse's trace column
                    _stdp_decay(apre[b], apost[b], last[b], p, step, dt, rates[g, 0], rates[g, 1])
                    apost[b, p] += amps[g, 1]
                    w = plastic[g, WEIGHT_SHIFT] - plastic[g, TRACE_SHIFT] + p
                    pw[b, w] = _clip(pw[b, w] + apre[b, p], amps[g, 2], amps[g, 3])
                for u, g in enumerate(neuron_groups):  # per-neuron traces: the spiking neurons' own, then their synapses
                    ntrace[b, spiking + plastic[g, POST_TRACES]] += amps[g, 1] * scale[g, 3]
                    r = _synapses_of(spiking, neuron_ptr[u], 0)
                    p = neuron_syn[r]
                    pw[b, p] = _clip(pw[b, p] + ntrace[b, neuron_pre[r]] * scale[g, 0], amps[g, 2], amps[g, 3])
                vb[spiking] = v_reset[spiking]
                if adapt:
                    ab[spiking] += adapt_inc[spiking]
                until[spiking] = t + refractory_steps[spiking]
                t += 1
            refractory[b] = np.maximum(until - t, 0)
            progress[b] = t
            ev_count[b] = count


_libm_exp = np.frompyfunc(math.exp, 1, 1)  # the C library's exp, as the compiled loop (np.exp may differ by an ulp)


def _stdp_decay(pre, post, last, p, step, dt, rate_pre, rate_post):
    """Brian2's lazy decay of the traces of plastic synapses ``p`` at absolute step ``step``; ``last = step``."""
    elapsed = -(step * dt - last[p] * dt)
    f_pre = _libm_exp(rate_pre * elapsed).astype(np.float64).astype(pre.dtype)
    f_post = _libm_exp(rate_post * elapsed).astype(np.float64).astype(pre.dtype)
    post[p] = post[p] * f_post
    pre[p] = pre[p] * f_pre
    last[p] = step


def _clip(x, low, high):
    """The loop's ``low if x < low else (high if x > high else x)``."""
    return np.where(x < low, low, np.where(x > high, high, x)).astype(x.dtype)


#: loop name -> its NumPy twin; every declared loop has one (``tests/test_declarations.py``)
TWINS = {name: globals()[name] for name in signatures.LOOPS if name in globals()}


def loop(name: str, dtype: str):
    """The NumPy implementation of loop ``name`` (one implementation serves both dtypes)."""
    return TWINS[name]
