"""LIFNetwork, LIFState, SpikeEvents (API.md section 7, issue #11).

* Brian2's own spikes (tests/data/brian2_*.npz: CUBA, feed-forward CUBA with Poisson input,
  threshold adaptation, delta synapses), spike for spike and in Brian2's order, on every
  backend; Brian2's recorded v, ge, gi of the first 300 steps, bit for bit.
* An obviously right loop of our own (tests/network_reference.py): float32 and float64, odd
  and empty shapes, every synapse and neuron option.
* Runs in chunks equal one run; events, dense and counts agree; batch rows are independent;
  the given state is never modified; exact integration (degenerate tau_syn = tau_m included).
* Sparse storage: bytes per synapse, shared read-only static weights, scipy.sparse and dense
  matrices, bounded memory while building.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import neurojit
from conftest import DATA
from network_reference import Group, coefficient, reference_run
from neurojit import JITCompiler, JITConfig, LIFNetwork, LIFState, SpikeEvents, operations

FIXTURES = {name: DATA / f"brian2_{name}.npz" for name in ("cuba", "cuba_ff", "adapt", "delta")}


@pytest.fixture(scope="module")
def fixtures():
    out = {}
    for name, path in FIXTURES.items():
        with np.load(path) as data:
            out[name] = {key: data[key] for key in data.files}
    return out


@pytest.fixture(scope="module")
def python_compiler():
    return JITCompiler(JITConfig(backend="python"))


def cuba_network(d, compiler):
    net = LIFNetwork(int(d["n_neurons"]), dt=float(d["dt"]), tau_m=float(d["tau_m"]), v_rest=float(d["v_rest"]),
                     v_reset=float(d["v_reset"]), v_threshold=float(d["v_threshold"]),
                     refractory=float(d["refractory"]), tau_syn=tuple(d["tau_syn"]), compiler=compiler)
    net.connect(d["exc_pre"], d["exc_post"], float(d["exc_w"]), syn_type=0)
    net.connect(d["inh_pre"], d["inh_post"], float(d["inh_w"]), syn_type=1)
    return net


def feedforward_network(d, compiler):
    kw = dict(dt=float(d["dt"]), tau_m=float(d["tau_m"]), v_rest=float(d["v_rest"]), v_reset=float(d["v_reset"]),
              v_threshold=d["v_threshold"], bias=d["bias"], refractory=float(d["refractory"]),
              tau_syn=tuple(d["tau_syn"]) if "tau_syn" in d else ())
    if "tau_adapt" in d:
        kw.update(tau_adapt=float(d["tau_adapt"]), adapt_increment=float(d["adapt_increment"]))
    net = LIFNetwork(int(d["n_neurons"]), compiler=compiler, **kw)
    n_in = int(d["n_inputs"])
    if "exc_pre" in d:
        net.connect_input(n_in, d["exc_pre"], d["exc_post"], d["exc_w"], syn_type=0)
        net.connect_input(n_in, d["inh_pre"], d["inh_post"], d["inh_w"], syn_type=1)
    else:
        net.connect_input(n_in, d["inp_pre"], d["inp_post"], d["inp_w"])
    return net


def fixture_inputs(d, n_steps=None):
    n_steps = int(d["n_steps"]) if n_steps is None else n_steps
    keep = d["input_step"] < n_steps
    return SpikeEvents(d["input_step"][keep], d["input_index"][keep], n_steps=n_steps, n_channels=int(d["n_inputs"]))


def assert_brian2_spikes(events, d, n_steps):
    keep = d["spike_step"] < n_steps
    expected_step, expected_index = d["spike_step"][keep].astype(np.int64), d["spike_index"][keep].astype(np.int64)
    ours = set(zip(events.step.tolist(), events.index.tolist()))
    theirs = set(zip(expected_step.tolist(), expected_index.tolist()))
    assert not ours ^ theirs, f"{len(ours - theirs)} extra and {len(theirs - ours)} missing spikes of {len(theirs)}"
    np.testing.assert_array_equal(events.step, expected_step)  # and in Brian2's order (by step, then index)
    np.testing.assert_array_equal(events.index, expected_index)
    assert not events.batch.any()


# -- Brian2 -------------------------------------------------------------------------------


def test_the_fixtures_are_what_the_data_readme_says(fixtures):
    assert fixtures["cuba"]["spike_index"].size == 24300 and fixtures["cuba"]["exc_pre"].size == 255634
    assert [fixtures[n]["spike_index"].size for n in ("cuba_ff", "adapt", "delta")] == [1038, 734, 1920]


def test_brian2_cuba_spike_for_spike(compiler, fixtures):
    """Brian2's CUBA example (4000 neurons, 320k synapses): all 24,300 spikes of 1 s (the NumPy
    backend: the first 1000 steps, to keep the test short)."""
    d = fixtures["cuba"]
    n_steps = 1000 if compiler.config.backend == "python" else int(d["n_steps"])
    net = cuba_network(d, compiler)
    events, state = net.run(n_steps, net.initial_state(v=d["v0"][None]))
    assert isinstance(events, SpikeEvents) and events.shape == (1, n_steps, 4000)
    assert_brian2_spikes(events, d, n_steps)
    if n_steps == int(d["n_steps"]):
        assert len(events) == 24300


@pytest.mark.parametrize("name", ["cuba_ff", "adapt", "delta"])
def test_brian2_feedforward_fixtures_spike_for_spike(compiler, fixtures, name):
    """Poisson channels handed over as SpikeEvents, per-neuron bias and thresholds; with threshold
    adaptation (its final values bit for bit); with delta synapses (gated while refractory)."""
    d = fixtures[name]
    net = feedforward_network(d, compiler)
    events, state = net.run(fixture_inputs(d), net.initial_state(v=d["v0"][None]))
    assert_brian2_spikes(events, d, int(d["n_steps"]))
    if name == "adapt":
        np.testing.assert_array_equal(state.adaptation[0], d["a_final"])


@pytest.mark.parametrize("name", ["cuba", "cuba_ff", "adapt"])
def test_brian2_traces_bit_for_bit(fixtures, name):
    """Brian2's recorded v, ge, gi (and a) of neurons 0..4 at the start of each of the first 300
    steps equal the state after that many steps: the same arithmetic, not just the same spikes."""
    d = fixtures[name]
    compiler = JITCompiler(JITConfig(backend="aot" if neurojit.backends.select.aot_status().backend else "python"))
    net = cuba_network(d, compiler) if name == "cuba" else feedforward_network(d, compiler)
    inputs = fixture_inputs(d, 300).to_dense() if name != "cuba" else None
    state = net.initial_state(v=d["v0"][None])
    for step in range(300):
        np.testing.assert_array_equal(state.v[0, :5], d["trace_v"][step], err_msg=f"v at step {step}")
        np.testing.assert_array_equal(state.i_syn[0, 0, :5], d["trace_ge"][step], err_msg=f"ge at step {step}")
        np.testing.assert_array_equal(state.i_syn[0, 1, :5], d["trace_gi"][step], err_msg=f"gi at step {step}")
        if name == "adapt":
            np.testing.assert_array_equal(state.adaptation[0, :5], d["trace_a"][step], err_msg=f"a at step {step}")
        _, state = net.run(1 if inputs is None else inputs[:, step:step + 1], state)


def test_brian2_cuba_from_a_scipy_matrix_and_in_float32(fixtures):
    """The same network built from scipy.sparse matrices gives the same spikes; float32 runs and
    stays close (its own rounding: not Brian2's spikes one for one)."""
    sparse = pytest.importorskip("scipy.sparse")
    d = fixtures["cuba"]
    compiler = JITCompiler(JITConfig(backend="aot" if neurojit.backends.select.aot_status().backend else "python"))
    n = int(d["n_neurons"])
    net = LIFNetwork(n, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3, refractory=5e-3,
                     tau_syn=(5e-3, 10e-3), compiler=compiler)
    for k, name in enumerate(("exc", "inh")):
        pre, post = d[f"{name}_pre"].astype(np.int64), d[f"{name}_post"].astype(np.int64)
        net.connect(sparse.csr_matrix((np.full(pre.size, float(d[f"{name}_w"])), (pre, post)), shape=(n, n)),
                    syn_type=k)
    steps = 2000
    events, _ = net.run(steps, net.initial_state(v=d["v0"][None]))
    assert_brian2_spikes(events, d, steps)
    net32 = LIFNetwork(n, dt=1e-4, tau_m=20e-3, v_rest=-49e-3, v_reset=-60e-3, v_threshold=-50e-3,
                       refractory=5e-3, tau_syn=(5e-3, 10e-3), dtype="float32", compiler=compiler)
    net32.connect(d["exc_pre"], d["exc_post"], float(d["exc_w"]), syn_type=0)
    net32.connect(d["inh_pre"], d["inh_post"], float(d["inh_w"]), syn_type=1)
    events32, state32 = net32.run(steps, net32.initial_state(v=d["v0"][None]))
    assert state32.v.dtype == np.float32
    assert abs(len(events32) - len(events)) < 0.05 * len(events)
    early = set(zip(events.step[events.step < 200].tolist(), events.index[events.step < 200].tolist()))
    early32 = set(zip(events32.step.tolist(), events32.index.tolist()))
    assert len(early & early32) >= 0.9 * len(early)  # the first 20 ms mostly agree


# -- against the reference loop -----------------------------------------------------------


def random_case(rng, *, n=7, n_in=5, k=2, batch=2, steps=40, dtype=np.float64, **options):
    """A random network (every option on) as LIFNetwork arguments, reference groups and inputs."""
    params = dict(dt=1e-3, tau_m=rng.uniform(0.01, 0.03, n), v_threshold=rng.uniform(0.8, 1.2, n),
                  v_reset=rng.uniform(-0.2, 0.1, n), v_rest=0.5, refractory=rng.choice([0.0, 1e-3, 3e-3], n),
                  tau_syn=tuple(rng.uniform(0.002, 0.01, k)), syn_gain=rng.uniform(0.5, 2, k) if k else 1.0,
                  bias=rng.uniform(0.2, 0.7, n), tau_adapt=0.05, adapt_increment=0.1)
    params.update(options)
    s_rec = int(rng.integers(0, 4 * n))
    rec = (rng.integers(0, n, s_rec), rng.integers(0, n, s_rec), rng.normal(0.3, 0.4, s_rec),
           rng.integers(0, max(k, 1), s_rec))
    s_in = int(rng.integers(1, 3 * n))
    inp = (rng.integers(0, n_in, s_in), rng.integers(0, n, s_in), rng.uniform(0.5, 2.0, s_in))
    spikes = rng.random((batch, steps, n_in)) < 0.2
    v0 = rng.uniform(-0.2, 1.0, (batch, n))
    return params, rec, inp, spikes, v0


def build(params, rec, inp, n, n_in, compiler, dtype=np.float64):
    net = LIFNetwork(n, dtype=dtype, compiler=compiler, **params)
    net.connect(rec[0], rec[1], rec[2], syn_type=rec[3] if params.get("tau_syn", ()) else 0)
    net.connect_input(n_in, *inp)
    groups = [Group(False, rec[0], rec[1], rec[2], rec[3] if params.get("tau_syn", ()) else 0),
              Group(True, inp[0], inp[1], inp[2])]
    return net, groups


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_matches_the_reference_loop(compiler, rng, k, dtype):
    n, n_in = 7, 5
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, k=k)
    net, groups = build(params, rec, inp, n, n_in, compiler, dtype)
    for record in ("dense", "events", "counts"):
        out, state = net.run(spikes, net.initial_state(2, v=v0), record=record)
        expected, (v, current, left, a) = reference_run(n, dtype=dtype, groups=groups, input_spikes=spikes, v0=v0,
                                                        **params)
        dense = out.to_dense() if record == "events" else out
        if record == "counts":
            np.testing.assert_array_equal(out, expected.sum(axis=1))
        else:
            np.testing.assert_array_equal(dense, expected)
        np.testing.assert_array_equal(state.v, v)
        np.testing.assert_array_equal(state.i_syn, current)
        np.testing.assert_array_equal(state.refractory, left)
        np.testing.assert_array_equal(state.adaptation, a)
        assert state.v.dtype == dtype and state.i_syn.shape == (2, k, n)
    assert 0 < expected.sum() < expected.size / 2


@pytest.mark.parametrize("case", ["uniform", "no_bias", "no_adaptation", "single_neuron", "no_synapses"])
def test_matches_the_reference_loop_in_each_path(compiler, rng, case):
    """The loop's fast path (every neuron with the same constants, K <= 2) and its general path."""
    n, n_in = (1, 3) if case == "single_neuron" else (300, 6)
    options = {}
    if case in ("uniform", "no_adaptation", "single_neuron", "no_synapses"):
        options = dict(tau_m=0.02, bias=0.3, v_reset=0.0, refractory=2e-3)
    if case == "no_bias":
        options = dict(tau_m=0.02, bias=0.0, v_rest=1.1, v_reset=0.0)
    if case == "no_adaptation":
        options.update(tau_adapt=None, adapt_increment=0.0)
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, k=2, steps=60, **options)
    if case == "no_synapses":
        net = LIFNetwork(n, compiler=compiler, **params)
        groups = []
        spikes = spikes[:, :, :0]
    else:
        net, groups = build(params, rec, inp, n, n_in, compiler)
    out, state = net.run(spikes, net.initial_state(2, v=v0), record="dense")
    expected, (v, current, left, a) = reference_run(n, groups=groups, input_spikes=spikes, v0=v0, **params)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(state.v, v)
    np.testing.assert_array_equal(state.i_syn, current)
    np.testing.assert_array_equal(state.adaptation, a)
    assert expected.any()


def test_brian2_order_equals_the_textbook_closed_form(rng):
    """The reference's two ways of writing one step agree to rounding (so neither is mistyped)."""
    n, n_in = 6, 4
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, k=2, steps=30)
    groups = [Group(False, *rec), Group(True, *inp)]
    for mode in ("brian2", "textbook"):
        out, state = reference_run(n, groups=groups, input_spikes=spikes, v0=v0, mode=mode, **params)
        if mode == "brian2":
            brian2 = (out, state)
    np.testing.assert_array_equal(out, brian2[0])
    np.testing.assert_allclose(state[0], brian2[1][0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", ["T0", "B0", "no_inputs_width", "big_refractory"])
def test_odd_and_empty_shapes(compiler, rng, shape):
    n, n_in = 5, 3
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, k=2)
    net, groups = build(params, rec, inp, n, n_in, compiler)
    if shape == "T0":
        events, state = net.run(np.zeros((2, 0, n_in)), net.initial_state(2, v=v0))
        assert len(events) == 0 and events.shape == (2, 0, n)
        np.testing.assert_array_equal(state.v, v0)
        counts, _ = net.run(0, net.initial_state(2), record="counts")
        assert counts.shape == (2, n) and not counts.any()
    elif shape == "B0":
        dense, state = net.run(np.zeros((0, 10, n_in)), record="dense")
        assert dense.shape == (0, 10, n) and state.v.shape == (0, n)
        events, _ = net.run(10, net.initial_state(0))
        assert len(events) == 0
    elif shape == "no_inputs_width":
        plain = LIFNetwork(n, dt=1e-3, tau_m=0.02, v_threshold=1.0, bias=1.5, compiler=compiler)
        dense, _ = plain.run(np.zeros((1, 50, 0)), record="dense")
        assert dense.any()
        events, _ = plain.run(SpikeEvents([], [], n_steps=50))
        np.testing.assert_array_equal(events.to_dense(), dense)
    else:  # a refractory period longer than the run
        long = LIFNetwork(n, dt=1e-3, tau_m=0.02, v_threshold=1.0, v_reset=0.0, refractory=1.0, bias=2.0,
                          compiler=compiler)
        events, state = long.run(100, long.initial_state(v=1.5))
        assert len(events) == n and (events.step == 0).all()
        assert (state.refractory == 1000 - 100).all()


# -- state, chunks, records, batch --------------------------------------------------------


def _state_arrays(state):
    return state.v, state.i_syn, state.refractory, state.adaptation


@pytest.mark.parametrize("cuts", [[0, 1, 17, 17, 60], [0, 30, 60], [0, 59, 60]])
def test_chunked_runs_equal_one_run(compiler, rng, cuts):
    n, n_in = 40, 6
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, k=2, steps=60, batch=3,
                                               refractory=rng.choice([0.0, 2e-3, 5e-3, 9e-3], 40))
    net, _ = build(params, rec, inp, n, n_in, compiler)
    start = net.initial_state(3, v=v0)
    whole, final = net.run(spikes, start, record="dense")
    state, parts = start, []
    for lo, hi in zip(cuts, cuts[1:]):
        out, state = net.run(SpikeEvents.from_dense(spikes[:, lo:hi]), state, record="dense")
        parts.append(out)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    for a, b in zip(_state_arrays(state), _state_arrays(final)):
        np.testing.assert_array_equal(a, b)
    assert state.refractory.any(), "the case must carry refractory neurons across a boundary"


def test_run_never_modifies_the_state_it_is_given(compiler, rng):
    n, n_in = 20, 4
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in)
    net, _ = build(params, rec, inp, n, n_in, compiler)
    state = net.initial_state(2, v=v0)
    _, state = net.run(spikes, state)
    saved = [a.copy() for a in _state_arrays(state)]
    _, new = net.run(spikes, state)
    for a, b in zip(_state_arrays(state), saved):
        np.testing.assert_array_equal(a, b)
    assert all(a is not b for a, b in zip(_state_arrays(state), _state_arrays(new)))


def test_events_dense_and_counts_agree_and_events_are_sorted(compiler, rng):
    n, n_in = 30, 5
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, batch=3, steps=80)
    net, _ = build(params, rec, inp, n, n_in, compiler)
    state = net.initial_state(3, v=v0)
    events, _ = net.run(spikes, state)
    dense, _ = net.run(spikes, state, record="dense")
    counts, _ = net.run(spikes, state, record="counts")
    assert dense.dtype == bool and counts.dtype == np.int64
    np.testing.assert_array_equal(events.to_dense(), dense)
    np.testing.assert_array_equal(counts, dense.sum(axis=1))
    keys = (events.batch * 80 + events.step) * n + events.index
    assert (np.diff(keys) > 0).all()
    assert events.shape == (3, 80, n) and len(events) == dense.sum()


def test_batch_rows_are_independent_trials(compiler, rng):
    n, n_in = 25, 5
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, batch=4, steps=50)
    net, _ = build(params, rec, inp, n, n_in, compiler)
    together, state = net.run(spikes, net.initial_state(4, v=v0), record="dense")
    for b in range(4):
        alone, row = net.run(spikes[b:b + 1], net.initial_state(1, v=v0[b:b + 1]), record="dense")
        np.testing.assert_array_equal(alone[0], together[b])
        np.testing.assert_array_equal(row.v[0], state.v[b])


def test_inputs_as_steps_dense_or_events_agree(compiler, rng):
    n, n_in = 15, 4
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, batch=2, steps=30)
    net, _ = build(params, rec, inp, n, n_in, compiler)
    state = net.initial_state(2, v=v0)
    dense, _ = net.run(spikes, state, record="dense")
    from_events, _ = net.run(SpikeEvents.from_dense(spikes), state, record="dense")
    shuffled = SpikeEvents.from_dense(spikes)
    order = rng.permutation(len(shuffled))
    unsorted = SpikeEvents(shuffled.step[order], shuffled.index[order], shuffled.batch[order], n_steps=30,
                           n_channels=n_in)
    from_unsorted, _ = net.run(unsorted, state, record="dense")
    float_input, _ = net.run(spikes * rng.uniform(0.5, 2.0, spikes.shape), state, record="dense")
    for out in (from_events, from_unsorted, float_input):
        np.testing.assert_array_equal(out, dense)
    silent_steps, _ = net.run(30, state, record="dense")
    silent_array, _ = net.run(np.zeros((2, 30, n_in)), state, record="dense")
    np.testing.assert_array_equal(silent_steps, silent_array)


def test_the_event_buffers_grow_when_full(compiler, rng, monkeypatch):
    net = LIFNetwork(50, dt=1e-3, tau_m=0.01, v_threshold=1.0, bias=rng.uniform(1.5, 3.0, 50), compiler=compiler)
    v = rng.uniform(0, 1, (3, 50))
    dense, state = net.run(200, net.initial_state(3, v=v), record="dense")
    monkeypatch.setattr(operations, "NETWORK_EVENTS", 1)  # rows start with room for 2 N spikes
    events, small = net.run(200, net.initial_state(3, v=v))
    assert len(events) > 20 * 50
    np.testing.assert_array_equal(events.to_dense(), dense)
    for a, b in zip(_state_arrays(small), _state_arrays(state)):
        np.testing.assert_array_equal(a, b)


# -- exact integration --------------------------------------------------------------------


@pytest.mark.parametrize("tau_syn", [0.02, 0.02 * (1 + 1e-9), 0.02 * (1 - 1e-6), 0.02 * (1 + 1e-4), 0.025, 0.003])
def test_one_step_is_the_exact_solution_also_for_tau_syn_equal_tau_m(python_compiler, tau_syn):
    """tau_m dv/dt = v_rest + bias - v + g I, tau_s dI/dt = -I from v0, I0: v(dt) in closed form,
    evaluated with 40-digit decimals (t/tau e^{-t/tau} where tau_s = tau_m): the coefficient is
    exact to rounding through the degenerate case and near it."""
    from decimal import Decimal, getcontext

    dt, tau_m, g, v_rest, bias, v0, i0 = 1e-3, 0.02, 1.7, -0.01, 0.3, 0.2, 0.9
    net = LIFNetwork(1, dt=dt, tau_m=tau_m, v_threshold=10.0, v_rest=v_rest, bias=bias, tau_syn=(tau_syn,),
                     syn_gain=g, compiler=python_compiler)
    state = net.initial_state(v=v0)
    state.i_syn[:] = i0
    _, after = net.run(1, state)
    getcontext().prec = 40
    D = Decimal
    dt_, tm, ts = D(dt), D(tau_m), D(tau_syn)
    em = (-dt_ / tm).exp()
    c = em * dt_ / tm if ts == tm else ts / (ts - tm) * ((-dt_ / ts).exp() - em)
    v_inf = D(v_rest) + D(bias)
    exact = float(v_inf + (D(v0) - v_inf) * em + D(g) * D(i0) * c)
    # Brian2's closed form (kept for |dt/tau_m - dt/tau_s| >= 1e-3, bit for bit with Brian2) cancels
    # in exp(-dt/tau_s) - exp(-dt/tau_m): about eps / |dt/tau_m - dt/tau_s| relative; the limit form is exact
    x = abs(dt / tau_m - dt / tau_syn)
    assert after.v[0, 0] == pytest.approx(exact, rel=4e-16 if x < 1e-3 else 4e-16 / x, abs=1e-17)
    assert after.i_syn[0, 0, 0] == pytest.approx(i0 * math.exp(-dt / tau_syn), rel=1e-15)


def test_many_steps_follow_a_fine_euler_integration(python_compiler):
    """The general model (bias, three current types, one with tau_syn = tau_m, adaptation) over
    200 steps without spikes: v as a 1000x finer Euler integration of the ODEs, I and a as their
    exponentials."""
    dt, tau_m, tau_syn, gains = 1e-3, 0.02, (0.005, 0.02, 0.05), (1.0, -0.5, 2.0)
    net = LIFNetwork(1, dt=dt, tau_m=tau_m, v_threshold=100.0, v_rest=-0.1, bias=0.4, tau_syn=tau_syn,
                     syn_gain=gains, tau_adapt=0.1, compiler=python_compiler)
    state = net.initial_state(v=0.05)
    start = np.array([1.0, 0.6, -0.3])
    state.i_syn[0, :, 0] = start
    state.adaptation[:] = 0.7
    _, after = net.run(200, state)
    v, current = 0.05, start.copy()
    h = dt / 1000
    for _ in range(200 * 1000):
        v += h * (-0.1 + 0.4 - v + float(np.dot(gains, current))) / tau_m
        current = start * np.exp(-(_ + 1) * h / np.array(tau_syn))
    assert after.v[0, 0] == pytest.approx(v, abs=2e-5)
    np.testing.assert_allclose(after.i_syn[0, :, 0], start * np.exp(-0.2 / np.array(tau_syn)), rtol=1e-12)
    assert after.adaptation[0, 0] == pytest.approx(0.7 * math.exp(-2.0), rel=1e-12)


def test_coefficient_is_continuous_at_the_degenerate_point():
    dt, tau_m = 1e-4, 0.02
    values = [coefficient(dt, tau_m, tau_m * (1 + e)) for e in (-1e-2, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 1e-2)]
    assert all(b > 0 for b in values)
    assert np.all(np.abs(np.diff(values)) < 1e-2 * values[3])
    from neurojit.network import _exp_terms

    em, (c,) = _exp_terms(dt, tau_m, (tau_m,))
    assert c == em * dt / tau_m


# -- storage ------------------------------------------------------------------------------


def test_storage_is_compressed_by_source_and_static_weights_are_shared(python_compiler, rng):
    n = 500
    net = LIFNetwork(n, dt=1e-4, tau_m=0.02, v_threshold=1.0, tau_syn=(5e-3, 1e-2), compiler=python_compiler)
    pre, post = rng.integers(0, n, 20000), rng.integers(0, n, 20000)
    net.connect(pre, post, rng.normal(0, 1, 20000), syn_type=rng.integers(0, 2, 20000))
    net.connect(rng.integers(0, n, 10000), rng.integers(0, n, 10000), 0.5, syn_type=1)
    # per-synapse weights: 4 (target) + 8 (weight) bytes; one weight for the group: 4; plus O(N)
    assert net.synapse_bytes <= 12 * 20000 + 4 * 10000 + 8 * 2 * (n + 1) + 200
    s1 = net.initial_state(3)
    _, s2 = net.run(10, s1)
    w_per_synapse, w_one = s2.weights
    assert w_per_synapse is s1.weights[0] and w_one is s1.weights[1]
    assert not w_per_synapse.flags.writeable and not w_one.flags.writeable
    assert np.shares_memory(w_per_synapse, net._weights) and w_one.shape == (10000,) and w_one.strides == (0,)
    with pytest.raises(ValueError):
        w_per_synapse[0] = 1.0
    # storage order: by source, each source's synapses in the order given
    order = np.argsort(pre, kind="stable")
    targets = net._targets[:20000].astype(np.int64) % n
    np.testing.assert_array_equal(targets, post[order])


def test_index_arrays_scipy_and_dense_matrices_and_unsorted_pre_build_the_same_network(python_compiler, rng):
    sparse = pytest.importorskip("scipy.sparse")
    n, n_in = 60, 20
    dense_w = np.where(rng.random((n_in, n)) < 0.2, rng.normal(0, 1, (n_in, n)), 0.0)
    pre, post = np.nonzero(dense_w)
    spikes = rng.random((2, 40, n_in)) < 0.3

    def run(*connect):
        net = LIFNetwork(n, dt=1e-3, tau_m=0.02, v_threshold=0.5, tau_syn=(0.005,), compiler=python_compiler)
        net.connect_input(n_in, *connect)
        return net.run(spikes, record="dense")[0], net

    expected, net = run(pre, post, dense_w[pre, post])
    for matrix in (dense_w, sparse.csr_matrix(dense_w), sparse.coo_matrix(dense_w), sparse.csc_matrix(dense_w)):
        got, other = run(matrix)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(other._targets, net._targets)
    with_zero = sparse.csr_matrix(dense_w)
    with_zero.data[0] = 0.0  # an explicit zero is not a synapse
    assert run(with_zero)[1].n_synapses == pre.size - 1
    shuffle = rng.permutation(pre.size)
    got, other = run(pre[shuffle], post[shuffle], dense_w[pre, post][shuffle])
    np.testing.assert_array_equal(other._ptr, net._ptr)


def test_building_many_synapses_stays_within_twice_the_storage(python_compiler, monkeypatch):
    """2 M synapses (unsorted, per-synapse weights): the build allocates at most about the
    final storage again on top of it (bounded chunks, no full-size index copies)."""
    import neurojit.network as network_module

    monkeypatch.setattr(network_module, "BUILD_CHUNK", 1 << 18)
    rng = np.random.default_rng(5)
    n, count = 20000, 2_000_000
    pre = rng.integers(0, n, count).astype(np.int32)
    post = rng.integers(0, n, count).astype(np.int32)
    weight = rng.normal(0, 1, count)
    net = LIFNetwork(n, dt=1e-4, tau_m=0.02, v_threshold=1.0, tau_syn=(5e-3, 1e-2), compiler=python_compiler)
    tracemalloc.start()
    try:
        net.connect(pre, post, weight, syn_type=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    storage = net.synapse_bytes
    assert storage <= 12 * count + 16 * (n + 1) + 1000
    assert peak <= 2 * storage, f"peak {peak / 2**20:.0f} MiB for {storage / 2**20:.0f} MiB of synapses"
    order = np.argsort(pre, kind="stable")
    np.testing.assert_array_equal(net._targets[:1000].astype(np.int64) - n, post[order[:1000]])
    np.testing.assert_array_equal(net._weights[-1000:], weight[order[-1000:]])


# -- SpikeEvents --------------------------------------------------------------------------


def test_spike_events_round_trip_and_sort(rng):
    dense = rng.random((3, 20, 7)) < 0.2
    events = SpikeEvents.from_dense(dense)
    assert events.shape == (3, 20, 7) and len(events) == dense.sum()
    np.testing.assert_array_equal(events.to_dense(), dense)
    order = rng.permutation(len(events))
    mixed = SpikeEvents(events.step[order], events.index[order], events.batch[order], n_steps=20, n_channels=7,
                        n_batch=3)
    assert mixed.sorted() == events and mixed != events
    single = SpikeEvents.from_dense(dense[0])
    assert single.shape == (1, 20, 7) and not single.batch.any()
    assert SpikeEvents([3], [2]).shape == (1, 4, 3)
    assert "SpikeEvents" in repr(events)


@pytest.mark.parametrize("arguments, error, match", [
    (([1, 2], [0]), ValueError, "one length"),
    (([-1], [0]), ValueError, "step must be >= 0"),
    (([1.5], [0]), TypeError, "step must hold integers"),
    (([5], [0], None, 5), ValueError, "step must be < n_steps"),
    (([0], [3], None, None, 3), ValueError, "index must be < n_channels"),
    (([[0]], [0]), ValueError, "1-D"),
])
def test_spike_events_reject_bad_arrays(arguments, error, match):
    with pytest.raises(error, match=match):
        SpikeEvents(*arguments)


# -- bad input ----------------------------------------------------------------------------

GOOD = dict(dt=1e-4, tau_m=0.02, v_threshold=-0.05, v_reset=-0.06, v_rest=-0.049, refractory=5e-3,
            tau_syn=(5e-3, 1e-2))


@pytest.mark.parametrize("change, error, match", [
    (dict(tau_m=0.0), ValueError, "tau_m must be positive"),
    (dict(tau_m=-0.02), ValueError, "tau_m must be positive"),
    (dict(tau_m=float("nan")), ValueError, "tau_m must be finite"),
    (dict(tau_m=np.full(3, 0.02)), ValueError, r"tau_m must be a scalar or \(N,\) = \(10,\)"),
    (dict(tau_syn=(5e-3, 0.0)), ValueError, "tau_syn must hold finite, positive"),
    (dict(tau_syn=(float("inf"),)), ValueError, "tau_syn must hold finite, positive"),
    (dict(tau_syn=("a",)), TypeError, "tau_syn must hold real numbers"),
    (dict(tau_adapt=0.0), ValueError, "tau_adapt must be positive"),
    (dict(tau_adapt=-1.0, adapt_increment=1.0), ValueError, "tau_adapt must be positive"),
    (dict(adapt_increment=0.1), ValueError, "adapt_increment needs tau_adapt"),
    (dict(refractory=-1e-3), ValueError, "refractory must be >= 0"),
    (dict(refractory=float("nan")), ValueError, "refractory must be finite"),
    (dict(dt=0.0), ValueError, "dt must be positive"),
    (dict(dt=float("inf")), ValueError, "dt must be finite"),
    (dict(v_threshold=None), TypeError, "v_threshold must be a real number"),
    (dict(v_threshold=True), TypeError, "v_threshold must be a real number"),
    (dict(bias=np.array(["x"] * 10)), TypeError, "bias must hold real numbers"),
    (dict(syn_gain=(1.0, 2.0, 3.0)), ValueError, r"syn_gain must be a scalar or \(K,\) = \(2,\)"),
    (dict(dtype="int32"), ValueError, "dtype must be float32 or float64"),
    (dict(compiler="jit"), TypeError, "compiler must be a JITCompiler"),
])
def test_bad_parameters_are_refused_by_name(python_compiler, change, error, match):
    params = dict(GOOD, compiler=python_compiler)
    params.update(change)
    with pytest.raises(error, match=match):
        LIFNetwork(10, **params)


def test_bad_connections_are_refused_by_name(python_compiler):
    net = LIFNetwork(10, compiler=python_compiler, **GOOD)
    cases = [
        ((np.array([0, 10]), np.array([1, 2]), 0.1), {}, ValueError, r"pre must index the 10 neurons"),
        ((np.array([0, -1]), np.array([1, 2]), 0.1), {}, ValueError, r"pre must index the 10 neurons"),
        ((np.array([0, 1]), np.array([1, 12]), 0.1), {}, ValueError, r"post must index the 10 neurons"),
        ((np.array([0, 1]), np.array([1]), 0.1), {}, ValueError, "pre and post must have one length"),
        ((np.array([0, 1]), np.array([1, 2]), np.ones(3)), {}, ValueError, r"weight must be a scalar or \(2,\)"),
        ((np.array([0, 1]), np.array([1, 2]), np.array([1.0, np.nan])), {}, ValueError, r"weight\[1\] = nan"),
        ((np.array([0, 1]), np.array([1, 2]), np.inf), {}, ValueError, "weight must be finite"),
        ((np.array([0.0, 1.0]), np.array([1, 2]), 0.1), {}, TypeError, "pre must hold integers"),
        ((np.array([0, 1]), np.array([1, 2]), 0.1), dict(syn_type=2), ValueError, r"syn_type must be in \[0, K\) = \[0, 2\)"),
        ((np.array([0, 1]), np.array([1, 2]), 0.1), dict(syn_type=-1), ValueError, "syn_type must be in"),
        ((np.array([0, 1]), np.array([1, 2]), 0.1), dict(syn_type=np.array([0, 5])), ValueError, "syn_type must be in"),
        ((np.array([0, 1]), np.array([1, 2]), 0.1), dict(syn_type=np.array([0])), ValueError, r"syn_type must be an int or \(2,\)"),
        ((np.array([0, 1]), np.array([1, 2]), 0.1), dict(plasticity=object()), TypeError, "plasticity must be None or a neurojit.STDP"),
        ((np.array([0, 1]), np.array([1, 2])), {}, TypeError, "give pre, post and weight"),
        ((np.ones((10, 9)),), {}, ValueError, r"pre must be a \(neurons, neurons\) = \(10, 10\) matrix"),
        ((np.array([0, 1]),), {}, TypeError, "pre must be an index array"),
    ]
    for args, kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            net.connect(*args, **kwargs)
    assert net.n_groups == 0 and net.n_synapses == 0  # nothing half-added
    delta = LIFNetwork(10, dt=1e-4, tau_m=0.02, v_threshold=1.0, compiler=python_compiler)
    with pytest.raises(ValueError, match="syn_type must be 0 with tau_syn=()"):
        delta.connect([0], [1], 0.1, syn_type=1)
    net.connect_input(4, [0, 3], [1, 2], 0.1)
    with pytest.raises(ValueError, match="n_inputs = 5 differs from the 4 input channels"):
        net.connect_input(5, [0], [1], 0.1)
    with pytest.raises(ValueError, match="pre must index the 4 input channels"):
        net.connect_input(4, [4], [1], 0.1)
    with pytest.raises(ValueError, match="n_inputs must be >= 1"):
        net.connect_input(0, [0], [1], 0.1)


def test_bad_runs_are_refused_by_name(python_compiler, rng):
    net = LIFNetwork(10, compiler=python_compiler, **GOOD)
    net.connect_input(4, [0, 3], [1, 2], 0.1)
    other = LIFNetwork(10, compiler=python_compiler, **GOOD)
    state = net.initial_state(2)
    cases = [
        ((np.zeros((2, 5, 3)),), dict(state=state), ValueError, r"inputs must be \(B, T, I\) = \(B, T, 4\)"),
        ((np.zeros((3, 5, 4)),), dict(state=state), ValueError, "inputs have 3 batch rows, the state 2"),
        ((np.zeros((5, 4)),), {}, ValueError, r"inputs must be \(B, T, I\)"),
        ((SpikeEvents([0], [4], n_steps=3),), {}, ValueError, "channel index 4 is out of range for the 4 input"),
        ((SpikeEvents([0], [1], n_steps=3, n_channels=5),), {}, ValueError, "inputs have 5 channels"),
        ((SpikeEvents([0], [1], [2], n_steps=3),), dict(state=state), ValueError, "batch row 2 is out of range"),
        ((SpikeEvents([0], [1]),), {}, ValueError, "need n_steps"),
        ((SpikeEvents([0, 0], [1, 1], n_steps=3),), {}, ValueError, "spikes twice at one step"),
        ((-1,), {}, ValueError, "inputs .a number of steps. must be >= 0"),
        ((2.5,), {}, TypeError, "inputs must be an int"),
        (("5",), {}, TypeError, "inputs must be an int"),
        ((np.zeros((2, 5, 4), complex),), {}, TypeError, "inputs must hold numbers"),
        ((5,), dict(state=other.initial_state(2)), ValueError, "state belongs to another network"),
        ((5,), dict(state=(state.v,)), TypeError, "state must be a LIFState"),
        ((5,), dict(record="spikes"), ValueError, "record must be 'events', 'dense' or 'counts'"),
    ]
    for args, kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            net.run(*args, **kwargs)
    broken = LIFState(state.v[:, :9], state.i_syn, state.refractory, state.adaptation, (), state.weights,
                      state.network)
    with pytest.raises(ValueError, match=r"state.v must be"):
        net.run(5, broken)
    broken = LIFState(state.v, state.i_syn, state.refractory[:1], state.adaptation, (), state.weights, state.network)
    with pytest.raises(ValueError, match=r"state.refractory must be \(2, 10\)"):
        net.run(5, broken)
    negative = LIFState(state.v, state.i_syn, -np.ones((2, 10), np.int64), state.adaptation, (), state.weights,
                        state.network)
    with pytest.raises(ValueError, match="state.refractory must be >= 0"):
        net.run(5, negative)
    before = net.initial_state(2)
    net.connect([0], [1], 0.2)
    with pytest.raises(ValueError, match="before its last connect"):
        net.run(5, before)
    with pytest.raises(ValueError, match=r"v must be \(B, N\) = \(2, 10\)"):
        net.initial_state(2, v=np.zeros((3, 10)))
    with pytest.raises(ValueError, match="v must be finite"):
        net.initial_state(1, v=np.nan)
    with pytest.raises(ValueError, match="batch must be >= 0"):
        net.initial_state(-1)


def test_the_kernel_refuses_arrays_that_would_send_the_loop_out_of_bounds(python_compiler, rng):
    """What the loop relies on is checked before it runs, also when the kernel is called directly."""
    net = LIFNetwork(10, compiler=python_compiler, **GOOD)
    net.connect(rng.integers(0, 10, 30), rng.integers(0, 10, 30), 0.1)
    net.connect_input(4, [0, 3], [1, 2], rng.normal(0, 1, 2))
    kernel = python_compiler.kernel("network_run")
    in_ptr, in_index, _ = net._inputs(rng.random((1, 5, 4)) < 0.5, 1)
    state = net.initial_state(1)
    args = dict(neuron=net._neuron, coef=net._coef, syn_decay=net._syn_decay, refractory_steps=net._refractory_steps,
                groups=net._groups, group_weights=net._group_weights, ptr=net._ptr, targets=net._targets,
                weights=net._weights, in_ptr=in_ptr, in_index=in_index, v=state.v, i_syn=state.i_syn,
                adaptation=state.adaptation, refractory=state.refractory)
    args.update(zip(("plastic", "stdp_rates", "stdp_amps", "post_ptr", "post_syn", "post_grp", "neuron_ptr", "neuron_syn",
                     "neuron_pre", "syn_post", "dt", "plastic_weights", "a_pre", "a_post", "last", "traces", "clock"),
                    net._plastic_arguments(state)))
    kernel(**args)
    bad = {
        "ptr": (net._ptr + 1, "ptr must be non-decreasing"),
        "groups": (net._groups * np.array([1, 1, 2, 1, 1]), "does not describe a group|N = 10 sources"),
        "in_index": (np.full_like(in_index, 4), "in_index must be < 4"),
        "in_ptr": (in_ptr[:, ::-1].copy(), "in_ptr rows must be non-decreasing"),
        "weights": (net._weights[:1], "are not within weights"),
        "neuron": (net._neuron[:7], "8 rows"),
    }
    for name, (value, match) in bad.items():
        with pytest.raises(ValueError, match=match):
            kernel(**dict(args, **{name: value}))
    with pytest.raises(ValueError, match="record must be one of"):
        kernel(**args, record="all")
    with pytest.raises(TypeError, match="targets must hold integers"):
        kernel(**dict(args, targets=net._targets.astype(float)))


def test_lazy_exports():
    assert neurojit.LIFNetwork is LIFNetwork and neurojit.SpikeEvents is SpikeEvents
    assert {"LIFNetwork", "LIFState", "SpikeEvents"} <= set(neurojit.__all__)


def test_a_batch_split_over_threads_equals_one_call(rng, monkeypatch):
    """The AOT backend's batch split (threads over row slices) gives the single call's results."""
    from neurojit.backends import python, threads
    from neurojit.backends.threads import ThreadedBackend
    from neurojit.kernel import kernel_on

    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    n, n_in = 30, 5
    params, rec, inp, spikes, v0 = random_case(rng, n=n, n_in=n_in, batch=5, steps=40)
    net, _ = build(params, rec, inp, n, n_in, JITCompiler(JITConfig(backend="python")))
    in_ptr, in_index, _ = net._inputs(spikes, 5)
    state = net.initial_state(5, v=v0)
    args = (net._neuron, net._coef, net._syn_decay, net._refractory_steps, net._groups, net._group_weights, net._ptr,
            net._targets, net._weights, in_ptr, in_index, state.v, state.i_syn, state.adaptation, state.refractory,
            *net._plastic_arguments(state))
    calls = []

    class Counting:
        name, native = "counting", True

        def loop(self, name, dtype):
            def run(*a):
                calls.append(a[13].shape[0])  # rows of v in this slice
                return python.loop(name, dtype)(*a)
            return run

    expected = kernel_on(python, "network_run")(*args)
    got = kernel_on(ThreadedBackend(Counting(), threads=3), "network_run")(*args)
    assert sorted(calls) == [1, 2, 2]
    for a, b in zip(got[0], expected[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got[1:], expected[1:]):
        np.testing.assert_array_equal(a, b)


def test_import_neurojit_does_not_import_the_network_module():
    from conftest import run_python

    result = run_python("import sys, neurojit; print('neurojit.network' in sys.modules); neurojit.LIFNetwork;"
                        " print('neurojit.network' in sys.modules)")
    assert result.stdout.split() == ["False", "True"]
