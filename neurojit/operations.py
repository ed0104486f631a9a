"""The public kernels, each declared once (:data:`KERNELS`), and their bodies.

A body receives its arguments already validated and converted (by the declaration, see
:mod:`neurojit.declare`) and the resolved loops (``loops.<loop name>``), and runs them.
:class:`neurojit.JITCompiler` derives everything else from the declarations. The exact
equations are in each docstring and in the README.

Shapes: ``B`` batch, ``T`` time steps, ``N`` neurons, ``I`` inputs, ``K`` kernel taps.
Spike arrays may be bool, int or float; any non-zero entry counts as one spike.
The output dtype is the input dtype (float32 only when every floating input is
float32, else float64).
"""

from __future__ import annotations

import math

import numpy as np

from .declare import KernelSpec, Param
from .kernels.reservoir import pack_step_constants
from .validate import Compressed

#: A bound reservoir step with at most this many weights ((I + N) * N) runs on one array of its
#: constants (reservoir_step_packed): a copy of at most 1 MiB (float64), made where a call's fixed
#: costs count (at N = 100 a third of a 2 us step; at N = 360, this size, its sums take ~15 us).
PACKED_STEP_WEIGHTS = 1 << 17
#: A 0/1 left operand at most this dense goes to the event-driven loop, denser to BLAS. A safe
#: bound, measured against numpy.matmul at full BLAS speed, the loops timed as in `neurojit
#: bench` (2 cores, float32, 1024 x 1024 @ 1024 x 1024): at 5 % every compiled backend is
#: faster (1.4x-2.4x), at 7.5 % the SSE2 builds and the JIT's parallel loop are not
#: (0.84-0.95x), at 10 % all but the parallel loop are slower (0.7-0.96x).
SPARSE_MATMUL_DENSITY = 0.055
#: ... and the product has at least this many multiply-adds (M x K x N). Below it BLAS is quick
#: and the row sums' fixed costs count, above all a two-thread loop's launch beside OpenBLAS's
#: thread (which spins for about 0.1 s after each call): up to a few ms waiting for a core.
#: Measured at 5 %: every backend faster at 1024^3; at 896^3 and 768^3 the JIT's parallel loop
#: slower (0.96x, 0.62x), at 256^3 the serial ones too (0.8-1.0x).
SPARSE_MATMUL_MIN_WORK = 1 << 30
#: A reservoir matrix at most this dense is run in compressed (CSR) form ...
SPARSE_RESERVOIR_DENSITY = 0.25
#: ... when the call has at least this many steps (batch rows x time steps) to repay the conversion.
SPARSE_RESERVOIR_MIN_STEPS = 32


#: Work (multiply-adds, counted as if every input spiked) one native call does per thread at
#: most, about 0.05-0.2 s: a long call is cut into pieces along the batch, and a long single
#: row along time (the stateful loops carry their state over), so that Python - and Ctrl-C -
#: gets control back within a fraction of a second. The pieces give the results of one call.
CALL_WORK = 1e8


def _pieces(loops, loop: str, batch: int, steps: int, work_per_step: float, *,
            whole_batch: bool = False) -> list[tuple[int, int, int, int]]:
    """``(b0, b1, t0, t1)`` blocks covering a ``(batch, steps)`` call of ``loop``, each about
    ``CALL_WORK`` per thread of the backend.

    Several rows are cut into groups of whole rows (at least one per thread, so every core
    stays busy), or with ``whole_batch`` (loops whose rows share each weight read) all rows
    together along time; a single row is cut along time (its slices stay C-contiguous). NumPy
    twins return to Python at every step anyway: one block.
    """
    threads = loops.threads
    work = steps * max(work_per_step, 1.0)
    if work * batch <= CALL_WORK * threads or loop not in loops.native:
        return [(0, batch, 0, steps)]
    if whole_batch:  # a loop whose rows share each weight read: keep them together, cut time
        span = max(1, int(CALL_WORK * threads // (max(work_per_step, 1.0) * batch)))
        return [(0, batch, t0, min(steps, t0 + span)) for t0 in range(0, steps, span)]
    if batch > 1:
        rows = max(threads, int(CALL_WORK * threads // work))
        return [(b0, min(batch, b0 + rows), 0, steps) for b0 in range(0, batch, rows)]
    span = max(1, int(CALL_WORK // max(work_per_step, 1.0)))
    return [(0, 1, t0, min(steps, t0 + span)) for t0 in range(0, steps, span)]


def _decay(dtype: np.dtype, dt: float, tau: float):
    """``exp(-dt / tau)`` computed in double precision, then in the call's dtype."""
    return dtype.type(math.exp(-dt / tau))


def _lif(loops, spikes, input_weights, recurrent_weights, recurrent, thresholds, dt, tau, v_reset, v, fired):
    out = np.empty(spikes.shape[:2] + thresholds.shape, thresholds.dtype)
    if out.size:
        decay = _decay(thresholds.dtype, dt, tau)
        batch, steps, n_inputs = spikes.shape
        n = thresholds.shape[0]
        for b0, b1, t0, t1 in _pieces(loops, "lif_run", batch, steps, n * (n_inputs + n * recurrent)):
            loops.lif_run(spikes[b0:b1, t0:t1], input_weights, recurrent_weights, recurrent, thresholds,
                          decay, v_reset, v[b0:b1], fired[b0:b1], out[b0:b1, t0:t1])
    return out


def spike_processing(loops, spike_trains, weights, thresholds, dt, tau, v_reset) -> np.ndarray:
    """Leaky integrate-and-fire population with delta synapses, one per batch row.

    Parameters
    ----------
    spike_trains : array_like, shape (B, T, N)
        Input spikes (non-zero = spike).
    weights : array_like, shape (N, N)
        ``weights[j, i]`` is the synapse from input ``j`` to neuron ``i`` (row-major).
    thresholds : array_like, shape (N,), or scalar
        Firing thresholds.
    dt, tau : float
        Time step and membrane time constant (same unit), finite and positive.
    v_reset : float
        Membrane potential after a spike.

    Returns
    -------
    numpy.ndarray, shape (B, T, N)
        Output spikes, 0.0 or 1.0, in the input dtype.

    Notes
    -----
    The membrane ``v[N]`` starts at 0. For each step ``t``, in this order::

        v = v * exp(-dt / tau)
        v += sum_j spike_trains[b, t, j] * weights[j, :]     (only spiking j are visited)
        out[b, t, i] = v[i] > thresholds[i]
        v[i] = v_reset where neuron i spiked

    This is snnTorch's ``snn.Leaky(beta=exp(-dt/tau), threshold=thr, reset_mechanism="zero",
    reset_delay=False)`` fed ``spike_trains[b, t] @ weights`` (for ``v_reset = 0``; snnTorch's
    default ``reset_delay=True`` resets one step late) and Brian2's ``dv/dt = -v/tau`` (method ``exact``) with ``on_pre='v += w'``, threshold
    ``v > thr`` and reset ``v = v_reset``, when the input ``SpikeGeneratorGroup`` runs
    ``when='start'`` and the synapses ``when='before_thresholds'``: spike for spike in
    float64. The synaptic sum is accumulated in ascending ``j`` in the array dtype.
    A silent input contributes nothing, whatever its weight (also a non-finite one).
    """
    state = np.zeros((spike_trains.shape[0], thresholds.shape[0]), thresholds.dtype)
    return _lif(loops, spike_trains, weights, weights, False, thresholds, dt, tau, v_reset, state, state.copy())


def lif_network_run(loops, input_spikes, input_weights, recurrent_weights, thresholds, dt, tau, v_reset) -> np.ndarray:
    """Recurrent LIF population (the liquid of a Liquid State Machine) over a whole sequence.

    Parameters
    ----------
    input_spikes : array_like, shape (B, T, I)
    input_weights : array_like, shape (I, N)
    recurrent_weights : array_like, shape (N, N)
        ``recurrent_weights[j, i]`` is the synapse from neuron ``j`` to neuron ``i``.
    thresholds : array_like, shape (N,), or scalar
    dt, tau, v_reset : float
        As in :func:`spike_processing`.

    Returns
    -------
    numpy.ndarray, shape (B, T, N)
        Output spikes, 0.0 or 1.0.

    Notes
    -----
    The neuron of :func:`spike_processing`; the synaptic input at step ``t`` is
    ``input_spikes[b, t] @ input_weights + out[b, t-1] @ recurrent_weights`` (no
    recurrent term at ``t = 0``), accumulated over spiking inputs first, then over the
    neurons that spiked at ``t - 1``, each in ascending index order.
    """
    state = np.zeros((input_spikes.shape[0], thresholds.shape[0]), thresholds.dtype)
    return _lif(loops, input_spikes, input_weights, recurrent_weights, True, thresholds, dt, tau, v_reset,
                state, state.copy())


def lif_network_continue(
    loops, input_spikes, input_weights, recurrent_weights, thresholds, v, spikes, dt, tau, v_reset
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`lif_network_run` continued from a state: the membrane ``v[B, N]`` and the
    previous step's spikes ``spikes[B, N]`` (which feed back at the first step).

    Returns
    -------
    (out_spikes[B, T, N], v[B, N], spikes[B, N])
        The spikes and the state after the last step (new arrays; the arguments are not
        modified). A sequence run in chunks gives the same spikes as one run, bit for bit.
    """
    v, spikes = v.copy(), spikes.copy()
    out = _lif(loops, input_spikes, input_weights, recurrent_weights, True, thresholds, dt, tau, v_reset, v, spikes)
    return out, v, spikes


def _compressed_rows(w_res: np.ndarray, steps: int, *others: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays of ``w_res.T`` for the reservoir loop, or empty arrays (use the dense rows).

    Compressed when ``w_res`` is at most ``SPARSE_RESERVOIR_DENSITY`` non-zero, the call
    runs at least ``SPARSE_RESERVOIR_MIN_STEPS`` steps and ``w_res`` and the ``others`` (the
    call's other arrays) are finite; the loop then does work in proportion to the
    connections and gives the same numbers as with the dense rows. (A non-finite state
    times a zero weight is NaN in the dense product but skipped in the compressed one.)
    """
    n = w_res.shape[0]
    if (
        steps >= SPARSE_RESERVOIR_MIN_STEPS and n
        and np.count_nonzero(w_res) <= SPARSE_RESERVOIR_DENSITY * n * n
        and all(np.isfinite(a).all() for a in (w_res, *others))
    ):
        post, pre = np.nonzero(w_res.T)  # row-major order: by unit, then presynaptic index ascending
        w_ptr = np.zeros(n + 1, np.uint64)
        w_ptr[1:] = np.cumsum(np.bincount(post, minlength=n))
        return w_ptr, pre.astype(np.uint32), np.ascontiguousarray(w_res[pre, post])
    return np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, w_res.dtype)


_DENSE_ROWS = {dtype: (np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, dtype)) for dtype in (np.float32, np.float64)}
#: the dense-matrix argument of a loop whose matrix comes compressed (a scipy.sparse one)
_NO_MATRIX = {dtype: np.empty((0, 0), dtype) for dtype in (np.float32, np.float64)}


def _run_reservoir(loops, inputs, w_in, w_res, bias, leak_rate, states, out) -> None:
    """The reservoir loop over validated ``inputs[B, T, I]``, with ``w_res`` compressed where it pays
    (compiled loops only: NumPy's product is BLAS on the dense matrix), and always where it
    came as a ``scipy.sparse`` matrix (a :class:`~neurojit.validate.Compressed`), as ``w_in``."""
    batch, steps, n_inputs = inputs.shape
    dtype = out.dtype.type
    n = bias.shape[0]
    if isinstance(w_in, Compressed):
        w_in_form = (_NO_MATRIX[dtype], w_in.ptr, w_in.idx, w_in.val)
        w_in_values, in_work = w_in.val, w_in.nnz
    else:
        w_in_form = (w_in, *_DENSE_ROWS[dtype])
        w_in_values, in_work = w_in, n * n_inputs
    if isinstance(w_res, Compressed):
        w_res, compressed = _NO_MATRIX[dtype], (w_res.ptr, w_res.idx, w_res.val)
    elif batch * steps >= SPARSE_RESERVOIR_MIN_STEPS and "reservoir_run" in loops.native:
        compressed = _compressed_rows(w_res, batch * steps, inputs, w_in_values, bias, states)
    else:
        compressed = _DENSE_ROWS[dtype]
    work = in_work + (compressed[1].size if compressed[0].size else n * n)
    # zero inputs skip their rows only where that is exact (finite input weights), and only in
    # sequences, where the check is paid once for many steps
    skip_inputs = steps > 1 and (w_in.finite if isinstance(w_in, Compressed) else bool(np.isfinite(w_in).all()))
    for b0, b1, t0, t1 in _pieces(loops, "reservoir_run", batch, steps, work, whole_batch=True):
        # a piece after the first in time starts from the state its predecessor left
        start = states[b0:b1] if t0 == 0 else out[b0:b1, t0 - 1].copy()
        if t1 - t0 == steps or b1 - b0 == 1:  # C-contiguous slices
            loops.reservoir_run(inputs[b0:b1, t0:t1], *w_in_form, w_res, *compressed, bias, leak_rate, start,
                                skip_inputs, out[b0:b1, t0:t1])
        else:  # a span of time of several rows: through contiguous copies (the loops need C order)
            part = np.empty((b1 - b0, t1 - t0, n), out.dtype)
            loops.reservoir_run(np.ascontiguousarray(inputs[b0:b1, t0:t1]), *w_in_form, w_res, *compressed, bias,
                                leak_rate, start, skip_inputs, part)
            out[b0:b1, t0:t1] = part


def reservoir_run(loops, inputs, input_weights, reservoir_weights, initial_states, leak_rate, bias) -> np.ndarray:
    """Echo-state reservoir over a whole sequence.

    Parameters
    ----------
    inputs : array_like, shape (B, T, I)
        Real-valued inputs or spikes.
    input_weights : array_like or scipy.sparse matrix, shape (I, N)
    reservoir_weights : array_like or scipy.sparse matrix, shape (N, N)
        Row-vector convention: ``reservoir_weights[j, i]`` connects unit ``j`` to ``i``.
    initial_states : array_like, shape (B, N)
    leak_rate : float in (0, 1], or array_like of shape (N,) in (0, 1]
        One leak rate for all units, or one per unit (ReservoirPy's ``lr`` array).
    bias : array_like, shape (N,), scalar or None (zero)

    Returns
    -------
    numpy.ndarray, shape (B, T, N)
        ``states[:, t]`` after step ``t``.

    Notes
    -----
    ``x_t = (1 - a) * x_{t-1} + a * tanh(x_{t-1} @ reservoir_weights + inputs[:, t] @ input_weights + bias)``
    with ``x_{-1} = initial_states``: ReservoirPy's ``Reservoir`` update with
    ``W = reservoir_weights.T``, ``Win = input_weights.T``, ``lr = a``.

    A sparse ``reservoir_weights`` (at most ``SPARSE_RESERVOIR_DENSITY`` non-zero, the usual
    ESN) is run in compressed form on the compiled backends: same numbers, work in
    proportion to the connections.

    ``scipy.sparse`` weights (any format) are never densified: the loops read their
    compressed form, so memory and work are in proportion to the connections (20,000 units
    at 1 % connectivity take 4 million entries, not 400 million). Their products are
    scipy's: only stored entries take part (a non-finite state times a structural zero adds
    nothing; times a stored zero it is NaN); each unit sums its terms by ascending index.
    With several batch rows, each weight is read once per step for all of them (the terms
    of each unit keep their order: the same numbers as one row at a time).
    """
    out = np.empty(inputs.shape[:2] + bias.shape, bias.dtype)
    if out.size:
        _run_reservoir(loops, inputs, input_weights, reservoir_weights, bias, leak_rate, initial_states, out)
    return out


def reservoir_update(loops, states, input_weights, reservoir_weights, input_spikes, leak_rate, bias) -> np.ndarray:
    """One echo-state step for a batch of reservoirs.

    Parameters
    ----------
    states : array_like, shape (B, N)
    input_weights : array_like or scipy.sparse matrix, shape (I, N)
    reservoir_weights : array_like or scipy.sparse matrix, shape (N, N)
    input_spikes : array_like, shape (B, I)
        Binary spikes or real values.
    leak_rate : float in (0, 1], or array_like of shape (N,) in (0, 1]
    bias : array_like, shape (N,), scalar or None (zero)

    Returns
    -------
    numpy.ndarray, shape (B, N)
        ``(1 - a) * states + a * tanh(states @ reservoir_weights + input_spikes @ input_weights + bias)``.
    """
    out = np.empty(states.shape, states.dtype)
    batch, n_inputs = input_spikes.shape
    if type(input_weights) is np.ndarray and type(reservoir_weights) is np.ndarray:
        # dense weights: the step loop (reservoir_run's sums in its order, fewer arguments, no
        # allocation; an empty batch or reservoir is an empty loop)
        work = bias.shape[0] * (n_inputs + bias.shape[0])
        if batch * work <= CALL_WORK:  # the usual small call: no pieces to cut
            loops.reservoir_step(input_spikes, input_weights, reservoir_weights, bias, leak_rate, states, out)
        else:
            for b0, b1, _, _ in _pieces(loops, "reservoir_step", batch, 1, work):
                loops.reservoir_step(input_spikes[b0:b1], input_weights, reservoir_weights, bias, leak_rate,
                                     states[b0:b1], out[b0:b1])
    elif out.size:  # scipy.sparse weights (compressed): the sequence loop reads them
        _run_reservoir(loops, input_spikes.reshape(batch, 1, n_inputs), input_weights, reservoir_weights, bias,
                       leak_rate, states, out.reshape(batch, 1, -1))
    return out


def reservoir_update_direct(loops, given, memo, states, input_weights, reservoir_weights, input_spikes, leak_rate,
                            bias):
    """The bound step ``step(states, input_spikes)`` of a small dense reservoir as one call of
    the packed step loop, its constant arrays packed once (see
    :attr:`~neurojit.declare.KernelSpec.direct`); None for other calls (they run the body)."""
    if given != (0, 3) or type(input_weights) is not np.ndarray or type(reservoir_weights) is not np.ndarray:
        return None
    batch, n_inputs = input_spikes.shape
    weights = (n_inputs + bias.shape[0]) * bias.shape[0]
    if weights > PACKED_STEP_WEIGHTS or batch * weights > CALL_WORK:
        return None
    parts = (input_weights, reservoir_weights, bias, leak_rate)
    packed = memo.get("constants")  # (the arrays packed, the packed array), kept for the same arrays
    if packed is None or any(a is not b for a, b in zip(packed[0], parts)):
        memo["constants"] = packed = (parts, pack_step_constants(*parts))
    constants = packed[1]
    step = loops.one_row("reservoir_step_packed") if batch == 1 else loops.reservoir_step_packed
    empty, shape, dtype = np.empty, states.shape, states.dtype

    def bound_step(states, input_spikes):
        out = empty(shape, dtype)
        step(input_spikes, constants, states, out)
        return out

    return bound_step


def convolution(loops, spike_trains, kernel) -> np.ndarray:
    """Causal filtering of spike trains (synaptic traces).

    Parameters
    ----------
    spike_trains : array_like, shape (B, T, N)
        Spikes (non-zero = spike).
    kernel : array_like, shape (K,)
        Filter taps, finite; ``kernel[0]`` applies at the spike's own step.

    Returns
    -------
    numpy.ndarray, shape (B, T, N)
        ``out[b, t, n] = sum_{k=0..min(K-1, t)} kernel[k] * spike[b, t-k, n]``.
    """
    if not np.isfinite(kernel).all():
        raise ValueError("kernel must hold finite numbers (a non-finite tap times a silent step is undefined)")
    out = np.empty(spike_trains.shape, spike_trains.dtype)
    if out.size:
        batch, steps, n = spike_trains.shape
        taps = kernel.shape[0]
        for b0, b1, t0, t1 in _pieces(loops, "causal_convolution", batch, steps, n * taps):
            if t0 == 0:
                loops.causal_convolution(spike_trains[b0:b1, :t1], kernel, out[b0:b1, :t1])
            else:  # a later piece of one long row: recompute from the taps' reach back, keep its own steps
                lead = min(t0, taps - 1)
                window = np.empty((1, t1 - t0 + lead, n), out.dtype)
                loops.causal_convolution(spike_trains[b0:b1, t0 - lead:t1], kernel, window)
                out[b0:b1, t0:t1] = window[:, lead:]
    return out


def matrix_multiply(loops, a, b) -> np.ndarray:
    """``a @ b`` for 2-D arrays, event-driven when ``a`` is a sparse 0/1 spike matrix.

    Parameters
    ----------
    a : array_like, shape (M, K)
    b : array_like, shape (K, N)

    Returns
    -------
    numpy.ndarray, shape (M, N)

    Notes
    -----
    When the product has at least ``SPARSE_MATMUL_MIN_WORK`` multiply-adds, every entry of
    ``a`` is 0 or 1 and at most ``SPARSE_MATMUL_DENSITY`` of them are 1, the rows of ``b``
    selected by each row of ``a`` are summed (no multiplications, cost proportional to the
    spikes). Otherwise the product goes to BLAS through ``numpy.matmul``; the scan that
    decides stops after the first row of ``a`` with an entry that is not 0 or 1. With NumPy
    loops only there is no event-driven product, so there is no scan either.
    """
    # a first entry other than 0 or 1 settles it without the scan (dense input's usual case)
    if (a.size and a.item(0) in (0.0, 1.0) and "binary_matmul" in loops.native
            and a.size * b.shape[1] >= SPARSE_MATMUL_MIN_WORK):
        # the scan lists each row's ones for binary_matmul (spans, index: room for the limit and
        # one spare slot per row)
        limit = int(SPARSE_MATMUL_DENSITY * a.size)
        spans = np.empty((a.shape[0], 2), np.int64)
        index = np.empty(limit + a.shape[0], np.int64)
        nonzeros = loops.binary_nonzeros(a, limit, spans, index)
        if nonzeros >= 0:
            out = np.empty((a.shape[0], b.shape[1]), b.dtype)
            bad = np.empty(a.shape[0], np.int64)
            # a row's work: its scan of a's row and the additions of its selected rows of b
            # (known here, so not counted as if every entry were 1; each piece copies b's panels)
            row_work = a.shape[1] + nonzeros / a.shape[0] * b.shape[1]
            for m0, m1, _, _ in _pieces(loops, "binary_matmul", a.shape[0], 1, row_work):
                loops.binary_matmul(spans[m0:m1], index, b, bad[m0:m1], out[m0:m1])
            # the row sums skip the rows of b that a does not select: a @ b only where b is finite
            # (0 * inf and 0 * NaN are NaN); the loop counted b's NaN and inf on the way
            if not bad.any():
                return out
    return np.matmul(a, b)


#: the event buffers of a call's rows hold this many spikes at first (at least 2 N per row; fourfold when full)
NETWORK_EVENTS = 1 << 16
_RECORD_CODES = {"events": 0, "dense": 1, "counts": 2}


def network_run(loops, neuron, coef, syn_decay, refractory_steps, groups, group_weights, ptr, targets, weights,
                in_ptr, in_index, v, i_syn, adaptation, refractory, plastic, stdp_rates, stdp_amps, post_ptr,
                post_syn, post_grp, neuron_ptr, neuron_syn, neuron_pre, syn_post, dt, plastic_weights, a_pre, a_post,
                last, traces, clock, record):
    """Advance a sparse LIF network (:class:`neurojit.LIFNetwork`'s compiled form) over ``T`` steps.

    Parameters
    ----------
    neuron : array_like, shape (8, N)
        Per-neuron constants, rows ``em, base, tail, acc0, threshold, v_reset, adapt_decay,
        adapt_increment`` (:mod:`neurojit.kernels.network`).
    coef : array_like, shape (K, N)
        Each synaptic current's coefficient in the membrane update.
    syn_decay : array_like, shape (K,)
        ``exp(-dt / tau_syn[k])``.
    refractory_steps : array_like of int, shape (N,)
        Refractory period of each neuron in steps.
    groups : array_like of int, shape (G, 5)
        Synapse groups in delivery order: (source kind: 0 input channels, 1 neurons; offset into
        ``ptr``; number of sources; per-synapse weights (1) or one weight (0); shift into ``weights``).
    group_weights : array_like, shape (G,)
        The weight of every synapse of a group without per-synapse weights.
    ptr : array_like of int, shape (P,)
        Synapses of source ``j`` of group ``g``: ``ptr[offset + j] .. ptr[offset + j + 1] - 1``.
    targets : array_like of uint32, shape (S,)
        ``k * N + post`` (``post`` alone when K = 0).
    weights : array_like, shape (W,)
        Synapse ``s`` of a group with per-synapse weights weighs ``weights[s + shift]``.
    in_ptr : array_like of int, shape (B, T + 1)
        Input spikes of row ``b`` at step ``t``: ``in_index[in_ptr[b, t] .. in_ptr[b, t + 1] - 1]``.
    in_index : array_like of uint32, shape (E,)
        Input channels, ascending within each row and step.
    v, adaptation : array_like, shape (B, N)
    i_syn : array_like, shape (B, K, N)
    refractory : array_like of int, shape (B, N)
        Steps each neuron is still refractory.
    plastic : array_like of int, shape (G, 4)
        STDP (API.md section 8), per group: its traces (0 static, 1 per synapse, 2 per neuron);
        the shift of its synapses into ``plastic_weights`` (synapse ``s`` weighs column
        ``s + shift``); the shift of its synapses into ``a_pre, a_post, last`` (per synapse),
        or the column of its source 0 in ``traces`` (per neuron); per neuron, the column of
        neuron 0's trace in ``traces``. ``(0, 4)``: no plastic group (then ``stdp_rates``,
        ``stdp_amps`` may be empty too, the plastic state ``(0, 0)``, ``clock`` ``(0,)``).
    stdp_rates : array_like of int64, shape (G, 2)
        ``1/tau_pre, 1/tau_post`` of each group as float64 bit patterns (``.view(np.int64)``: the
        decay is computed in double precision whatever the network's dtype).
    stdp_amps : array_like, shape (G, 4)
        ``a_pre, a_post, w_min, w_max`` of each group.
    post_ptr, post_syn, post_grp : array_like of int, shapes (N + 1,), (Q,), (Q,)
        The synapses with per-synapse traces onto neuron ``i``: entries ``post_ptr[i] ..
        post_ptr[i + 1] - 1``, their trace columns ``post_syn``, of groups ``post_grp``. Empty:
        no such synapse.
    neuron_ptr, neuron_syn, neuron_pre : array_like of int, shapes (U, N + 1), (R,), (R,)
        The synapses onto neuron ``i`` of the ``u``-th group with per-neuron traces (groups in
        order): entries ``neuron_ptr[u, i] .. neuron_ptr[u, i + 1] - 1``, their weight columns
        ``neuron_syn`` and their sources' trace columns in ``traces``, ``neuron_pre``.
    syn_post : array_like of int, shape (P,)
        Per plastic weight column of a group with per-neuron traces, the column of its target's
        trace in ``traces`` (unused for per-synapse traces).
    dt : float
        The time step (the traces decay over ``n * dt - last * dt``).
    plastic_weights : array_like, shape (B, P)
        Weights of the plastic synapses, per row.
    a_pre, a_post : array_like, shape (B, R)
        Traces of the synapses of groups with per-synapse traces, per row.
    last : array_like of int, shape (B, R)
        Absolute step of each such synapse's last event.
    traces : array_like, shape (B, C)
        Per-neuron traces (sources' ``A_pre`` and targets' ``A_post``), scaled to the start of
        their epoch (:mod:`neurojit.kernels.network`).
    clock : array_like of int, shape (B,)
        Absolute step of each row's first step in this call.
    record : {"events", "dense", "counts"}

    Returns
    -------
    (output, v, i_syn, adaptation, refractory, plastic_weights, a_pre, a_post, last, traces)
        ``output``: ``(batch, step, index)`` int64 arrays sorted in that order (events), a
        ``(B, T, N)`` bool array (dense) or ``(B, N)`` int64 counts; then the state after the
        last step, in new arrays (the arguments are not modified).

    Notes
    -----
    The update and its order are in :mod:`neurojit.kernels.network`. The structure of the
    synapse arrays is checked here (``groups``, ``ptr``, ``in_index``, ``in_ptr``); the
    values of ``targets`` are not (:class:`neurojit.LIFNetwork` checks them once, when the
    synapses are added).
    """
    from .kernels.network import ACC0, ADAPT_DECAY, ADAPT_INC, BASE, EM, N_CONSTANTS, PLASTIC_COLUMNS, TAIL

    n_batch, n = v.shape
    n_types = coef.shape[0]
    n_steps = in_ptr.shape[1] - 1
    _check_network(neuron, groups, ptr, targets, weights, in_ptr, in_index, refractory_steps, refractory, n, n_steps,
                   N_CONSTANTS)
    code = _RECORD_CODES[record]
    n_groups = groups.shape[0]
    if not plastic.shape[0]:  # no plasticity
        plastic = np.zeros((n_groups, PLASTIC_COLUMNS), np.int64)
        stdp_rates = np.zeros((n_groups, 2), np.int64)
        stdp_amps = np.zeros((n_groups, 4), v.dtype)
    # absent plastic state (shape (0, 0)): no columns for each row
    plastic_weights, a_pre, a_post, traces = (x if x.shape[0] else np.zeros((n_batch, 0), v.dtype)
                                              for x in (plastic_weights, a_pre, a_post, traces))
    last = last if last.shape[0] else np.zeros((n_batch, 0), np.int64)
    if not clock.size:
        clock = np.zeros(n_batch, np.int64)
    rates = stdp_rates.view(np.float64)
    _check_plasticity(groups, ptr, plastic, rates, stdp_amps, post_ptr, post_syn, post_grp, neuron_ptr, neuron_syn,
                      neuron_pre, syn_post, plastic_weights, a_pre, a_post, last, traces, clock, n_batch, n)
    v, i_syn, adaptation, refractory = v.copy(), i_syn.copy(), adaptation.copy(), refractory.copy()
    plastic_weights, a_pre, a_post, last = plastic_weights.copy(), a_pre.copy(), a_post.copy(), last.copy()
    traces = traces.copy()
    # the adaptation path only where a can be non-zero (else a stays 0 and v > threshold + 0 is v > threshold)
    adapt = bool(np.any(neuron[ADAPT_INC] != 0) or np.any(adaptation != 0))
    # every neuron with the same membrane constants: the loop reads them as scalars
    shared = neuron[[EM, BASE, TAIL, ACC0, ADAPT_DECAY]]
    uniform = bool(n and (shared == shared[:, :1]).all() and (coef == coef[:, :1]).all())
    progress = np.zeros(n_batch, np.int64)
    ev_count = np.zeros(n_batch, np.int64)
    capacity = min(n * n_steps, max(2 * n, NETWORK_EVENTS // max(n_batch, 1))) if code == 0 else 0
    dense = np.zeros((n_batch, n_steps, n) if code == 1 else (n_batch, 0, 0), np.bool_)
    counts = np.zeros((n_batch, n) if code == 2 else (n_batch, 0), np.int64)
    flat = i_syn.reshape(n_batch, n_types * n)
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(n_batch)]
    while True:
        ev_step = np.empty((n_batch, capacity), np.int32)
        ev_index = np.empty((n_batch, capacity), np.int32)
        ev_count[:] = 0
        loops.network_run(neuron, coef, syn_decay, refractory_steps, adapt, uniform, groups, group_weights, ptr,
                          targets, weights, in_index, code, v, flat, adaptation, refractory, progress, ev_count, ev_step,
                          ev_index, dense, counts, in_ptr, plastic, rates, stdp_amps, post_ptr, post_syn, post_grp,
                          neuron_ptr, neuron_syn, neuron_pre, syn_post, float(dt), plastic_weights, a_pre, a_post, last,
                          traces, clock)
        if code != 0:
            break
        for b in range(n_batch):
            if ev_count[b]:
                parts[b].append((ev_step[b, :ev_count[b]], ev_index[b, :ev_count[b]]))
        if n_batch == 0 or progress.min() >= n_steps:
            break
        capacity *= 4  # a row ran out of room: continue from where each row stopped, with more
    if code == 1:
        output = dense
    elif code == 2:
        output = counts
    else:
        sizes = [sum(step.size for step, _ in row) for row in parts]
        batch = np.repeat(np.arange(n_batch, dtype=np.int64), sizes)
        steps = [step for row in parts for step, _ in row]
        indices = [index for row in parts for _, index in row]
        output = (batch, np.concatenate(steps).astype(np.int64) if steps else np.empty(0, np.int64),
                  np.concatenate(indices).astype(np.int64) if indices else np.empty(0, np.int64))
    return output, v, i_syn, adaptation, refractory, plastic_weights, a_pre, a_post, last, traces


def _check_plasticity(groups, ptr, plastic, rates, amps, post_ptr, post_syn, post_grp, neuron_ptr, neuron_syn,
                      neuron_pre, syn_post, weights, a_pre, a_post, last, traces, clock, n_batch, n) -> None:
    """The STDP arrays the network loop relies on (every index it follows stays in bounds)."""
    from .kernels.network import NEURON_TRACES, PLASTIC_COLUMNS, SYNAPSE_TRACES

    n_groups = groups.shape[0]
    size, records, columns = weights.shape[1], a_pre.shape[1], traces.shape[1]
    for name, array, shape in (("plastic", plastic, (n_groups, PLASTIC_COLUMNS)), ("stdp_rates", rates, (n_groups, 2)),
                               ("stdp_amps", amps, (n_groups, 4)), ("plastic_weights", weights, (n_batch, size)),
                               ("a_pre", a_pre, (n_batch, records)), ("a_post", a_post, (n_batch, records)),
                               ("last", last, (n_batch, records)), ("traces", traces, (n_batch, columns)),
                               ("clock", clock, (n_batch,)),
                               ("syn_post", syn_post, (size,) if columns else syn_post.shape)):
        if array.shape != shape:
            raise ValueError(f"{name} must be {shape}, got {array.shape}")
    modes = plastic[:, 0]
    if np.any((modes < 0) | (modes > NEURON_TRACES)):
        raise ValueError("plastic: a group's traces must be 0 (static), 1 (per synapse) or 2 (per neuron)")
    neuron_columns = np.zeros(size, bool)
    for (kind, offset, sources, _, _), (mode, shift, trace_shift, post_col) in zip(groups.tolist(), plastic.tolist()):
        lo, hi = int(ptr[offset]), int(ptr[offset + sources])
        group = f"group ({kind}, {offset}, {sources})"
        if mode and (lo + shift < 0 or hi + shift > size):
            raise ValueError(f"plastic: the synapses of {group} are not within the {size} plastic weights")
        if mode == SYNAPSE_TRACES and (lo + trace_shift < 0 or hi + trace_shift > records):
            raise ValueError(f"plastic: the synapses of {group} are not within the {records} per-synapse traces")
        if mode == NEURON_TRACES:
            if trace_shift < 0 or trace_shift + sources > columns or post_col < 0 or post_col + n > columns:
                raise ValueError(f"plastic: the per-neuron traces of {group} are not within the {columns} traces")
            neuron_columns[lo + shift:hi + shift] = True
    if neuron_columns.any() and (syn_post[neuron_columns].min() < 0 or syn_post[neuron_columns].max() >= columns):
        raise ValueError(f"syn_post must index the {columns} per-neuron traces")
    for name, starts, total in (("post_ptr", post_ptr[None] if post_ptr.size else post_ptr[:0, None], post_syn.size),
                                ("neuron_ptr", neuron_ptr, neuron_syn.size)):
        if starts.shape[0] and (starts.shape[1] != n + 1 or np.any(np.diff(starts, axis=1) < 0)
                            or np.any(starts[1:, 0] != starts[:-1, -1]) or starts[0, 0] != 0 or starts[-1, -1] != total):
            raise ValueError(f"{name} rows must be non-decreasing with N + 1 = {n + 1} entries, from 0, each from "
                             f"where the last ended, to {total}")
    if post_grp.size != post_syn.size or neuron_pre.size != neuron_syn.size:
        raise ValueError("post_grp must have one entry per post_syn, neuron_pre one per neuron_syn")
    if post_syn.size and not post_ptr.size:
        raise ValueError("post_syn without post_ptr")
    if post_grp.size and (post_grp.min() < 0 or post_grp.max() >= n_groups or np.any(modes[post_grp] != SYNAPSE_TRACES)):
        raise ValueError("post_grp must name groups with per-synapse traces")
    if post_syn.size and post_syn.max() >= records:
        raise ValueError(f"post_syn must index the {records} per-synapse traces")
    if neuron_ptr.shape[0] != np.count_nonzero(modes == NEURON_TRACES):
        raise ValueError("neuron_ptr must have one row per group with per-neuron traces")
    if neuron_syn.size and (neuron_syn.max() >= size or neuron_pre.max() >= columns):
        raise ValueError(f"neuron_syn must index the {size} plastic weights, neuron_pre the {columns} per-neuron traces")
    if last.size and (last.min() < 0 or np.any(last > clock[:, None])):
        raise ValueError("last must be steps in [0, clock]")
    if clock.size and clock.min() < 0:
        raise ValueError("clock must be >= 0")


def _check_network(neuron, groups, ptr, targets, weights, in_ptr, in_index, refractory_steps, refractory, n, n_steps,
                   n_constants) -> None:
    """The structure the network loop relies on (it does no bounds checking itself)."""
    if neuron.shape[0] != n_constants:
        raise ValueError(f"neuron must have {n_constants} rows of constants, got {neuron.shape[0]}")
    if groups.shape[1] != 5:
        raise ValueError(f"groups must be (G, 5) = (kind, offset, sources, per_synapse, shift), got {groups.shape}")
    if ptr.size and (ptr[0] < 0 or ptr[-1] > targets.size or np.any(np.diff(ptr) < 0)):
        raise ValueError(f"ptr must be non-decreasing in [0, {targets.size}]")
    for kind, offset, sources, per_synapse, shift in groups.tolist():
        if kind not in (0, 1) or offset < 0 or sources < 0 or offset + sources + 1 > ptr.size:
            raise ValueError(f"groups: ({kind}, {offset}, {sources}) does not describe a group within ptr")
        if per_synapse and (ptr[offset] + shift < 0 or ptr[offset + sources] + shift > weights.size):
            raise ValueError(f"groups: the weights of group ({kind}, {offset}, {sources}) are not within weights")
        if kind == 1 and sources != n:
            raise ValueError(f"groups: a group from the neurons must have N = {n} sources, got {sources}")
        if kind == 0 and in_index.size and int(in_index.max()) >= sources:
            raise ValueError(f"in_index must be < {sources}, the input channels of its groups")
    if in_ptr.size and (np.any(in_ptr[:, 0] < 0) or np.any(in_ptr[:, -1] > in_index.size)
                        or np.any(np.diff(in_ptr, axis=1) < 0)):
        raise ValueError(f"in_ptr rows must be non-decreasing in [0, {in_index.size}]")
    if refractory_steps.size and refractory_steps.min() < 0:
        raise ValueError("refractory_steps must be >= 0")
    if refractory.size and refractory.min() < 0:
        raise ValueError("refractory must be >= 0 (steps left)")
    horizon = np.iinfo(np.int64).max // 4
    if n_steps > horizon or (refractory_steps.size and refractory_steps.max() > horizon) or (
            refractory.size and refractory.max() > horizon):
        raise ValueError("step counts beyond 2**61 are not supported")


# -- the declarations ------------------------------------------------------------------

_LIF = (
    Param("thresholds", "vector", ("N",), role="threshold"),
    Param("dt", "positive", role="time", native=False),
    Param("tau", "positive", default=0.02, native=False),
    Param("v_reset", "scalar", default=0.0),
)
_RESERVOIR = (
    Param("leak_rate", "fractions", ("N",), default=1.0),
    Param("bias", "vector", ("N",), default=None),
)

#: public kernel name -> its declaration
KERNELS: dict[str, KernelSpec] = {spec.name: spec for spec in (
    KernelSpec("spike_processing", spike_processing, (
        Param("spike_trains", "array", ("B", "T", "N"), role="events"),
        Param("weights", "array", ("N", "N"), role="weights"),
        *_LIF,
    ), loops=("lif_run",)),
    KernelSpec("reservoir_update", reservoir_update, (
        Param("states", "array", ("B", "N"), role="state"),
        Param("input_weights", "matrix", ("I", "N"), role="weights"),
        Param("reservoir_weights", "matrix", ("N", "N"), role="weights", by="columns"),
        Param("input_spikes", "array", ("B", "I"), role="events"),
        *_RESERVOIR,
    ), loops=("reservoir_step", "reservoir_step_packed", "reservoir_run"), direct=reservoir_update_direct),
    KernelSpec("convolution", convolution, (
        Param("spike_trains", "array", ("B", "T", "N"), role="events"),
        Param("kernel", "array", ("K",), role="taps"),
    ), loops=("causal_convolution",)),
    KernelSpec("matrix_multiply", matrix_multiply, (
        Param("a", "array", ("M", "K"), role="operand"),
        Param("b", "array", ("K", "N"), role="weights"),
    ), loops=("binary_nonzeros", "binary_matmul"), split="M"),
    KernelSpec("lif_network_run", lif_network_run, (
        Param("input_spikes", "array", ("B", "T", "I"), role="events"),
        Param("input_weights", "array", ("I", "N"), role="weights"),
        Param("recurrent_weights", "array", ("N", "N"), role="weights"),
        *_LIF,
    ), loops=("lif_run",)),
    KernelSpec("reservoir_run", reservoir_run, (
        Param("inputs", "array", ("B", "T", "I"), role="events"),
        Param("input_weights", "matrix", ("I", "N"), role="weights"),
        Param("reservoir_weights", "matrix", ("N", "N"), role="weights", by="columns"),
        Param("initial_states", "array", ("B", "N"), role="state"),
        *_RESERVOIR,
    ), loops=("reservoir_run",)),
    KernelSpec("lif_network_continue", lif_network_continue, (
        Param("input_spikes", "array", ("B", "T", "I"), role="events"),
        Param("input_weights", "array", ("I", "N"), role="weights"),
        Param("recurrent_weights", "array", ("N", "N"), role="weights"),
        Param("thresholds", "vector", ("N",), role="threshold"),
        Param("v", "array", ("B", "N"), role="state"),
        Param("spikes", "array", ("B", "N"), role="events"),
        *_LIF[1:],
    ), loops=("lif_run",), public=False),
    KernelSpec("network_run", network_run, (
        Param("neuron", "array", ("C", "N")),
        Param("coef", "array", ("K", "N")),
        Param("syn_decay", "array", ("K",)),
        Param("refractory_steps", "index", ("N",)),
        Param("groups", "index", ("G", "5")),
        Param("group_weights", "array", ("G",)),
        Param("ptr", "index", ("P",)),
        Param("targets", "index", ("S",), dtype="uint32"),
        Param("weights", "array", ("W",)),
        Param("in_ptr", "index", ("B", "T + 1")),
        Param("in_index", "index", ("E",), dtype="uint32"),
        Param("v", "array", ("B", "N"), role="state"),
        Param("i_syn", "array", ("B", "K", "N"), role="state"),
        Param("adaptation", "array", ("B", "N"), role="state"),
        Param("refractory", "index", ("B", "N")),
        Param("plastic", "index", ("Gp", "4")),
        Param("stdp_rates", "index", ("Gr", "2")),
        Param("stdp_amps", "array", ("Ga", "4")),
        Param("post_ptr", "index", ("Np",)),
        Param("post_syn", "index", ("Q",), dtype="uint32"),
        Param("post_grp", "index", ("Qg",), dtype="int32"),
        Param("neuron_ptr", "index", ("U", "Nu")),
        Param("neuron_syn", "index", ("R",), dtype="uint32"),
        Param("neuron_pre", "index", ("Rp",), dtype="uint32"),
        Param("syn_post", "index", ("Sp",), dtype="uint32"),
        Param("dt", "positive", native=False),
        Param("plastic_weights", "array", ("Bw", "Sw")),
        Param("a_pre", "array", ("Bq", "Pq")),
        Param("a_post", "array", ("Br", "Pr")),
        Param("last", "index", ("Bs", "Ps")),
        Param("traces", "array", ("Bt", "Ct")),
        Param("clock", "index", ("Bc",)),
        Param("record", "option", default="events", choices=tuple(_RECORD_CODES)),
    ), loops=("network_run",), public=False),
)}
