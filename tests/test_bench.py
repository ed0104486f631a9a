"""The benchmark machinery: baselines compute the same thing, the grid and CLI produce sane output."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurojit import bench
from neurojit.backends import python
from neurojit.kernel import kernel_on


@pytest.mark.parametrize("kernel", bench.PUBLIC_KERNELS)
@pytest.mark.parametrize("density", [0.05, 0.3])
def test_best_numpy_baseline_computes_the_kernel(kernel, density):
    args = bench.make_inputs(kernel, 24, np.random.default_rng(7), np.float64, density, batch=3, steps=40)
    expected = kernel_on(python, kernel)(**args)
    result = bench.BEST_NUMPY[kernel](**args)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)


def test_run_grid_rows_cover_every_contender():
    grid = {"spike_processing": ([16], [0.1]), "matrix_multiply": ([16], [0.05, 1.0])}
    rows = bench.run_grid(grid, repeats=1, batch=2, steps=10)
    contenders = set(bench.contenders())
    assert {(r.kernel, r.density) for r in rows} == {("spike_processing", 0.1), ("matrix_multiply", 0.05), ("matrix_multiply", 1.0)}
    for case in {(r.kernel, r.density) for r in rows}:
        assert {r.contender for r in rows if (r.kernel, r.density) == case} == contenders
    for r in rows:
        assert r.median_s > 0 and r.numpy_median_s > 0
        assert r.speedup_vs_numpy == pytest.approx(r.numpy_median_s / r.median_s)
    data = json.loads(bench.rows_to_json(rows, repeats=1))
    assert data["meta"] == {"repeats": 1} and len(data["rows"]) == len(rows)
    assert "spike_processing" in bench.format_rows(rows)


def test_interleaved_medians_runs_each_function_alternately(monkeypatch):
    calls = []
    bench.interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, settle_threads=False)
    assert calls == ["a", "b"] * 3
    calls.clear()  # settled: a short function is called untimed first (its own threads awake), once at least
    monkeypatch.setattr(bench, "WARM_S", 0.0)
    bench.interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 2)
    assert calls == ["a", "a", "b", "b"] * 2


def test_a_short_function_is_warmed_for_warm_s_before_it_is_timed(monkeypatch):
    import time

    monkeypatch.setattr(bench, "WARM_S", 0.01)
    calls = []

    def short():
        calls.append(time.perf_counter())
        time.sleep(0.001)

    bench.interleaved_medians({"short": short}, 1)
    # 10 ms of untimed calls (at least two: a loaded machine can stretch the 1 ms sleeps), then the timed one
    assert len(calls) >= 3 and calls[-1] - calls[0] >= 0.01


def test_settle_waits_for_a_busy_thread_of_the_process_and_not_otherwise():
    import threading
    import time

    assert bench.settle() < 0.1  # nothing else runs in this process
    stop = time.perf_counter() + 0.15

    def spin():  # as a BLAS worker does after a call
        while time.perf_counter() < stop:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        waited = bench.settle()
    finally:
        worker.join()
    assert 0.05 < waited < bench.SETTLE_MAX_S + 0.1


def test_interleaved_medians_settles_before_each_call_unless_told_not_to(monkeypatch):
    settled = []
    monkeypatch.setattr(bench, "settle", lambda: settled.append(1) or 0.0)
    monkeypatch.setattr(bench, "WARM_CALL_S", 0.0)  # no untimed call before a timed one
    monkeypatch.setattr(bench, "WARM_S", 0.0)
    calls = []
    bench.interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 2)
    assert len(settled) == 4 and calls == ["a", "a", "b", "b", "a", "b"]  # a first round's call is always warmed
    bench.interleaved_medians({"a": lambda: None, "b": lambda: None}, 2, settle_threads=False)
    assert len(settled) == 4


def test_bench_command_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "neurojit", "bench", "--quick", "--kernel", "convolution", "--repeats", "1",
         "--steps", "20", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {r["kernel"] for r in rows} == {"convolution"}
    assert bench.PYTHON_LABEL in {r["contender"] for r in rows} and "python" not in {r["contender"] for r in rows}
    assert "convolution" in result.stdout
    assert "\r" not in result.stderr  # the progress bar does not redraw into a pipe


def test_table_shows_the_numpy_reference_time_next_to_each_median():
    rows = [bench.Row("convolution", 100, 0.05, bench.PYTHON_LABEL, 0.002, 0.004, 2.0),
            bench.Row("convolution", 100, 0.05, "jit", 0.0005, 0.004, 8.0)]
    lines = bench.format_rows(rows).splitlines()
    assert "NumPy ms" in lines[1] and "speedup" in lines[1] and "reference" in lines[0]
    assert lines[2].split()[-3:] == ["2.000", "4.000", "2.00x"] and lines[3].split()[-3:] == ["0.500", "4.000", "8.00x"]
    assert f"{bench.PYTHON_LABEL} is neurojit's own NumPy backend" in lines[0]


def _cli(*args, env=None, tmp_path=None):
    import os

    full_env = dict(os.environ)
    if tmp_path is not None:  # hide matplotlib from that process: `import matplotlib` fails
        (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\n")
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "neurojit", *args], capture_output=True, text=True, timeout=300,
                          env=full_env)


@pytest.mark.parametrize(("flag", "value"), [("--batch", "-1"), ("--repeats", "0"), ("--steps", "0"), ("--batch", "0")])
def test_bench_refuses_counts_below_one_before_running(flag, value):
    result = _cli("bench", "--quick", "--kernel", "convolution", flag, value)
    assert result.returncode == 2
    assert result.stderr.strip() == f"neurojit bench: error: argument {flag}: must be a positive integer, got {value}"
    assert result.stdout == ""  # nothing was benchmarked


@pytest.mark.parametrize("command", [["bench", "--quick", "--kernel", "convolution"], ["demo", "--quick"],
                                     ["demo", "--stdp", "--quick"]])
def test_plot_without_matplotlib_fails_before_any_work(command, tmp_path):
    from neurojit._version import DISTRIBUTION

    result = _cli(*command, "--plot", str(tmp_path / "out.png"), tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert f"needs matplotlib, which is not installed: pip install '{DISTRIBUTION}[plot]'" in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_bench_plot(tmp_path):
    pytest.importorskip("matplotlib")
    rows = bench.run_grid({"convolution": ([8, 16], [0.1])}, repeats=1, batch=2, steps=10)
    bench.plot_rows(rows, str(tmp_path / "speedup.png"), dtype="float32", batch=2, steps=10, repeats=1)
    assert (tmp_path / "speedup.png").stat().st_size > 1000


def _fake_rows(kernels, sizes, densities, contenders):
    return [bench.Row(k, s, d, c, 1e-3, 1e-3 * (1 + i), 1.0 + i)
            for k in kernels for s in sizes for d in densities for i, c in enumerate(contenders)]


SEVEN = [bench.PYTHON_LABEL, "jit", "jit-parallel", "aot-x86_64_v3", "aot-x86_64_v3-threads", "aot-baseline",
         "aot-baseline-threads"]


def test_bench_plot_of_one_kernel_fills_the_figure_and_tells_series_apart():
    pytest.importorskip("matplotlib")
    rows = _fake_rows(["convolution"], [100, 500], [0.05, 0.5], SEVEN)  # 14 series
    fig = bench.figure_of_rows(rows, dtype="float64", batch=8, steps=1000, repeats=5)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 1 and len(panels) == 1  # no empty half
    lines = [line for line in panels[0].get_lines() if list(line.get_xdata()) == [100, 500]]  # not the 1x line
    assert len(lines) == 14
    styles = {(tuple(line.get_color()) if not isinstance(line.get_color(), str) else line.get_color(),
               line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(styles) == 14  # every series looks different: colour per contender, style per density
    assert len({style[0] for style in styles}) == 7
    assert panels[0].get_legend() is None and len(fig.legends) == 1  # one legend, beside the panels
    title = fig._suptitle.get_text()
    assert "float64" in title and "batch 8" in title and "1000 steps" in title and "median of 5" in title


def test_bench_plot_of_one_size_per_kernel_draws_bars():
    pytest.importorskip("matplotlib")
    kernels = ["spike_processing", "reservoir_update", "convolution", "matrix_multiply", "lif_network_run",
               "reservoir_run"]
    rows = _fake_rows(kernels, [64], [0.1], SEVEN)  # what --quick measures
    fig = bench.figure_of_rows(rows, dtype="float32", batch=8, steps=1000, repeats=5)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == len(kernels) == len(fig.axes)  # 2 x 3, none empty
    assert all(len(ax.patches) == len(SEVEN) for ax in panels)  # one bar per contender, not one point


def _run_peers(*flags):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"
    return subprocess.run([sys.executable, str(script), *flags], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("peer", ["reservoirpy", "brian2", "snntorch"])
def test_peers_benchmark_skips_a_missing_peer_or_compares_spike_for_spike(peer):
    if peer == "reservoirpy" and not hasattr(np.random.Generator, "spawn"):
        pytest.skip("reservoirpy 0.4.2 needs numpy >= 1.25 (Generator.spawn)")
    result = _run_peers("--only", peer, "--repeats", "1", "--steps", "50")
    assert result.returncode == 0, result.stderr
    if importlib.util.find_spec(peer) is None:
        assert "not installed, skipped" in result.stdout
    elif peer == "reservoirpy":
        assert result.stdout.count("steps/s") == 4
    else:
        compared = [line for line in result.stdout.splitlines() if "entries differ" in line]
        assert compared and all(line.endswith(", 0 entries differ") for line in compared), result.stdout


def test_peers_benchmark_rejects_an_unknown_peer():
    result = _run_peers("--only", "nest")
    assert result.returncode == 2 and "unknown peer 'nest'" in result.stderr


def test_bench_command_runs_numpy_at_full_speed(tmp_path):
    """`neurojit bench` unsets the variables that slow OpenBLAS (re-running itself without
    them) and says which BLAS it measured against; tests and CI keep them (this test only
    sets them for the child)."""
    out = tmp_path / "bench.json"
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="512")
    result = subprocess.run(
        [sys.executable, "-m", "neurojit", "bench", "--quick", "--kernel", "matrix_multiply", "--repeats", "1",
         "--json", str(out)], capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "NumPy measured with" in result.stdout and "forced Haswell" not in result.stdout
    assert "note: OPENBLAS_CORETYPE" not in result.stdout
    assert json.loads(out.read_text())["meta"]["blas"]


#: CUBA without Brian2 (building it takes a minute): the neurojit side, the stored Brian2 timing
CUBA_ALONE = ["--repeats", "1", "--skip-brian2", "--skip-process", "--skip-large", "--skip-threads"]

SCRIPTS = {  # every benchmark script at a tiny size: documented commands must not rot
    "call_overhead.py": ["--rounds", "2"],
    "aot_vs_jit.py": ["--repeats", "1", "--size", "16", "--steps", "5", "--batch", "2"],
    "aot_threads.py": ["--calls", "1", "--repeats", "1", "--batch", "2", "--max-threads", "2"],
    "esn_throughput.py": ["--sizes", "20", "--repeat", "1"],
    "mackey_glass_84.py": ["--networks", "1", "--trials", "2", "--units", "50", "--washout", "100", "--train", "200",
                           "--test-washout", "100"],
    "cuba.py": CUBA_ALONE,
    "cuba.py --stdp": [*CUBA_ALONE, "--stdp"],
    "stdp.py": ["--seconds", "2", "--repeats", "1"],
}
#: what a run must print (the sections asked for)
PRINTS = {
    "cuba.py": [r"1\. CUBA loop, 1 s of network time: neurojit \(\w+\) [\d.]+ ms, Brian2 C\+\+ loop [\d.]+ ms \(stored in",
                r"spikes 24300 \(Brian2 24300\), 0 differ from the fixture"],
    "cuba.py --stdp": [r"5\. CUBA \+ STDP on the 204,748 E->E synapses, 1 s: no Brian2 here",
                       r"per-synapse traces: neurojit \(\w+\) [\d.]+ ms", r"per-neuron traces: neurojit \(\w+\) [\d.]+ ms",
                       r"spikes: neurojit \d+, per-synapse traces \d+ \(0 differ\)", r"final w / w_max: mean 0\.\d+"],
    "stdp.py": [r"2 s STDP example: [\d.]+ s", r"final w/w_max histogram, 10 bins: neurojit \[[\d, ]+\]"],
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_runs(script):
    if importlib.util.find_spec("numba") is None:
        pytest.skip("the benchmark scripts compare against the JIT backend")
    name, *flags = script.split()
    path = Path(__file__).resolve().parents[1] / "benchmarks" / name
    if not path.exists():
        pytest.skip("benchmarks/ is not beside the tests")
    result = subprocess.run([sys.executable, str(path), *flags, *SCRIPTS[script]], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0 and "no current AOT build" in result.stdout + result.stderr:
        pytest.skip("no AOT build here")
    assert result.returncode == 0, result.stdout + result.stderr
    for pattern in PRINTS.get(script, []):
        assert re.search(pattern, result.stdout), (pattern, result.stdout)


def test_mackey_glass_84_reports_its_backend_score_and_time():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "mackey_glass_84.py"
    if not path.exists():
        pytest.skip("benchmarks/ is not beside the tests")
    result = subprocess.run([sys.executable, str(path), *SCRIPTS["mackey_glass_84.py"], "--networks", "2",
                             "--backend", "python", "--horizon", "10", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "python" and report["trials"] == 4 and report["networks"] == 2
    assert len(report["log10_nrmse84_per_network"]) == 2 and np.isfinite(report["log10_nrmse84"])
    assert report["seconds"] > 0 and report["jaeger_haas_log10_nrmse84"] == -4.2
    assert report["settings"]["horizon"] == 10 and report["settings"]["units"] == 50
