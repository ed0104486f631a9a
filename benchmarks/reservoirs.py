"""Reservoir targets of issue #15, measured side by side in one process (interleaved medians).

1. Batch-shared loops, B = 8, N = 1000, float64: ``reservoir_run`` (AOT) against a NumPy/BLAS
   loop on a dense W (goal >= 1.0x) and against a SciPy CSR loop on a 10 % W (goal >= 2x).
2. ``neurojit.interop.reservoirpy.Reservoir.run`` against ReservoirPy 0.4.2's
   ``Reservoir.run``, one sequence, float64, the same node arguments and seed (its default
   10 % sparse W): goals >= 10x at 100 units, >= 1.5x at 1000.

States are checked equal (1e-10) before timing. Usage::

    python benchmarks/reservoirs.py [--steps 1000] [--repeat 5]
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # before numpy loads
    os.environ.pop(_name, None)

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurojit import JITCompiler, JITConfig  # noqa: E402
from neurojit.bench import blas_description, interleaved_medians  # noqa: E402


def numpy_loop(u, w_in, w, x0, a):
    x = x0
    out = np.empty(u.shape[:2] + (w.shape[1],))
    drive = u @ w_in
    for t in range(u.shape[1]):
        x = (1 - a) * x + a * np.tanh(drive[:, t] + x @ w)
        out[:, t] = x
    return out


def scipy_loop(u, w_in, w_t_csr, x0, a):
    """The obvious SciPy loop: the sparse product W @ x for all batch rows at once."""
    x = x0
    out = np.empty(u.shape[:2] + (w_t_csr.shape[0],))
    drive = u @ w_in
    for t in range(u.shape[1]):
        x = (1 - a) * x + a * np.tanh(drive[:, t] + (w_t_csr @ x.T).T)
        out[:, t] = x
    return out


def batch_shared(compiler, steps, repeat):
    import scipy.sparse

    rng = np.random.default_rng(0)
    b, n, i = 8, 1000, 10
    u = rng.normal(0, 1, (b, steps, i))
    w_in = rng.normal(0, 0.5, (i, n))
    x0 = rng.normal(0, 0.5, (b, n))
    w_dense = rng.normal(0, 0.9 / np.sqrt(n), (n, n))
    mask = rng.random((n, n)) < 0.1
    w_sparse = np.where(mask, rng.normal(0, 0.9 / np.sqrt(0.1 * n), (n, n)), 0.0)
    csr_t = scipy.sparse.csr_matrix(w_sparse.T)
    kernel = compiler.compile_reservoir_run_kernel()
    for name, w, peer, peer_w in (("dense W, NumPy/BLAS loop", w_dense, numpy_loop, w_dense),
                                  ("10 % W, SciPy CSR loop", w_sparse, scipy_loop, csr_t)):
        ours = lambda: kernel(u, w_in, w, x0, 0.3)  # noqa: E731
        theirs = lambda: peer(u, w_in, peer_w, x0, 0.3)  # noqa: E731
        np.testing.assert_allclose(ours(), theirs(), atol=1e-10)
        t = interleaved_medians({"neurojit": ours, "peer": theirs}, repeat)
        print(f"B=8 N=1000 T={steps} {name}: neurojit {b * steps / t['neurojit']:,.0f} row-steps/s, "
              f"peer {b * steps / t['peer']:,.0f}  ->  {t['peer'] / t['neurojit']:.2f}x")


def reservoirpy_node(compiler, steps, repeat):
    from reservoirpy.nodes import Reservoir as RPyReservoir

    from neurojit.interop.reservoirpy import Reservoir

    rng = np.random.default_rng(1)
    x = rng.normal(size=(steps, 3))
    for units, goal in ((100, 10.0), (1000, 1.5)):
        theirs = RPyReservoir(units, lr=0.3, sr=0.9, seed=5)
        ours = Reservoir(units, lr=0.3, sr=0.9, seed=5, compiler=compiler)
        np.testing.assert_allclose(ours.run(x), theirs.run(x), atol=1e-10)

        def run_ours():
            ours.reset()
            ours.run(x)

        def run_theirs():
            theirs.reset()
            theirs.run(x)

        t = interleaved_medians({"neurojit": run_ours, "reservoirpy": run_theirs}, repeat)
        ratio = t["reservoirpy"] / t["neurojit"]
        print(f"Reservoir.run, {units} units, T={steps}: neurojit {steps / t['neurojit']:,.0f} steps/s, "
              f"ReservoirPy {steps / t['reservoirpy']:,.0f}  ->  {ratio:.1f}x (goal {goal}x)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    compiler = JITCompiler(JITConfig(backend="aot"))
    print(f"BLAS: {blas_description()}; backend {compiler.compile_reservoir_run_kernel().backend}")
    batch_shared(compiler, args.steps, args.repeat)
    reservoirpy_node(compiler, args.steps, args.repeat)


if __name__ == "__main__":
    main()
