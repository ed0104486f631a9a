"""Brian2's CUBA example (Brette et al. 2007) in neurojit's LIFNetwork, side by side with Brian2.

    python benchmarks/cuba.py [--repeats 7] [--brian2-python /work/venvs/brian2/bin/python]
                              [--skip-brian2] [--skip-process] [--skip-large] [--skip-threads]
                              [--stdp [--stdp-strict]] [--json out.json]

1. **Loop.** The CUBA network (4000 neurons, Brian2's own 319,513 synapses and initial ``v`` from
   ``tests/data/brian2_cuba.npz``, 1 s at dt = 0.1 ms, float64): ``LIFNetwork.run(10000, state)``
   in this process (the best backend: AOT when built), against Brian2 2.9's C++ loop on the same
   network (``examples/CUBA.py`` with ``seed(2007)``, ``cpp_standalone``, Brian2's default flags
   ``-O3 -ffast-math -march=native``): its own measurement of ``network.run`` inside the binary
   (``results/last_run_info.txt``, what ``device._last_run_time`` reads), the binary rerun
   alternately with neurojit's runs; medians. Both sides' spikes are counted (24,300 each) and
   neurojit's are compared with Brian2's one by one. Without a Brian2 environment the stored
   loop time of ``tests/data/brian2_timings.json`` stands in (said so in the output).
2. **Whole process**, interpreter start to spikes: ``python -c`` building the network from the
   fixture file (and a variant drawing its own connectivity with numpy) and running 1 s, against
   Brian2's warm whole process (the CUBA script again into its built folder: Python start,
   ``import brian2``, code generation, ``make`` with nothing to do, the binary). Medians.
3. **Large**: CUBA with 40,000 neurons and p = 0.02 (32 M synapses; weights scaled by 4000/40000
   so that a neuron's mean input is CUBA's), in a child process: build time, time per simulated
   second (median of three consecutive seconds), peak RSS; with one weight per group (CUBA's
   ``ge += we``) and with per-synapse weights (best backend), and JIT on one core against JIT
   with neuron blocks on two (one row: a parallel launch per step).
4. **Threads**: two batch rows of CUBA (independent trials) on one thread and on two, AOT (batch
   split over threads) and JIT (``prange`` over rows); the spikes are checked identical. One row
   on two cores (JIT neuron blocks, 16,384+ neurons) is part of 3.
5. **CUBA + STDP** (``--stdp``, issue #12): the network of 1. with pair-based STDP on every
   excitatory-to-excitatory synapse (``STDP_PARAMETERS``: Brian2's ``examples/synapses/STDP.py``
   rule, tau_pre = tau_post = 20 ms, ``w_max = 2 we``, ``a_pre = 0.01 w_max``, ``a_post = -1.05
   a_pre``, every weight starting at ``we``), against Brian2's C++ loop on the same network: the
   example's ``Synapses`` (event-driven ``Apre``/``Apost``, ``w = clip(w + Apost, 0, wmax)`` on_pre,
   ``w = clip(w + Apre, 0, wmax)`` on_post) on the E->E synapses, plain ``ge += we`` on E->I, ``gi
   += wi`` on I->all, built from the fixture's synapses and ``v0`` (Brian2's own order), timed as in
   1, neurojit once per trace mode (``TRACE_MODES``: ``STDP(traces="synapse")`` and ``"neuron"``),
   interleaved. Reported per mode: its loop time and ratio to Brian2's, spikes on both sides and how
   many differ, and how many final E->E weights differ and by how much (the per-neuron mode also
   against the per-synapse one; Brian2's default ``-ffast-math`` build can round
   a trace decay differently; ``--stdp-strict`` also builds Brian2 with the fixtures' strict flags
   ``-O3 -ffp-contract=off`` and compares its spikes and weights, untimed). Without Brian2: the
   neurojit run alone, said so.

Benchmark processes unset ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` before numpy loads.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # before numpy is imported
    os.environ.pop(_variable, None)

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "data" / "brian2_cuba.npz"
TIMINGS = REPO / "tests" / "data" / "brian2_timings.json"
DEFAULT_BRIAN2 = Path("/work/venvs/brian2/bin/python")
STEPS = 10000  # 1 s at dt = 0.1 ms
N_EXC = 3200  # neurons 0 .. 3199 are excitatory


def stdp_parameters(we: float) -> dict:
    """The STDP rule of section 5 for CUBA's excitatory weight ``we`` (both sides get these floats).

    Brian2's ``examples/synapses/STDP.py`` ratios: ``w_max = 2 we`` (every weight starts at
    ``we``, halfway), ``a_pre = 0.01 w_max``, ``a_post = -a_pre * tau_pre / tau_post * 1.05``
    (slightly depressing), tau_pre = tau_post = 20 ms: a weight moves by about 1 % of ``w_max``
    per pairing, so over 1 s the network stays in CUBA's regime.
    """
    w_max = 2 * we
    tau_pre = tau_post = 20e-3
    a_pre = 0.01 * w_max
    return {"tau_pre": tau_pre, "tau_post": tau_post, "a_pre": a_pre, "a_post": -a_pre * tau_pre / tau_post * 1.05,
            "w_min": 0.0, "w_max": w_max, "n_exc": N_EXC}

#: the neurons of Brian2's examples/CUBA.py (both scripts below)
CUBA_NEURONS = '''
taum = 20*ms
taue = 5*ms
taui = 10*ms
Vt = -50*mV
Vr = -60*mV
El = -49*mV
eqs = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""
P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5*ms, method="exact")
'''

#: Brian2's examples/CUBA.py as shipped, in cpp_standalone (seeded as the fixture, no plotting)
BRIAN2_CUBA = '''
import json, sys, time
start = time.perf_counter()
from brian2 import *
set_device("cpp_standalone", directory=sys.argv[1], build_on_run=True)
prefs.logging.console_log_level = "WARNING"
seed(2007)
''' + CUBA_NEURONS + '''P.v = "Vr + rand() * (Vt - Vr)"
P.ge = 0*mV
P.gi = 0*mV
we = (60*0.27/10)*mV  # excitatory synaptic weight (voltage)
wi = (-20*4.5/10)*mV  # inhibitory synaptic weight
Ce = Synapses(P, P, on_pre="ge += we")
Ci = Synapses(P, P, on_pre="gi += wi")
Ce.connect("i<3200", p=0.02)
Ci.connect("i>=3200", p=0.02)
s_mon = SpikeMonitor(P)
run(1 * second)
print(json.dumps({"spikes": int(s_mon.num_spikes), "loop_seconds": device._last_run_time,
                  "step": [int(x) for x in (s_mon.t_[:] / 1e-4 + 0.5)], "index": [int(x) for x in s_mon.i[:]]}))
'''

#: CUBA + STDP on E->E in cpp_standalone, from the fixture's synapses and v0 (argv: build folder,
#: fixture, STDP_PARAMETERS as JSON, "strict" for the fixtures' compiler flags); the final E->E
#: weights go to <folder>/w_final.npy, the rest to stdout as JSON
BRIAN2_CUBA_STDP = '''
import json, sys
import numpy as np
from brian2 import *
set_device("cpp_standalone", directory=sys.argv[1], build_on_run=True)
prefs.logging.console_log_level = "WARNING"
if sys.argv[4:] == ["strict"]:
    prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-ffp-contract=off", "-std=c++11"]
d = np.load(sys.argv[2])
p = json.loads(sys.argv[3])
''' + CUBA_NEURONS + '''P.v = d["v0"] * volt
P.ge = 0*mV
P.gi = 0*mV
we = float(d["exc_w"]) * volt
wi = float(d["inh_w"]) * volt
taupre = p["tau_pre"] * second
taupost = p["tau_post"] * second
dApre = p["a_pre"] * volt
dApost = p["a_post"] * volt
wmax = p["w_max"] * volt
pre, post = d["exc_pre"].astype(np.int64), d["exc_post"].astype(np.int64)
ee = post < p["n_exc"]
Cee = Synapses(P, P, """w : volt
                        dApre/dt = -Apre / taupre : volt (event-driven)
                        dApost/dt = -Apost / taupost : volt (event-driven)""",
               on_pre="""ge += w
                         Apre += dApre
                         w = clip(w + Apost, 0*volt, wmax)""",
               on_post="""Apost += dApost
                          w = clip(w + Apre, 0*volt, wmax)""")
Cei = Synapses(P, P, on_pre="ge += we")
Ci = Synapses(P, P, on_pre="gi += wi")
Cee.connect(i=pre[ee], j=post[ee])
Cee.w = "we"
Cei.connect(i=pre[~ee], j=post[~ee])
Ci.connect(i=d["inh_pre"].astype(np.int64), j=d["inh_post"].astype(np.int64))
s_mon = SpikeMonitor(P)
run(1 * second)
np.save(sys.argv[1] + "/w_final.npy", np.asarray(Cee.w_[:], dtype=np.float64))
print(json.dumps({"spikes": int(s_mon.num_spikes), "loop_seconds": device._last_run_time, "synapses": int(ee.sum()),
                  "step": [int(x) for x in (s_mon.t_[:] / 1e-4 + 0.5)], "index": [int(x) for x in s_mon.i[:]]}))
'''

#: interpreter start to spikes: the fixture's connectivity and v (the network Brian2 ran)
PROCESS_FIXTURE = '''
import numpy as np, neurojit
d = np.load({fixture!r})
net = neurojit.LIFNetwork(4000, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3,
                          refractory=5e-3, tau_syn=(5e-3, 10e-3))
net.connect(d["exc_pre"], d["exc_post"], float(d["exc_w"]), syn_type=0)
net.connect(d["inh_pre"], d["inh_post"], float(d["inh_w"]), syn_type=1)
spikes, _ = net.run(10000, net.initial_state(v=d["v0"][None]))
print(len(spikes))
'''

#: ... and drawing its own CUBA network (Bernoulli p = 0.02 per pair, as Brian2's connect does)
PROCESS_GENERATED = '''
import numpy as np, neurojit
rng = np.random.default_rng(2007)
n, p = 4000, 0.02
net = neurojit.LIFNetwork(n, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3,
                          refractory=5e-3, tau_syn=(5e-3, 10e-3))
for k, (lo, hi, w) in enumerate(((0, 3200, 1.62e-3), (3200, n, -9e-3))):
    pairs = (hi - lo) * n  # the synapses of a Bernoulli(p) matrix: geometric gaps between them
    where = np.cumsum(rng.geometric(p, int(pairs * p * 1.2) + 100)) - 1
    where = where[where < pairs]
    net.connect(lo + where // n, where % n, w, syn_type=k)
spikes, _ = net.run(10000, net.initial_state(v=rng.uniform(-60e-3, -50e-3, (1, n))))
print(len(spikes))
'''

#: the large network in a child process; prints one JSON line
LARGE = '''
import json, resource, statistics, sys, time
import numpy as np, neurojit
per_synapse = sys.argv[1] == "per-synapse"
backend, parallel = sys.argv[2], sys.argv[3] == "parallel"
compiler = neurojit.JITCompiler(neurojit.JITConfig(backend=backend, enable_parallel_loops=parallel))
n, p, scale = 40000, 0.02, 4000 / 40000
start = time.perf_counter()
rng = np.random.default_rng(1)
net = neurojit.LIFNetwork(n, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3,
                          refractory=5e-3, tau_syn=(5e-3, 10e-3), compiler=compiler)
for k, (lo, hi, w) in enumerate(((0, 32000, 1.62e-3 * scale), (32000, n, -9e-3 * scale))):
    pre = np.repeat(np.arange(lo, hi, dtype=np.int32), rng.binomial(n, p, hi - lo))  # sorted by source
    post = rng.integers(0, n, pre.size, dtype=np.int32)
    weight = rng.uniform(0.5, 1.5, pre.size) * w if per_synapse else w
    net.connect(pre, post, weight, syn_type=k)
    del pre, post, weight
build = time.perf_counter() - start
state = net.initial_state(v=rng.uniform(-60e-3, -50e-3, (1, n)))
net.run(10, state)  # JIT: compile or load from the disk cache
seconds, spikes = [], []
for _ in range(3):
    t0 = time.perf_counter()
    events, state = net.run(10000, state)
    seconds.append(time.perf_counter() - t0)
    spikes.append(len(events))
print(json.dumps({"synapses": net.n_synapses, "synapse_bytes": net.synapse_bytes, "build_seconds": build,
                  "seconds_per_simulated_second": statistics.median(seconds), "all_seconds": seconds,
                  "rate_hz": statistics.median(spikes) / n, "backend": net._kernel.backend,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _time_process(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout


def _median(values) -> float:
    return statistics.median(values)


def cuba_network(compiler=None):
    import neurojit

    d = np.load(FIXTURE)
    net = neurojit.LIFNetwork(4000, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3,
                              refractory=5e-3, tau_syn=(5e-3, 10e-3), compiler=compiler)
    net.connect(d["exc_pre"], d["exc_post"], float(d["exc_w"]), syn_type=0)
    net.connect(d["inh_pre"], d["inh_post"], float(d["inh_w"]), syn_type=1)
    return net, d


def cuba_stdp_network(compiler=None, traces="synapse"):
    """Section 5's network: CUBA from the fixture, STDP on the E->E synapses (group 0), its
    traces kept per synapse (Brian2's numbers bit for bit) or per neuron.

    Returns ``(net, d, order, parameters)``: ``order`` maps the plastic group's storage (by
    source, stable) to the fixture's E->E synapses in Brian2's order (``w[order]`` lines up
    with Brian2's ``Cee.w``).
    """
    import neurojit

    d = np.load(FIXTURE)
    parameters = stdp_parameters(float(d["exc_w"]))
    rule = neurojit.STDP(parameters["tau_pre"], parameters["tau_post"], parameters["a_pre"], parameters["a_post"],
                         parameters["w_min"], parameters["w_max"], traces=traces)
    pre, post = d["exc_pre"].astype(np.int64), d["exc_post"].astype(np.int64)
    ee = post < N_EXC
    net = neurojit.LIFNetwork(4000, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3,
                              refractory=5e-3, tau_syn=(5e-3, 10e-3), compiler=compiler)
    net.connect(pre[ee], post[ee], np.full(int(ee.sum()), float(d["exc_w"])), syn_type=0, plasticity=rule)
    net.connect(pre[~ee], post[~ee], float(d["exc_w"]), syn_type=0)
    net.connect(d["inh_pre"], d["inh_post"], float(d["inh_w"]), syn_type=1)
    return net, d, np.argsort(pre[ee], kind="stable"), parameters


class Brian2:
    """A Brian2 script (Brian2's CUBA by default) built once in a folder of its own; its binary rerun on demand.

    Parameters
    ----------
    python : Path
        The Python that has Brian2.
    folder : Path
        The build folder (its parent holds the script).
    script : str
        The script's source; it takes the folder as its first argument, then ``arguments``, and
        prints one JSON line last.
    arguments : sequence of str
        Further command-line arguments of the script.
    """

    def __init__(self, python: Path, folder: Path, script: str = BRIAN2_CUBA, arguments=()):
        self.python, self.folder = python, folder
        self.script = folder.parent / f"{folder.name}_brian2.py"
        self.script.write_text(script)
        self.arguments = [str(a) for a in arguments]
        seconds, out = _time_process([str(python), str(self.script), str(folder), *self.arguments], folder.parent)
        self.first = json.loads(out.strip().splitlines()[-1])
        self.build_seconds = seconds

    def loop_seconds(self) -> float:
        subprocess.run(["./main"], cwd=self.folder, check=True, capture_output=True)
        return float((self.folder / "results" / "last_run_info.txt").read_text().split()[0])

    def warm_process_seconds(self) -> float:
        return _time_process([str(self.python), str(self.script), str(self.folder), *self.arguments],
                             self.folder.parent)[0]


def _alternate(net, state, brian2: Brian2 | None, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of ``repeats`` runs of 1 s of ``net``, each followed by a rerun of Brian2's binary
    (its own loop time; none without Brian2)."""
    mine, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        net.run(STEPS, state)
        mine.append(time.perf_counter() - start)
        if brian2 is not None:
            theirs.append(brian2.loop_seconds())
    return mine, theirs


def loop_comparison(args, brian2: Brian2 | None) -> dict:
    net, d = cuba_network()
    state = net.initial_state(v=d["v0"][None])
    events, _ = net.run(STEPS, state)  # warm (first calls, AOT module load)
    ours = set(zip(events.step.tolist(), events.index.tolist()))
    fixture = set(zip(d["spike_step"].tolist(), d["spike_index"].tolist()))
    result = {"backend": net._kernel.backend, "spikes": len(events), "differ_from_fixture": len(ours ^ fixture)}
    mine, theirs = _alternate(net, state, brian2, args.repeats)
    result["neurojit_seconds"] = _median(mine)
    result["neurojit_all"] = mine
    if brian2 is not None:
        b = set(zip(brian2.first["step"], brian2.first["index"]))
        result.update(brian2_seconds=_median(theirs), brian2_all=theirs, brian2_spikes=brian2.first["spikes"],
                      differ_from_brian2_run=len(ours ^ b), brian2_source="side by side (rerun binary)")
    else:
        stored = json.loads(TIMINGS.read_text())["cuba_example_default_flags"]
        result.update(brian2_seconds=stored["loop_seconds"], brian2_spikes=stored["spikes"],
                      brian2_source=f"stored in {TIMINGS.relative_to(REPO)} (no Brian2 here)")
    result["ratio"] = result["brian2_seconds"] / result["neurojit_seconds"]
    return result


#: section 5's trace modes (STDP(traces=...)), timed side by side
TRACE_MODES = ("synapse", "neuron")


def stdp_comparison(args, brian2: Brian2 | None, strict: Brian2 | None = None) -> dict:
    """Section 5: CUBA + STDP on E->E, neurojit (each trace mode) against Brian2's C++ loop
    (``brian2``: the ``BRIAN2_CUBA_STDP`` build, or None), spikes and final weights compared."""
    runs, result = {}, {}
    for traces in TRACE_MODES:
        net, d, order, parameters = cuba_stdp_network(traces=traces)
        state = net.initial_state(v=d["v0"][None])
        events, final = net.run(STEPS, state)  # warm (first calls, AOT module load)
        w = np.empty_like(final.weights[0][0])
        w[order] = final.weights[0][0]  # in Brian2's synapse order
        w_max = parameters["w_max"]
        result.update(plastic_synapses=int(w.size), parameters=parameters)
        row = {"backend": net._kernel.backend, "spikes": len(events),
               "w_over_w_max_mean": float(w.mean() / w_max),
               "w_over_w_max_range": [float(w.min() / w_max), float(w.max() / w_max)],
               "w_over_w_max_histogram_10_bins": np.histogram(w / w_max, 10, (0.0, 1.0))[0].tolist()}
        spikes = set(zip(events.step.tolist(), events.index.tolist()))
        references = [(name, set(zip(build.first["step"], build.first["index"])), np.load(build.folder / "w_final.npy"))
                      for name, build in (("brian2", brian2), ("brian2_strict_flags", strict)) if build is not None]
        if traces != TRACE_MODES[0]:
            references.append((f"traces_{TRACE_MODES[0]}", *runs[TRACE_MODES[0]][2]))
        for name, their_spikes, their_w in references:
            difference = np.abs(w - their_w)
            row[name] = {"spikes": len(their_spikes), "spikes_differ": len(spikes ^ their_spikes),
                         "weights_differ": int(np.count_nonzero(difference)),
                         "max_weight_difference": float(difference.max()),
                         "max_weight_difference_over_w_max": float(difference.max() / w_max)}
        result[traces] = row
        runs[traces] = (net, state, (spikes, w))
    mine, theirs = {traces: [] for traces in TRACE_MODES}, []
    for _ in range(args.repeats):  # interleaved: each mode, then Brian2's binary
        for traces, (net, state, _) in runs.items():
            start = time.perf_counter()
            net.run(STEPS, state)
            mine[traces].append(time.perf_counter() - start)
        if brian2 is not None:
            theirs.append(brian2.loop_seconds())
    for traces in TRACE_MODES:
        result[traces].update(neurojit_seconds=_median(mine[traces]), neurojit_all=mine[traces])
        if brian2 is not None:
            result[traces]["ratio"] = _median(theirs) / result[traces]["neurojit_seconds"]
    if brian2 is not None:
        result.update(brian2_seconds=_median(theirs), brian2_all=theirs, brian2_source="side by side (rerun binary)")
    else:
        result["brian2_source"] = "no Brian2 here (and no stored Brian2 timing of CUBA + STDP): neurojit alone"
    return result


def _print_stdp(stdp: dict, loop: dict | None) -> None:
    labels = {"brian2": "Brian2", "brian2_strict_flags": "Brian2 -O3 -ffp-contract=off",
              f"traces_{TRACE_MODES[0]}": f"per-{TRACE_MODES[0]} traces"}
    print(f"\n5. CUBA + STDP on the {stdp['plastic_synapses']:,} E->E synapses, 1 s: " + (
        f"Brian2 C++ loop {stdp['brian2_seconds'] * 1e3:.1f} ms ({stdp['brian2_source']})" if "brian2_seconds" in stdp
        else stdp["brian2_source"]))
    for traces in TRACE_MODES:
        row = stdp[traces]
        print(f"   per-{traces} traces: neurojit ({row['backend']}) {row['neurojit_seconds'] * 1e3:.1f} ms"
              + (f" -> {row['ratio']:.2f}x" if "ratio" in row else ""))
        if loop is not None and "ratio" in row and loop["brian2_source"].startswith("side by side"):
            print(f"      STDP adds {(row['neurojit_seconds'] - loop['neurojit_seconds']) * 1e3:.1f} ms to neurojit's "
                  f"loop, {(stdp['brian2_seconds'] - loop['brian2_seconds']) * 1e3:.1f} ms to Brian2's (section 1)")
        print(f"      spikes: neurojit {row['spikes']}" + "".join(
            f", {label} {row[name]['spikes']} ({row[name]['spikes_differ']} differ)"
            for name, label in labels.items() if name in row))
        for name, label in labels.items():
            if name in row:
                other = row[name]
                print(f"      final E->E weights vs {label}: {other['weights_differ']} of {stdp['plastic_synapses']} "
                      f"differ, by at most {other['max_weight_difference']:.3g} V "
                      f"({other['max_weight_difference_over_w_max']:.2g} w_max)")
        low, high = row["w_over_w_max_range"]
        print(f"      final w / w_max: mean {row['w_over_w_max_mean']:.4f}, range [{low:.3f}, {high:.3f}]")


def process_comparison(args, brian2: Brian2 | None) -> dict:
    env = _env()
    fixture_code = PROCESS_FIXTURE.format(fixture=str(FIXTURE))
    cases = {"neurojit (fixture network)": [sys.executable, "-c", fixture_code],
             "neurojit (draws its network)": [sys.executable, "-c", PROCESS_GENERATED]}
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, str] = {}
    if brian2 is not None:
        times["brian2 (warm)"] = []
    for name, command in cases.items():  # once to warm the disk cache
        outputs[name] = _time_process(command, REPO, env)[1].strip()
    for _ in range(max(3, args.repeats // 2)):
        for name, command in cases.items():
            times[name].append(_time_process(command, REPO, env)[0])
        if brian2 is not None:
            times["brian2 (warm)"].append(brian2.warm_process_seconds())
    result = {name: {"seconds": _median(values), "all": values} for name, values in times.items()}
    for name in cases:
        result[name]["spikes"] = int(outputs[name])
    if brian2 is None:
        result["brian2 (warm)"] = {"seconds": 1.4, "note": "the issue's anchor (no Brian2 here)"}
    base = result["brian2 (warm)"]["seconds"]
    for name in cases:
        result[name]["ratio_to_brian2"] = base / result[name]["seconds"]
    return result


def large_network(args) -> dict:
    out = {}
    cases = [("one-weight", "auto", "parallel"), ("per-synapse", "auto", "parallel")]
    if importlib.util.find_spec("numba") is not None:
        cases += [("one-weight", "jit", "serial"), ("one-weight", "jit", "parallel")]  # one row: neuron blocks
    for mode, backend, parallel in cases:
        _, stdout = _time_process([sys.executable, "-c", LARGE, mode, backend, parallel], REPO, _env())
        name = mode if backend == "auto" else f"{mode}, jit {'neuron blocks on 2 cores' if parallel == 'parallel' else '1 core'}"
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return out


def threads(args) -> dict:
    from neurojit import JITCompiler, JITConfig
    from neurojit.bench import interleaved_medians

    result: dict = {}
    configurations = {}
    for backend in ("aot", "jit"):
        for parallel in (False, True):
            try:
                compiler = JITCompiler(JITConfig(backend=backend, enable_parallel_loops=parallel))
            except Exception as exc:  # AOT not built, numba missing
                result[backend] = f"unavailable: {exc}"
                break
            configurations[f"{backend} {'2 threads' if parallel else '1 thread'}"] = compiler
    d = np.load(FIXTURE)
    v = np.stack([d["v0"], np.random.default_rng(1).permutation(d["v0"])])  # two trials
    runs, spikes = {}, {}
    for name, compiler in configurations.items():
        net, _ = cuba_network(compiler)
        for rows in (1, 2):
            state = net.initial_state(rows, v=v[:rows])
            spikes[name, rows], _ = net.run(STEPS, state)  # also warms up: JIT compile or load
            runs[f"{name}, B={rows}"] = lambda net=net, state=state: net.run(STEPS, state)
    first = next(iter(configurations))
    for (name, rows), events in spikes.items():  # every configuration: the same spikes
        assert events == spikes[first, rows], name
    assert one_row(spikes[first, 2], 0) == spikes[first, 1]  # and a batch row is the single run
    medians = interleaved_medians(runs, max(3, args.repeats // 2))
    for name in configurations:
        one, two = medians[f"{name}, B=1"], medians[f"{name}, B=2"]
        result[name] = {"B=1 seconds": one, "B=2 seconds": two, "rows per second, B=2 over B=1": 2 * one / two}
    for backend in ("aot", "jit"):
        serial, parallel = f"{backend} 1 thread", f"{backend} 2 threads"
        if serial in result and parallel in result:
            result[f"{backend} B=2, 2 threads over 1"] = result[serial]["B=2 seconds"] / result[parallel]["B=2 seconds"]
    return result


def one_row(events, row):
    """The events of one batch row, as a one-row SpikeEvents."""
    from neurojit import SpikeEvents

    keep = events.batch == row
    return SpikeEvents(events.step[keep], events.index[keep], n_steps=events.n_steps, n_channels=events.n_channels,
                       n_batch=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--brian2-python", type=Path, default=DEFAULT_BRIAN2)
    parser.add_argument("--skip-brian2", action="store_true")
    parser.add_argument("--skip-process", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-threads", action="store_true")
    parser.add_argument("--stdp", action="store_true", help="also section 5: CUBA + STDP on E->E against Brian2")
    parser.add_argument("--stdp-strict", action="store_true",
                        help="with --stdp: also compare with Brian2 built with -O3 -ffp-contract=off (untimed)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"argument --repeats: must be a positive integer, got {args.repeats}")
    if args.stdp_strict and not args.stdp:
        parser.error("--stdp-strict needs --stdp")
    import neurojit

    print(f"neurojit {neurojit.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="neurojit-cuba-") as scratch:
        brian2 = None
        if not args.skip_brian2 and args.brian2_python.exists():
            print(f"building Brian2's CUBA with {args.brian2_python} ...", flush=True)
            brian2 = Brian2(args.brian2_python, Path(scratch) / "cuba")
            report["brian2_build_seconds"] = brian2.build_seconds
        elif not args.skip_brian2:
            print(f"no Brian2 at {args.brian2_python}: its stored timings stand in")
        loop = report["loop"] = loop_comparison(args, brian2)
        print(f"\n1. CUBA loop, 1 s of network time: neurojit ({loop['backend']}) {loop['neurojit_seconds'] * 1e3:.1f} ms, "
              f"Brian2 C++ loop {loop['brian2_seconds'] * 1e3:.1f} ms ({loop['brian2_source']}) "
              f"-> {loop['ratio']:.2f}x; spikes {loop['spikes']} (Brian2 {loop['brian2_spikes']}), "
              f"{loop['differ_from_fixture']} differ from the fixture"
              + (f", {loop['differ_from_brian2_run']} from this Brian2 run" if brian2 else ""))
        if not args.skip_process:
            process = report["process"] = process_comparison(args, brian2)
            print("\n2. whole process, interpreter start to spikes:")
            for name, row in process.items():
                extra = f" -> {row['ratio_to_brian2']:.1f}x faster than Brian2 warm" if "ratio_to_brian2" in row else ""
                print(f"   {name:<30} {row['seconds']:.3f} s{extra}" + (f"  ({row['note']})" if "note" in row else ""))
        if not args.skip_large:
            large = report["large"] = large_network(args)
            print("\n3. 40,000 neurons, p = 0.02 (weights x 0.1), in a child process:")
            for mode, row in large.items():
                print(f"   {mode:<40} {row['synapses'] / 1e6:.1f} M synapses, {row['synapse_bytes'] / row['synapses']:.1f} "
                      f"bytes each, build {row['build_seconds']:.1f} s, {row['seconds_per_simulated_second']:.2f} s per "
                      f"simulated second ({row['backend']}), {row['rate_hz']:.1f} Hz, peak RSS {row['peak_rss_mib']:.0f} MiB")
        if not args.skip_threads:
            threaded = report["threads"] = threads(args)
            print("\n4. cores (CUBA, spikes identical across configurations):")
            for name, row in threaded.items():
                text = row if not isinstance(row, dict) else ", ".join(f"{k} {v:.3g}" for k, v in row.items())
                print(f"   {name}: {text:.3g}" if isinstance(row, float) else f"   {name}: {text}")
        if args.stdp:
            plastic, strict = None, None
            if brian2 is not None:
                stdp_arguments = [FIXTURE, json.dumps(stdp_parameters(float(np.load(FIXTURE)["exc_w"])))]
                print("\nbuilding Brian2's CUBA + STDP ...", flush=True)
                plastic = Brian2(args.brian2_python, Path(scratch) / "cuba_stdp", BRIAN2_CUBA_STDP, stdp_arguments)
                report["brian2_stdp_build_seconds"] = plastic.build_seconds
                if args.stdp_strict:
                    strict = Brian2(args.brian2_python, Path(scratch) / "cuba_stdp_strict", BRIAN2_CUBA_STDP,
                                    [*stdp_arguments, "strict"])
            report["stdp"] = stdp_comparison(args, plastic, strict)
            _print_stdp(report["stdp"], loop)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
