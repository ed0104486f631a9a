"""neurojit against peer libraries on the same network, when they are installed.

* ReservoirPy: ``Reservoir(N, sr=0.9, lr=0.6, input_scaling=0.5, bias=0.1)`` over one
  sequence (B = 1, float64); neurojit runs ``reservoir_run`` with ReservoirPy's own
  matrices (``W.T``, ``Win.T``), and the states are checked equal before timing.
* Brian2 (``cpp_standalone``): a recurrent LIF network of N = 1000 neurons driven by
  1000 Poisson inputs (2 % per step), T = 1000 steps of 1 ms, float64, dense Gaussian input
  and recurrent weights (about 15 Hz output), scheduled as in neurojit's docs (generator ``when='start'``,
  synapses ``when='before_thresholds'``). neurojit runs ``lif_network_run`` on the same
  weights and input; the spikes are compared, and Brian2's own run time (its C++ loop,
  ``device._last_run_time``, no compilation) is set against neurojit's median call.
* snnTorch: an LIF layer, B = 8, N = 1000, T = 1000, 2 % and 10 % input, float32, written the
  fastest way snnTorch allows (one matmul for all input currents, then ``snn.Leaky`` over
  time, no autograd); neurojit runs ``spike_processing``. Spikes compared in float64 first.

Ratios are medians of interleaved runs in one process (Brian2: medians of separate
standalone runs). Brian2 2.9 needs numpy < 2.4 (its own environment; the AOT build of
neurojit runs there with numpy only). Usage::

    pip install -r benchmarks/requirements-peers.txt
    python benchmarks/peers.py [--steps 2000] [--repeats 5] [--only reservoirpy,brian2,snntorch]
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # numpy at full speed: before it loads
    os.environ.pop(_variable, None)

import argparse
import importlib.util
import statistics
import tempfile

import numpy as np

from neurojit import JITCompiler
from neurojit.bench import interleaved_medians

DT, TAU = 1e-3, 0.02


def reservoirpy_esn(units: int, steps: int, repeats: int) -> None:
    import reservoirpy
    from reservoirpy.nodes import Reservoir

    u = np.random.default_rng(0).uniform(0, 0.5, (steps, 1))
    node = Reservoir(units, sr=0.9, lr=0.6, input_scaling=0.5, bias=0.1, seed=11)
    node.run(u[:1])  # initialises W, Win and bias
    W = node.W.toarray() if hasattr(node.W, "toarray") else np.asarray(node.W)
    Win = node.Win.toarray() if hasattr(node.Win, "toarray") else np.asarray(node.Win)
    bias = np.broadcast_to(np.asarray(node.bias, dtype=float).ravel(), (units,)).copy()
    run = JITCompiler().compile_reservoir_run_kernel()
    args = (u[None], Win.T.copy(), W.T.copy(), np.zeros((1, units)), 0.6, bias)
    ours = run(*args)[0]
    node.reset()
    theirs = node.run(u)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)

    def reservoirpy_run():
        node.reset()
        node.run(u)

    medians = interleaved_medians({"neurojit": lambda: run(*args), "reservoirpy": reservoirpy_run}, repeats)
    ours_rate, theirs_rate = steps / medians["neurojit"], steps / medians["reservoirpy"]
    print(f"ESN {units:>4} units: neurojit ({run.backend}) {ours_rate:>10,.0f} steps/s, "
          f"ReservoirPy {reservoirpy.__version__} {theirs_rate:>9,.0f} steps/s -> {ours_rate / theirs_rate:.1f}x")


def lif_network(rng: np.random.Generator, n: int = 1000, steps: int = 1000, density: float = 0.02):
    """The recurrent network of the Brian2 comparison: inputs, weights and thresholds (float64)."""
    spikes = (rng.random((1, steps, n)) < density).astype(np.float64)
    w_in = rng.normal(0, 0.05, (n, n))  # balanced Gaussian weights: about 1.5 % of entries spike
    w_rec = rng.normal(0, 0.02, (n, n))
    np.fill_diagonal(w_rec, 0.0)
    return spikes, w_in, w_rec, np.full(n, 1.0)


def reservoirpy_esns(args: argparse.Namespace) -> None:
    for units in (100, 1000):
        reservoirpy_esn(units, args.steps, args.repeats)


def brian2_lif_network(args: argparse.Namespace) -> None:
    import brian2 as b2

    spikes, w_in, w_rec, thresholds = lif_network(np.random.default_rng(0))
    _, steps, n = spikes.shape
    run = JITCompiler().compile_lif_network_kernel()
    ours = run(spikes, w_in, w_rec, thresholds, DT, TAU)
    repeats = args.repeats
    ours_time = interleaved_medians({"neurojit": lambda: run(spikes, w_in, w_rec, thresholds, DT, TAU)}, repeats)

    times, theirs = [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("cpp_standalone", directory=folder, build_on_run=False)
            b2.defaultclock.dt = DT * b2.second
            t_idx, i_idx = np.nonzero(spikes[0])
            source = b2.SpikeGeneratorGroup(n, i_idx, t_idx * DT * b2.second, when="start")
            group = b2.NeuronGroup(n, "dv/dt = -v / tau : 1\nthr : 1", threshold="v > thr", reset="v = 0",
                                   method="exact", namespace={"tau": TAU * b2.second})
            group.thr = thresholds
            feed = b2.Synapses(source, group, "w : 1", on_pre="v += w")
            pre, post = np.nonzero(w_in)
            feed.connect(i=pre, j=post)
            feed.w = w_in[pre, post]
            loop = b2.Synapses(group, group, "w : 1", on_pre="v += w")
            pre, post = np.nonzero(w_rec)
            loop.connect(i=pre, j=post)
            loop.w = w_rec[pre, post]
            feed.pre.when = loop.pre.when = "before_thresholds"
            feed.pre.order, loop.pre.order = 0, 1  # input current first, as neurojit sums it
            monitor = b2.SpikeMonitor(group)
            b2.run(steps * DT * b2.second)
            b2.device.build(directory=folder, compile=True, run=True)
            times.append(b2.device._last_run_time)
            if theirs is None:
                theirs = np.zeros((steps, n))
                theirs[np.round(np.asarray(monitor.t / b2.second) / DT).astype(int), np.asarray(monitor.i)] = 1
    b2.device.reinit()
    b2.set_device("runtime")
    brian_time = statistics.median(times)
    mismatched = int(np.sum(theirs != ours[0]))
    print(f"recurrent LIF N={n} T={steps} 2 % input: neurojit ({run.backend}) {ours_time['neurojit'] * 1e3:.1f} ms, "
          f"Brian2 {b2.__version__} cpp_standalone loop {brian_time * 1e3:.1f} ms -> "
          f"{brian_time / ours_time['neurojit']:.1f}x; spikes {int(ours.sum())} vs {int(theirs.sum())}, "
          f"{mismatched} entries differ")


def snntorch_lif_layers(args: argparse.Namespace) -> None:
    for density in (0.02, 0.1):
        snntorch_lif_layer(args, density)


def snntorch_lif_layer(args: argparse.Namespace, density: float, batch: int = 8, n: int = 1000, steps: int = 1000) -> None:
    import snntorch
    import torch
    from snntorch import Leaky

    rng = np.random.default_rng(0)
    spikes = (rng.random((batch, steps, n)) < density)
    weights = rng.standard_normal((n, n)) / np.sqrt(n)
    threshold, beta = 0.5, float(np.exp(-DT / TAU))
    run = JITCompiler().compile_spike_processing_kernel()

    def snntorch_run(dtype):
        layer = Leaky(beta=beta, threshold=threshold, reset_mechanism="zero", reset_delay=False)
        with torch.no_grad():
            currents = torch.from_numpy(spikes.astype(dtype)) @ torch.from_numpy(weights.astype(dtype))
            mem = torch.zeros((batch, n), dtype=currents.dtype)
            out = torch.empty_like(currents)
            for t in range(steps):
                out[:, t], mem = layer(currents[:, t], mem)
        return out.numpy()

    # same spikes in float64 (up to threshold ties from a different summation order)
    differ = int(np.sum(snntorch_run(np.float64) != run(spikes, weights, threshold, DT, TAU)))
    s32, w32 = spikes.astype(np.float32), weights.astype(np.float32)
    medians = interleaved_medians({"neurojit": lambda: run(s32, w32, threshold, DT, TAU),
                                   "snntorch": lambda: snntorch_run(np.float32)}, args.repeats)
    print(f"LIF layer B={batch} N={n} T={steps} {density:.0%} input, float32: neurojit ({run.backend}) "
          f"{medians['neurojit'] * 1e3:.1f} ms, snnTorch {snntorch.__version__} (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads) {medians['snntorch'] * 1e3:.1f} ms -> "
          f"{medians['snntorch'] / medians['neurojit']:.1f}x; float64 spikes: {differ} entries differ")


PEERS = {
    "reservoirpy": ("ReservoirPy", reservoirpy_esns),
    "brian2": ("Brian2 (needs numpy < 2.4, own environment)", brian2_lif_network),
    "snntorch": ("snnTorch (needs torch)", snntorch_lif_layers),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="ESN steps")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated peers to run")
    args = parser.parse_args()
    for peer in args.only.split(","):
        if peer not in PEERS:
            parser.error(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
        label, compare = PEERS[peer]
        if importlib.util.find_spec(peer) is None:
            print(f"{label}: not installed, skipped (pip install -r benchmarks/requirements-peers.txt)")
        else:
            compare(args)


if __name__ == "__main__":
    main()
