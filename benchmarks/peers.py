"""neurojit against peer libraries on the same network, when they are installed.

* ReservoirPy: ``Reservoir(N, sr=0.9, lr=0.6, input_scaling=0.5, bias=0.1)`` over one
  sequence (B = 1, float64); neurojit runs ``reservoir_run`` with ReservoirPy's own
  matrices (``W.T``, ``Win.T``), and the states are checked equal before timing.
* Brian2, snnTorch: listed in ``requirements-peers.txt``; skipped with a note when absent
  (Brian2 2.9 needs numpy < 2.4, so it lives in its own environment).

Ratios are medians of interleaved runs in one process. Usage::

    pip install -r benchmarks/requirements-peers.txt
    python benchmarks/peers.py [--steps 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np

from neurojit import JITCompiler
from neurojit.bench import interleaved_medians


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("reservoirpy"):
        for units in (100, 1000):
            reservoirpy_esn(units, args.steps, args.repeats)
    else:
        print("ReservoirPy: not installed, skipped (pip install -r benchmarks/requirements-peers.txt)")
    for peer, note in (("brian2", "Brian2 (needs numpy < 2.4, own environment)"), ("snntorch", "snnTorch (needs torch)")):
        if importlib.util.find_spec(peer) is None:
            print(f"{note}: not installed, skipped")
        else:
            print(f"{note}: installed, but no comparison is written for it yet")


if __name__ == "__main__":
    main()
