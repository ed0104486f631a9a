"""Liquid State Machine: a recurrent LIF reservoir on the compiled network kernel, with a ridge readout."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .readout import RidgeReadout
from ..validate import real_ndarray
from ._setup import dtype_and_compiler, integer, real

__all__ = ["LSM_PRESETS", "LiquidStateMachine", "LSMState", "NeuronState"]

#: Parameter sets for ``LiquidStateMachine(n_inputs, n_neurons, **LSM_PRESETS[name])``.
#:
#: ``"maass2002"``: the liquid of Maass, Natschlaeger & Markram (2002), "Real-time computing without
#: stable states", Neural Computation 14(11): a column of LIF neurons on a 3 x 3 x (N/9) grid (15 x 3 x 3
#: for their 135), 20 % inhibitory at random, synapse a -> b with probability
#: ``C * exp(-(D(a, b) / lambda)^2)``, lambda = 2, C = 0.3 (EE), 0.2 (EI), 0.4 (IE), 0.1 (II);
#: tau_m 30 ms, threshold 15 mV, reset 13.5 mV, background current 13.5 nA into 1 MOhm (``bias`` 13.5 mV),
#: initial v uniform in [13.5, 15] mV, refractory 3 ms (E) / 2 ms (I), exponential synaptic currents
#: 3 ms (from E) / 6 ms (from I), input amplitudes 18 (onto E) and 9 (onto I) nA, gamma distributed with
#: SD = mean. Units: mV, and nA x 1 MOhm = mV for currents. Their recurrent synapses are dynamic
#: (Markram's U, D, F); these are static with the efficacy of a rested one, A * U: 30 * 0.5 (EE),
#: 60 * 0.05 (EI), 19 * 0.25 (IE), 19 * 0.32 (II) nA. Left out: synaptic depression and facilitation and
#: the delays; input channels reach 30 % of the neurons (our choice; the paper's inputs differ per task).
LSM_PRESETS: dict[str, dict[str, Any]] = {
    "maass2002": dict(
        neuron="lif", tau=30e-3, threshold=15.0, v_reset=13.5, v_rest=0.0, bias=13.5, v_init=(13.5, 15.0),
        refractory=(3e-3, 2e-3), tau_syn=(3e-3, 6e-3), topology="column", column_lambda=2.0,
        column_connectivity=(0.3, 0.2, 0.4, 0.1), recurrent_means=(15.0, 3.0, 4.75, 6.08),
        input_means=(18.0, 9.0), weight_cv=1.0, input_connectivity=0.3, excitatory_fraction=0.8,
    ),
}


@dataclass
class NeuronState:
    """Membrane potentials and last spikes of a batch of LIF populations.

    Attributes
    ----------
    v : numpy.ndarray, shape (B, N)
        Membrane potentials after the last step (after reset).
    spikes : numpy.ndarray, shape (B, N)
        Spikes (0/1) emitted at the last step; they drive the recurrent input of the next.
    network : neurojit.LIFState or None
        With ``neuron="lif"``: the whole state of the liquid's :class:`~neurojit.LIFNetwork`
        (synaptic currents, refractory steps); ``v`` is its ``v``.
    """

    v: np.ndarray
    spikes: np.ndarray
    network: Any = None


@dataclass
class LSMState:
    """What :meth:`LiquidStateMachine.step` carries from one step to the next.

    Attributes
    ----------
    neuron_state : NeuronState
    input_weights : numpy.ndarray, shape (I, N), or None
        ``input_weights[j, i]``: input channel ``j`` to neuron ``i`` (the model's own array);
        None with ``neuron="lif"`` (its synapses live in the model's ``network``, sparse).
    reservoir_weights : numpy.ndarray, shape (N, N), or None
        ``reservoir_weights[j, i]``: neuron ``j`` to neuron ``i`` (the model's own array); None
        with ``neuron="lif"``.
    t : float
        Simulated time at the end of the last step (seconds).
    """

    neuron_state: NeuronState
    input_weights: np.ndarray
    reservoir_weights: np.ndarray
    t: float = 0.0


def _spike_array(name: str, spikes: Any) -> np.ndarray:
    """``spikes`` as an array of finite real numbers (bool and int included), not converted."""
    return real_ndarray(name, spikes, finite=True)


def _as_batch(name: str, spikes: Any, n_inputs: int, *, nonempty: bool = False) -> tuple[np.ndarray, bool]:
    """``spikes`` as (B, T, I); the flag says a (T, I) array was given. ``nonempty``: B >= 1."""
    array = _spike_array(name, spikes)
    if array.ndim == 2:
        array, single = array[None], True
    else:
        single = False
    if array.ndim != 3 or array.shape[2] != n_inputs:
        raise ValueError(f"{name} must be (B, T, {n_inputs}) or (T, {n_inputs}), got shape {np.shape(spikes)}")
    if nonempty and array.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sequence (B >= 1), got shape {array.shape}")
    return array, single


def _is_seed(key: Any) -> bool:
    """An int seed (not a bool, not a Generator)."""
    return isinstance(key, numbers.Integral) and not isinstance(key, bool)


class LiquidStateMachine:
    """Recurrent leaky integrate-and-fire network driven by spike trains, with a trained readout.

    The liquid is ``n_neurons`` LIF neurons (the neuron of ``spike_processing``, see the
    README) with sparse random input and recurrent weights; a fraction
    ``excitatory_fraction`` of the neurons are excitatory (all outgoing weights >= 0), the
    rest inhibitory (<= 0). :meth:`run` simulates a whole batch of sequences in one call
    of the compiled ``lif_network_run`` kernel (no Python loop over time); :meth:`step`
    advances a :class:`LSMState` by one step with exactly the same arithmetic.

    Readout features are the spike trains filtered by the ``convolution`` kernel
    (exponential traces with time constant ``feature_tau``, or spike counts in bins),
    sampled at the end of each of ``n_bins`` equal time bins. The readout is ridge
    regression onto one-hot class targets; :meth:`predict` returns the arg-max class.

    The exact update, per batch row and step ``t`` (``v`` starts at 0)::

        v = v * exp(-dt / tau) + input_spikes[t] @ input_weights + spikes[t-1] @ reservoir_weights
        spikes[t] = v > threshold
        v[spikes[t] != 0] = v_reset

    (no recurrent term at ``t = 0``; sums over spiking rows in ascending index order). In
    Brian2: ``dv/dt = -v/tau`` (method ``exact``), threshold ``v > threshold``, reset
    ``v = v_reset``, input ``SpikeGeneratorGroup(..., when='start')`` and both the input and
    the recurrent ``Synapses(on_pre='v += w')`` scheduled ``when='before_thresholds'``. Per
    step this is snnTorch's ``snn.Leaky(beta=exp(-dt/tau), threshold=threshold,
    reset_mechanism="zero", reset_delay=False)`` neuron (``v_reset = 0``) fed the summed
    input and recurrent current (snnTorch's default ``reset_delay=True`` resets one step
    late and drops that step's input).

    With ``neuron="lif"`` the liquid is a :class:`neurojit.LIFNetwork` instead (API.md section 7):
    refractory periods, exponential synaptic currents (type 0 from excitatory, type 1 from
    inhibitory neurons, time constants ``tau_syn``), a constant ``bias``, and its synapses stored
    compressed by source (no ``(N, N)`` matrix is kept). Per step: ``tau dv/dt = v_rest - v + bias +
    I_exc + I_inh`` integrated exactly (``v`` frozen while refractory), spike where ``v > threshold``,
    the spikes of this step (inputs and neurons) add their weights to their targets' currents,
    then ``v = v_reset``. ``LSM_PRESETS["maass2002"]`` sets it up after Maass, Natschlaeger & Markram
    (2002). Background noise spikes then add ``noise_weight`` to the excitatory current.

    Parameters
    ----------
    n_inputs : int
        Input channels ``I``.
    n_neurons : int
        Liquid size ``N``.
    dt, tau : float
        Time step and membrane time constant (seconds).
    threshold : float
        Firing threshold (the same for every neuron).
    v_reset : float
        Membrane potential after a spike.
    input_connectivity, connectivity : float in (0, 1]
        Probability of an input->neuron and of a neuron->neuron synapse (no self-synapses).
    input_weight : float
        Input synapses are uniform in ``[0.5, 1.5] * input_weight``.
    recurrent_weight : float
        Excitatory synapses are uniform in ``[0.5, 1.5] * recurrent_weight``.
    inhibition : float
        Inhibitory synapses are ``-inhibition`` times an excitatory draw.
    excitatory_fraction : float in [0, 1]
    noise_rate : float
        Rate (Hz) of independent background Poisson spikes into every neuron, each adding
        ``noise_weight`` to its membrane; 0 (default) for a deterministic liquid. The
        background spikes are drawn from ``key`` (see :meth:`run` and :meth:`step`): an int
        seeds each step apart (from the seed and the step index), so :meth:`run` and
        :meth:`step` with the same int give the same spikes.
    noise_weight : float
    neuron : {"delta", "lif"}
        The liquid's neuron: the delta-synapse LIF above (default), or a :class:`~neurojit.LIFNetwork`.
    refractory : float or (float, float)
        ``neuron="lif"``: refractory period (seconds), or one for excitatory and one for inhibitory neurons.
    tau_syn : float or (float, float)
        ``neuron="lif"``: time constants of the currents from excitatory and from inhibitory neurons.
    bias, v_rest : float
        ``neuron="lif"``: constant input (in units of ``v``) and resting potential.
    v_init : (float, float) or None
        ``neuron="lif"``: each neuron starts from a value drawn once (from ``seed``) uniformly in
        this range, the same for every sequence; None: from ``v_rest``.
    topology : {"random", "column"}
        ``neuron="lif"``: synapses with probability ``connectivity``, or Maass et al.'s column:
        neurons on a 3 x 3 x ceil(N/9) grid, E/I at random, ``C * exp(-(D / column_lambda)^2)``
        with ``C`` from ``column_connectivity`` (EE, EI, IE, II; "EI" = from E onto I).
    column_lambda : float
    column_connectivity : (float, float, float, float)
    recurrent_means, input_means : tuples or None
        ``neuron="lif"``: mean weight magnitudes (EE, EI, IE, II) and (input onto E, onto I); None:
        ``recurrent_weight`` (``inhibition`` times it from inhibitory neurons) and ``input_weight``.
    weight_cv : float or None
        ``neuron="lif"``: weights gamma distributed with this coefficient of variation; None:
        uniform in ``[0.5, 1.5]`` times the mean, as with ``neuron="delta"``.
    features : {"traces", "counts"}
        Exponentially filtered spike trains, or spike counts over the ``T // n_bins``
        steps up to each sampling point.
    feature_tau : float
        Time constant of the traces (seconds).
    n_bins : int
        Feature sampling points per sequence (ends of equal bins).
    ridge : float
        Readout regularisation.
    seed : int, numpy.random.Generator or None
        Source of the weights (and of background noise when no ``key`` is given).
    dtype : numpy dtype
        float64 (default) or float32.
    compiler : JITCompiler, optional
        Supplies the kernels; the global compiler when omitted.
    """

    def __init__(
        self,
        n_inputs: int = 40,
        n_neurons: int = 200,
        *,
        dt: float = 1e-3,
        tau: float = 0.02,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        input_connectivity: float = 0.2,
        connectivity: float = 0.1,
        input_weight: float = 0.6,
        recurrent_weight: float = 0.1,
        inhibition: float = 4.0,
        excitatory_fraction: float = 0.8,
        noise_rate: float = 0.0,
        noise_weight: float = 0.5,
        neuron: str = "delta",
        refractory: float | tuple[float, float] = 0.0,
        tau_syn: float | tuple[float, float] = (5e-3, 10e-3),
        bias: float = 0.0,
        v_rest: float = 0.0,
        v_init: tuple[float, float] | None = None,
        topology: str = "random",
        column_lambda: float = 2.0,
        column_connectivity: tuple[float, float, float, float] = (0.3, 0.2, 0.4, 0.1),
        recurrent_means: tuple[float, float, float, float] | None = None,
        input_means: tuple[float, float] | None = None,
        weight_cv: float | None = None,
        features: str = "traces",
        feature_tau: float = 0.03,
        n_bins: int = 5,
        ridge: float = 1000.0,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float64,
        compiler: Any = None,
    ):
        self.n_inputs, self.n_neurons = integer("n_inputs", n_inputs, 1), integer("n_neurons", n_neurons, 1)
        self.n_bins = integer("n_bins", n_bins, 1)
        self.dt = real("dt", dt, 0, open_low=True)
        self.tau = real("tau", tau, 0, open_low=True)
        self.feature_tau = real("feature_tau", feature_tau, 0, open_low=True)
        self.threshold, self.v_reset = real("threshold", threshold), real("v_reset", v_reset)
        input_connectivity = real("input_connectivity", input_connectivity, 0, 1, open_low=True)
        connectivity = real("connectivity", connectivity, 0, 1, open_low=True)
        input_weight = real("input_weight", input_weight)
        recurrent_weight = real("recurrent_weight", recurrent_weight)
        inhibition = real("inhibition", inhibition)
        excitatory_fraction = real("excitatory_fraction", excitatory_fraction, 0, 1)
        self.noise_rate = real("noise_rate", noise_rate, 0)
        self.noise_weight = real("noise_weight", noise_weight)
        if not isinstance(features, str) or features not in ("traces", "counts"):
            raise ValueError(f"features must be 'traces' or 'counts', got {features!r}")
        self.features = features
        self.readout = RidgeReadout(ridge)
        if neuron not in ("delta", "lif"):
            raise ValueError(f"neuron must be 'delta' or 'lif', got {neuron!r}")
        if topology not in ("random", "column"):
            raise ValueError(f"topology must be 'random' or 'column', got {topology!r}")
        if neuron == "delta" and topology != "random":
            raise ValueError("topology='column' needs neuron='lif'")
        self.neuron = neuron
        self.dtype, self.compiler = dtype_and_compiler(dtype, compiler)
        self._network = self.compiler.compile_lif_network_kernel()
        self._continue = self.compiler.kernel("lif_network_continue")
        self._convolution = self.compiler.compile_convolution_kernel()

        rng = np.random.default_rng(seed)
        n, i = self.n_neurons, self.n_inputs
        self.network = None
        if neuron == "lif":
            self._build_network(rng, input_connectivity, connectivity, input_weight, recurrent_weight, inhibition,
                                excitatory_fraction, refractory, tau_syn, bias, v_rest, v_init, topology,
                                column_lambda, column_connectivity, recurrent_means, input_means, weight_cv)
            self._noise_rng = np.random.default_rng(rng.integers(2**63))
            self.classes_ = None
            return
        w_in = np.where(rng.random((i, n)) < input_connectivity, rng.uniform(0.5, 1.5, (i, n)), 0.0) * input_weight
        mask = rng.random((n, n)) < connectivity
        np.fill_diagonal(mask, False)
        w_rec = np.where(mask, rng.uniform(0.5, 1.5, (n, n)), 0.0) * recurrent_weight
        self.excitatory = np.arange(n) < round(excitatory_fraction * n)
        w_rec[~self.excitatory] *= -inhibition  # rows are presynaptic: Dale's law per row
        self.input_weights = w_in.astype(self.dtype)
        self.reservoir_weights = w_rec.astype(self.dtype)
        self._noise_rng = np.random.default_rng(rng.integers(2**63))
        self.classes_: np.ndarray | None = None

    def _build_network(self, rng, input_connectivity, connectivity, input_weight, recurrent_weight, inhibition,
                       excitatory_fraction, refractory, tau_syn, bias, v_rest, v_init, topology, column_lambda,
                       column_connectivity, recurrent_means, input_means, weight_cv) -> None:
        """The ``neuron="lif"`` liquid: a LIFNetwork with sparse synapses (see the class notes)."""
        from ..network import LIFNetwork

        n, n_in = self.n_neurons, self.n_inputs
        pair = lambda name, x: tuple(float(v) for v in (x if np.ndim(x) else (x, x)))  # noqa: E731
        refractory, tau_syn = pair("refractory", refractory), pair("tau_syn", tau_syn)
        if len(refractory) != 2 or len(tau_syn) != 2:
            raise ValueError("refractory and tau_syn take one value or two (excitatory, inhibitory)")
        if weight_cv is not None and not (math.isfinite(weight_cv) and weight_cv > 0):
            raise ValueError(f"weight_cv must be positive, got {weight_cv}")
        if column_lambda <= 0 or not all(0 <= c <= 1 for c in column_connectivity) or len(column_connectivity) != 4:
            raise ValueError("column_lambda must be > 0 and column_connectivity four probabilities (EE, EI, IE, II)")
        n_exc = round(excitatory_fraction * n)
        if topology == "column":  # E/I at random places of the column
            excitatory = np.zeros(n, bool)
            excitatory[rng.permutation(n)[:n_exc]] = True
            grid = np.stack(np.unravel_index(np.arange(n), (3, 3, -(-n // 9)), order="F"), axis=1).astype(float)
            distance2 = ((grid[:, None, :] - grid[None, :, :]) ** 2).sum(axis=2)
            c = np.asarray(column_connectivity, float).reshape(2, 2)  # [from E/I, onto E/I]
            probability = c[(~excitatory).astype(int)[:, None], (~excitatory).astype(int)[None, :]]
            probability = probability * np.exp(-distance2 / column_lambda ** 2)
        else:
            excitatory = np.arange(n) < n_exc
            probability = np.full((n, n), float(connectivity))
        np.fill_diagonal(probability, 0.0)
        pre, post = np.nonzero(rng.random((n, n)) < probability)  # sorted by source: Brian2's order
        if recurrent_means is None:
            recurrent_means = (recurrent_weight, recurrent_weight, inhibition * recurrent_weight,
                               inhibition * recurrent_weight)
        if input_means is None:
            input_means = (input_weight, input_weight)
        means = np.asarray(recurrent_means, float).reshape(2, 2)[(~excitatory[pre]).astype(int),
                                                                 (~excitatory[post]).astype(int)]

        def draw(mean):
            if weight_cv is None:
                return rng.uniform(0.5, 1.5, mean.shape) * mean
            shape = 1.0 / weight_cv ** 2
            return rng.gamma(shape, 1.0, mean.shape) * (mean / shape)

        weights = draw(means) * np.where(excitatory[pre], 1.0, -1.0)  # Dale's law per source
        in_pre, in_post = np.nonzero(rng.random((n_in, n)) < input_connectivity)
        in_weights = draw(np.where(excitatory[in_post], input_means[0], input_means[1]))
        net = LIFNetwork(n, dt=self.dt, tau_m=self.tau, v_threshold=self.threshold, v_reset=self.v_reset,
                         v_rest=v_rest, bias=bias, refractory=np.where(excitatory, *refractory), tau_syn=tau_syn,
                         dtype=self.dtype, compiler=self.compiler)
        net.connect(pre, post, weights, syn_type=(~excitatory[pre]).astype(np.int64))
        n_channels = n_in + (n if self.noise_rate > 0 else 0)  # background spikes: one channel per neuron
        net.connect_input(n_channels, in_pre, in_post, in_weights)
        if self.noise_rate > 0:
            net.connect_input(n_channels, n_in + np.arange(n), np.arange(n), self.noise_weight)
        self.network, self.excitatory = net, excitatory
        self.input_weights = self.reservoir_weights = None
        self.synapses = {"pre": pre, "post": post, "weight": weights, "input_pre": in_pre, "input_post": in_post,
                         "input_weight": in_weights}
        v0 = np.full(n, float(v_rest)) if v_init is None else rng.uniform(v_init[0], v_init[1], n)
        self.initial_v = v0.astype(self.dtype)

    # -- simulation -----------------------------------------------------------------------

    @property
    def _driven_weights(self) -> np.ndarray:
        """Input weights with one extra row per neuron for background spikes (when noisy)."""
        if self.noise_rate == 0:
            return self.input_weights
        noise = np.eye(self.n_neurons, dtype=self.dtype) * self.dtype.type(self.noise_weight)
        return np.vstack([self.input_weights, noise])

    def _noise_generator(self, key: int | np.random.Generator | None) -> np.random.Generator:
        if key is None:
            return self._noise_rng
        return key if isinstance(key, np.random.Generator) else np.random.default_rng(key)

    def _uniforms(self, key: int | np.random.Generator | None, batch: int, steps: int, first: int = 0) -> np.ndarray:
        """Uniform draws ``[steps, batch, N]`` for background spikes of steps ``first, first + 1, ...``.

        An int ``key`` gives step ``i`` its own generator, ``numpy.random.default_rng([key, i])``;
        any other key is one stream drawn in step order (``None``: the model's own generator).
        """
        if not _is_seed(key):
            return self._noise_generator(key).random((steps, batch, self.n_neurons))
        if key < 0 or first < 0:
            raise ValueError(
                f"an int key must be >= 0 and the step at t >= 0 (key {key}, step {first}); "
                "pass a numpy.random.Generator instead"
            )
        out = np.empty((steps, batch, self.n_neurons))
        for i in range(steps):
            out[i] = np.random.default_rng([int(key), first + i]).random((batch, self.n_neurons))
        return out

    def run(self, input_spikes: Any, key: int | np.random.Generator | None = None) -> np.ndarray:
        """Simulate the liquid over whole sequences in one kernel call.

        Parameters
        ----------
        input_spikes : array_like, shape (B, T, I) or (T, I)
            Input spikes (non-zero = spike); each batch row starts from rest (``v = 0``).
        key : int, numpy.random.Generator or None
            Only used when ``noise_rate > 0``: the source of the background spikes. A
            Generator is drawn as ``key.random((T, B, N)) < noise_rate * dt`` (step by step,
            in the order :meth:`step` draws them). An int seeds each step ``i`` apart:
            ``default_rng([key, i]).random((B, N)) < noise_rate * dt``, exactly as
            :meth:`step` with that int at ``t = i * dt``. ``None`` uses the model's own
            generator.

        Returns
        -------
        numpy.ndarray, shape (B, T, N) or (T, N)
            Liquid spikes, 0/1, in the model's dtype.
        """
        spikes, single = _as_batch("input_spikes", input_spikes, self.n_inputs)
        spikes = spikes.astype(self.dtype)
        if self.noise_rate > 0:
            batch, steps, _ = spikes.shape
            noise = self._uniforms(key, batch, steps) < self.noise_rate * self.dt
            spikes = np.concatenate([spikes, noise.transpose(1, 0, 2).astype(self.dtype)], axis=2)
        if self.network is not None:
            out, _ = self.network.run(spikes, self.network.initial_state(spikes.shape[0], v=self.initial_v),
                                      record="dense")
            out = out.astype(self.dtype)
        else:
            out = self._network(
                spikes, self._driven_weights, self.reservoir_weights, self.threshold, self.dt, self.tau, self.v_reset
            )
        return out[0] if single else out

    def init_state(self, batch_size: int = 1) -> LSMState:
        """A state at rest (``v = 0``, no spikes) for ``batch_size`` independent liquids, at ``t = 0``
        (``neuron="lif"``: ``v`` from ``initial_v``, no current, nothing refractory)."""
        zeros = np.zeros((batch_size, self.n_neurons), self.dtype)
        if self.network is not None:
            network_state = self.network.initial_state(batch_size, v=self.initial_v)
            return LSMState(NeuronState(network_state.v, zeros, network_state), None, None, 0.0)
        return LSMState(NeuronState(zeros, zeros.copy()), self.input_weights, self.reservoir_weights, 0.0)

    def step(
        self, state: LSMState, input_spikes: Any, dt: float, t: float, key: int | np.random.Generator | None = None
    ) -> LSMState:
        """Advance ``state`` by one step of length ``dt``; returns a new state.

        The update is the one :meth:`run` computes (same order of additions, so the spikes
        agree exactly): ``v = v * exp(-dt/tau) + input_spikes @ input_weights +
        spikes_prev @ reservoir_weights``; neurons with ``v > threshold`` spike and are reset.

        Parameters
        ----------
        state : LSMState
            Uses ``state.neuron_state`` and the weights it carries.
        input_spikes : array_like, shape (B, I), or (I,) when B = 1
        dt : float
            Step length (seconds); the membrane decays by ``exp(-dt / tau)``.
        t : float
            Time at the start of the step; the returned state has ``t + dt``. The dynamics
            do not depend on it (only with an int ``key``: it picks the step's noise seed).
        key : int, numpy.random.Generator or None
            Only used when ``noise_rate > 0``: the source of the background spikes.
            A Generator: ``key.random((B, N)) < noise_rate * dt``; pass the same Generator to
            successive steps to reproduce :meth:`run` with an equally seeded Generator.
            An int: the step's own generator ``default_rng([key, round(t / dt)])`` (the seed
            and the step index), so successive steps with the same int get fresh noise and
            reproduce :meth:`run` with that int. ``None`` uses the model's own generator.

        Returns
        -------
        LSMState
        """
        v_prev, spikes_prev = state.neuron_state.v, state.neuron_state.spikes
        batch = v_prev.shape[0]
        inputs = _spike_array("input_spikes", input_spikes)
        if inputs.ndim == 1:
            inputs = inputs[None]
        width = self.n_inputs if state.input_weights is None else state.input_weights.shape[0]
        if inputs.shape != (batch, width):
            raise ValueError(f"input_spikes must be ({batch}, {width}), got {np.shape(input_spikes)}")
        dt = real("dt", dt, 0, open_low=True)
        t = real("t", t)
        dtype = self.dtype
        if self.network is not None:  # one step of the network from its state (run's arithmetic)
            if not math.isclose(dt, self.dt, rel_tol=1e-12):
                raise ValueError(f"dt must be the liquid's own dt = {self.dt} with neuron='lif', got {dt}")
            inputs = inputs != 0
            if self.noise_rate > 0:
                index = round(float(t) / dt) if _is_seed(key) else 0
                noise = self._uniforms(key, batch, 1, index)[0] < self.noise_rate * dt
                inputs = np.concatenate([inputs, noise], axis=1)
            out, network_state = self.network.run(inputs[:, None, :], state.neuron_state.network, record="dense")
            neuron_state = NeuronState(network_state.v, out[:, 0].astype(dtype), network_state)
            return replace(state, neuron_state=neuron_state, t=float(t) + dt)
        inputs = inputs.astype(dtype)
        w_in = state.input_weights.astype(dtype, copy=False)
        if self.noise_rate > 0:
            index = round(float(t) / dt) if _is_seed(key) else 0
            noise = self._uniforms(key, batch, 1, index)[0] < self.noise_rate * dt
            inputs = np.concatenate([inputs, noise.astype(dtype)], axis=1)
            w_in = np.vstack([w_in, np.eye(self.n_neurons, dtype=dtype) * dtype.type(self.noise_weight)])
        # one step of the lif_run loop, continued from this state (the arithmetic of run)
        _, v, fired = self._continue(
            inputs[:, None, :], w_in, state.reservoir_weights, self.threshold, v_prev, spikes_prev, dt, self.tau,
            self.v_reset,
        )
        neuron_state = NeuronState(v, fired)
        return replace(state, neuron_state=neuron_state, t=float(t) + dt)

    # -- readout --------------------------------------------------------------------------

    def _feature_taps(self, n_steps: int) -> np.ndarray:
        if self.features == "counts":
            return np.ones(max(1, n_steps // self.n_bins), self.dtype)
        length = max(1, min(n_steps, int(math.ceil(5 * self.feature_tau / self.dt))))
        return np.exp(-np.arange(length) * self.dt / self.feature_tau).astype(self.dtype)

    def features_from_spikes(self, liquid_spikes: np.ndarray) -> np.ndarray:
        """Readout features ``[B, n_bins * N]`` of liquid spikes ``[B, T, N]`` (see the class notes)."""
        liquid_spikes = _spike_array("liquid_spikes", liquid_spikes)
        if liquid_spikes.ndim != 3 or liquid_spikes.shape[0] == 0:
            raise ValueError(f"liquid_spikes must be (B, T, N) with B >= 1, got shape {liquid_spikes.shape}")
        steps = liquid_spikes.shape[1]
        if steps < self.n_bins:
            raise ValueError(f"sequences need at least n_bins = {self.n_bins} steps, got {steps}")
        filtered = self._convolution(liquid_spikes, self._feature_taps(steps))
        ends = (np.arange(1, self.n_bins + 1) * steps) // self.n_bins - 1
        return filtered[:, ends, :].reshape(liquid_spikes.shape[0], -1).astype(np.float64)

    def transform(self, input_spikes: Any, key: int | np.random.Generator | None = None) -> np.ndarray:
        """Run the liquid on ``input_spikes[B, T, I]`` (B >= 1) and return the readout features ``[B, F]``."""
        spikes, _ = _as_batch("input_spikes", input_spikes, self.n_inputs, nonempty=True)
        return self.features_from_spikes(self.run(spikes, key))

    def fit(self, input_spikes: Any, labels: Any, key: int | np.random.Generator | None = None) -> "LiquidStateMachine":
        """Train the readout to classify sequences ``input_spikes[B, T, I]`` with ``labels[B]``.

        Returns
        -------
        LiquidStateMachine
            ``self``.
        """
        labels = np.asarray(labels)
        spikes, _ = _as_batch("input_spikes", input_spikes, self.n_inputs, nonempty=True)
        if labels.shape != (spikes.shape[0],):
            raise ValueError(f"labels must be ({spikes.shape[0]},), got {labels.shape}")
        self.classes_, index = np.unique(labels, return_inverse=True)
        one_hot = np.eye(self.classes_.size)[index]
        self.readout.fit(self.transform(spikes, key), one_hot)
        return self

    def decision_function(self, input_spikes: Any, key: int | np.random.Generator | None = None) -> np.ndarray:
        """Readout outputs ``[B, n_classes]`` (one score per class)."""
        if self.classes_ is None:
            raise RuntimeError("the readout is not fitted; call fit first")
        return self.readout.predict(self.transform(input_spikes, key))

    def predict(self, input_spikes: Any, key: int | np.random.Generator | None = None) -> np.ndarray:
        """Predicted class of each sequence, shape ``(B,)``."""
        return self.classes_[np.argmax(self.decision_function(input_spikes, key), axis=1)]

    def score(self, input_spikes: Any, labels: Any, key: int | np.random.Generator | None = None) -> float:
        """Classification accuracy on ``input_spikes[B, T, I]`` with true ``labels[B]``."""
        return float(np.mean(self.predict(input_spikes, key) == np.asarray(labels)))
