"""Brian2 reference fixtures (test oracles) for ``LIFNetwork`` and ``STDP`` (API.md sections 7 and 8).

Run from the repository root with a Python that has Brian2 2.9 (not a neurojit dependency) and g++:

    python3.11 -m venv /work/venvs/brian2
    /work/venvs/brian2/bin/pip install "brian2==2.9.*" "numpy<2.4" scipy
    /work/venvs/brian2/bin/python tools/brian2_fixtures.py              # everything, about 4 minutes on 2 cores
    /work/venvs/brian2/bin/python tools/brian2_fixtures.py --only cuba,stdp --no-timing

Options: ``--only`` (comma list of cuba, ff, adapt, delta, stdp), ``--out`` (default tests/data),
``--build-root`` (standalone build folders, default /work/venvs/brian2-builds), ``--stdp-long-seconds``
(default 100), ``--no-timing`` (skip the Brian2-default-flag timing builds), ``--no-check`` (skip the
independent NumPy re-run). Every random number comes from ``brian2.seed(...)`` (Brian2's C++ generator)
and ``numpy.random.default_rng(...)`` with fixed seeds, so a re-run writes the same arrays.

Files written (``np.savez_compressed``; parameters are float64 scalars in SI units, seconds and volts;
neuron and channel indices uint16, time steps int32 = ``round(t / dt)``, asserted exact):

- ``brian2_cuba.npz``: Brian2's ``examples/CUBA.py`` (4000 neurons, 1 s, dt 0.1 ms). Parameters, ``v0``
  (Brian2's own ``Vr + rand()*(Vt - Vr)``, read back by a StateMonitor at t = 0), ``exc_pre/exc_post``
  (``Ce``, i < 3200, onto ge, syn_type 0), ``inh_pre/inh_post`` (``Ci``, onto gi, syn_type 1), in Brian2's
  synapse order, scalar ``exc_w = we``, ``inh_w = wi``; ``spike_index/spike_step`` in Brian2's order;
  ``trace_v/trace_ge/trace_gi`` (300, 5): neurons 0..4, row n = state at the start of step n (row 0 = initial).
- ``brian2_cuba_ff.npz``: 200 PoissonGroup channels (5..40 Hz) -> 100 CUBA neurons with per-neuron ``bias`` and
  ``v_threshold``, exc (onto ge) and inh (onto gi) synapses, p = 0.1 each, per-synapse random weights,
  refractory 2 ms, 0.5 s. Input spikes ``input_index/input_step`` as Brian2 generated them.
- ``brian2_adapt.npz``: the same kind of network with threshold adaptation (``v > Vt + a``,
  ``da/dt = -a/tau_adapt``, reset ``v = Vr; a += adapt_increment``); ``trace_a`` too.
- ``brian2_delta.npz``: delta synapses (``tau_syn=()``): 200 Poisson channels -> 100 neurons,
  ``dv/dt = (bias - (v - El))/taum (unless refractory)``, ``on_pre='v += w'`` (mixed-sign weights), refractory
  2 ms. Brian2 skips ``v += w`` while the target is refractory (``v`` is ``unless refractory``; see below).
- ``brian2_stdp.npz``: ``examples/synapses/STDP.py`` made current-based (see below), 10 s: input spikes,
  ``w_init``, ``w_final``, ``out_step``; plus final weights of 100 s runs of that model and of the original.
- ``brian2_timings.json``: Brian2's C++ loop times (``device._last_run_time``, the time of ``network.run``
  inside ``main``), the ``main`` process time and the compile time, for CUBA and the 100 s STDP runs.

What Brian2 computes (read from the generated ``code_objects/*.cpp`` of these builds)
-------------------------------------------------------------------------------------
Schedule per step (``main.cpp``, stored as ``brian2_schedule``): StateMonitors ('start': they record the
state at the start of the step), state updaters, thresholders (PoissonGroups draw ``rand() < rates*dt``
here), SpikeMonitors, each synaptic pathway (``push_spikes`` then ``*_pre``/``*_post`` code; pathways sorted
by object name, e.g. ``syn_exc`` before ``syn_inh``, and ``pre`` before ``post`` of one Synapses), resetter.
``t = timestep * dt`` (a double product).

1. State update, ``method='exact'``: loop-invariant constants (``_lio_*``, computed once per step in double
   with libm ``exp``), then per neuron, e.g. CUBA::

       not_refractory = _timestep(t - lastspike, dt) >= _timestep(0.005, dt);
       _ge = exp(-dt/taue) * ge;   _gi = exp(-dt/taui) * gi;
       if (not_refractory) v = L12 + ((L13*ge + L14*gi) + L15*v);    // old ge, gi
       L12 = El - El*exp(-dt/taum),  L15 = exp(-dt/taum),
       L13 = (taue*exp(-dt/taue) * (-exp(dt/taue) + exp(dt/taum)) * exp(-dt/taum)) / (-taum + taue)
           = taue/(taue - taum) * (exp(-dt/taue) - exp(-dt/taum))     (L14 the same with taui)

   With a per-neuron bias (ff, adapt): ``v = El + ((((bias + L13*ge) + L14*gi) + L15*v) + L15*(-El - bias))``.
   Delta (no synaptic current): ``v = El + ((bias + L15*v) + L15*(-El - bias))``, and its synapses
   generate ``if(not_refractory) v += w;`` (Brian2 guards every write to an ``(unless refractory)`` variable).
   STDP neuron: ``v = L2 + ((L3*ge) + L4*v)``,
   ``L3 = taue*(-exp(dt/taue) + exp(dt/taum))*exp(-dt/taue)*exp(-dt/taum)/(taue - taum)`` (left to right).
   ``a`` (adaptation) and the synaptic variables decay also while refractory; ``v`` is frozen then.
2. Threshold: ``(v > Vt [+ a]) && not_refractory``; spiking neurons get ``not_refractory = false``,
   ``lastspike = t`` right there, in index order.
3. Synapses: for each spiking source in ascending index, its synapses in ascending synapse index
   (Brian2 creates ``connect(p=...)`` synapses sorted by pre, then post), ``ge += w`` one by one.
4. Reset ``v = Vr`` (``a += adapt_increment``).

Refractoriness: ``_timestep(x, dt) = (int64)((x + 1e-3*dt)/dt)``, so at step n after a spike at step s the
neuron is refractory while ``n - s < R``, ``R = round(refractory/dt)`` (50 for CUBA, 20 for 2 ms): ``v`` is
not integrated at steps s+1 .. s+R-1 and the neuron can spike again at step s+R (after a normal update).

STDP (event-driven traces, per synapse, ``lastupdate``; on_pre runs before on_post in a step)::

    on_pre:  Apost *= exp((1/taupost) * -(t - lastupdate)); Apre *= exp((1/taupre) * -(t - lastupdate));
             ge += w; Apre += dApre; w = clip(w + Apost, 0, gmax); lastupdate = t
    on_post: (same two decays); Apost += dApost; w = clip(w + Apre, 0, gmax); lastupdate = t

The fixtures are compiled with ``-w -O3 -ffp-contract=off -std=c++11`` instead of Brian2's default
``-ffast-math -march=native`` (which may reassociate and fuse), so that a plain loop can reproduce them bit
for bit; the timing builds use Brian2's defaults. The generated code of each fixture is stored in it
(``brian2_code_*``, loads and stores of state variables left out).

``check()`` re-runs every fixture with the plain NumPy loops ``reference_lif`` / ``reference_stdp`` below (no
Brian2), from the stored data: with Brian2's generated expressions and with the textbook closed form
``v_inf + (v - v_inf)*exp(-dt/tau_m) + sum_k c_k I_k`` (``v_inf = v_rest + bias``); both reproduce every spike
of every fixture, in Brian2's order, and the STDP ``w_final`` bit for bit (a rounding difference in ``v`` only
matters when ``v`` lands within an ulp of the threshold, and the next reset erases it). Deliberate deviations
(refractory period one step longer or shorter, ``v += w`` while refractory, on_post before on_pre) change
hundreds to thousands of spikes, so the fixtures tell them apart. ``--no-check`` skips this.

Current-based STDP model: the example's ``dv/dt = (ge*(Ee - v) + El - v)/taum`` (euler, ``ge`` dimensionless)
becomes ``dv/dt = (ge + El - v)/taum`` (exact, ``ge`` in volts); weights, gmax, dApre, dApost are multiplied by
a driving force ``STDP_SCALE`` (Ee - v with v near -60 mV, i.e. 60 mV). Everything else is the example's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
STRICT_FLAGS = ["-w", "-O3", "-ffp-contract=off", "-std=c++11"]
STDP_SCALE = 0.060  # volts: driving force Ee - v for the current-based STDP neuron


# ----------------------------------------------------------------------------------------------------------
# Brian2 helpers
# ----------------------------------------------------------------------------------------------------------

def _activate(build_root: Path, name: str, flags: list[str] | None):
    """A fresh cpp_standalone device building into build_root/name; flags None = Brian2's defaults."""
    import brian2 as b2
    from brian2.codegen.cpp_prefs import default_buildopts

    b2.device.reinit()
    b2.device.activate()
    b2.prefs.codegen.cpp.extra_compile_args_gcc = list(flags if flags is not None else default_buildopts)
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]
    directory = build_root / name
    if directory.exists():  # no stale code objects from an earlier build (their names carry counters)
        shutil.rmtree(directory)
    b2.set_device("cpp_standalone", directory=str(directory), build_on_run=True)
    return directory


def _run(net, duration, repeats: int = 1) -> dict:
    """net.run (code generation, compile, run); rerun the binary repeats-1 times; timings in seconds."""
    import brian2 as b2

    start = time.perf_counter()
    net.run(duration, namespace={})  # every name comes from the groups' own namespaces
    process = time.perf_counter() - start
    loops = [b2.device._last_run_time]
    binaries = [b2.device.timers["run_binary"]]
    for _ in range(repeats - 1):
        b2.device.run()
        loops.append(b2.device._last_run_time)
        binaries.append(b2.device.timers["run_binary"])
    return {"loop_seconds": min(loops), "loop_seconds_all": loops, "binary_seconds": min(binaries),
            "compile_seconds": b2.device.timers["compile"]["make"], "build_and_run_seconds": process}


def _steps(t_seconds, dt: float) -> np.ndarray:
    """Spike times as integer steps; asserts they are exact multiples of dt."""
    t = np.asarray(t_seconds, dtype=np.float64)
    steps = np.round(t / dt).astype(np.int64)
    assert np.all(np.abs(t / dt - steps) < 1e-6), "spike times are not whole steps"
    return steps.astype(np.int32)


def _code(directory: Path, codeobject: str) -> str:
    """The per-step part (scalar constants and loop body) of a generated code object."""
    # a second build in one process numbers reused names: neurons_stateupdater_codeobject_1.cpp
    files = [f for f in (directory / "code_objects").glob(f"{codeobject}*.cpp")
             if re.fullmatch(re.escape(codeobject) + r"(_\d+)?\.cpp", f.name)]
    assert len(files) == 1, (codeobject, files)
    text = files[0].read_text()
    body = text[text.index(f"void _run_{files[0].stem}()"):]
    body = body[body.index("// scalar code"):]
    body = body[:body.index("\n}\n") + 2]  # to the end of the function
    lines = [ln.strip() for ln in body.splitlines()]
    # leave out the loads and stores of state variables ("double v = _ptr_array_neurongroup_v[_idx];")
    keep = [ln for ln in lines if ln and not ln.startswith("//")
            and not re.fullmatch(r"_ptr_array\w+\[\w+\] = \w+;", ln)
            and not re.fullmatch(r"(const )?(double|char|int32_t|int64_t) (\w+) = "
                                 r"_ptr_array\w*_\3\[(_idx|_postsynaptic_idx|0)\];", ln)]
    return "\n".join(keep)


def _schedule(directory: Path) -> str:
    text = (directory / "main.cpp").read_text()
    # code objects of a later build in one process carry a counter (_1, _2): leave it out
    return "\n".join(re.sub(r"_\d+$", "", m.group(1)) for m in re.finditer(r"\.add\(&\w+, _run_(\w+)\)", text))


def _meta(directory: Path, flags, timing: dict, codeobjects=("neurongroup_stateupdater_codeobject",)) -> dict:
    import brian2 as b2

    meta = {
        "brian2_version": np.array(b2.__version__),
        "brian2_device": np.array("cpp_standalone"),
        "brian2_compile_args": np.array(" ".join(flags)),
        "brian2_schedule": np.array(_schedule(directory)),
        "brian2_loop_seconds": np.float64(timing["loop_seconds"]),
        "brian2_binary_seconds": np.float64(timing["binary_seconds"]),
        "brian2_build_and_run_seconds": np.float64(timing["build_and_run_seconds"]),
    }
    for name in codeobjects:
        meta["brian2_code_" + name.replace("_codeobject", "")] = np.array(_code(directory, name))
    return meta


def _u16(a) -> np.ndarray:
    a = np.asarray(a)
    assert a.size == 0 or (a.min() >= 0 and a.max() < 2 ** 16)
    return a.astype(np.uint16)


def _save(out: Path, name: str, arrays: dict) -> Path:
    path = out / name
    np.savez_compressed(path, **arrays)
    return path


# ----------------------------------------------------------------------------------------------------------
# a. Brian2's CUBA example
# ----------------------------------------------------------------------------------------------------------

CUBA_EQS = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""


def _cuba_network(b2, fixture: bool):
    taum, taue, taui = 20 * b2.ms, 5 * b2.ms, 10 * b2.ms
    Vt, Vr, El = -50 * b2.mV, -60 * b2.mV, -49 * b2.mV
    ns = dict(taum=taum, taue=taue, taui=taui, Vt=Vt, Vr=Vr, El=El)
    P = b2.NeuronGroup(4000, CUBA_EQS, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms,
                       method="exact", namespace=ns, name="neurongroup")
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = 0 * b2.mV
    P.gi = 0 * b2.mV
    we = (60 * 0.27 / 10) * b2.mV  # excitatory synaptic weight (voltage)
    wi = (-20 * 4.5 / 10) * b2.mV  # inhibitory synaptic weight
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace={"we": we})
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace={"wi": wi})
    Ce.connect("i<3200", p=0.02)
    Ci.connect("i>=3200", p=0.02)
    s_mon = b2.SpikeMonitor(P)
    objects = [P, Ce, Ci, s_mon]
    extra = {}
    if fixture:
        extra["v0"] = b2.StateMonitor(P, "v", record=True, dt=1 * b2.second)  # t = 0 only
        extra["trace"] = b2.StateMonitor(P, ["v", "ge", "gi"], record=range(5))
        objects += list(extra.values())
    return b2.Network(*objects), dict(ns, we=we, wi=wi), P, Ce, Ci, s_mon, extra


def make_cuba(out: Path, build_root: Path, default_timing: dict | None = None) -> dict:
    import brian2 as b2

    directory = _activate(build_root, "cuba", STRICT_FLAGS)
    b2.seed(2007)
    b2.defaultclock.dt = 0.1 * b2.ms
    net, ns, P, Ce, Ci, s_mon, extra = _cuba_network(b2, fixture=True)
    timing = _run(net, 1 * b2.second)
    dt = 1e-4
    v0 = np.asarray(extra["v0"].v_[:, 0], dtype=np.float64)
    assert v0.shape == (4000,)
    trace = extra["trace"]
    arrays = dict(
        dt=np.float64(dt), n_steps=np.int64(10000), n_neurons=np.int64(4000),
        tau_m=np.float64(ns["taum"] / b2.second), tau_syn=np.array([ns["taue"] / b2.second, ns["taui"] / b2.second]),
        v_threshold=np.float64(ns["Vt"] / b2.volt), v_reset=np.float64(ns["Vr"] / b2.volt),
        v_rest=np.float64(ns["El"] / b2.volt), refractory=np.float64(5e-3),
        exc_w=np.float64(ns["we"] / b2.volt), inh_w=np.float64(ns["wi"] / b2.volt),
        v0=v0,
        exc_pre=_u16(Ce.i[:]), exc_post=_u16(Ce.j[:]), inh_pre=_u16(Ci.i[:]), inh_post=_u16(Ci.j[:]),
        spike_index=_u16(s_mon.i[:]), spike_step=_steps(s_mon.t_[:], dt),
        trace_neurons=np.arange(5, dtype=np.uint16),
        trace_v=np.ascontiguousarray(trace.v_[:, :300].T), trace_ge=np.ascontiguousarray(trace.ge_[:, :300].T),
        trace_gi=np.ascontiguousarray(trace.gi_[:, :300].T),
        **_meta(directory, STRICT_FLAGS, timing),
    )
    if default_timing is not None:  # the example as shipped, Brian2's default flags
        arrays["brian2_loop_seconds_default_flags"] = np.float64(default_timing["loop_seconds"])
        arrays["brian2_binary_seconds_default_flags"] = np.float64(default_timing["binary_seconds"])
        i, t = default_timing.pop("spike_list")  # same seed, same network: do the flags change any spike?
        ours = set(zip(arrays["spike_step"].tolist(), arrays["spike_index"].tolist()))
        default_timing["spikes_differing_from_fixture"] = len(ours ^ set(zip(t.tolist(), i.tolist())))
    assert np.array_equal(arrays["trace_v"][0], v0[:5])
    _save(out, "brian2_cuba.npz", arrays)
    return {"fixture": timing, "spikes": int(arrays["spike_index"].size),
            "synapses": (int(arrays["exc_pre"].size), int(arrays["inh_pre"].size))}


def time_cuba_default(build_root: Path) -> dict:
    """The CUBA example exactly as shipped (its one SpikeMonitor), Brian2's default compiler flags."""
    import brian2 as b2

    _activate(build_root, "cuba_timing", None)
    b2.seed(2007)
    b2.defaultclock.dt = 0.1 * b2.ms
    net, _, _, _, _, s_mon, _ = _cuba_network(b2, fixture=False)
    timing = _run(net, 1 * b2.second, repeats=3)
    timing["spikes"] = int(s_mon.num_spikes)
    timing["spike_list"] = (np.asarray(s_mon.i[:]), _steps(s_mon.t_[:], 1e-4))
    return timing


# ----------------------------------------------------------------------------------------------------------
# b./c. Feed-forward CUBA population, with and without threshold adaptation
# ----------------------------------------------------------------------------------------------------------

FF_EQS = """
dv/dt  = (ge+gi+bias-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
bias : volt (constant)
Vt : volt (constant)
"""
ADAPT_EQS = FF_EQS + "da/dt = -a/tau_adapt : volt\n"

FF = dict(n_inputs=200, n_neurons=100, duration=0.5, dt=1e-4, taum=20e-3, taue=5e-3, taui=10e-3,
          El=-52e-3, Vr=-60e-3, refractory=2e-3, p=0.1, we_max=4.0e-3, wi_max=1.5e-3,
          bias_max=4e-3, Vt_mean=-50e-3, Vt_spread=1e-3, v0_low=-60e-3, v0_high=-50e-3)
ADAPT = dict(FF, we_max=5.0e-3, bias_max=6e-3, tau_adapt=100e-3, adapt_increment=3e-3)


def make_ff(out: Path, build_root: Path, adapt: bool) -> dict:
    import brian2 as b2

    prm = ADAPT if adapt else FF
    name = "adapt" if adapt else "cuba_ff"
    directory = _activate(build_root, name, STRICT_FLAGS)
    seed = 31 if adapt else 30
    b2.seed(seed)
    rates = np.random.default_rng(seed).uniform(5.0, 40.0, prm["n_inputs"])  # Hz
    b2.defaultclock.dt = prm["dt"] * b2.second
    V, s = b2.volt, b2.second
    ns = dict(taum=prm["taum"] * s, taue=prm["taue"] * s, taui=prm["taui"] * s, El=prm["El"] * V,
              Vr=prm["Vr"] * V)
    if adapt:
        ns.update(tau_adapt=prm["tau_adapt"] * s, adapt_increment=prm["adapt_increment"] * V)
        P = b2.NeuronGroup(prm["n_neurons"], ADAPT_EQS, threshold="v > Vt + a",
                           reset="v = Vr; a += adapt_increment", refractory=prm["refractory"] * s,
                           method="exact", namespace=ns, name="neurons")
    else:
        P = b2.NeuronGroup(prm["n_neurons"], FF_EQS, threshold="v > Vt", reset="v = Vr",
                           refractory=prm["refractory"] * s, method="exact", namespace=ns, name="neurons")
    inp = b2.PoissonGroup(prm["n_inputs"], rates=rates * b2.Hz, name="inputs")
    P.v = f"{prm['v0_low']}*volt + rand()*{prm['v0_high'] - prm['v0_low']}*volt"
    P.bias = f"rand()*{prm['bias_max']}*volt"
    P.Vt = f"{prm['Vt_mean']}*volt + (2*rand() - 1)*{prm['Vt_spread']}*volt"
    Se = b2.Synapses(inp, P, "w : volt", on_pre="ge += w", name="syn_exc")
    Si = b2.Synapses(inp, P, "w : volt", on_pre="gi += w", name="syn_inh")
    Se.connect(p=prm["p"])
    Si.connect(p=prm["p"])
    Se.w = f"rand()*{prm['we_max']}*volt"
    Si.w = f"-rand()*{prm['wi_max']}*volt"
    out_mon = b2.SpikeMonitor(P)
    in_mon = b2.SpikeMonitor(inp)
    v0_mon = b2.StateMonitor(P, "v", record=True, dt=1 * b2.second)
    variables = ["v", "ge", "gi"] + (["a"] if adapt else [])
    trace = b2.StateMonitor(P, variables, record=range(5))
    net = b2.Network(P, inp, Se, Si, out_mon, in_mon, v0_mon, trace)
    timing = _run(net, prm["duration"] * s)
    dt = prm["dt"]
    arrays = dict(
        dt=np.float64(dt), n_steps=np.int64(round(prm["duration"] / dt)),
        n_neurons=np.int64(prm["n_neurons"]), n_inputs=np.int64(prm["n_inputs"]),
        tau_m=np.float64(prm["taum"]), tau_syn=np.array([prm["taue"], prm["taui"]]),
        v_rest=np.float64(prm["El"]), v_reset=np.float64(prm["Vr"]), refractory=np.float64(prm["refractory"]),
        v_threshold=np.asarray(P.Vt_[:], dtype=np.float64), bias=np.asarray(P.bias_[:], dtype=np.float64),
        v0=np.asarray(v0_mon.v_[:, 0], dtype=np.float64), input_rates=rates,
        input_index=_u16(in_mon.i[:]), input_step=_steps(in_mon.t_[:], dt),
        exc_pre=_u16(Se.i[:]), exc_post=_u16(Se.j[:]), exc_w=np.asarray(Se.w_[:], dtype=np.float64),
        inh_pre=_u16(Si.i[:]), inh_post=_u16(Si.j[:]), inh_w=np.asarray(Si.w_[:], dtype=np.float64),
        spike_index=_u16(out_mon.i[:]), spike_step=_steps(out_mon.t_[:], dt),
        trace_neurons=np.arange(5, dtype=np.uint16),
        **{f"trace_{v}": np.ascontiguousarray(getattr(trace, v + "_")[:, :300].T) for v in variables},
        **_meta(directory, STRICT_FLAGS, timing, ("neurons_stateupdater_codeobject",)),
    )
    if adapt:
        arrays.update(tau_adapt=np.float64(prm["tau_adapt"]), adapt_increment=np.float64(prm["adapt_increment"]),
                      a_final=np.asarray(P.a_[:], dtype=np.float64))
    _save(out, f"brian2_{name}.npz", arrays)
    steps = arrays["spike_step"]
    n, T = prm["n_neurons"], arrays["n_steps"]
    return {"spikes": int(steps.size), "input_spikes": int(arrays["input_step"].size),
            "synapses": (int(arrays["exc_pre"].size), int(arrays["inh_pre"].size)),
            "rate_first_100ms_hz": float(np.sum(steps < 1000) / n / 0.1),
            "rate_last_200ms_hz": float(np.sum(steps >= T - 2000) / n / 0.2)}


# ----------------------------------------------------------------------------------------------------------
# c'. Delta synapses (tau_syn=()): on_pre='v += w'
# ----------------------------------------------------------------------------------------------------------

DELTA_EQS = """
dv/dt = (bias - (v - El))/taum : volt (unless refractory)
bias : volt (constant)
Vt : volt (constant)
"""
DELTA = dict(n_inputs=200, n_neurons=100, duration=0.5, dt=1e-4, taum=20e-3, El=-55e-3, Vr=-60e-3,
             refractory=2e-3, p=0.1, w_max=3.0e-3, w_inh_fraction=0.25, bias_max=4e-3, Vt_mean=-50e-3,
             Vt_spread=1e-3)


def make_delta(out: Path, build_root: Path) -> dict:
    import brian2 as b2

    prm = DELTA
    directory = _activate(build_root, "delta", STRICT_FLAGS)
    b2.seed(40)
    rng = np.random.default_rng(40)
    n_in, n = prm["n_inputs"], prm["n_neurons"]
    rates = rng.uniform(5.0, 40.0, n_in)
    pre, post = np.nonzero(rng.random((n_in, n)) < prm["p"])  # sorted by pre, then post (Brian2's order)
    w = rng.uniform(0.0, prm["w_max"], pre.size) * np.where(rng.random(pre.size) < prm["w_inh_fraction"], -1, 1)
    bias = rng.uniform(0.0, prm["bias_max"], n)
    Vt = prm["Vt_mean"] + rng.uniform(-1, 1, n) * prm["Vt_spread"]
    v0 = rng.uniform(prm["Vr"], prm["Vt_mean"], n)
    b2.defaultclock.dt = prm["dt"] * b2.second
    V, s = b2.volt, b2.second
    ns = dict(taum=prm["taum"] * s, El=prm["El"] * V, Vr=prm["Vr"] * V)
    inp = b2.PoissonGroup(n_in, rates=rates * b2.Hz, name="inputs")
    G = b2.NeuronGroup(n, DELTA_EQS, threshold="v > Vt", reset="v = Vr", refractory=prm["refractory"] * s,
                       method="exact", namespace=ns, name="neurons_delta")
    G.v, G.bias, G.Vt = v0 * V, bias * V, Vt * V
    S = b2.Synapses(inp, G, "w : volt", on_pre="v += w", name="syn_delta")
    S.connect(i=pre, j=post)
    S.w = w * V
    mon, in_mon = b2.SpikeMonitor(G), b2.SpikeMonitor(inp)
    net = b2.Network(inp, G, S, mon, in_mon)
    timing = _run(net, prm["duration"] * s)
    dt = prm["dt"]
    assert np.array_equal(S.i[:], pre) and np.array_equal(S.j[:], post) and np.array_equal(S.w_[:], w)
    arrays = dict(
        dt=np.float64(dt), n_steps=np.int64(round(prm["duration"] / dt)), n_neurons=np.int64(n),
        n_inputs=np.int64(n_in), tau_m=np.float64(prm["taum"]), v_rest=np.float64(prm["El"]),
        v_reset=np.float64(prm["Vr"]), refractory=np.float64(prm["refractory"]), v_threshold=Vt, bias=bias,
        v0=v0, input_rates=rates, input_index=_u16(in_mon.i[:]), input_step=_steps(in_mon.t_[:], dt),
        inp_pre=_u16(pre), inp_post=_u16(post), inp_w=w,
        spike_index=_u16(mon.i[:]), spike_step=_steps(mon.t_[:], dt),
        **_meta(directory, STRICT_FLAGS, timing, ("neurons_delta_stateupdater_codeobject",
                                                  "syn_delta_pre_codeobject")),
    )
    _save(out, "brian2_delta.npz", arrays)
    return {"spikes": int(arrays["spike_step"].size), "input_spikes": int(arrays["input_step"].size),
            "synapses": int(pre.size)}


# ----------------------------------------------------------------------------------------------------------
# d. STDP (Song, Miller & Abbott 2000; Brian2 examples/synapses/STDP.py)
# ----------------------------------------------------------------------------------------------------------

STDP_PRM = dict(N=1000, taum=10e-3, taupre=20e-3, taupost=20e-3, Ee=0.0, vt=-54e-3, vr=-60e-3, El=-74e-3,
                taue=5e-3, F=15.0, gmax=0.01, dApre=0.01, dt=1e-4)


def _stdp_network(b2, current_based: bool, monitor_inputs: bool, example_monitors: bool):
    p = STDP_PRM
    scale = STDP_SCALE if current_based else 1.0
    g_max = p["gmax"] * scale
    d_pre = p["dApre"]
    d_post = -d_pre * p["taupre"] / p["taupost"] * 1.05
    d_post *= g_max
    d_pre *= g_max
    ns = dict(taum=p["taum"] * b2.second, taupre=p["taupre"] * b2.second, taupost=p["taupost"] * b2.second,
              Ee=p["Ee"] * b2.volt, vt=p["vt"] * b2.volt, vr=p["vr"] * b2.volt, El=p["El"] * b2.volt,
              taue=p["taue"] * b2.second)
    unit = "volt" if current_based else "1"
    u = b2.volt if current_based else 1
    ns.update(gmax=g_max * u, dApre=d_pre * u, dApost=d_post * u)
    if current_based:
        eqs = """
        dv/dt = (ge + El - v) / taum : volt
        dge/dt = -ge / taue : volt
        """
        method, lo = "exact", "0*volt"
    else:
        eqs = """
        dv/dt = (ge * (Ee-v) + El - v) / taum : volt
        dge/dt = -ge / taue : 1
        """
        method, lo = "euler", "0"
    poisson_input = b2.PoissonGroup(p["N"], rates=p["F"] * b2.Hz, name="poisson_input")
    neurons = b2.NeuronGroup(1, eqs, threshold="v>vt", reset="v = vr", method=method, namespace=ns, name="neurons")
    S = b2.Synapses(poisson_input, neurons,
                    f"""w : {unit}
                    dApre/dt = -Apre / taupre : {unit} (event-driven)
                    dApost/dt = -Apost / taupost : {unit} (event-driven)""",
                    on_pre=f"""ge += w
                    Apre += dApre
                    w = clip(w + Apost, {lo}, gmax)""",
                    on_post=f"""Apost += dApost
                    w = clip(w + Apre, {lo}, gmax)""", namespace=ns, name="synapses")
    S.connect()
    S.w = "rand() * gmax"
    objects = [poisson_input, neurons, S]
    mons = {"out": b2.SpikeMonitor(neurons)}
    if example_monitors:  # the example's own monitors
        mons["w"] = b2.StateMonitor(S, "w", record=[0, 1])
        mons["in"] = b2.SpikeMonitor(poisson_input)
    elif monitor_inputs:
        mons["in"] = b2.SpikeMonitor(poisson_input)
    if monitor_inputs:
        mons["w0"] = b2.StateMonitor(S, "w", record=np.arange(STDP_PRM["N"]), dt=1e3 * b2.second)  # t = 0 only
    objects += list(mons.values())
    return b2.Network(*objects), S, mons, dict(gmax=g_max, dApre=d_pre, dApost=d_post)


def _histogram(w: np.ndarray, gmax: float, bins: int = 10) -> list[int]:
    return np.histogram(w / gmax, bins=bins, range=(0.0, 1.0))[0].tolist()


def run_stdp_long(build_root: Path, current_based: bool, seconds: float, flags, repeats: int) -> dict:
    import brian2 as b2

    _activate(build_root, "stdp_long_" + ("current" if current_based else "original"), flags)
    b2.seed(2000)
    b2.defaultclock.dt = STDP_PRM["dt"] * b2.second
    net, S, mons, derived = _stdp_network(b2, current_based, monitor_inputs=False, example_monitors=True)
    timing = _run(net, seconds * b2.second, repeats=repeats)
    w = np.asarray(S.w_[:] if current_based else S.w[:], dtype=np.float64)
    gmax = derived["gmax"]
    timing.update(seconds=seconds, out_spikes=int(mons["out"].num_spikes),
                  rate_last_10s_hz=float(np.sum(mons["out"].t_[:] >= seconds - 10) / 10.0),
                  histogram_w_over_gmax_10_bins=_histogram(w, gmax),
                  fraction_below_0_1_gmax=float(np.mean(w < 0.1 * gmax)),
                  fraction_above_0_9_gmax=float(np.mean(w > 0.9 * gmax)))
    return {"timing": timing, "w_final": w}


def make_stdp(out: Path, build_root: Path, seconds: float, long_runs: dict) -> dict:
    import brian2 as b2

    directory = _activate(build_root, "stdp", STRICT_FLAGS)
    b2.seed(2000)
    b2.defaultclock.dt = STDP_PRM["dt"] * b2.second
    net, S, mons, derived = _stdp_network(b2, True, monitor_inputs=True, example_monitors=False)
    timing = _run(net, seconds * b2.second)
    p, dt = STDP_PRM, STDP_PRM["dt"]
    arrays = dict(
        dt=np.float64(dt), n_steps=np.int64(round(seconds / dt)), n_inputs=np.int64(p["N"]),
        input_rate=np.float64(p["F"]), tau_m=np.float64(p["taum"]), tau_syn=np.array([p["taue"]]),
        v_rest=np.float64(p["El"]), v_threshold=np.float64(p["vt"]), v_reset=np.float64(p["vr"]),
        v0=np.float64(0.0), tau_pre=np.float64(p["taupre"]), tau_post=np.float64(p["taupost"]),
        a_pre=np.float64(derived["dApre"]), a_post=np.float64(derived["dApost"]), w_min=np.float64(0.0),
        w_max=np.float64(derived["gmax"]), driving_force_scale=np.float64(STDP_SCALE),
        input_index=_u16(mons["in"].i[:]), input_step=_steps(mons["in"].t_[:], dt),
        syn_pre=_u16(S.i[:]), syn_post=_u16(S.j[:]),
        w_init=np.asarray(mons["w0"].w_[:, 0], dtype=np.float64), w_final=np.asarray(S.w_[:], dtype=np.float64),
        out_step=_steps(mons["out"].t_[:], dt),
        **_meta(directory, STRICT_FLAGS, timing, ("neurons_stateupdater_codeobject", "synapses_pre_codeobject",
                                                  "synapses_post_codeobject")),
    )
    for which, result in long_runs.items():
        arrays[f"w_final_{int(result['timing']['seconds'])}s_{which}"] = result["w_final"]
    assert np.array_equal(arrays["syn_pre"], np.arange(p["N"])) and not arrays["syn_post"].any()
    _save(out, "brian2_stdp.npz", arrays)
    w0, w1 = arrays["w_init"], arrays["w_final"]
    return {"out_spikes": int(arrays["out_step"].size), "input_spikes": int(arrays["input_step"].size),
            "mean_abs_dw_over_gmax": float(np.mean(np.abs(w1 - w0)) / derived["gmax"]),
            "histogram_w_final": _histogram(w1, derived["gmax"])}


# ----------------------------------------------------------------------------------------------------------
# Independent NumPy re-runs of the fixtures (Brian2 semantics, see the module docstring)
# ----------------------------------------------------------------------------------------------------------

def _timestep(x, dt):
    """Brian2's _timestep: (int64)((x + 1e-3*dt)/dt)."""
    return np.trunc((np.asarray(x) + 1e-3 * dt) / dt).astype(np.int64)


def _by_source(pre: np.ndarray, n_pre: int):
    """Synapse indices grouped by source, ascending within each (Brian2's spike-queue order)."""
    order = np.argsort(pre, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n_pre))])
    return order, indptr


def _gather(sources: np.ndarray, order: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    if sources.size == 0:
        return np.empty(0, np.int64)
    return np.concatenate([order[indptr[s]:indptr[s + 1]] for s in sources])


def _events_per_step(index: np.ndarray, step: np.ndarray, n_steps: int) -> list[np.ndarray]:
    order = np.lexsort((index, step))
    index, step = index[order].astype(np.int64), step[order]
    bounds = np.searchsorted(step, np.arange(n_steps + 1))
    return [index[bounds[n]:bounds[n + 1]] for n in range(n_steps)]


def _lif_constants(dt, taum, taus):
    """Brian2's loop-invariant constants (generated stateupdater, see the docstring), in the same order."""
    e = math.exp
    c = {"em": e(-dt / taum)}
    for k, tau in enumerate(taus):
        c[f"es{k}"] = e(-dt / tau)
        # 1.0f*(((tau*exp(-dt/tau)) * (-exp(dt/tau) + exp(dt/taum))) * exp(-dt/taum)) / ((0.0 - taum) + tau)
        c[f"cs{k}"] = ((tau * e(-dt / tau)) * (-e(dt / tau) + e(dt / taum))) * e(-dt / taum) / ((0.0 - taum) + tau)
        # textbook form of the same coefficient
        c[f"ts{k}"] = tau / (tau - taum) * (e(-dt / tau) - e(-dt / taum))
    return c


def reference_lif(d, mode: str = "brian2", refractory_offset: int = 0, gate_delta: bool = True):
    """Re-run a LIF fixture (cuba, ff, adapt, delta) from its stored data; returns (index, step) arrays.

    mode "brian2": Brian2's generated expressions; mode "textbook": v_inf + (v - v_inf)*em + sum_k c_k I_k.
    refractory_offset and gate_delta=False are deliberate deviations, to show that the fixture notices them."""
    dt, T, N = float(d["dt"]), int(d["n_steps"]), int(d["n_neurons"])
    taum, El, Vr = float(d["tau_m"]), float(d["v_rest"]), float(d["v_reset"])
    taus = [float(x) for x in d["tau_syn"]] if "tau_syn" in d else []
    K = len(taus)
    Vt = np.broadcast_to(np.asarray(d["v_threshold"], dtype=np.float64), (N,))
    bias = np.broadcast_to(np.asarray(d["bias"], dtype=np.float64), (N,)) if "bias" in d else None
    R = int(_timestep(float(d["refractory"]), dt)) + refractory_offset
    adapt = "tau_adapt" in d
    ea = math.exp(-dt / float(d["tau_adapt"])) if adapt else 1.0
    inc = float(d["adapt_increment"]) if adapt else 0.0
    c = _lif_constants(dt, taum, taus)
    v = np.array(d["v0"], dtype=np.float64)
    I = np.zeros((K, N))
    a = np.zeros(N)
    lastspike = np.full(N, -1e4)  # Brian2's initial lastspike
    groups = []  # (source "self"/"input", pre, post, w, target k or -1 = v), in Brian2's delivery order
    if "exc_pre" in d:
        recurrent = "n_inputs" not in d
        for k, name in enumerate(("exc", "inh")):
            pre = d[f"{name}_pre"].astype(np.int64)
            w = np.broadcast_to(np.asarray(d[f"{name}_w"], dtype=np.float64), pre.shape)
            groups.append(("self" if recurrent else "input", pre, d[f"{name}_post"].astype(np.int64), w, k))
    else:
        groups.append(("input", d["inp_pre"].astype(np.int64), d["inp_post"].astype(np.int64), d["inp_w"], -1))
    n_in = int(d["n_inputs"]) if "n_inputs" in d else 0
    csr = [_by_source(pre, N if src == "self" else n_in) for src, pre, *_ in groups]
    inputs = _events_per_step(d["input_index"], d["input_step"], T) if n_in else None
    out_i, out_t = [], []
    for n in range(T):
        t = n * dt
        not_ref = _timestep(t - lastspike, dt) >= R
        if mode == "brian2":
            if K == 0:      # El + ((bias + (L15 * v)) + (L15 * (-El - bias)))
                v_new = El + ((bias + c["em"] * v) + c["em"] * (-El - bias))
            elif bias is None:  # L12 + (((L13 * ge) + (L14 * gi)) + (L15 * v))
                v_new = (El - El * c["em"]) + ((c["cs0"] * I[0] + c["cs1"] * I[1]) + c["em"] * v)
            else:           # El + ((((bias + (L13 * ge)) + (L14 * gi)) + (L15 * v)) + (L15 * (-El - bias)))
                v_new = El + ((((bias + c["cs0"] * I[0]) + c["cs1"] * I[1]) + c["em"] * v) + c["em"] * (-El - bias))
        else:
            v_inf = El + (bias if bias is not None else 0.0)
            v_new = v_inf + (v - v_inf) * c["em"]
            for k in range(K):
                v_new = v_new + c[f"ts{k}"] * I[k]
        for k in range(K):
            I[k] = c[f"es{k}"] * I[k]
        a = ea * a
        v = np.where(not_ref, v_new, v)
        spiking = np.flatnonzero((v > Vt + a) & not_ref)
        lastspike[spiking] = t
        not_ref[spiking] = False
        for (src, pre, post, w, k), (order, indptr) in zip(groups, csr):
            syn = _gather(spiking if src == "self" else inputs[n], order, indptr)
            if syn.size:
                if k >= 0:
                    np.add.at(I[k], post[syn], w[syn])
                else:  # v is "(unless refractory)": Brian2 generates `if(not_refractory) v += w;`
                    syn = syn[not_ref[post[syn]]] if gate_delta else syn
                    np.add.at(v, post[syn], w[syn])
        v[spiking] = Vr
        a[spiking] += inc
        out_i.append(spiking)
        out_t.append(np.full(spiking.size, n))
    return np.concatenate(out_i), np.concatenate(out_t)


def reference_stdp(d, mode: str = "brian2", post_first: bool = False):
    """Re-run the STDP fixture; returns (out_steps, w_final). post_first: a deliberate deviation (on_post
    before on_pre within a step), to show that the fixture notices it."""
    dt, T = float(d["dt"]), int(d["n_steps"])
    taum, taue = float(d["tau_m"]), float(d["tau_syn"][0])
    El, vt, vr = float(d["v_rest"]), float(d["v_threshold"]), float(d["v_reset"])
    inv_pre, inv_post = 1.0 / float(d["tau_pre"]), 1.0 / float(d["tau_post"])
    a_pre, a_post, w_min, w_max = (float(d[k]) for k in ("a_pre", "a_post", "w_min", "w_max"))
    e = math.exp
    L1 = e(-dt / taue)
    L2 = El - El * e(-dt / taum)
    L3 = (((taue * (-e(dt / taue) + e(dt / taum))) * e(-dt / taue)) * e(-dt / taum)) / (taue - taum)
    L4 = e(-dt / taum)
    T3 = taue / (taue - taum) * (e(-dt / taue) - e(-dt / taum))
    w = np.array(d["w_init"], dtype=np.float64)
    M = w.size
    Apre, Apost, last = np.zeros(M), np.zeros(M), np.zeros(M)
    v, ge = float(d["v0"]), 0.0
    inputs = _events_per_step(d["input_index"], d["input_step"], T)
    exp_each = np.frompyfunc(math.exp, 1, 1)  # libm exp, as the C++ code
    out = []
    for n in range(T):
        t = n * dt
        if mode == "brian2":
            v_new = L2 + ((L3 * ge) + (L4 * v))
        else:
            v_new = El + (v - El) * L4 + T3 * ge
        ge, v = L1 * ge, v_new
        spike = v > vt
        syn = inputs[n]  # synapse index = channel (S.connect() all-to-all onto one neuron)
        if spike and post_first:
            elapsed = -(t - last)
            Apost *= exp_each(inv_post * elapsed).astype(np.float64)
            Apre *= exp_each(inv_pre * elapsed).astype(np.float64)
            Apost += a_post
            w = np.clip(w + Apre, w_min, w_max)
            last[:] = t
        if syn.size:
            elapsed = -(t - last[syn])
            Apost[syn] *= exp_each(inv_post * elapsed).astype(np.float64)
            Apre[syn] *= exp_each(inv_pre * elapsed).astype(np.float64)
            for x in w[syn]:  # ge += w, one synapse after the other
                ge += x
            Apre[syn] += a_pre
            w[syn] = np.clip(w[syn] + Apost[syn], w_min, w_max)
            last[syn] = t
        if spike and not post_first:
            elapsed = -(t - last)
            Apost *= exp_each(inv_post * elapsed).astype(np.float64)
            Apre *= exp_each(inv_pre * elapsed).astype(np.float64)
            Apost += a_post
            w = np.clip(w + Apre, w_min, w_max)
            last[:] = t
        if spike:
            v = vr
            out.append(n)
    return np.asarray(out, dtype=np.int64), w


def _spike_diff(ref_i, ref_t, b_i, b_t) -> dict:
    ours = set(zip(ref_t.tolist(), ref_i.tolist()))
    theirs = set(zip(np.asarray(b_t).tolist(), np.asarray(b_i).tolist()))
    diff = ours ^ theirs
    return {"reference": len(ours), "brian2": len(theirs), "missing": len(theirs - ours),
            "extra": len(ours - theirs), "first_diff_step": min(diff)[0] if diff else None,
            "order_equal": bool(not diff and np.array_equal(ref_i, b_i) and np.array_equal(ref_t, b_t))}


def check(out: Path, names: list[str]) -> dict:
    results = {}
    for name in names:
        file = {"cuba": "brian2_cuba.npz", "ff": "brian2_cuba_ff.npz", "adapt": "brian2_adapt.npz",
                "delta": "brian2_delta.npz", "stdp": "brian2_stdp.npz"}[name]
        d = dict(np.load(out / file))
        for mode in ("brian2", "textbook"):
            if name == "stdp":
                steps, w = reference_stdp(d, mode)
                res = _spike_diff(np.zeros_like(steps), steps, np.zeros_like(d["out_step"]), d["out_step"])
                res["w_final_max_abs_diff"] = float(np.max(np.abs(w - d["w_final"])))
                res["w_final_equal"] = bool(np.array_equal(w, d["w_final"]))
            else:
                res = _spike_diff(*reference_lif(d, mode), d["spike_index"], d["spike_step"])
            results[f"{name}/{mode}"] = res
            print(f"check {name:<5} {mode:<8} {res}", flush=True)
        # deliberate deviations: how many spikes each one changes (the fixture must notice them)
        if name == "stdp":
            steps, w = reference_stdp(d, post_first=True)
            res = _spike_diff(np.zeros_like(steps), steps, np.zeros_like(d["out_step"]), d["out_step"])
            res["w_final_max_abs_diff"] = float(np.max(np.abs(w - d["w_final"])))
            results["stdp/deviation:on_post_before_on_pre"] = res
        else:
            deviations = {"refractory_steps+1": dict(refractory_offset=1),
                          "refractory_steps-1": dict(refractory_offset=-1)}
            if name == "delta":
                deviations["v+=w_while_refractory"] = dict(gate_delta=False)
            for label, kwargs in deviations.items():
                res = _spike_diff(*reference_lif(d, **kwargs), d["spike_index"], d["spike_step"])
                results[f"{name}/deviation:{label}"] = res
        for key in [k for k in results if k.startswith(f"{name}/deviation")]:
            r = results[key]
            print(f"check {key}: {r['missing']} missing, {r['extra']} extra of {r['brian2']}", flush=True)
    return results


# ----------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="cuba,ff,adapt,delta,stdp")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data")
    parser.add_argument("--build-root", type=Path, default=Path("/work/venvs/brian2-builds"))
    parser.add_argument("--stdp-seconds", type=float, default=10.0)
    parser.add_argument("--stdp-long-seconds", type=float, default=100.0)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    args.build_root.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    import brian2 as b2

    b2.prefs.logging.console_log_level = "WARNING"
    summary, timings = {}, {}
    if "cuba" in names:
        if not args.no_timing:
            timings["cuba_example_default_flags"] = time_cuba_default(args.build_root)
        summary["cuba"] = make_cuba(args.out, args.build_root, timings.get("cuba_example_default_flags"))
        timings["cuba_fixture_strict_flags"] = summary["cuba"]["fixture"]
    if "ff" in names:
        summary["ff"] = make_ff(args.out, args.build_root, adapt=False)
    if "adapt" in names:
        summary["adapt"] = make_ff(args.out, args.build_root, adapt=True)
    if "delta" in names:
        summary["delta"] = make_delta(args.out, args.build_root)
    if "stdp" in names:
        long_runs = {}
        if not args.no_timing:
            from brian2.codegen.cpp_prefs import default_buildopts

            for which, current in (("original", False), ("current", True)):
                long_runs[which] = run_stdp_long(args.build_root, current, args.stdp_long_seconds,
                                                 default_buildopts, repeats=2)
                timings[f"stdp_{which}_{int(args.stdp_long_seconds)}s_default_flags"] = long_runs[which]["timing"]
        summary["stdp"] = make_stdp(args.out, args.build_root, args.stdp_seconds, long_runs)
    for name, result in summary.items():
        print(f"{name}: {json.dumps(result)}", flush=True)
    if timings:
        timings_file = args.out / "brian2_timings.json"
        old = json.loads(timings_file.read_text()) if timings_file.exists() else {}
        old.update({k: v for k, v in timings.items()})
        old["_about"] = ("Brian2 %s cpp_standalone, single thread; loop_seconds = device._last_run_time (network.run "
                         "inside main, min over reruns of the binary), binary_seconds = the main process, "
                         "compile_seconds = make, build_and_run_seconds = the Python net.run call; machine: %s, "
                         "%d CPUs (shared)" % (b2.__version__, os.uname().machine, os.cpu_count()))
        timings_file.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        for key, value in timings.items():
            print(f"timing {key}: loop {value['loop_seconds']:.3f} s, binary {value['binary_seconds']:.3f} s, "
                  f"compile {value['compile_seconds']:.1f} s", flush=True)
    if not args.no_check:
        results = check(args.out, names)
        bad = [k for k, r in results.items() if k.endswith("/brian2") and (r["missing"] or r["extra"])]
        if bad:
            print("MISMATCH with Brian2's expressions:", bad)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
