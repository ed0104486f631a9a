"""Brian2's STDP example (Song, Miller & Abbott 2000) on :class:`neurojit.LIFNetwork`; ``neurojit demo --stdp``.

1000 Poisson inputs at 15 Hz drive one leaky integrate-and-fire neuron through plastic
synapses (pair-based additive STDP, a little more depression than potentiation). The weights
start uniform in ``[0, w_max]``; over about 100 s of network time they split towards 0 and
``w_max``, the bimodal distribution of Song et al. (2000) that Brian2's
``examples/synapses/STDP.py`` plots.

The model is that example made current-based, as ``tools/brian2_fixtures.py`` builds it for
``tests/data/brian2_stdp.npz`` (``dv/dt = (ge + El - v) / taum`` with ``ge`` in volts; the weights
and trace amplitudes times a driving force of 60 mV): :data:`SONG2000` holds the same floats, and
with Brian2's input spikes and initial weights handed over, :func:`song2000_network` gives
Brian2's output spikes and final weights bit for bit (``tests/test_stdp_demo.py``). Here the
inputs and initial weights are drawn from one seeded ``numpy.random.Generator``
(:func:`poisson_events`), ``CHUNK_STEPS`` steps at a time, and the network runs chunk after
chunk (``run(T1)`` then ``run(T2, state)`` is one run of ``T1 + T2``, bit for bit), so memory
stays bounded however long the run.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np

from .._version import DISTRIBUTION

_SCALE = 0.060  # volts: the driving force Ee - v of the conductance-based original, near v = -60 mV
_G_MAX = 0.01 * _SCALE
_D_PRE = 0.01
_D_POST = -_D_PRE * 20e-3 / 20e-3 * 1.05  # the example's dApost = -dApre * taupre / taupost * 1.05

#: Brian2's STDP example, current-based (SI units): the floats of ``tests/data/brian2_stdp.npz``
SONG2000 = dict(
    n_inputs=1000, input_rate=15.0, dt=1e-4, tau_m=10e-3, tau_syn=5e-3, v_rest=-74e-3, v_threshold=-54e-3,
    v_reset=-60e-3, v0=0.0, tau_pre=20e-3, tau_post=20e-3, a_pre=_D_PRE * _G_MAX, a_post=_D_POST * _G_MAX,
    w_min=0.0, w_max=_G_MAX,
)

#: steps drawn and run at a time (10 s at dt = 0.1 ms)
CHUNK_STEPS = 100_000
#: bins of the printed histogram of ``w / w_max`` over ``[0, 1]``
BINS = 10


def poisson_events(n_inputs: int, rate: float, dt: float, n_steps: int, rng: np.random.Generator):
    """Independent Bernoulli(``rate * dt``) spikes per channel and step (Brian2's ``PoissonGroup``).

    Drawn as geometric gaps between spikes (the cost grows with the spikes, not with
    ``n_inputs * n_steps``).

    Parameters
    ----------
    n_inputs : int
        Channels.
    rate : float
        Rate of each channel (Hz), with ``0 < rate * dt <= 1``.
    dt : float
        Time step (seconds).
    n_steps : int
        Steps.
    rng : numpy.random.Generator
        Where the gaps come from.

    Returns
    -------
    SpikeEvents
        Sorted by ``(step, channel)``, ``n_steps`` and ``n_channels`` set.
    """
    from ..network import SpikeEvents

    p = rate * dt
    if not 0 < p <= 1:
        raise ValueError(f"rate * dt must be in (0, 1], got {p}")
    m = int(n_steps * p * 1.2) + 64
    steps = np.cumsum(rng.geometric(p, (n_inputs, m)), axis=1) - 1
    while n_inputs and (steps[:, -1] < n_steps).any():  # rarely: a channel needs more gaps
        more = np.cumsum(rng.geometric(p, (n_inputs, m)), axis=1) + steps[:, -1:]
        steps = np.concatenate((steps, more), axis=1)
    channel, k = np.nonzero(steps < n_steps)
    step = steps[channel, k]
    order = np.lexsort((channel, step))
    return SpikeEvents(step[order], channel[order], n_steps=n_steps, n_channels=n_inputs)


def song2000_network(initial_weights: Any, compiler: Any = None, dtype: Any = "float64"):
    """The example's network with these initial weights (``(n_inputs,)`` in ``[0, w_max]``).

    Returns
    -------
    LIFNetwork
        One neuron; its one synapse group (index 0) is input channel ``j`` -> the neuron, plastic.
    """
    from ..network import STDP, LIFNetwork

    p = SONG2000
    net = LIFNetwork(1, dt=p["dt"], tau_m=p["tau_m"], v_rest=p["v_rest"], v_reset=p["v_reset"],
                     v_threshold=p["v_threshold"], tau_syn=(p["tau_syn"],), dtype=dtype, compiler=compiler)
    n = p["n_inputs"]
    net.connect_input(n, np.arange(n), np.zeros(n, np.int64), initial_weights,
                      plasticity=STDP(p["tau_pre"], p["tau_post"], p["a_pre"], p["a_post"], p["w_min"], p["w_max"]))
    return net


def run_song2000(seconds: float = 100.0, seed: int = 0, compiler: Any = None) -> dict[str, Any]:
    """Run the example for ``seconds`` of network time, inputs drawn from ``default_rng(seed)``.

    The initial weights are ``rng.random(n_inputs) * w_max`` (the example's ``rand() * gmax``),
    then each chunk's inputs are drawn from the same generator.

    Returns
    -------
    dict
        ``weights`` (final, ``(n_inputs,)``), ``initial_weights``, ``w_max``, ``output_steps``
        (the neuron's spikes, as steps), ``n_steps``, ``input_spikes``, ``draw_seconds`` and
        ``run_seconds`` (drawing the inputs, running the network), ``backend``.
    """
    p = SONG2000
    n_steps = _steps(seconds)
    rng = np.random.default_rng(seed)
    initial = rng.random(p["n_inputs"]) * p["w_max"]
    net = song2000_network(initial, compiler)
    state = net.initial_state(v=p["v0"])
    draw = run = 0.0
    outputs, inputs = [], 0
    for first in range(0, n_steps, CHUNK_STEPS):
        t0 = time.perf_counter()
        events = poisson_events(p["n_inputs"], p["input_rate"], p["dt"], min(CHUNK_STEPS, n_steps - first), rng)
        t1 = time.perf_counter()
        spikes, state = net.run(events, state)
        run += time.perf_counter() - t1
        draw += t1 - t0
        inputs += len(events)
        outputs.append(spikes.step + first)
    return {"weights": state.weights[0][0].copy(), "initial_weights": initial, "w_max": p["w_max"],
            "output_steps": np.concatenate(outputs), "n_steps": n_steps, "input_spikes": inputs,
            "draw_seconds": draw, "run_seconds": run, "backend": net._kernel.backend}


def weight_histogram(weights: Any, w_max: float, bins: int = BINS) -> np.ndarray:
    """Counts of ``weights / w_max`` in ``bins`` equal bins over ``[0, 1]`` (the last one closed)."""
    return np.histogram(np.asarray(weights) / w_max, bins, (0.0, 1.0))[0]


def format_histogram(counts: Any, width: int = 40) -> str:
    """Text bars, one line per bin of ``[0, 1]``: range, count, ``#`` scaled to the largest count."""
    counts = np.asarray(counts)
    edges = np.linspace(0.0, 1.0, counts.size + 1)
    top = max(int(counts.max()), 1) if counts.size else 1
    lines = []
    for i, count in enumerate(counts):
        close = "]" if i == counts.size - 1 else ")"
        lines.append(f"  [{edges[i]:.1f}, {edges[i + 1]:.1f}{close} {int(count):6d}  {'#' * round(width * count / top)}")
    return "\n".join(lines)


def _steps(seconds: Any) -> int:
    if isinstance(seconds, (bool, np.bool_)) or not isinstance(seconds, (int, float, np.integer, np.floating)):
        raise TypeError(f"seconds must be a number, got {type(seconds).__name__}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive, finite number, got {seconds}")
    n_steps = round(seconds / SONG2000["dt"])
    if n_steps < 1:
        raise ValueError(f"seconds must be at least one step ({SONG2000['dt']} s), got {seconds}")
    return n_steps


def run_stdp_demo(seconds: float = 100.0, plot: str | None = None, seed: int = 0, out: Any = None) -> dict[str, Any]:
    """``neurojit demo --stdp``: run the example, print the final weight histogram as text, optionally draw it.

    Parameters
    ----------
    seconds : float
        Network time (the weights need about 100 s to settle into two groups).
    plot : str, optional
        Write a figure to this file (needs matplotlib): the final ``w / w_max`` by synapse and
        its histogram (as Brian2's example draws them) and the output rate over time.
    seed : int
        Seed of the inputs and the initial weights.
    out : file-like, optional
        Where the report goes (``sys.stdout``).

    Returns
    -------
    dict
        :func:`run_song2000`'s result plus ``histogram`` (the printed counts), ``outer_fraction``
        (of the weights in the two outer bins) and ``seconds`` (the whole demo).
    """
    out = out if out is not None else sys.stdout
    start = time.perf_counter()
    result = run_song2000(seconds, seed)
    p = SONG2000
    w, w_max = result["weights"], result["w_max"]
    counts = weight_histogram(w, w_max)
    outer = float((counts[0] + counts[-1]) / counts.sum())
    initial = weight_histogram(result["initial_weights"], w_max)
    start_outer = float((initial[0] + initial[-1]) / initial.sum())
    n_steps = result["n_steps"]
    duration = n_steps * p["dt"]
    last = min(10.0, duration)
    recent = int(np.sum(result["output_steps"] >= n_steps - round(last / p["dt"])))
    print(f"Brian2's STDP example (Song, Miller & Abbott 2000), {duration:g} s of network time: {p['n_inputs']} "
          f"Poisson inputs at {p['input_rate']:g} Hz -> 1 LIF neuron, pair-based STDP (tau_pre = tau_post = "
          f"{p['tau_pre'] * 1e3:g} ms, a_post / a_pre = {p['a_post'] / p['a_pre']:g}), initial weights uniform in "
          f"[0, w_max] (seed {seed})", file=out)
    print(f"backend: network_run={result['backend']}; {result['input_spikes']:,} input spikes drawn in "
          f"{result['draw_seconds']:.2f} s, network run {result['run_seconds']:.2f} s", file=out)
    print(f"output: {result['output_steps'].size} spikes, {recent / last:.1f} Hz over the last {last:g} s", file=out)
    print(f"final w / w_max ({w.size} synapses, {counts.size} bins):", file=out)
    print(format_histogram(counts), file=out)
    print(f"the two outer bins: {100 * outer:.1f} % of the weights "
          f"({100 * start_outer:.1f} % at the start)", file=out)
    if plot:
        _plot(plot, result, duration)
        print(f"figure: {plot}", file=out)
    seconds_total = time.perf_counter() - start
    print(f"total {seconds_total:.1f} s", file=out)
    return dict(result, histogram=counts, outer_fraction=outer, seconds=seconds_total)


def _plot(path: str, result: dict[str, Any], duration: float) -> None:
    try:
        import matplotlib
    except ImportError as exc:
        raise SystemExit(f"--plot needs matplotlib: pip install '{DISTRIBUTION}[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = result["weights"] / result["w_max"]
    fig, (by_index, histogram, rate) = plt.subplots(3, 1, figsize=(8, 8))
    by_index.plot(w, ".k", markersize=3)
    by_index.set(title=f"Brian2's STDP example after {duration:g} s (Song, Miller & Abbott 2000)",
                 xlabel="synapse index", ylabel="w / w_max")
    histogram.hist(result["initial_weights"] / result["w_max"], 20, (0.0, 1.0), histtype="step", color="gray",
                   label="initial")
    histogram.hist(w, 20, (0.0, 1.0), color="tab:blue", label="final")
    histogram.set(xlabel="w / w_max", ylabel="synapses")
    histogram.legend(loc="upper center")
    bin_seconds = 1.0 if duration >= 5 else duration / 5
    dt = SONG2000["dt"]
    edges = np.arange(0.0, duration + bin_seconds / 2, bin_seconds)
    counts = np.histogram(result["output_steps"] * dt, edges)[0]
    rate.plot(edges[:-1] + bin_seconds / 2, counts / bin_seconds, color="tab:orange")
    rate.set(xlabel="time (s)", ylabel=f"output rate (Hz, {bin_seconds:g} s bins)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
