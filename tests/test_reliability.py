"""Reliability faults of issue #13: fork, atexit, damaged AOT builds, malformed manifests,
odd cache entries, scalar overflow, model argument checks and the trust model of the JIT cache.

Anything that could hang or crash the test process runs in a subprocess of its own, in a
new session, killed with its whole process group when it overruns its timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import neurojit
from neurojit import JITCompiler, JITConfig

from conftest import REPO_ROOT, backend_params

POSIX = hasattr(os, "fork")


def run_isolated(code: str, *, timeout: float = 180, cwd: Path | None = None, env: dict | None = None):
    """Run ``code`` in a fresh interpreter in its own session; on timeout kill the whole
    process group (forked children included) and return None."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH")) if p)
    full_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd or REPO_ROOT, env=full_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def last_json(result) -> dict:
    assert result is not None, "the subprocess hung (killed after its timeout)"
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(lines[-1])


# -- item 1: fork after use; item 8: atexit -------------------------------------------------

#: A compiler on BACKEND whose LIF kernel splits its batch (AOT: over threads, JIT: prange),
#: and the results of a small parameter sweep computed in this process first.
SPLIT_CALLS = """
    import json, multiprocessing, os, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() of a multi-threaded process
    from neurojit.backends import threads
    threads.available_cores = lambda: 4  # the AOT backend splits the batch even on one core
    from neurojit import JITCompiler, JITConfig
    compiler = JITCompiler(JITConfig(backend={backend!r}, cache_directory={cache!r}, enable_parallel_loops=True))
    kernel = compiler.compile_spike_processing_kernel()
    assert kernel.backend == {backend!r}
    rng = np.random.default_rng(0)
    spikes = (rng.random((8, 200, 100)) < 0.05).astype(np.float64)  # 160,000 outputs: split in 4
    weights = rng.standard_normal((100, 100))
    THRESHOLDS = (0.3, 0.6, 0.9, 1.2)

    def trial(threshold):
        return kernel(spikes, weights, threshold, 1e-3)

    expected = [trial(t) for t in THRESHOLDS]  # the parent uses the kernel (threads, OpenMP) first
"""


@pytest.mark.skipif(not POSIX, reason="os.fork is POSIX only")
@pytest.mark.parametrize("backend", backend_params())
def test_kernel_works_in_a_forked_child_after_a_split_call(backend, cache_dir):
    code = SPLIT_CALLS.format(backend=backend, cache=str(cache_dir)) + """
    pid = os.fork()
    if pid == 0:
        ok = all((trial(t) == e).all() for t, e in zip(THRESHOLDS, expected))
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    again = all((trial(t) == e).all() for t, e in zip(THRESHOLDS, expected))
    print(json.dumps({"child": os.waitstatus_to_exitcode(status), "parent_after_fork": bool(again)}))
    """
    assert last_json(run_isolated(code, timeout=90)) == {"child": 0, "parent_after_fork": True}


@pytest.mark.skipif(not POSIX, reason="the fork start method is POSIX only")
@pytest.mark.parametrize("backend", backend_params())
def test_fork_pool_parameter_sweep_just_works(backend, cache_dir):
    code = SPLIT_CALLS.format(backend=backend, cache=str(cache_dir)) + """
    with multiprocessing.get_context("fork").Pool(2) as pool:
        swept = pool.map(trial, THRESHOLDS)
    print(json.dumps({"equal": [bool((s == e).all()) for s, e in zip(swept, expected)]}))
    """
    assert last_json(run_isolated(code, timeout=90)) == {"equal": [True] * 4}


@pytest.mark.parametrize("backend", backend_params())
def test_batch_split_call_in_an_atexit_handler(backend, cache_dir):
    code = SPLIT_CALLS.format(backend=backend, cache=str(cache_dir)) + """
    import atexit

    def at_exit():
        print(json.dumps({"equal": bool((trial(THRESHOLDS[0]) == expected[0]).all())}), flush=True)

    atexit.register(at_exit)
    """
    result = run_isolated(code, timeout=90)
    assert last_json(result) == {"equal": True}
    assert "Exception ignored" not in result.stderr, result.stderr
