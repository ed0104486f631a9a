"""``neurojit demo``: train and score the ESN on NARMA-10 and the LSM on spike patterns.

Runs on the best available backend (the global compiler), prints the backend, the scores
and the throughput, with a progress bar (tqdm when installed, else a one-line fallback),
and optionally draws prediction vs target and a spike raster (``--plot``, matplotlib).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterator

import numpy as np

from .._version import DISTRIBUTION
from .esn import PRESETS, EchoStateNetwork
from .lsm import LiquidStateMachine
from .tasks import narma10, spike_pattern_task

#: Pattern task used by the demo (and the LSM quality test): chance is 1 / n_classes.
PATTERN_TASK = dict(n_classes=10, jitter=30e-3, rate=5.0, noise_rate=20.0, template_seed=0)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Progress:
    """Minimal stand-in for ``tqdm`` on ``stream`` (stderr): on a terminal one line, rewritten in
    place; on a file or a pipe no redraws (``\\r`` would pile up in a log), one line when done."""

    def __init__(self, total: int, desc: str, stream: Any = None):
        self.total, self.count, self.desc = total, 0, desc
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_terminal(self.stream)
        self.start = time.perf_counter()
        self._draw("")

    def _draw(self, note: str) -> None:
        if not self.live:
            return
        width = 24
        filled = width * self.count // max(self.total, 1)
        self.stream.write(f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total} {note:<28}")
        self.stream.flush()

    def set_postfix_str(self, note: str) -> None:
        self._draw(note)

    def update(self, n: int = 1) -> None:
        self.count += n
        self._draw("")

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.desc}: {self.count}/{self.total} done in {time.perf_counter() - self.start:.1f} s\n")
        self.stream.flush()


def _progress(total: int, desc: str) -> Any:
    """tqdm on a terminal when installed; else (and always on a file or pipe) :class:`_Progress`."""
    if _is_terminal(sys.stderr):
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(total=total, desc=desc, file=sys.stderr, leave=True)
    return _Progress(total, desc)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def run_demo(quick: bool = False, plot: str | None = None, seed: int = 0, out: Any = None) -> dict[str, Any]:
    """Run the demo and print a report; returns the numbers it printed.

    Parameters
    ----------
    quick : bool
        Smaller models and data (for tests): 100-unit ESN, fewer LSM samples.
    plot : str, optional
        Write a figure (ESN prediction vs target, LSM spike raster) to this file.
    seed : int
        Seed of the data and the weights.
    out : file-like, optional
        Where the report goes (``sys.stdout``).

    Returns
    -------
    dict
        ``backend``, ``esn_nrmse``, ``esn_steps_per_s``, ``lsm_accuracy``, ``lsm_chance``,
        ``lsm_steps_per_s``, ``seconds``.
    """
    from ..compiler import get_global_compiler

    out = out if out is not None else sys.stdout
    start = time.perf_counter()
    compiler = get_global_compiler()
    backends = {k: compiler.compile_reservoir_run_kernel().backend for k in ("reservoir_run",)}
    backends["lif_network_run"] = compiler.compile_lif_network_kernel().backend
    n_units = 100 if quick else 500
    n_train, n_test = (200, 100) if quick else (1000, 500)
    batch = 100
    lsm_batches = -(-n_train // batch) + -(-n_test // batch)
    bar = _progress(5 + lsm_batches, "neurojit demo")

    bar.set_postfix_str("compiling / loading kernels")
    warm = EchoStateNetwork(4, seed=seed, compiler=compiler)
    warm.run(np.zeros((2, 1)))
    LiquidStateMachine(2, 4, n_bins=1, seed=seed, compiler=compiler).transform(np.zeros((1, 2, 2)))
    compile_seconds = time.perf_counter() - start
    bar.update()

    bar.set_postfix_str("NARMA-10")
    u, y = narma10(6200, seed=seed)
    esn = EchoStateNetwork(n_units, seed=seed, compiler=compiler, **PRESETS["narma10"])
    bar.update()
    bar.set_postfix_str(f"ESN {n_units} units: train")
    t0 = time.perf_counter()
    esn.fit(u[:4200], y[:4200], warmup=200)
    bar.update()
    bar.set_postfix_str(f"ESN {n_units} units: test")
    prediction = esn.predict(u[4200:])
    esn_seconds = time.perf_counter() - t0
    esn_nrmse = float(np.sqrt(np.mean((prediction - y[4200:]) ** 2) / y[4200:].var()))
    # throughput of the reservoir alone (the readout is one matrix product)
    t0 = time.perf_counter()
    esn.run(u, reset=True)
    esn_steps_per_s = u.shape[0] / (time.perf_counter() - t0)
    bar.update()

    bar.set_postfix_str("spike patterns")
    train = spike_pattern_task(n_train, seed=seed + 1, **PATTERN_TASK)
    test = spike_pattern_task(n_test, seed=seed + 2, **PATTERN_TASK)
    lsm = LiquidStateMachine(train.spikes.shape[2], 200, seed=seed, compiler=compiler)
    bar.update()
    lsm_steps, lsm_seconds, features, liquid = 0, 0.0, [], []
    for data in (train, test):
        parts = []
        for rows in _batches(data.spikes.shape[0], batch):
            bar.set_postfix_str("LSM liquid + features")
            t0 = time.perf_counter()
            spikes = lsm.run(data.spikes[rows])
            lsm_seconds += time.perf_counter() - t0
            lsm_steps += spikes.shape[0] * spikes.shape[1]
            parts.append(lsm.features_from_spikes(spikes))
            if not liquid:
                liquid.append(spikes[0])
            bar.update()
        features.append(np.vstack(parts))
    lsm.classes_ = np.unique(train.labels)
    lsm.readout.fit(features[0], np.eye(lsm.classes_.size)[np.searchsorted(lsm.classes_, train.labels)])
    predicted = lsm.classes_[np.argmax(lsm.readout.predict(features[1]), axis=1)]
    lsm_accuracy = float(np.mean(predicted == test.labels))
    bar.close()
    seconds = time.perf_counter() - start

    result = {
        "backend": backends,
        "esn_units": n_units,
        "esn_nrmse": esn_nrmse,
        "esn_steps_per_s": esn_steps_per_s,
        "esn_fit_predict_seconds": esn_seconds,
        "lsm_accuracy": lsm_accuracy,
        "lsm_chance": test.chance,
        "lsm_steps_per_s": lsm_steps / lsm_seconds,
        "compile_seconds": compile_seconds,
        "seconds": seconds,
    }
    print(f"backend: reservoir_run={backends['reservoir_run']}, lif_network_run={backends['lif_network_run']}"
          f" (kernels ready in {compile_seconds:.2f} s)", file=out)
    print(f"ESN ({n_units} units) on NARMA-10, 200 warm-up / 4000 train / 2000 test: "
          f"test NRMSE = {esn_nrmse:.3f}; reservoir {esn_steps_per_s:,.0f} steps/s (float64, batch 1)", file=out)
    print(f"LSM (200 LIF neurons) on {PATTERN_TASK['n_classes']}-class spike patterns, {n_train} train / {n_test} test: "
          f"accuracy = {lsm_accuracy:.3f} (chance {test.chance:.3f}); liquid {result['lsm_steps_per_s']:,.0f} steps/s "
          f"(sequence steps, batch {batch})", file=out)
    if plot:
        _plot(plot, y[4200:4400, 0], prediction[:200, 0], liquid[0], lsm.dt, esn_nrmse)
        print(f"figure: {plot}", file=out)
    print(f"total {seconds:.1f} s", file=out)
    return result


def _plot(path: str, target: np.ndarray, prediction: np.ndarray, raster: np.ndarray, dt: float, score: float) -> None:
    try:
        import matplotlib
    except ImportError as exc:
        raise SystemExit(f"--plot needs matplotlib: pip install '{DISTRIBUTION}[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5))
    top.plot(target, label="target", color="black", linewidth=1.2)
    top.plot(prediction, label="ESN prediction", color="tab:orange", linewidth=1.0, linestyle="--")
    top.set(title=f"ESN on NARMA-10 (test, first 200 steps; NRMSE {score:.3f})", xlabel="step", ylabel="y")
    top.legend(loc="upper right")
    times, neurons = np.nonzero(raster)
    bottom.scatter(times * dt * 1e3, neurons, s=2, color="tab:blue")
    bottom.set(title="LSM liquid spikes (one training sample)", xlabel="time (ms)", ylabel="neuron")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
