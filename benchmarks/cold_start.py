"""Cold start: whole-process time to import neurojit and make the first spike-kernel call.

    python benchmarks/cold_start.py [--runs 7] [--wheel dist/neurojit_kernels-...whl] [--aot-python PATH]

Each case is a fresh ``python -c ...`` process, timed from outside (start to exit), over
several runs; the medians and ratios are printed in one table. The call is the seed's
example: ``spike_processing`` on float32 spikes ``(4, 100, 50)`` (10 % ones).

* ``numpy baseline`` - ``import numpy`` and build the inputs, nothing else (numpy-only env);
* ``AOT``            - the same plus ``import neurojit`` and the first call, in a virtual
  environment holding the wheel and numpy only (no numba), backend forced to ``aot``;
* ``JIT cold``       - this interpreter (with numba) and the checkout, backend ``jit``, an
  empty cache folder every run;
* ``JIT warm``       - the same with a cache folder filled by a previous run.

Goals (issue #3): AOT <= 1.10x the baseline, >= 9x faster than JIT cold, >= 4x faster than
JIT warm. The numpy-only environment is made from ``--wheel`` (default: the newest wheel in
dist/) unless ``--aot-python`` names one.
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: the distribution name (wheel files are named after it), read without importing neurojit
DISTRIBUTION = runpy.run_path(str(REPO / "neurojit" / "_version.py"))["DISTRIBUTION"]

INPUTS = """
import numpy as np
rng = np.random.default_rng(0)
spikes = (rng.random((4, 100, 50)) < 0.1).astype(np.float32)
weights = (rng.standard_normal((50, 50)) * 0.1).astype(np.float32)
thresholds = np.full(50, 0.5, dtype=np.float32)
"""

CALL = """
from neurojit import JITCompiler, JITConfig
config = JITConfig(backend={backend!r}, cache_directory={cache!r})
out = JITCompiler(config).compile_spike_processing_kernel()(spikes, weights, thresholds, 1e-3)
assert out.shape == (4, 100, 50)
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def time_process(python: str, code: str, env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", code], env=env, cwd=cwd, check=True)
    return time.perf_counter() - start


def numpy_only_env(wheel: Path, where: Path) -> str:
    venv = where / "aot-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)
    check = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('numba', 'llvmlite')))"
    subprocess.run([python, "-c", check], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--wheel", type=Path, help="wheel for the numpy-only environment (default: newest in dist/)")
    parser.add_argument("--aot-python", help="python of an existing numpy-only environment with neurojit installed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="neurojit-cold-") as tmp:
        tmp = Path(tmp)
        aot_python = args.aot_python
        if aot_python is None:
            wheels = sorted((REPO / "dist").glob(f"{DISTRIBUTION.replace('-', '_')}-*.whl"), key=lambda p: p.stat().st_mtime)
            wheel = args.wheel or (wheels[-1] if wheels else None)
            if wheel is None:
                sys.exit("no wheel: run `python -m build` first, or pass --wheel / --aot-python")
            aot_python = numpy_only_env(wheel, tmp)
        work = tmp / "cwd"  # an empty folder: no checkout on the path of the AOT processes
        work.mkdir()
        warm_cache = str(tmp / "warm-cache")
        subprocess.run(  # fill the warm cache once
            [sys.executable, "-c", INPUTS + CALL.format(backend="jit", cache=warm_cache)],
            env=_env(PYTHONPATH=str(REPO)), cwd=work, check=True,
        )
        cases = {
            "numpy baseline": lambda i: time_process(aot_python, INPUTS, _env(), work),
            "AOT (numpy-only env)": lambda i: time_process(
                aot_python, INPUTS + CALL.format(backend="aot", cache=None), _env(), work
            ),
            "JIT cold cache": lambda i: time_process(
                sys.executable, INPUTS + CALL.format(backend="jit", cache=str(tmp / f"cold-{i}")),
                _env(PYTHONPATH=str(REPO)), work,
            ),
            "JIT warm cache": lambda i: time_process(
                sys.executable, INPUTS + CALL.format(backend="jit", cache=warm_cache), _env(PYTHONPATH=str(REPO)), work
            ),
        }
        times = {name: [] for name in cases}
        for i in range(args.runs):  # interleaved, so that drifts in machine load hit every case alike
            for name, case in cases.items():
                times[name].append(case(i))

    median = {name: statistics.median(t) for name, t in times.items()}
    aot = median["AOT (numpy-only env)"]
    print(f"cold start, spike_processing float32 (4, 100, 50), {args.runs} runs each, whole process")
    print(f"{'case':<22} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, t in times.items():
        print(f"{name:<22} {median[name]:9.3f} {min(t):7.3f} {max(t):7.3f}")
    ratios = {
        "AOT / numpy baseline": (aot / median["numpy baseline"], "<= 1.10"),
        "JIT cold / AOT": (median["JIT cold cache"] / aot, ">= 9"),
        "JIT warm / AOT": (median["JIT warm cache"] / aot, ">= 4"),
    }
    for name, (value, goal) in ratios.items():
        print(f"{name:<22} {value:9.2f}x   (goal {goal})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
