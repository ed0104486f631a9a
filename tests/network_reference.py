"""An obviously right LIFNetwork, written from API.md section 7 alone (never from the kernel).

Plain loops over rows, steps, neurons and synapses; the synapses are kept as they were given
(no compressed storage); refractoriness is a counter of steps left, decremented each step.
The membrane update adds its terms in Brian2's order (see ``update``), with constants
computed here, so that it agrees with neurojit bit for bit; ``textbook`` is the same step
written as ``v_inf + (v - v_inf) * em + sum_k c_k I_k`` (equal to rounding).
"""

from __future__ import annotations

import math

import numpy as np


class Group:
    """Synapses as given: ``pre[s] -> post[s]``, ``weight[s]``, ``syn_type[s]``; from inputs or neurons."""

    def __init__(self, from_inputs, pre, post, weight, syn_type=0):
        self.from_inputs = from_inputs
        self.pre = np.asarray(pre, dtype=np.int64)
        self.post = np.asarray(post, dtype=np.int64)
        self.weight = np.broadcast_to(np.asarray(weight, dtype=np.float64), self.pre.shape)
        self.syn_type = np.broadcast_to(np.asarray(syn_type, dtype=np.int64), self.pre.shape)


def coefficient(dt, tau_m, tau):
    """``tau / (tau - tau_m) * (exp(-dt/tau) - exp(-dt/tau_m))``, Brian2's operation order; the limit
    ``exp(-dt/tau_m) * dt / tau_m`` (with expm1 near it) where ``tau`` is (close to) ``tau_m``."""
    x = dt / tau_m - dt / tau
    if abs(x) < 1e-3:
        return math.exp(-dt / tau_m) * (dt / tau_m) * (math.expm1(x) / x if x else 1.0)
    e = math.exp
    return ((tau * e(-dt / tau)) * (-e(dt / tau) + e(dt / tau_m))) * e(-dt / tau_m) / ((0.0 - tau_m) + tau)


def reference_run(n, dt, tau_m, v_threshold, groups, input_spikes, v0, *, v_reset=0.0, v_rest=0.0, refractory=0.0,
                  tau_syn=(), syn_gain=1.0, bias=0.0, tau_adapt=None, adapt_increment=0.0, dtype=np.float64,
                  state=None, mode="brian2"):
    """Run ``B`` rows for ``T`` steps; ``input_spikes`` is ``(B, T, I)`` (non-zero = spike).

    Returns ``(spikes (B, T, N) bool, (v, i_syn, refractory, adaptation))``; ``state`` (the same
    four arrays) continues a run, else ``v0`` ``(B, N)`` starts one at rest otherwise.
    """
    f = np.dtype(dtype).type
    per = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))  # noqa: E731
    tau_m, v_threshold, v_reset, v_rest = per(tau_m), per(v_threshold), per(v_reset), per(v_rest)
    bias, refractory, adapt_increment = per(bias), per(refractory), per(adapt_increment)
    k_types = len(tau_syn)
    gain = np.broadcast_to(np.asarray(syn_gain, dtype=np.float64), (k_types,))
    em = [math.exp(-dt / tau_m[i]) for i in range(n)]
    c = [[gain[k] * coefficient(dt, tau_m[i], tau_syn[k]) for i in range(n)] for k in range(k_types)]
    decay = [f(math.exp(-dt / tau)) for tau in tau_syn]
    with_bias = bool(np.any(bias != 0))
    adapt = tau_adapt is not None
    ea = [math.exp(-dt / t) for t in per(tau_adapt)] if adapt else [1.0] * n
    steps_of = [int(round(refractory[i] / dt)) for i in range(n)]
    spikes_in = np.asarray(input_spikes) != 0
    batch, n_steps = spikes_in.shape[:2]
    out = np.zeros((batch, n_steps, n), bool)
    if state is None:
        v = np.array(v0, dtype=dtype).reshape(batch, n)
        current = np.zeros((batch, k_types, n), dtype)
        left = np.zeros((batch, n), np.int64)
        a = np.zeros((batch, n), dtype)
    else:
        v, current, left, a = (np.array(x) for x in state)
    for b in range(batch):
        for t in range(n_steps):
            # 1. advance every neuron (v only where not refractory) and every current
            refractory_now = [left[b, i] > 0 for i in range(n)]
            for i in range(n):
                if mode == "brian2":
                    acc = f(bias[i]) if with_bias else f(0.0)
                    for k in range(k_types):
                        acc = acc + f(c[k][i]) * current[b, k, i]
                    if with_bias:  # El + ((((bias + c0*I0) + c1*I1) + em*v) + em*(-El - bias))
                        new = f(v_rest[i]) + ((acc + f(em[i]) * v[b, i]) + f(em[i] * (-v_rest[i] - bias[i])))
                    else:  # (El - El*em) + ((c0*I0 + c1*I1) + em*v)
                        new = f(v_rest[i] - v_rest[i] * em[i]) + (acc + f(em[i]) * v[b, i])
                else:
                    v_inf = v_rest[i] + bias[i]
                    new = v_inf + (float(v[b, i]) - v_inf) * em[i] + sum(
                        c[k][i] * float(current[b, k, i]) for k in range(k_types))
                if not refractory_now[i]:
                    v[b, i] = new
                for k in range(k_types):
                    current[b, k, i] = decay[k] * current[b, k, i]
                if adapt:
                    a[b, i] = f(ea[i]) * a[b, i]
                if left[b, i] > 0:
                    left[b, i] -= 1
            # 2. spikes
            spiking = [i for i in range(n) if not refractory_now[i] and v[b, i] > f(v_threshold[i]) + a[b, i]]
            out[b, t, spiking] = True
            # 3. delivery: group by group, spiking sources ascending, each source's synapses as given
            for g in groups:
                sources = np.flatnonzero(spikes_in[b, t]) if g.from_inputs else spiking
                for j in sources:
                    for s in np.flatnonzero(g.pre == j):
                        i, w = g.post[s], f(g.weight[s])
                        if k_types:
                            current[b, g.syn_type[s], i] += w
                        elif not refractory_now[i]:  # delta synapses: not onto a refractory neuron
                            v[b, i] += w
            # 4. reset
            for i in spiking:
                v[b, i] = f(v_reset[i])
                if adapt:
                    a[b, i] += f(adapt_increment[i])
                left[b, i] = max(steps_of[i] - 1, 0)  # frozen for the next R - 1 steps
    return out, (v, current, left, a)
