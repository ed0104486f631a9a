"""Sparse, stateful spiking networks: :class:`LIFNetwork`, :class:`LIFState`, :class:`SpikeEvents`.

Leaky integrate-and-fire neurons with refractoriness, exponential synaptic currents of ``K``
types and optional threshold adaptation, integrated exactly over each step, with synapses
stored compressed by presynaptic source. Everything is checked here, in Python, before the
compiled loop (``network_run`` in :mod:`neurojit.kernels.network`, through the kernel of the
same name) runs; the loop itself does no bounds checking.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .kernels.network import (ACC0, ADAPT_DECAY, ADAPT_INC, BASE, EM, FROM_INPUTS, FROM_NEURONS, GROUP_COLUMNS,
                              N_CONSTANTS, NEURON_TRACES, OFFSET, PLASTIC_COLUMNS, RESET, SOURCES, SYNAPSE_TRACES, TAIL,
                              THRESHOLD)

__all__ = ["LIFNetwork", "LIFState", "STDP", "SpikeEvents"]

#: synapses converted per chunk when a group is built (bounds the transient memory)
BUILD_CHUNK = 1 << 20
#: below this |dt/tau_m - dt/tau_syn| the synaptic coefficient is taken in its limit form (expm1)
DEGENERATE = 1e-3
#: targets are uint32 (k * N + post)
_MAX_TARGETS = 2 ** 32


# -- spike events -----------------------------------------------------------------------


def _int_array(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integers, got shape {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.size and int(array.min()) < 0:
        raise ValueError(f"{name} must be >= 0, got {int(array.min())}")
    return array.astype(np.int64, copy=False)


def _count(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class SpikeEvents:
    """Spikes as events: ``(batch, step, index)`` triples.

    Parameters
    ----------
    step, index : array_like of int, shape (E,)
        Time step and neuron (or input channel) of each spike.
    batch : array_like of int, shape (E,), optional
        Batch row of each spike (default: all 0).
    n_steps, n_channels : int, optional
        Steps and channels the events span (``to_dense``'s shape; a run takes ``n_steps``
        as its length). Inferred from the largest step / index when omitted.
    n_batch : int, optional
        Batch rows (inferred from the largest ``batch`` when omitted).

    Events returned by :meth:`LIFNetwork.run` are sorted by ``(batch, step, index)`` and carry
    all three sizes.
    """

    __slots__ = ("step", "index", "batch", "n_steps", "n_channels", "n_batch")

    def __init__(self, step: Any, index: Any, batch: Any = None, n_steps: int | None = None,
                 n_channels: int | None = None, *, n_batch: int | None = None):
        self.step = _int_array("step", step)
        self.index = _int_array("index", index)
        self.batch = np.zeros(self.step.size, np.int64) if batch is None else _int_array("batch", batch)
        if not self.step.size == self.index.size == self.batch.size:
            raise ValueError(f"step, index and batch must have one length, got {self.step.size}, "
                             f"{self.index.size} and {self.batch.size}")
        for name, values, size in (("step", self.step, n_steps), ("index", self.index, n_channels),
                                   ("batch", self.batch, n_batch)):
            if size is not None:
                label = {"step": "n_steps", "index": "n_channels", "batch": "n_batch"}[name]
                size = _count(label, size)
                if values.size and int(values.max()) >= size:
                    raise ValueError(f"{name} must be < {label} = {size}, got {int(values.max())}")
        self.n_steps = None if n_steps is None else int(n_steps)
        self.n_channels = None if n_channels is None else int(n_channels)
        self.n_batch = None if n_batch is None else int(n_batch)

    def _size(self, given: int | None, values: np.ndarray) -> int:
        return given if given is not None else (int(values.max()) + 1 if values.size else 0)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(B, T, N)`` of :meth:`to_dense`."""
        return (self._size(self.n_batch, self.batch) if self.n_batch is not None or self.batch.size else 1,
                self._size(self.n_steps, self.step), self._size(self.n_channels, self.index))

    @classmethod
    def from_dense(cls, array: Any) -> "SpikeEvents":
        """Events of a ``(B, T, N)`` (or ``(T, N)``: one row) array; non-zero entries are spikes."""
        array = np.asarray(array)
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3:
            raise ValueError(f"array must be (B, T, N) or (T, N), got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"array must hold real numbers or bools, got dtype {array.dtype}")
        batch, step, index = np.nonzero(array)  # row-major: sorted by (batch, step, index)
        return cls(step, index, batch, n_steps=array.shape[1], n_channels=array.shape[2], n_batch=array.shape[0])

    def to_dense(self, dtype: Any = bool) -> np.ndarray:
        """The events as a ``(B, T, N)`` array (1 where a spike is, repeated events count once)."""
        out = np.zeros(self.shape, dtype)
        out[self.batch, self.step, self.index] = 1
        return out

    def sorted(self) -> "SpikeEvents":
        """The same events sorted by ``(batch, step, index)``."""
        order = np.lexsort((self.index, self.step, self.batch))
        return SpikeEvents(self.step[order], self.index[order], self.batch[order], self.n_steps, self.n_channels,
                           n_batch=self.n_batch)

    def __len__(self) -> int:
        return int(self.step.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpikeEvents):
            return NotImplemented
        return (np.array_equal(self.step, other.step) and np.array_equal(self.index, other.index)
                and np.array_equal(self.batch, other.batch))

    __hash__ = None

    def __repr__(self) -> str:
        return f"SpikeEvents({len(self)} spikes, shape (B, T, N) = {self.shape})"


# -- plasticity ---------------------------------------------------------------------------


def _stdp_number(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"STDP: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"STDP: {name} must not be NaN")
    if positive and not (math.isfinite(value) and value > 0):
        raise ValueError(f"STDP: {name} must be a finite time constant > 0, got {value}")
    return value


@dataclass(frozen=True)
class STDP:
    """Pair-based additive STDP with all-to-all traces (API.md section 8; Song, Miller & Abbott
    2000, Brian2's ``examples/synapses/STDP.py``), for ``plasticity=`` of :meth:`LIFNetwork.connect`
    and :meth:`LIFNetwork.connect_input`.

    Parameters
    ----------
    tau_pre, tau_post : float
        Time constants of the traces ``A_pre`` and ``A_post`` (> 0, finite).
    a_pre, a_post : float
        Added to ``A_pre`` at each presynaptic spike, to ``A_post`` at each postsynaptic spike.
    w_min, w_max : float
        The weights stay in ``[w_min, w_max]`` (``w_max`` may be ``inf``).
    traces : {"synapse", "neuron"}
        Where the traces live. ``"synapse"`` (default): every synapse keeps its own, decayed
        lazily at its events as Brian2's event-driven variables are,
        ``A *= exp((1/tau) * -(t - t_last))`` (``t = step * dt``), so that a run reproduces
        Brian2's numbers bit for bit. ``"neuron"``: one ``A_pre`` per source and one ``A_post``
        per target neuron (the same sums of exponentials), each kept scaled to the start of an
        epoch of 32 time constants, so that a synapse event costs a load and a multiply instead
        of an ``exp`` and a synapse's own traces: the per-synapse numbers up to rounding (Brian2's
        example: the same 720 spikes, weights within 75 ulp of ``w_max``; ``tests/test_stdp.py``),
        and in a recurrent network 1.7x as fast (``benchmarks/cuba.py --stdp``).

    Notes
    -----
    In step 3, for a spike delivered over the synapse:
    ``I += w`` (the weight before this update), ``A_pre += a_pre``,
    ``w = clip(w + A_post, w_min, w_max)``; then for each spiking neuron, over its plastic
    incoming synapses: ``A_post += a_post``, ``w = clip(w + A_pre, w_min, w_max)``.
    """

    tau_pre: float
    tau_post: float
    a_pre: float
    a_post: float
    w_min: float = 0.0
    w_max: float = math.inf
    traces: str = "synapse"

    def __post_init__(self):
        if self.traces not in ("synapse", "neuron"):
            raise ValueError(f"STDP: traces must be 'synapse' or 'neuron', got {self.traces!r}")
        for name in ("tau_pre", "tau_post"):
            object.__setattr__(self, name, _stdp_number(name, getattr(self, name), positive=True))
        for name in ("a_pre", "a_post", "w_min", "w_max"):
            object.__setattr__(self, name, _stdp_number(name, getattr(self, name)))
        for name in ("a_pre", "a_post"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"STDP: {name} must be finite, got {getattr(self, name)}")
        if self.w_min > self.w_max:
            raise ValueError(f"STDP: w_min = {self.w_min} must be <= w_max = {self.w_max}")
        if self.w_min == math.inf or self.w_max == -math.inf:
            raise ValueError(f"STDP: [w_min, w_max] = [{self.w_min}, {self.w_max}] holds no finite weight")


class _PlasticGroup(NamedTuple):
    """Where a plastic group's state lives in the loop's arrays."""

    index: int  # the synapse group
    first: int  # its first weight column
    count: int  # its synapses
    record: int | None  # per-synapse traces: its first trace column
    trace: int | None  # per-neuron traces: its sources' first trace column (its targets' follow)
    sources: int | None  # per-neuron traces: its sources


# -- the state ----------------------------------------------------------------------------


@dataclass
class LIFState:
    """The state of a batch of rows of one :class:`LIFNetwork` (made by its :meth:`~LIFNetwork.initial_state`).

    Attributes
    ----------
    v : numpy.ndarray, shape (B, N)
        Membrane potentials.
    i_syn : numpy.ndarray, shape (B, K, N)
        Synaptic currents, one per synapse type.
    refractory : numpy.ndarray of int64, shape (B, N)
        Steps each neuron is still refractory (``v`` frozen, no spike).
    adaptation : numpy.ndarray, shape (B, N)
        Threshold adaptation ``a`` (zeros without ``tau_adapt``).
    traces : tuple
        STDP traces, one tuple per plastic group in the order the groups were added. Per-synapse
        traces: ``(a_pre, a_post, last)``, each ``(B, n_synapses)``: the traces ``A_pre``,
        ``A_post`` and the step (counted from the first run, see ``step``) of each synapse's last
        event. Per-neuron traces (``STDP(traces="neuron")``): ``(z_pre, z_post)``, ``(B, n_sources)``
        and ``(B, N)``: each source's ``A_pre`` and each neuron's ``A_post`` scaled to the start of
        its epoch, ``A = z * exp(-((n mod E) * dt) / tau)`` at the last step run ``n = step - 1``,
        with epochs of ``E = int(32 * tau / dt)`` steps (:mod:`neurojit.kernels.network`).
    weights : tuple of numpy.ndarray
        One array per synapse group, in the order they were added: a static group's weights
        are the network's own read-only array, shared by every state and row; a plastic group's
        are ``(B, n_synapses)``, each row its own.
    step : numpy.ndarray of int64, shape (B,)
        Steps run since the initial state (the clock of the STDP traces' decay).
    """

    v: np.ndarray
    i_syn: np.ndarray
    refractory: np.ndarray
    adaptation: np.ndarray
    traces: tuple = ()
    weights: tuple = ()
    network: int = field(default=0, repr=False)  # the token of the network (and connections) it belongs to
    step: Any = None

    @property
    def batch(self) -> int:
        return int(self.v.shape[0])


# -- the network --------------------------------------------------------------------------


def _exp_terms(dt: float, tau_m: float, tau_syn: tuple[float, ...]) -> tuple[float, list[float]]:
    """``exp(-dt/tau_m)`` and each synaptic current's coefficient in the exact update, as Brian2's
    generated code computes them (libm ``exp``, the same order of operations, double precision)."""
    e = math.exp
    coefficients = []
    for tau in tau_syn:
        x = dt / tau_m - dt / tau
        if abs(x) < DEGENERATE:
            # tau_syn close to (or equal to) tau_m: the closed form cancels, use its limit
            # tau/(tau - tau_m) * (e^{-dt/tau} - e^{-dt/tau_m}) = e^{-dt/tau_m} dt/tau_m expm1(x)/x
            coefficients.append(e(-dt / tau_m) * (dt / tau_m) * (math.expm1(x) / x if x else 1.0))
        else:
            # Brian2: ((tau*exp(-dt/tau)) * (-exp(dt/tau) + exp(dt/taum))) * exp(-dt/taum) / ((0.0 - taum) + tau)
            coefficients.append(((tau * e(-dt / tau)) * (-e(dt / tau) + e(dt / tau_m))) * e(-dt / tau_m)
                                / ((0.0 - tau_m) + tau))
    return e(-dt / tau_m), coefficients


def _real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array; bools, strings, None and the like raise TypeError naming ``name``."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a real number or an array of them, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged sequences
        raise TypeError(f"{name} must be a real number or an array of them: {exc}") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def _neuron_values(name: str, value: Any, n: int, *, positive: bool = False, nonnegative: bool = False) -> np.ndarray:
    """A scalar or ``(N,)`` neuron parameter as a float64 ``(N,)`` array, checked finite (and > 0 or >= 0)."""
    array = _real_array(name, value)
    if array.ndim == 0:
        array = np.full(n, float(array))
    elif array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or (N,) = ({n},), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    if positive and array.size and array.min() <= 0:
        raise ValueError(f"{name} must be positive, got {array.min()}")
    if nonnegative and array.size and array.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {array.min()}")
    return array


def _per_unique(values: np.ndarray, function) -> list[np.ndarray]:
    """``function(value)`` (a tuple of floats) for each distinct value, mapped back to ``values``' positions."""
    unique, inverse = np.unique(values, return_inverse=True)
    results = np.array([function(float(u)) for u in unique], dtype=np.float64).reshape(unique.size, -1)
    return [results[inverse, j] for j in range(results.shape[1])]


def _is_sparse_matrix(value: Any) -> bool:
    scipy_sparse = sys.modules.get("scipy.sparse")  # never imports scipy itself
    return scipy_sparse is not None and scipy_sparse.issparse(value)


class LIFNetwork:
    """A sparse network of leaky integrate-and-fire neurons, run exactly step by step (API.md section 7).

    Parameters
    ----------
    n_neurons : int
        ``N``.
    dt : float
        Time step (seconds, or any unit shared by the time constants).
    tau_m : float or (N,) array
        Membrane time constant, > 0.
    v_threshold : float or (N,) array
        A neuron spikes when ``v > v_threshold + a``.
    v_reset, v_rest, bias : float or (N,) array
        Potential after a spike, resting potential, constant input (in volts: added to ``v_rest``).
    refractory : float or (N,) array
        Refractory period, >= 0; ``round(refractory / dt)`` steps.
    tau_syn : sequence of float
        One time constant per synapse type (``K = len(tau_syn)``); ``()``: delta synapses (a
        spike adds its weight to ``v``).
    syn_gain : float or (K,) values
        Factor of each synaptic current in the membrane equation.
    tau_adapt : float or (N,) array, optional
        Time constant of threshold adaptation (none when omitted).
    adapt_increment : float or (N,) array
        Added to ``a`` at each spike (needs ``tau_adapt``).
    dtype : {"float64", "float32"}
    compiler : JITCompiler, optional
        Supplies the kernel (the global compiler when omitted).

    Notes
    -----
    Between spikes, neuron ``i`` follows, integrated exactly over each step::

        tau_m dv/dt = v_rest - v + bias + sum_k syn_gain[k] * I_k
        tau_syn[k] dI_k/dt = -I_k
        tau_adapt da/dt = -a

    so that, with ``em = exp(-dt/tau_m)``, ``v_inf = v_rest + bias`` and
    ``c_k = syn_gain[k] * tau_syn[k] / (tau_syn[k] - tau_m) * (exp(-dt/tau_syn[k]) - em)``
    (its limit ``syn_gain[k] * em * dt / tau_m`` when ``tau_syn[k] = tau_m``), one step is
    ``v <- v_inf + (v - v_inf) * em + sum_k c_k I_k``, ``I_k <- I_k * exp(-dt/tau_syn[k])``,
    ``a <- a * exp(-dt/tau_adapt)``. In the order Brian2's generated code adds the terms:
    ``v <- (v_rest - v_rest*em) + ((c_0 I_0 + c_1 I_1 + ...) + em*v)`` without bias and
    ``v <- v_rest + ((((bias + c_0 I_0) + c_1 I_1 ...) + em*v) + em*(-v_rest - bias))`` with one
    (the constants in double precision with libm ``exp``, then in ``dtype``). Each step, in this
    order (Brian2's default schedule: groups, thresholds, synapses, resets):

    1. advance ``v``, every ``I_k`` and ``a`` by ``dt``; a refractory neuron's ``v`` does not change;
    2. neurons with ``v > v_threshold + a`` that are not refractory spike;
    3. this step's spikes are delivered, group after group in the order they were added, each
       group's spiking sources in ascending order and their synapses in the order given: each
       adds its weight to ``I_k`` of its target (``k`` = its ``syn_type``); with ``tau_syn=()``
       to ``v``, except where the target is refractory (Brian2 generates
       ``if(not_refractory) v += w`` for an ``(unless refractory)`` variable);
    4. spiking neurons: ``v = v_reset``, ``a += adapt_increment``; refractory for the next
       ``R - 1`` steps, ``R = round(refractory / dt)``, and able to spike again ``R`` steps after.

    This is Brian2's ``NeuronGroup(..., method='exact', refractory=...)`` with ``v`` declared
    ``(unless refractory)`` and ``Synapses(..., on_pre='I_k += w')``, spike for spike (Brian2
    counts the period as ``int((refractory + 1e-3*dt)/dt)`` steps: the same for a whole number
    of steps). A spike of step ``t`` reaches its targets' currents at ``t`` and moves ``v`` from
    step ``t + 1`` on.
    """

    def __init__(self, n_neurons: int, *, dt: float, tau_m: Any, v_threshold: Any, v_reset: Any = 0.0,
                 v_rest: Any = 0.0, refractory: Any = 0.0, tau_syn: Any = (), syn_gain: Any = 1.0, bias: Any = 0.0,
                 tau_adapt: Any = None, adapt_increment: Any = 0.0, dtype: Any = "float64", compiler: Any = None):
        from .validate import finite_scalar

        n = self.n_neurons = _count("n_neurons", n_neurons)
        self.dt = dt = finite_scalar("dt", dt, positive=True)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        if compiler is None:
            from .compiler import get_global_compiler

            compiler = get_global_compiler()
        else:
            from .compiler import JITCompiler

            if not isinstance(compiler, JITCompiler):
                raise TypeError(f"compiler must be a JITCompiler, got {type(compiler).__name__}")
        self.compiler = compiler
        self._kernel = compiler.kernel("network_run")

        tau_m = _neuron_values("tau_m", tau_m, n, positive=True)
        tau_syn_values = _real_array("tau_syn", tau_syn).reshape(-1) if np.ndim(tau_syn) <= 1 else None
        if tau_syn_values is None:
            raise ValueError(f"tau_syn must be a sequence of time constants (one per synapse type), got shape "
                             f"{np.shape(tau_syn)}")
        if not (np.isfinite(tau_syn_values).all() and (tau_syn_values > 0).all()):
            raise ValueError(f"tau_syn must hold finite, positive time constants, got {tau_syn_values.tolist()}")
        self.tau_syn = tuple(float(x) for x in tau_syn_values)
        k = self.n_types = len(self.tau_syn)
        gain = _real_array("syn_gain", syn_gain)
        if gain.ndim == 0:
            gain = np.full(k, float(gain))
        if gain.shape != (k,):
            raise ValueError(f"syn_gain must be a scalar or (K,) = ({k},) values, got shape {gain.shape}")
        if not np.isfinite(gain).all():
            raise ValueError("syn_gain must be finite")
        self.syn_gain = tuple(float(x) for x in gain)
        v_threshold = _neuron_values("v_threshold", v_threshold, n)
        v_reset = _neuron_values("v_reset", v_reset, n)
        v_rest = _neuron_values("v_rest", v_rest, n)
        bias = _neuron_values("bias", bias, n)
        refractory = _neuron_values("refractory", refractory, n, nonnegative=True)
        adapt_increment = _neuron_values("adapt_increment", adapt_increment, n)
        if tau_adapt is None:
            if adapt_increment.any():
                raise ValueError("adapt_increment needs tau_adapt (the time constant of the adaptation)")
            adapt_decay = np.ones(n)
        else:
            tau_adapt = _neuron_values("tau_adapt", tau_adapt, n, positive=True)
            (adapt_decay,) = _per_unique(tau_adapt, lambda tau: (math.exp(-dt / tau),))
        steps = np.rint(refractory / dt)
        if steps.size and steps.max() >= 2 ** 62:
            raise ValueError("refractory is too long for the time step")
        self._refractory_steps = steps.astype(np.int64)

        # the constants of the exact update, in float64 (Brian2's order), then in dtype
        terms = _per_unique(tau_m, lambda tau: (lambda em, c: (em, *c))(*_exp_terms(dt, tau, self.tau_syn)))
        em = terms[0]
        coef = np.array([terms[1 + j] * gain[j] for j in range(k)]).reshape(k, n)
        neuron = np.zeros((N_CONSTANTS, n))
        neuron[EM] = em
        if bias.any():  # El + ((((bias + L13*ge) + L14*gi) + L15*v) + L15*(-El - bias))
            neuron[BASE], neuron[TAIL], neuron[ACC0] = v_rest, em * (-v_rest - bias), bias
        else:  # L12 + ((L13*ge + L14*gi) + L15*v), L12 = El - El*exp(-dt/taum)
            neuron[BASE] = v_rest - v_rest * em
        neuron[THRESHOLD], neuron[RESET] = v_threshold, v_reset
        neuron[ADAPT_DECAY], neuron[ADAPT_INC] = adapt_decay, adapt_increment
        self._neuron = neuron.astype(self.dtype)
        self._coef = coef.astype(self.dtype)
        decays = [math.exp(-dt / tau) for tau in self.tau_syn]
        self._syn_decay = np.array(decays, dtype=np.float64).astype(self.dtype)
        self._v_rest = v_rest
        self.has_adaptation = tau_adapt is not None
        if not np.isfinite(self._neuron).all() or not np.isfinite(self._coef).all():
            raise ValueError(f"the parameters are out of the range of {self.dtype.name}")

        # synapse storage: every group's arrays, concatenated
        self.n_inputs = 0
        self._ptr = np.zeros(0, np.int64)
        self._targets = np.zeros(0, np.uint32)
        self._weights = np.zeros(0, self.dtype)
        self._groups = np.zeros((0, GROUP_COLUMNS), np.int64)
        self._group_weights = np.zeros(0, self.dtype)
        #: per group: (start in _weights, synapses, its one weight or None for per-synapse weights)
        self._group_synapses: list[tuple[int, int, float | None]] = []
        self._weight_views: tuple[np.ndarray, ...] = ()
        self._plasticity: list[STDP | None] = []
        self._build_plasticity()
        self._token = int.from_bytes(os.urandom(8), "little") | 1

    # -- synapses ------------------------------------------------------------------------

    @property
    def n_synapses(self) -> int:
        return int(self._targets.size)

    @property
    def n_groups(self) -> int:
        return int(self._groups.shape[0])

    @property
    def synapse_bytes(self) -> int:
        """Bytes the synapses take at rest (all groups: source pointers, targets, weights)."""
        return int(self._ptr.nbytes + self._targets.nbytes + self._weights.nbytes + self._groups.nbytes
                   + self._group_weights.nbytes)

    def connect(self, pre: Any, post: Any = None, weight: Any = None, *, syn_type: Any = 0,
                plasticity: Any = None) -> int:
        """Add a group of neuron -> neuron synapses; returns its index (its place in ``state.weights``).

        Parameters
        ----------
        pre, post : array_like of int, shape (S,)
            Source and target neuron of each synapse (repeated pairs are separate synapses).
            Or ``pre`` a ``(N, N)`` ``scipy.sparse`` matrix or dense array, ``post`` and
            ``weight`` omitted: its non-zero entries ``[j, i]`` are the synapses ``j -> i``.
        weight : float or array_like, shape (S,)
        syn_type : int or array_like of int, shape (S,)
            The current each synapse feeds, in ``[0, K)`` (0 with delta synapses, ``K = 0``).
        plasticity : STDP, optional
            Pair-based STDP on this group (API.md section 8; needs per-synapse weights in
            ``[w_min, w_max]``): the weights then live in ``state.weights[index]``, ``(B, S)``.
        """
        return self._add(FROM_NEURONS, self.n_neurons, pre, post, weight, syn_type, plasticity)

    def connect_input(self, n_inputs: int, pre: Any, post: Any = None, weight: Any = None, *, syn_type: Any = 0,
                      plasticity: Any = None) -> int:
        """Add a group of input channel -> neuron synapses; returns its index.

        ``n_inputs`` channels (the width ``I`` of the inputs of :meth:`run`: every input group
        has the same); ``pre`` indexes them, otherwise as :meth:`connect` (a matrix is ``(I, N)``).
        """
        n_inputs = _count("n_inputs", n_inputs, minimum=1)
        if self.n_inputs and n_inputs != self.n_inputs:
            raise ValueError(f"n_inputs = {n_inputs} differs from the {self.n_inputs} input channels of the "
                             "groups already connected (the inputs of run have one width)")
        index = self._add(FROM_INPUTS, n_inputs, pre, post, weight, syn_type, plasticity)
        self.n_inputs = n_inputs
        return index

    def _add(self, kind, n_pre, pre, post, weight, syn_type, plasticity) -> int:
        if plasticity is not None and not isinstance(plasticity, STDP):
            raise TypeError(f"plasticity must be None or a neurojit.STDP, got {type(plasticity).__name__}")
        n, k = self.n_neurons, self.n_types
        if (k or 1) * n > _MAX_TARGETS:
            raise ValueError(f"K * N = {k * n} synaptic targets exceed the 2**32 the storage indexes")
        sources = "input channels" if kind == FROM_INPUTS else "neurons"
        if post is None and weight is None:
            count, group_ptr, fill, scalar = self._matrix_parts(pre, n_pre, sources)
            types = self._types(syn_type, count, matrix=True)
        elif post is None or weight is None:
            raise TypeError("give pre, post and weight (index arrays), or pre alone as a (n_pre, N) matrix")
        else:
            count, group_ptr, fill, scalar = self._index_parts(pre, post, weight, n_pre, sources)
            types = self._types(syn_type, count, matrix=False)
        if plasticity is not None and scalar is not None:
            raise ValueError("plasticity needs a weight per synapse: weight is one scalar shared by the group "
                             "(pass an array, e.g. np.full(len(pre), weight))")
        # the new storage: the old groups' arrays followed by this group's, built in place
        # (the only transient copy: the old groups', while they move)
        old, old_weights = self.n_synapses, self._weights.size
        per_synapse = scalar is None
        targets = np.empty(old + count, np.uint32)
        weights = np.empty(old_weights + (count if per_synapse else 0), self.dtype)
        targets[:old] = self._targets
        weights[:old_weights] = self._weights
        fill(targets[old:], weights[old_weights:] if per_synapse else None, types)
        if plasticity is not None:
            initial = weights[old_weights:]
            dtype_rule = self.dtype.type
            if count and (initial.min() < dtype_rule(plasticity.w_min) or initial.max() > dtype_rule(plasticity.w_max)):
                raise ValueError(f"weight must be in [w_min, w_max] = [{plasticity.w_min}, {plasticity.w_max}] of "
                                 f"plasticity, got values in [{initial.min()}, {initial.max()}]")
        ptr = np.concatenate((self._ptr, group_ptr + old))
        group = np.array([[kind, self._ptr.size, n_pre, per_synapse, old_weights - old]], np.int64)
        self._ptr, self._targets, self._weights = ptr, targets, weights
        self._groups = np.concatenate((self._groups, group))
        self._group_weights = np.append(self._group_weights, self.dtype.type(0 if per_synapse else scalar))
        self._group_synapses.append((old_weights, count, scalar))
        self._plasticity.append(plasticity)
        self._build_plasticity()
        views = []
        for start, size, value in self._group_synapses:
            if value is None:
                view = self._weights[start:start + size]
            else:  # one weight for the group: nothing stored per synapse
                view = np.broadcast_to(np.array(value, self.dtype), (size,))
            view.flags.writeable = False  # the network's own; the loop reads the writeable base
            views.append(view)
        self._weight_views = tuple(views)
        self._token = int.from_bytes(os.urandom(8), "little") | 1  # states made before this call no longer fit
        return self.n_groups - 1

    def _build_plasticity(self) -> None:
        """The loop's STDP arrays: per group its columns (``plastic``), rates and amplitudes; the
        plastic synapses by target, per-synapse traces (``post_*``) and per-neuron traces
        (``neuron_*``, a list per group); each per-neuron-trace weight's target trace."""
        g, n = self.n_groups, self.n_neurons
        plastic = np.zeros((g, PLASTIC_COLUMNS), np.int64)
        rates = np.zeros((g, 2), np.float64)
        amps = np.zeros((g, 4), self.dtype)
        self._plastic_groups: list[_PlasticGroup] = []
        size = records = columns = 0  # weight, per-synapse trace and per-neuron trace columns so far
        by_synapse, by_neuron, syn_post = [], [], []  # (target, ...) per group
        for index, (rule, (start, count, _)) in enumerate(zip(self._plasticity, self._group_synapses)):
            if rule is None:
                continue
            offset, n_sources = int(self._groups[index, OFFSET]), int(self._groups[index, SOURCES])
            first_synapse = int(self._ptr[offset])
            rates[index] = (1.0 / rule.tau_pre, 1.0 / rule.tau_post)
            amps[index] = (rule.a_pre, rule.a_post, rule.w_min, rule.w_max)
            post = self._targets[first_synapse:first_synapse + count].astype(np.int64) % max(n, 1)
            if rule.traces == "neuron":
                plastic[index] = (NEURON_TRACES, size - first_synapse, columns, columns + n_sources)
                source = np.repeat(np.arange(n_sources, dtype=np.int64), np.diff(self._ptr[offset:offset + n_sources + 1]))
                by_neuron.append((post, np.arange(size, size + count, dtype=np.int64), columns + source))
                syn_post.append(columns + n_sources + post)
                self._plastic_groups.append(_PlasticGroup(index, size, count, None, columns, n_sources))
                columns += n_sources + n
            else:
                plastic[index] = (SYNAPSE_TRACES, size - first_synapse, records - first_synapse, 0)
                by_synapse.append((post, np.full(count, index, np.int64), np.arange(records, records + count)))
                syn_post.append(np.zeros(count, np.int64))  # unused
                self._plastic_groups.append(_PlasticGroup(index, size, count, records, None, None))
                records += count
            size += count
        self._plastic = plastic
        self._stdp_rates = rates.view(np.int64)
        self._stdp_amps = amps
        # the loop's STDP indices are 32-bit: half the memory traffic of int64 in its passes
        if max(size, records, columns) >= 2 ** 32:
            raise ValueError(f"{max(size, records)} plastic synapses or {columns} per-neuron traces are more than the "
                             "2**32 the plastic groups index")
        self._syn_post = np.concatenate(syn_post).astype(np.uint32) if syn_post else np.zeros(0, np.uint32)

        def by_target(parts):
            # a group's (or groups') entries sorted by target (stable: storage order within one)
            # and each target's first entry
            post = np.concatenate([p[0] for p in parts])
            order = np.argsort(post, kind="stable")
            starts = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(post, minlength=n), out=starts[1:])
            return starts, [np.concatenate([p[k] for p in parts])[order] for k in (1, 2)]

        self._post_ptr = np.zeros(0, np.int64)
        self._post_grp, self._post_syn = np.zeros(0, np.int32), np.zeros(0, np.uint32)
        if by_synapse:
            self._post_ptr, (grp, syn) = by_target(by_synapse)
            self._post_grp, self._post_syn = grp.astype(np.int32), syn.astype(np.uint32)
        self._neuron_ptr = np.zeros((len(by_neuron), n + 1), np.int64)
        lists = []
        for u, part in enumerate(by_neuron):  # one list per group, one after the other
            starts, (syn, pre) = by_target([part])
            self._neuron_ptr[u] = starts + sum(x.size for x, _ in lists)
            lists.append((syn, pre))
        self._neuron_syn, self._neuron_pre = (np.concatenate([x[k] for x in lists]).astype(np.uint32) if lists
                                              else np.zeros(0, np.uint32) for k in (0, 1))

    def _types(self, syn_type: Any, count: int, *, matrix: bool) -> Any:
        """``syn_type`` checked: an int, or (index arrays only) an array of ``count`` ints in ``[0, K)``."""
        k = self.n_types
        limit = max(k, 1)
        if isinstance(syn_type, (bool, np.bool_)):
            raise TypeError("syn_type must be an int or an array of ints")
        if isinstance(syn_type, numbers.Integral) or (isinstance(syn_type, np.ndarray) and syn_type.ndim == 0
                                                       and syn_type.dtype.kind in "iu"):
            value = int(syn_type)
            if not 0 <= value < limit:
                raise ValueError(f"syn_type must be in [0, K) = [0, {k}), got {value}" if k else
                                 f"syn_type must be 0 with tau_syn=() (delta synapses onto v), got {value}")
            return value
        if matrix:
            raise TypeError("syn_type must be an int when pre is a matrix")
        types = np.asarray(syn_type)
        if types.dtype.kind not in "iu":
            raise TypeError(f"syn_type must hold integers, got dtype {types.dtype}")
        if types.shape != (count,):
            raise ValueError(f"syn_type must be an int or ({count},) like pre, got shape {types.shape}")
        if count and (int(types.min()) < 0 or int(types.max()) >= limit):
            raise ValueError(f"syn_type must be in [0, K) = [0, {k}), got values in [{int(types.min())}, "
                             f"{int(types.max())}]")
        return types

    def _offsets(self, types: Any, lo: int, hi: int) -> Any:
        """``k * N`` of the synapses ``lo .. hi - 1`` (the storage's target is ``k * N + post``)."""
        if np.ndim(types) == 0:
            return types * self.n_neurons
        return types[lo:hi].astype(np.int64) * self.n_neurons

    def _index_parts(self, pre, post, weight, n_pre, sources):
        """Checks of ``pre``, ``post``, ``weight``; returns ``(count, ptr, fill)`` for :meth:`_add`."""
        pre, post = self._indices("pre", pre, n_pre, sources), self._indices("post", post, self.n_neurons, "neurons")
        if pre.size != post.size:
            raise ValueError(f"pre and post must have one length, got {pre.size} and {post.size}")
        count = pre.size
        if isinstance(weight, (bool, np.bool_)):
            raise TypeError("weight must be a real number or an array of them")
        weight = np.asarray(weight)
        if weight.dtype.kind not in "iuf":
            raise TypeError(f"weight must hold real numbers, got dtype {weight.dtype}")
        scalar = None
        if weight.ndim == 0:
            scalar = float(weight)
            if not math.isfinite(scalar) or not math.isfinite(self.dtype.type(scalar)):
                raise ValueError(f"weight must be finite in {self.dtype.name}, got {scalar}")
        elif weight.shape != (count,):
            raise ValueError(f"weight must be a scalar or ({count},) like pre, got shape {weight.shape}")
        # synapses per source, in bounded memory
        counts = np.zeros(n_pre, np.int64)
        ordered = True
        for lo in range(0, count, BUILD_CHUNK):
            chunk = pre[lo:lo + BUILD_CHUNK]
            counts += np.bincount(chunk, minlength=n_pre)
            if ordered and (np.any(chunk[1:] < chunk[:-1]) or (lo and chunk[0] < pre[lo - 1])):
                ordered = False
        ptr = np.zeros(n_pre + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])

        def fill(targets, weights, types):
            cursor = None if ordered else ptr[:-1].copy()
            for lo in range(0, count, BUILD_CHUNK):
                hi = min(lo + BUILD_CHUNK, count)
                t = post[lo:hi].astype(np.int64) + self._offsets(types, lo, hi)
                w = None if weights is None else self._finite_weights(weight[lo:hi], lo)
                if ordered:  # already grouped by source in order: storage order is the given order
                    targets[lo:hi] = t
                    if w is not None:
                        weights[lo:hi] = w
                    continue
                # counting sort by source, stable: each source keeps its synapses in the given order
                p = pre[lo:hi].astype(np.int64)
                order = np.argsort(p, kind="stable")
                p = p[order]
                rank = np.arange(p.size) - np.searchsorted(p, p, side="left")
                position = cursor[p] + rank
                targets[position] = t[order]
                if w is not None:
                    weights[position] = w[order]
                cursor += np.bincount(p, minlength=n_pre)

        return count, ptr, fill, scalar

    def _finite_weights(self, weights: np.ndarray, offset: int) -> np.ndarray:
        converted = weights.astype(self.dtype)
        if not np.isfinite(converted).all():
            bad = offset + int(np.flatnonzero(~np.isfinite(converted))[0])
            raise ValueError(f"weight must be finite in {self.dtype.name}: weight[{bad}] = {weights[bad - offset]}")
        return converted

    def _matrix_parts(self, matrix, n_pre, sources):
        """A ``(n_pre, N)`` scipy.sparse or dense matrix; returns ``(count, ptr, fill)``."""
        shape = (n_pre, self.n_neurons)
        if _is_sparse_matrix(matrix):
            if matrix.shape != shape:
                raise ValueError(f"pre must be a ({sources}, neurons) = {shape} matrix, got {matrix.shape}")
            csr = matrix.tocsr()  # no copy for a CSR matrix
            if csr.data.dtype.kind not in "biuf":
                raise TypeError(f"pre must hold real numbers, got dtype {csr.data.dtype}")
            if csr.nnz and not (csr.data != 0).all():  # explicit zeros are not synapses
                csr = csr.copy()
                csr.eliminate_zeros()
            indptr, indices, data = csr.indptr, csr.indices, csr.data
        else:
            array = np.asarray(matrix)
            if array.ndim != 2:
                raise TypeError("pre must be an index array (with post and weight) or a (n_pre, N) matrix, "
                                f"got a {array.ndim}-D array without post")
            if array.shape != shape:
                raise ValueError(f"pre must be a ({sources}, neurons) = {shape} matrix, got {array.shape}")
            if array.dtype.kind not in "biuf":
                raise TypeError(f"pre must hold real numbers, got dtype {array.dtype}")
            rows, indices = np.nonzero(array)  # row-major: by source, then target
            data = array[rows, indices]
            indptr = np.zeros(n_pre + 1, np.int64)
            np.cumsum(np.bincount(rows, minlength=n_pre), out=indptr[1:])
            del rows
        count = int(indptr[-1])
        ptr = np.asarray(indptr, dtype=np.int64)

        def fill(targets, weights, types):
            for lo in range(0, count, BUILD_CHUNK):
                hi = min(lo + BUILD_CHUNK, count)
                targets[lo:hi] = indices[lo:hi].astype(np.int64) + self._offsets(types, lo, hi)
                weights[lo:hi] = self._finite_weights(data[lo:hi], lo)

        return count, ptr, fill, None

    def _indices(self, name: str, value: Any, size: int, what: str) -> np.ndarray:
        array = np.asarray(value)
        if array.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of indices, got shape {array.shape}")
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
        if array.size and (int(array.min()) < 0 or int(array.max()) >= size):
            raise ValueError(f"{name} must index the {size} {what}: values in [0, {size}), "
                             f"got [{int(array.min())}, {int(array.max())}]")
        return array if array.size else array.astype(np.int64)

    # -- states and runs ---------------------------------------------------------------------

    def initial_state(self, batch: int = 1, v: Any = None) -> LIFState:
        """A state of ``batch`` rows: ``v`` (``(B, N)``, ``(N,)``, a scalar, or None for ``v_rest``),
        no synaptic current, nothing refractory, no adaptation."""
        batch = _count("batch", batch)
        shape = (batch, self.n_neurons)
        if v is None:
            values = np.broadcast_to(self._v_rest, shape)
        else:
            if isinstance(v, (bool, np.bool_)):
                raise TypeError("v must be real numbers")
            values = np.asarray(v)
            if values.dtype.kind not in "iuf":
                raise TypeError(f"v must hold real numbers, got dtype {values.dtype}")
            if values.ndim == 0 or values.shape == (self.n_neurons,):
                values = np.broadcast_to(values, shape)
            elif values.shape != shape:
                raise ValueError(f"v must be (B, N) = {shape}, (N,) or a scalar, got shape {values.shape}")
        v = np.array(values, dtype=self.dtype)
        if not np.isfinite(v).all():
            raise ValueError(f"v must be finite in {self.dtype.name}")
        weights = list(self._weight_views)
        traces = []
        for group in self._plastic_groups:  # each row its own weights and traces
            weights[group.index] = np.repeat(self._weight_views[group.index][None], batch, axis=0)
            traces.append(tuple(np.zeros((batch, width), kind) for width, kind in self._trace_shapes(group)))
        return LIFState(v, np.zeros((batch, self.n_types, self.n_neurons), self.dtype), np.zeros(shape, np.int64),
                        np.zeros(shape, self.dtype), tuple(traces), tuple(weights), self._token,
                        np.zeros(batch, np.int64))

    def _trace_shapes(self, group: _PlasticGroup) -> tuple[tuple[int, Any], ...]:
        """(columns, dtype) of each array of a plastic group's entry of ``LIFState.traces``."""
        if group.sources is None:
            return (group.count, self.dtype), (group.count, self.dtype), (group.count, np.int64)
        return (group.sources, self.dtype), (self.n_neurons, self.dtype)

    def _check_state(self, state: Any) -> LIFState:
        if not isinstance(state, LIFState):
            raise TypeError(f"state must be a LIFState (from initial_state or run), got {type(state).__name__}")
        if state.network != self._token:
            raise ValueError("state belongs to another network (or to this one before its last connect); "
                             "make one with this network's initial_state")
        n, k = self.n_neurons, self.n_types
        batch = np.shape(state.v)[0] if np.ndim(state.v) == 2 else None
        for name, value, shape in (("v", state.v, (batch, n)), ("i_syn", state.i_syn, (batch, k, n)),
                                   ("refractory", state.refractory, (batch, n)),
                                   ("adaptation", state.adaptation, (batch, n))):
            if batch is None or np.shape(value) != shape:
                raise ValueError(f"state.{name} must be {shape if batch is not None else '(B, N)'}, "
                                 f"got shape {np.shape(value)}")
        plastic = {group.index for group in self._plastic_groups}
        if len(state.weights) != self.n_groups or any(w is not m for i, (w, m) in enumerate(
                zip(state.weights, self._weight_views)) if i not in plastic):
            raise ValueError("state.weights are not this network's synapse groups")
        if len(state.traces) != len(self._plastic_groups):
            raise ValueError(f"state.traces must hold one tuple of traces per plastic group "
                             f"({len(self._plastic_groups)}), got {len(state.traces)}")
        for group, traces in zip(self._plastic_groups, state.traces):
            if np.shape(state.weights[group.index]) != (batch, group.count):
                raise ValueError(f"state.weights[{group.index}] (plastic) must be {(batch, group.count)}, got "
                                 f"{np.shape(state.weights[group.index])}")
            shapes = [(batch, width) for width, _ in self._trace_shapes(group)]
            if len(traces) != len(shapes) or any(np.shape(x) != s for x, s in zip(traces, shapes)):
                names = "(a_pre, a_post, last)" if group.sources is None else "(z_pre, z_post)"
                raise ValueError(f"state.traces of group {group.index} must be {names} of shapes {shapes}")
        if state.step is not None and np.shape(state.step) != (batch,):
            raise ValueError(f"state.step must be ({batch},), got shape {np.shape(state.step)}")
        return state

    def _inputs(self, inputs: Any, batch: int | None) -> tuple[np.ndarray, np.ndarray, int]:
        """``(in_ptr, in_index, B)`` of ``inputs`` (an int, a (B, T, I) array or SpikeEvents)."""
        n_inputs = self.n_inputs
        if isinstance(inputs, SpikeEvents):
            events = inputs
            if events.n_channels is not None and events.n_channels != n_inputs:
                raise ValueError(f"inputs have {events.n_channels} channels (n_channels), the network "
                                 f"{n_inputs} (connect_input)")
            if len(events) and int(events.index.max()) >= n_inputs:
                raise ValueError(f"inputs: channel index {int(events.index.max())} is out of range for the "
                                 f"{n_inputs} input channels")
            if events.n_steps is None:
                raise ValueError("inputs: SpikeEvents need n_steps (the length of the run)")
            n_steps = events.n_steps
            rows = events.n_batch if events.n_batch is not None else (
                int(events.batch.max()) + 1 if len(events) else 1)
            if batch is None:
                batch = rows
            if len(events) and int(events.batch.max()) >= batch:
                raise ValueError(f"inputs: batch row {int(events.batch.max())} is out of range for a state of "
                                 f"{batch} rows")
            if events.n_batch is not None and events.n_batch != batch:
                raise ValueError(f"inputs have {events.n_batch} batch rows (n_batch), the state {batch}")
            b, t, i = events.batch, events.step, events.index
            key = (b * n_steps + t) * max(n_inputs, 1) + i
            if key.size > 1 and np.any(key[1:] <= key[:-1]):
                order = np.argsort(key, kind="stable")
                key, b, t, i = key[order], b[order], t[order], i[order]
                if np.any(key[1:] == key[:-1]):
                    raise ValueError("inputs: an input channel spikes twice at one step of one row")
        elif isinstance(inputs, (numbers.Integral,)) and not isinstance(inputs, (bool, np.bool_)):
            n_steps = _count("inputs (a number of steps)", inputs)
            batch = 1 if batch is None else batch
            return np.zeros((batch, n_steps + 1), np.int64), np.zeros(0, np.uint32), batch
        elif isinstance(inputs, (np.ndarray, list, tuple)):
            array = np.asarray(inputs)
            if array.ndim != 3:
                raise ValueError(f"inputs must be (B, T, I) = (B, T, {n_inputs}), got shape {array.shape}")
            if array.dtype.kind not in "biuf":
                raise TypeError(f"inputs must hold numbers or bools, got dtype {array.dtype}")
            if array.shape[2] != n_inputs:
                raise ValueError(f"inputs must be (B, T, I) = (B, T, {n_inputs}) (I from connect_input), "
                                 f"got {array.shape}")
            if batch is not None and array.shape[0] != batch:
                raise ValueError(f"inputs have {array.shape[0]} batch rows, the state {batch}")
            batch, n_steps = array.shape[0], array.shape[1]
            b, t, i = np.nonzero(array)
        else:
            raise TypeError(f"inputs must be an int (steps), a (B, T, I) array or SpikeEvents, got "
                            f"{type(inputs).__name__}")
        if n_steps and batch and n_steps > (2 ** 62) // batch:
            raise ValueError("inputs: too many steps")
        # events sorted by (row, step): the events before (row, step) = the running count of events per
        # (row, step) key (a bincount: linear in events plus steps, where a search is log-linear)
        step_key = b.astype(np.int64) * n_steps + t
        before = np.zeros(batch * n_steps + 1, np.int64)
        np.cumsum(np.bincount(step_key, minlength=batch * n_steps), out=before[1:])
        bounds = np.arange(batch, dtype=np.int64)[:, None] * n_steps + np.arange(n_steps + 1, dtype=np.int64)[None]
        return before[bounds], i.astype(np.uint32), batch

    def _plastic_arguments(self, state: LIFState) -> tuple:
        """The STDP arguments of the ``network_run`` kernel for ``state``, from ``plastic`` to
        ``clock`` (empty arrays without plasticity)."""
        dtype, batch = self.dtype, state.batch
        plastic = self._plastic_groups
        none, no_steps = np.zeros((0, 0), dtype), np.zeros((0, 0), np.int64)
        if not plastic:
            return (np.zeros((0, PLASTIC_COLUMNS), np.int64), np.zeros((0, 2), np.int64), np.zeros((0, 4), dtype),
                    self._post_ptr, self._post_syn, self._post_grp, self._neuron_ptr, self._neuron_syn,
                    self._neuron_pre, self._syn_post, self.dt, none, none, none, no_steps, none, np.zeros(0, np.int64))

        def joined(arrays, kind, empty):
            # one group: its own array when it already fits (the kernel copies what it changes)
            if not arrays:
                return empty
            if len(arrays) == 1:
                return np.ascontiguousarray(arrays[0], kind)
            return np.ascontiguousarray(np.concatenate([np.asarray(a, kind) for a in arrays], axis=1))

        per_synapse = [t for group, t in zip(plastic, state.traces) if group.sources is None]
        per_neuron = [t for group, t in zip(plastic, state.traces) if group.sources is not None]
        clock = np.zeros(batch, np.int64) if state.step is None else _steps_left(state.step, "state.step")
        return (self._plastic, self._stdp_rates, self._stdp_amps, self._post_ptr, self._post_syn, self._post_grp,
                self._neuron_ptr, self._neuron_syn, self._neuron_pre, self._syn_post, self.dt,
                joined([state.weights[group.index] for group in plastic], dtype, none),
                joined([t[0] for t in per_synapse], dtype, none), joined([t[1] for t in per_synapse], dtype, none),
                joined([_steps_left(t[2], "state.traces (last)") for t in per_synapse], np.int64, no_steps),
                joined([x for t in per_neuron for x in t], dtype, none), clock)

    def run(self, inputs: Any, state: LIFState | None = None, *, record: str = "events"):
        """Run the network over the steps of ``inputs``.

        Parameters
        ----------
        inputs : int, array_like (B, T, I) or SpikeEvents
            An int: that many steps without external input. An array: input spikes (non-zero =
            spike) of the ``I`` channels of :meth:`connect_input`. SpikeEvents: input spikes as
            events (``n_steps`` = T, channels < I, rows < B).
        state : LIFState, optional
            Where to start (not modified); ``initial_state(B)`` when omitted.
        record : {"events", "dense", "counts"}
            The network's spikes as :class:`SpikeEvents` sorted by ``(batch, step, index)``, a
            ``(B, T, N)`` bool array, or ``(B, N)`` int64 spike counts.

        Returns
        -------
        (spikes, LIFState)
            The spikes and the state after the last step (new arrays). ``run(T1)`` then
            ``run(T2, state)`` gives the spikes and state of ``run(T1 + T2)``, bit for bit.
        """
        if record not in ("events", "dense", "counts"):
            raise ValueError(f"record must be 'events', 'dense' or 'counts', got {record!r}")
        if state is not None:
            state = self._check_state(state)
        in_ptr, in_index, batch = self._inputs(inputs, None if state is None else state.batch)
        if state is None:
            state = self.initial_state(batch)
        dtype = self.dtype
        extra = self._plastic_arguments(state)
        clock = extra[-1] if extra[-1].size else np.zeros(batch, np.int64)
        plastic = self._plastic_groups
        output, v, i_syn, adaptation, refractory, pw, a_pre, a_post, last, traces = self._kernel(
            self._neuron, self._coef, self._syn_decay, self._refractory_steps, self._groups, self._group_weights,
            self._ptr, self._targets, self._weights, in_ptr, in_index, np.asarray(state.v, dtype), np.asarray(state.i_syn, dtype),
            np.asarray(state.adaptation, dtype), _steps_left(state.refractory), *extra, record)
        weights, groups_traces = list(self._weight_views), []
        for group in plastic:
            weights[group.index] = pw[:, group.first:group.first + group.count]
            if group.sources is None:
                part = slice(group.record, group.record + group.count)
                groups_traces.append((a_pre[:, part], a_post[:, part], last[:, part]))
            else:
                pre = slice(group.trace, group.trace + group.sources)
                post = slice(pre.stop, pre.stop + self.n_neurons)
                groups_traces.append((traces[:, pre], traces[:, post]))
        new_state = LIFState(v, i_syn, refractory, adaptation, tuple(groups_traces), tuple(weights), self._token,
                             clock + (in_ptr.shape[1] - 1))
        if record == "events":
            b, t, i = output
            output = SpikeEvents(t, i, b, n_steps=in_ptr.shape[1] - 1, n_channels=self.n_neurons, n_batch=batch)
        return output, new_state

    def __repr__(self) -> str:
        return (f"LIFNetwork({self.n_neurons} neurons, K = {self.n_types}, {self.n_groups} synapse groups, "
                f"{self.n_synapses} synapses, {self.dtype.name})")


def _steps_left(refractory: Any, name: str = "state.refractory") -> np.ndarray:
    array = np.asarray(refractory)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers (steps), got dtype {array.dtype}")
    if array.size and int(array.min()) < 0:
        raise ValueError(f"{name} must be >= 0 (steps)")
    return array
