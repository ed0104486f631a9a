"""STDP speed (#12): Brian2's STDP example (current-based, 100 s) on neurojit vs Brian2's C++ loop.

    python benchmarks/stdp.py [--seconds 100] [--repeats 3]

The 1000 Poisson inputs (15 Hz) are drawn in neurojit (seeded numpy) before the run and handed over as
SpikeEvents; the run is timed warm (min over repeats, after one compile/warm-up run) and compared with
Brian2's loop time for the same 100 s model from tests/data/brian2_timings.json (Brian2 2.9 cpp_standalone,
default flags, its network.run inside main, this machine). Also the final weights' histogram (w / w_max,
10 bins) next to Brian2's 100 s run (``w_final_100s_current``; other inputs, so compared as a shape).
"""
import argparse
import json
import os
import time
from pathlib import Path

for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_name, None)

import numpy as np  # noqa: E402

from neurojit import STDP, LIFNetwork, SpikeEvents  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def poisson_inputs(n_inputs, rate, dt, n_steps, seed=2000):
    """Bernoulli(rate * dt) spikes per channel and step (Brian2's PoissonGroup), drawn as geometric gaps."""
    rng = np.random.default_rng(seed)
    p = rate * dt
    m = int(n_steps * p * 1.2) + 64
    gaps = rng.geometric(p, (n_inputs, m))
    steps = np.cumsum(gaps, axis=1) - 1
    while (steps[:, -1] < n_steps).any():  # rarely: a channel needs more gaps
        more = np.cumsum(rng.geometric(p, (n_inputs, m)), axis=1) + steps[:, -1:]
        steps = np.concatenate((steps, more), axis=1)
    channel, k = np.nonzero(steps < n_steps)
    step = steps[channel, k]
    order = np.lexsort((channel, step))
    return SpikeEvents(step[order], channel[order], n_steps=n_steps, n_channels=n_inputs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    d = np.load(DATA / "brian2_stdp.npz")
    dt, n_in = float(d["dt"]), int(d["n_inputs"])
    n_steps = int(round(args.seconds / dt))
    t0 = time.perf_counter()
    inputs = poisson_inputs(n_in, float(d["input_rate"]), dt, n_steps)
    draw = time.perf_counter() - t0
    net = LIFNetwork(1, dt=dt, tau_m=float(d["tau_m"]), v_rest=float(d["v_rest"]), v_reset=float(d["v_reset"]),
                     v_threshold=float(d["v_threshold"]), tau_syn=tuple(d["tau_syn"]))
    w_max = float(d["w_max"])
    w_init = np.random.default_rng(1).random(n_in) * w_max
    net.connect_input(n_in, np.arange(n_in), np.zeros(n_in, np.int64), w_init,
                      plasticity=STDP(float(d["tau_pre"]), float(d["tau_post"]), float(d["a_pre"]),
                                      float(d["a_post"]), 0.0, w_max))
    net.run(SpikeEvents([], [], n_steps=10, n_channels=n_in), net.initial_state(v=0.0))  # compile / load
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        spikes, state = net.run(inputs, net.initial_state(v=0.0))
        times.append(time.perf_counter() - t0)
    ours = min(times)
    w = state.weights[0][0]
    hist = np.histogram(w / w_max, 10, (0, 1))[0].tolist()
    brian = np.histogram(d["w_final_100s_current"] / w_max, 10, (0, 1))[0].tolist()
    timings = json.loads((DATA / "brian2_timings.json").read_text())
    b2 = timings.get("stdp_current_100s_default_flags", {}).get("loop_seconds")
    print(f"inputs: {len(inputs)} Poisson spikes drawn in {draw:.3f} s (not in the run time)")
    print(f"neurojit {args.seconds:g} s STDP example: {ours:.3f} s (min of {times}), {len(spikes)} output spikes")
    if b2 and args.seconds == 100:
        print(f"Brian2 C++ loop (tests/data/brian2_timings.json): {b2:.3f} s -> {b2 / ours:.1f}x "
              f"({b2 / (ours + draw):.1f}x with the input draw)")
    print(f"final w/w_max histogram, 10 bins: neurojit {hist}")
    print(f"                                  Brian2   {brian}")
    print(f"below 0.1 w_max: {np.mean(w < 0.1 * w_max):.3f} (Brian2 {np.mean(d['w_final_100s_current'] < 0.1 * w_max):.3f}); "
          f"above 0.9 w_max: {np.mean(w > 0.9 * w_max):.3f} (Brian2 {np.mean(d['w_final_100s_current'] > 0.9 * w_max):.3f})")


if __name__ == "__main__":
    main()
