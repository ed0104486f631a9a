"""Obviously-right reference implementations of the six kernels, written from API.md section 2.

Plain per-element loops, no vectorisation, no cleverness: slow, so tests keep sizes small.

The spiking references compute in the dtype of the weights, with the order the
implementation documents (the synaptic current is summed over the weight rows of the
spiking inputs in ascending j, then over the recurrent rows of neurons that spiked at
t-1 in ascending j, in the array dtype; then ``v = v * decay + current`` with
``decay = dtype(exp(-dt/tau))``), so spikes can be compared exactly, bit for bit.
The real-valued references (reservoir, convolution, matrix product) compute in
float64 and are compared with a tolerance.
"""

from __future__ import annotations

import math

import numpy as np


def _lif(spikes, input_weights, recurrent_weights, thresholds, dt, tau, v_reset):
    dtype = np.asarray(input_weights).dtype.type
    spikes = np.asarray(spikes)
    n_batch, n_steps, n_inputs = spikes.shape
    n_neurons = np.asarray(input_weights).shape[1]
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=dtype), (n_neurons,))
    decay = dtype(math.exp(-dt / tau))
    v_reset = dtype(v_reset)
    out = np.zeros((n_batch, n_steps, n_neurons), dtype=dtype)
    for b in range(n_batch):
        v = [dtype(0)] * n_neurons
        for t in range(n_steps):
            current = [dtype(0)] * n_neurons
            for j in range(n_inputs):
                if spikes[b, t, j] != 0:  # any non-zero value is one spike
                    for i in range(n_neurons):
                        current[i] = dtype(current[i] + input_weights[j, i])
            if recurrent_weights is not None and t > 0:
                for j in range(n_neurons):
                    if out[b, t - 1, j] != 0:
                        for i in range(n_neurons):
                            current[i] = dtype(current[i] + recurrent_weights[j, i])
            for i in range(n_neurons):
                v[i] = dtype(dtype(v[i] * decay) + current[i])
                if v[i] > thresholds[i]:
                    out[b, t, i] = 1
                    v[i] = v_reset
    return out


def spike_processing(spike_trains, weights, thresholds, dt, tau=0.02, v_reset=0.0):
    """API.md 2.1: feed-forward LIF population; output (B, T, N) of 0/1 in the weights' dtype."""
    return _lif(spike_trains, weights, None, thresholds, dt, tau, v_reset)


def lif_network_run(input_spikes, input_weights, recurrent_weights, thresholds, dt, tau=0.02, v_reset=0.0):
    """API.md 2.5: LIF population whose own spikes at t-1 feed back through recurrent_weights."""
    return _lif(input_spikes, input_weights, recurrent_weights, thresholds, dt, tau, v_reset)


def reservoir_run(inputs, input_weights, reservoir_weights, initial_states, leak_rate=1.0, bias=None):
    """API.md 2.6, in float64: x = (1-a) x + a tanh(x @ W + u @ W_in + bias), per step.

    ``leak_rate`` a scalar or one per unit; scipy.sparse weights are read as their dense
    equivalent (the same numbers wherever everything is finite)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    input_weights, reservoir_weights = (w.toarray() if hasattr(w, "toarray") else w
                                        for w in (input_weights, reservoir_weights))
    n_batch, n_steps, n_inputs = inputs.shape
    n_units = np.asarray(reservoir_weights).shape[0]
    bias = np.zeros(n_units) if bias is None else np.broadcast_to(np.asarray(bias, dtype=np.float64), (n_units,))
    rates = np.broadcast_to(np.asarray(leak_rate, dtype=np.float64), (n_units,))
    out = np.zeros((n_batch, n_steps, n_units))
    for b in range(n_batch):
        x = [float(s) for s in initial_states[b]]
        for t in range(n_steps):
            new_x = []
            for i in range(n_units):
                pre = float(bias[i])
                for j in range(n_inputs):
                    pre += float(inputs[b, t, j]) * float(input_weights[j, i])
                for j in range(n_units):
                    pre += x[j] * float(reservoir_weights[j, i])
                a = float(rates[i])
                new_x.append((1 - a) * x[i] + a * math.tanh(pre))
            x = new_x
            out[b, t] = x
    return out


def reservoir_update(states, input_weights, reservoir_weights, input_spikes, leak_rate=1.0, bias=None):
    """API.md 2.2, in float64: one step of :func:`reservoir_run`."""
    inputs = np.asarray(input_spikes, dtype=np.float64)[:, None, :]
    return reservoir_run(inputs, input_weights, reservoir_weights, states, leak_rate, bias)[:, 0, :]


def convolution(spike_trains, kernel):
    """API.md 2.3, in float64: out[b,t,n] = sum_{k=0..min(K-1,t)} kernel[k] * spike[b,t-k,n] (spike = 0/1)."""
    spike_trains = np.asarray(spike_trains)
    n_batch, n_steps, n_channels = spike_trains.shape
    out = np.zeros((n_batch, n_steps, n_channels))
    for b in range(n_batch):
        for t in range(n_steps):
            for n in range(n_channels):
                total = 0.0
                for k in range(min(len(kernel) - 1, t) + 1):
                    if spike_trains[b, t - k, n] != 0:  # any non-zero value is one spike
                        total += float(kernel[k])
                out[b, t, n] = total
    return out


def matrix_multiply(a, b):
    """API.md 2.4, in float64: the textbook triple loop."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    rows, inner = a.shape
    cols = b.shape[1]
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for k in range(inner):
                total += a[i, k] * b[k, j]
            out[i, j] = total
    return out


#: public kernel name -> reference function
REFERENCES = {
    "spike_processing": spike_processing,
    "reservoir_update": reservoir_update,
    "convolution": convolution,
    "matrix_multiply": matrix_multiply,
    "lif_network_run": lif_network_run,
    "reservoir_run": reservoir_run,
}

#: kernels whose output is spikes (compared exactly)
SPIKING = ("spike_processing", "lif_network_run")


def tolerance(dtype) -> dict:
    """``rtol``/``atol`` for comparing a real-valued kernel in ``dtype`` with a float64 reference."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-5, "atol": 1e-5}
    return {"rtol": 1e-12, "atol": 1e-12}
