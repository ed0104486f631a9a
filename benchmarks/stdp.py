"""STDP speed (#12): Brian2's STDP example (current-based, 100 s) on neurojit vs Brian2's C++ loop.

    python benchmarks/stdp.py [--seconds 100] [--repeats 3] [--seed 0]

The model, its seeded inputs (1000 Poisson channels at 15 Hz, drawn as geometric gaps, 10 s at a
time) and the run are ``neurojit.models.stdp.run_song2000`` (what ``neurojit demo --stdp`` runs).
The network run is timed warm (min over repeats, after a short compile/warm-up run; the input
draw is timed apart) and compared with Brian2's loop time for the same 100 s model from
tests/data/brian2_timings.json (Brian2 2.9 cpp_standalone, default flags, its network.run inside
main, this machine). Also the final weights' histogram (w / w_max, 10 bins) next to Brian2's 100 s
run (``w_final_100s_current``; other inputs, so compared as a shape).
"""
import argparse
import json
import os
from pathlib import Path

for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_name, None)

import numpy as np  # noqa: E402

from neurojit.models.stdp import run_song2000, weight_histogram  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"argument --repeats: must be a positive integer, got {args.repeats}")
    d = np.load(DATA / "brian2_stdp.npz")
    run_song2000(0.001, args.seed)  # compile / load
    runs = [run_song2000(args.seconds, args.seed) for _ in range(args.repeats)]
    times = [r["run_seconds"] for r in runs]
    ours, draw = min(times), min(r["draw_seconds"] for r in runs)
    result = runs[0]
    w, w_max = result["weights"], result["w_max"]
    hist = weight_histogram(w, w_max).tolist()
    brian = weight_histogram(d["w_final_100s_current"], w_max).tolist()
    timings = json.loads((DATA / "brian2_timings.json").read_text())
    b2 = timings.get("stdp_current_100s_default_flags", {}).get("loop_seconds")
    print(f"inputs: {result['input_spikes']} Poisson spikes drawn in {draw:.3f} s (not in the run time)")
    print(f"neurojit ({result['backend']}) {args.seconds:g} s STDP example: {ours:.3f} s (min of "
          f"{[round(t, 4) for t in times]}), {result['output_steps'].size} output spikes")
    if b2 and args.seconds == 100:
        print(f"Brian2 C++ loop (tests/data/brian2_timings.json): {b2:.3f} s -> {b2 / ours:.1f}x "
              f"({b2 / (ours + draw):.1f}x with the input draw)")
    print(f"final w/w_max histogram, 10 bins: neurojit {hist}")
    print(f"                                  Brian2   {brian}")
    print(f"below 0.1 w_max: {np.mean(w < 0.1 * w_max):.3f} (Brian2 {np.mean(d['w_final_100s_current'] < 0.1 * w_max):.3f}); "
          f"above 0.9 w_max: {np.mean(w > 0.9 * w_max):.3f} (Brian2 {np.mean(d['w_final_100s_current'] > 0.9 * w_max):.3f})")


if __name__ == "__main__":
    main()
