"""The six public kernels: validate the arguments, then run the loop on a backend.

Each function takes the backend first (anything with ``loop(name, dtype)``, see
:mod:`neurojit.backends`); :class:`neurojit.JITCompiler` binds it. The exact equations
are in each docstring and in the README.

Shapes: ``B`` batch, ``T`` time steps, ``N`` neurons, ``I`` inputs, ``K`` kernel taps.
Spike arrays may be bool, int or float; any non-zero entry counts as one spike.
The output dtype is the input dtype (float32 only when every floating input is
float32, else float64).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .validate import Shapes, finite_scalar, float_dtype

#: A 0/1 left operand at most this dense goes to the event-driven loop, denser to BLAS.
SPARSE_MATMUL_DENSITY = 0.1
#: A reservoir matrix at most this dense is run in compressed (CSR) form ...
SPARSE_RESERVOIR_DENSITY = 0.25
#: ... when the call has at least this many steps (batch rows x time steps) to repay the conversion.
SPARSE_RESERVOIR_MIN_STEPS = 32


def _lif_scalars(shapes: Shapes, dt: Any, tau: Any, v_reset: Any):
    dt = finite_scalar("dt", dt, positive=True)
    tau = finite_scalar("tau", tau, positive=True)
    return shapes.scalar(math.exp(-dt / tau)), shapes.finite_scalar("v_reset", v_reset)


def spike_processing(backend, spike_trains, weights, thresholds, dt, tau=0.02, v_reset=0.0) -> np.ndarray:
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
    """
    dtype = float_dtype(spike_trains=spike_trains, weights=weights, thresholds=thresholds)
    shapes = Shapes(dtype)
    spikes = shapes.array("spike_trains", spike_trains, ("B", "T", "N"))
    weights = shapes.array("weights", weights, ("N", "N"))
    thresholds = shapes.vector_or_scalar("thresholds", thresholds, "N")
    decay, v_reset = _lif_scalars(shapes, dt, tau, v_reset)
    out = np.empty(spikes.shape, dtype)
    if out.size:
        backend.loop("lif_run", shapes.dtype_name)(spikes, weights, weights, False, thresholds, decay, v_reset, out)
    return out


def lif_network_run(
    backend, input_spikes, input_weights, recurrent_weights, thresholds, dt, tau=0.02, v_reset=0.0
) -> np.ndarray:
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
    dtype = float_dtype(
        input_spikes=input_spikes, input_weights=input_weights,
        recurrent_weights=recurrent_weights, thresholds=thresholds,
    )
    shapes = Shapes(dtype)
    spikes = shapes.array("input_spikes", input_spikes, ("B", "T", "I"))
    w_in = shapes.array("input_weights", input_weights, ("I", "N"))
    w_rec = shapes.array("recurrent_weights", recurrent_weights, ("N", "N"))
    thresholds = shapes.vector_or_scalar("thresholds", thresholds, "N")
    decay, v_reset = _lif_scalars(shapes, dt, tau, v_reset)
    batch, steps, _ = spikes.shape
    out = np.empty((batch, steps, w_rec.shape[0]), dtype)
    if out.size:
        backend.loop("lif_run", shapes.dtype_name)(spikes, w_in, w_rec, True, thresholds, decay, v_reset, out)
    return out


def _reservoir_arguments(shapes: Shapes, input_weights, reservoir_weights, leak_rate, bias):
    w_in = shapes.array("input_weights", input_weights, ("I", "N"))
    w_res = shapes.array("reservoir_weights", reservoir_weights, ("N", "N"))
    bias = shapes.vector_or_scalar("bias", 0.0 if bias is None else bias, "N")
    return w_in, w_res, bias, shapes.fraction("leak_rate", leak_rate)


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
        w_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(post, minlength=n), out=w_ptr[1:])
        return w_ptr, pre.astype(np.uint32), np.ascontiguousarray(w_res[pre, post])
    return np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, w_res.dtype)


def _run_reservoir(backend, shapes: Shapes, inputs, w_in, w_res, bias, leak_rate, states, out) -> None:
    """The reservoir loop over validated ``inputs[B, T, I]``, with ``w_res`` compressed where it pays."""
    compressed = _compressed_rows(w_res, out.shape[0] * out.shape[1], inputs, w_in, bias, states)
    backend.loop("reservoir_run", shapes.dtype_name)(inputs, w_in, w_res, *compressed, bias, leak_rate, states, out)


def reservoir_run(
    backend, inputs, input_weights, reservoir_weights, initial_states, leak_rate=1.0, bias=None
) -> np.ndarray:
    """Echo-state reservoir over a whole sequence.

    Parameters
    ----------
    inputs : array_like, shape (B, T, I)
        Real-valued inputs or spikes.
    input_weights : array_like, shape (I, N)
    reservoir_weights : array_like, shape (N, N)
        Row-vector convention: ``reservoir_weights[j, i]`` connects unit ``j`` to ``i``.
    initial_states : array_like, shape (B, N)
    leak_rate : float in (0, 1]
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
    """
    dtype = float_dtype(
        inputs=inputs, input_weights=input_weights, reservoir_weights=reservoir_weights,
        initial_states=initial_states, bias=bias,
    )
    shapes = Shapes(dtype)
    inputs = shapes.array("inputs", inputs, ("B", "T", "I"))
    w_in, w_res, bias, leak_rate = _reservoir_arguments(shapes, input_weights, reservoir_weights, leak_rate, bias)
    states = shapes.array("initial_states", initial_states, ("B", "N"))
    out = np.empty(inputs.shape[:2] + (bias.shape[0],), dtype)
    if out.size:
        _run_reservoir(backend, shapes, inputs, w_in, w_res, bias, leak_rate, states, out)
    return out


def reservoir_update(
    backend, states, input_weights, reservoir_weights, input_spikes, leak_rate=1.0, bias=None
) -> np.ndarray:
    """One echo-state step for a batch of reservoirs.

    Parameters
    ----------
    states : array_like, shape (B, N)
    input_weights : array_like, shape (I, N)
    reservoir_weights : array_like, shape (N, N)
    input_spikes : array_like, shape (B, I)
        Binary spikes or real values.
    leak_rate : float in (0, 1]
    bias : array_like, shape (N,), scalar or None (zero)

    Returns
    -------
    numpy.ndarray, shape (B, N)
        ``(1 - a) * states + a * tanh(states @ reservoir_weights + input_spikes @ input_weights + bias)``.
    """
    dtype = float_dtype(
        states=states, input_weights=input_weights, reservoir_weights=reservoir_weights,
        input_spikes=input_spikes, bias=bias,
    )
    shapes = Shapes(dtype)
    states = shapes.array("states", states, ("B", "N"))
    w_in, w_res, bias, leak_rate = _reservoir_arguments(shapes, input_weights, reservoir_weights, leak_rate, bias)
    inputs = shapes.array("input_spikes", input_spikes, ("B", "I"))
    out = np.empty((states.shape[0], 1, states.shape[1]), dtype)
    if out.size:
        _run_reservoir(backend, shapes, inputs.reshape(inputs.shape[0], 1, -1), w_in, w_res, bias, leak_rate, states, out)
    return out[:, 0, :]


def convolution(backend, spike_trains, kernel) -> np.ndarray:
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
    dtype = float_dtype(spike_trains=spike_trains, kernel=kernel)
    shapes = Shapes(dtype)
    spikes = shapes.array("spike_trains", spike_trains, ("B", "T", "N"))
    taps = shapes.array("kernel", kernel, ("K",))
    if not np.isfinite(taps).all():
        raise ValueError("kernel must hold finite numbers (a non-finite tap times a silent step is undefined)")
    out = np.empty(spikes.shape, dtype)
    if out.size:
        backend.loop("causal_convolution", shapes.dtype_name)(spikes, taps, out)
    return out


def matrix_multiply(backend, a, b) -> np.ndarray:
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
    When every entry of ``a`` is 0 or 1 and at most ``SPARSE_MATMUL_DENSITY`` of them are
    1, the rows of ``b`` selected by each row of ``a`` are summed (no multiplications,
    cost proportional to the spikes). Otherwise the product goes to BLAS through
    ``numpy.matmul``; the scan that decides stops at the first entry that is not 0 or 1.
    """
    dtype = float_dtype(a=a, b=b)
    shapes = Shapes(dtype)
    a = shapes.array("a", a, ("M", "K"))
    b = shapes.array("b", b, ("K", "N"))
    out = np.empty((a.shape[0], b.shape[1]), dtype)
    if out.size:
        # a first entry other than 0 or 1 settles it without the scan (dense input's usual case)
        dense = a.size and a.item(0) not in (0, 1)
        nonzeros = -1 if dense else backend.loop("binary_nonzeros", shapes.dtype_name)(a)
        if 0 <= nonzeros <= SPARSE_MATMUL_DENSITY * a.size:
            backend.loop("binary_matmul", shapes.dtype_name)(a, b, out)
        else:
            np.matmul(a, b, out=out)
    return out


#: public kernel name -> (function, loops it runs)
KERNELS = {
    "spike_processing": (spike_processing, ("lif_run",)),
    "reservoir_update": (reservoir_update, ("reservoir_run",)),
    "convolution": (convolution, ("causal_convolution",)),
    "matrix_multiply": (matrix_multiply, ("binary_nonzeros", "binary_matmul")),
    "lif_network_run": (lif_network_run, ("lif_run",)),
    "reservoir_run": (reservoir_run, ("reservoir_run",)),
}
