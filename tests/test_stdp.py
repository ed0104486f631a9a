"""STDP on LIFNetwork synapse groups (API.md section 8): Brian2's STDP example bit for bit, the pair
rule by hand, batch rows, chunked runs, bounds, backends, bad input."""

import math

import numpy as np
import pytest

import neurojit
from conftest import DATA
from neurojit import STDP, JITCompiler, JITConfig, LIFNetwork, SpikeEvents


@pytest.fixture(scope="module")
def stdp_fixture():
    with np.load(DATA / "brian2_stdp.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def python_compiler():
    return JITCompiler(JITConfig(backend="python"))


def stdp_example(d, compiler, dtype=np.float64, traces="synapse"):
    """The fixture's model as tests/data/README.md maps it."""
    net = LIFNetwork(1, dt=float(d["dt"]), tau_m=float(d["tau_m"]), v_rest=float(d["v_rest"]),
                     v_reset=float(d["v_reset"]), v_threshold=float(d["v_threshold"]), tau_syn=tuple(d["tau_syn"]),
                     dtype=dtype, compiler=compiler)
    rule = STDP(float(d["tau_pre"]), float(d["tau_post"]), float(d["a_pre"]), float(d["a_post"]), float(d["w_min"]),
                float(d["w_max"]), traces=traces)
    net.connect_input(int(d["n_inputs"]), d["syn_pre"].astype(np.int64), d["syn_post"].astype(np.int64), d["w_init"],
                      plasticity=rule)
    return net


def example_inputs(d, first=0, stop=None):
    stop = int(d["n_steps"]) if stop is None else stop
    keep = (d["input_step"] >= first) & (d["input_step"] < stop)
    return SpikeEvents(d["input_step"][keep] - first, d["input_index"][keep], n_steps=stop - first,
                       n_channels=int(d["n_inputs"]))


def test_the_fixture_is_what_the_data_readme_says(stdp_fixture):
    d = stdp_fixture
    assert d["input_step"].size == 149471 and d["out_step"].size == 720 and int(d["n_steps"]) == 100000
    assert np.histogram(d["w_final_100s_current"] / d["w_max"], 10, (0, 1))[0].tolist() == [
        266, 135, 72, 53, 48, 58, 52, 48, 95, 173]


def test_brian2_stdp_example_spike_for_spike_and_weights_bit_for_bit(compiler, stdp_fixture):
    """Brian2's input spikes and initial weights handed over: its 720 output spikes and its final
    weights exactly (per-synapse traces decayed lazily with Brian2's expression)."""
    d = stdp_fixture
    net = stdp_example(d, compiler)
    spikes, state = net.run(example_inputs(d), net.initial_state(v=0.0))
    np.testing.assert_array_equal(spikes.step, d["out_step"])
    assert state.weights[0].shape == (1, 1000)
    np.testing.assert_array_equal(state.weights[0][0], d["w_final"])
    assert int(state.step[0]) == int(d["n_steps"])


def test_brian2_stdp_example_with_per_neuron_traces(compiler, stdp_fixture):
    """Per-neuron traces on Brian2's example: its 720 output spikes, and its final weights up to
    the rounding of about 870 updates each (measured: 1.0e-17, 75 ulp of w_max; Brian2's own
    per-synapse traces round differently at each of their decays)."""
    d = stdp_fixture
    net = stdp_example(d, compiler, traces="neuron")
    spikes, state = net.run(example_inputs(d), net.initial_state(v=0.0))
    np.testing.assert_array_equal(spikes.step, d["out_step"])
    difference = np.abs(state.weights[0][0] - d["w_final"]).max()
    assert 0 < difference <= 256 * np.finfo(np.float64).eps * float(d["w_max"]), difference


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_neuron_traces_at_extreme_time_constants(compiler, python_compiler, rng, dtype):
    """A time constant far below dt (an epoch of one step: the trace rescaled every step) and one
    so long that its epoch is capped (2**40 steps): the same numbers on every backend, and the
    per-synapse rule's spikes."""
    seed = int(rng.integers(1 << 30))
    results = []
    for traces, comp in (("neuron", compiler), ("neuron", python_compiler), ("synapse", compiler)):
        local = np.random.default_rng(seed)
        net = LIFNetwork(8, dt=1e-3, tau_m=0.02, v_threshold=1.0, tau_syn=(5e-3,), bias=0.7, dtype=dtype, compiler=comp)
        pre, post = np.nonzero(local.random((8, 8)) < 0.4)
        net.connect(pre, post, local.uniform(0, 0.3, pre.size), plasticity=STDP(1e-6, 1e9, 0.01, -0.002, 0.0, 0.3,
                                                                                traces=traces))
        pre, post = np.nonzero(local.random((5, 8)) < 0.5)
        net.connect_input(5, pre, post, local.uniform(0, 0.5, pre.size),
                          plasticity=STDP(1e9, 1e-6, 0.003, -0.01, 0.0, 0.5, traces=traces))
        inputs = local.random((2, 400, 5)) < 0.1
        results.append(net.run(inputs, net.initial_state(2, v=local.uniform(0, 1, (2, 8)))))
    (spikes, state), (ref_spikes, ref_state), (exact_spikes, exact_state) = results
    assert spikes == ref_spikes == exact_spikes and len(spikes) > 100
    for a, b in zip(_flat(state), _flat(ref_state)):
        np.testing.assert_array_equal(a, b)
    for index in (0, 1):
        assert np.isfinite(state.weights[index]).all()
        assert not np.array_equal(state.weights[index], net.initial_state(2).weights[index])
        np.testing.assert_allclose(state.weights[index], exact_state.weights[index], rtol=0,
                                   atol=64 * np.finfo(dtype).eps)


def test_the_kernel_refuses_plastic_arrays_that_would_send_the_loop_out_of_bounds(python_compiler, rng):
    net, inputs, v0 = recurrent_case(python_compiler, rng, traces="mixed", steps=20)
    kernel = python_compiler.kernel("network_run")
    in_ptr, in_index, _ = net._inputs(inputs, 3)
    state = net.initial_state(3, v=v0)
    args = dict(neuron=net._neuron, coef=net._coef, syn_decay=net._syn_decay, refractory_steps=net._refractory_steps,
                groups=net._groups, group_weights=net._group_weights, ptr=net._ptr, targets=net._targets,
                weights=net._weights, in_ptr=in_ptr, in_index=in_index, v=state.v, i_syn=state.i_syn,
                adaptation=state.adaptation, refractory=state.refractory)
    names = ("plastic", "stdp_rates", "stdp_amps", "post_ptr", "post_syn", "post_grp", "neuron_ptr", "neuron_syn",
             "neuron_pre", "syn_post", "dt", "plastic_weights", "a_pre", "a_post", "last", "traces", "clock")
    args.update(zip(names, net._plastic_arguments(state)))
    kernel(**args)
    plastic, traces = args["plastic"], args["traces"]
    bad = {
        "plastic": (plastic * np.array([[2, 1, 1, 1]]), "traces must be 0 \\(static\\), 1 \\(per synapse\\) or 2"),
        "traces": (traces[:, 1:], "per-neuron traces of group .* are not within"),
        "syn_post": (args["syn_post"] + traces.shape[1], "syn_post must index"),
        "neuron_ptr": (args["neuron_ptr"][:, ::-1].copy(), "neuron_ptr rows must be non-decreasing"),
        "neuron_syn": (args["neuron_syn"] + args["plastic_weights"].shape[1], "neuron_syn must index"),
        "neuron_pre": (args["neuron_pre"][1:], "neuron_pre one per neuron_syn"),
        "post_grp": (np.zeros_like(args["post_grp"]), "post_grp must name groups with per-synapse traces"),
        "post_syn": (args["post_syn"] + args["a_pre"].shape[1], "post_syn must index"),
    }
    for name, (value, match) in bad.items():
        with pytest.raises(ValueError, match=match):
            kernel(**dict(args, **{name: value}))


def test_brian2_stdp_example_in_chunks_and_in_float32(compiler, stdp_fixture):
    d = stdp_fixture
    net = stdp_example(d, compiler)
    whole, state = net.run(example_inputs(d, 0, 20000), net.initial_state(v=0.0))
    steps, chunked = [], net.initial_state(v=0.0)
    for lo, hi in ((0, 7000), (7000, 7001), (7001, 20000)):
        part, chunked = net.run(example_inputs(d, lo, hi), chunked)
        steps.append(part.step + lo)
    np.testing.assert_array_equal(np.concatenate(steps), whole.step)
    np.testing.assert_array_equal(chunked.weights[0], state.weights[0])
    for a, b in zip(chunked.traces[0], state.traces[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.step, d["out_step"][d["out_step"] < 20000])
    # float32: the same model learns the same way (not bit for bit: weights within float32 rounding)
    net32 = stdp_example(d, compiler, np.float32)
    spikes32, state32 = net32.run(example_inputs(d, 0, 20000), net32.initial_state(v=0.0))
    assert state32.weights[0].dtype == np.float32
    assert abs(len(spikes32) - len(whole)) <= 2
    assert np.abs(state32.weights[0] - state.weights[0]).max() < 0.05 * float(d["w_max"])


def _two_inputs(compiler, rule, dtype=np.float64):
    """One delta-synapse neuron; channel 0 plastic (w 0.5), channel 1 static and strong (it makes the
    neuron spike one step later)."""
    net = LIFNetwork(1, dt=1e-3, tau_m=0.01, v_threshold=1.0, tau_syn=(), dtype=dtype, compiler=compiler)
    net.connect_input(2, [0], [0], np.array([0.5]), plasticity=rule)
    net.connect_input(2, [1], [0], 10.0)
    return net


def test_the_pair_rule_by_hand(compiler):
    rule = STDP(tau_pre=0.02, tau_post=0.01, a_pre=0.1, a_post=-0.2, w_min=0.0, w_max=1.0)
    net = _two_inputs(compiler, rule)
    inputs = np.zeros((1, 8, 2), bool)
    inputs[0, 0] = True  # plastic pre at 0, forced post spike at 1
    inputs[0, 5, 0] = True  # plastic pre again at 5
    spikes, state = net.run(inputs)
    assert spikes.step.tolist() == [1]
    expected = 0.5 + 0.1 * math.exp(-1e-3 / 0.02)  # post after pre: potentiation by A_pre
    expected += -0.2 * math.exp(-4e-3 / 0.01)  # pre after post: depression by A_post
    assert state.weights[0][0, 0] == pytest.approx(expected, rel=1e-12)
    a_pre, a_post, last = state.traces[0]
    assert a_pre[0, 0] == pytest.approx(0.1 * math.exp(-5e-3 / 0.02) + 0.1, rel=1e-12)
    assert a_post[0, 0] == pytest.approx(-0.2 * math.exp(-4e-3 / 0.01), rel=1e-12)
    assert last[0, 0] == 5 and state.step.tolist() == [8]
    assert state.weights[1] is net.initial_state().weights[1]  # the static group stays shared


def test_on_pre_runs_before_on_post_in_one_step(python_compiler):
    """A pre and a post spike at one step: on_pre sees the old A_post, on_post the new A_pre."""
    rule = STDP(0.02, 0.02, 0.1, -0.05, 0.0, 1.0)
    net = _two_inputs(python_compiler, rule)
    inputs = np.zeros((1, 3, 2), bool)
    inputs[0, 0, 1] = True  # post spike at step 1
    inputs[0, 1, 0] = True  # pre spike at step 1 too
    spikes, state = net.run(inputs)
    assert spikes.step.tolist() == [1]
    assert state.weights[0][0, 0] == pytest.approx(0.5 + 0.0 + 0.1, rel=1e-14)  # w + A_post(0), then + A_pre


def test_the_pair_rule_by_hand_with_per_neuron_traces(compiler):
    """Per-neuron traces: one A_pre per source, one A_post per neuron, the same rule - also across
    the epochs (32 time constants of steps, counted from step 0) at which their scale is reset."""
    from neurojit.kernels.network import EPOCH

    dt, tau_pre, tau_post = 1e-3, 0.2, 0.1
    rule = STDP(tau_pre, tau_post, a_pre=0.1, a_post=-0.2, w_min=-1.0, w_max=1.0, traces="neuron")
    net = _two_inputs(compiler, rule)
    post_epoch, pre_epoch = round(EPOCH * tau_post / dt), round(EPOCH * tau_pre / dt)  # 3200, 6400 steps
    inputs = np.zeros((1, pre_epoch + 20, 2), bool)
    inputs[0, 0] = True  # plastic pre at 0, forced post spike at 1
    inputs[0, post_epoch - 11, 1] = True  # post spike just before the post trace's first new epoch
    inputs[0, post_epoch + 10, 0] = inputs[0, pre_epoch + 10, 0] = True  # pre just after it, after the pre one's
    spikes, state = net.run(inputs)
    assert spikes.step.tolist() == [1, post_epoch - 10]

    def a_pre(step, spikes):
        return sum(0.1 * math.exp(-(step - s) * dt / tau_pre) for s in spikes if s <= step)

    def a_post(step, spikes):
        return sum(-0.2 * math.exp(-(step - s) * dt / tau_post) for s in spikes if s <= step)

    pre_spikes, post_spikes = [0, post_epoch + 10, pre_epoch + 10], [1, post_epoch - 10]
    expected = 0.5 + a_pre(1, pre_spikes) + a_pre(post_epoch - 10, pre_spikes)  # on_post: + A_pre
    expected += a_post(post_epoch + 10, post_spikes) + a_post(pre_epoch + 10, post_spikes)  # on_pre: + A_post
    assert state.weights[0][0, 0] == pytest.approx(expected, rel=1e-12)
    # the state keeps each trace scaled to its epoch's start: A = z * exp(-(last step - epoch start) / tau)
    z_pre, z_post = state.traces[0]
    assert z_pre.shape == (1, 2) and z_post.shape == (1, 1)  # the group's two input channels, one neuron
    last = pre_epoch + 19
    assert z_pre[0, 0] * math.exp(-(last % pre_epoch) * dt / tau_pre) == pytest.approx(a_pre(last, pre_spikes),
                                                                                      rel=1e-12)
    assert z_post[0, 0] * math.exp(-(last % post_epoch) * dt / tau_post) == pytest.approx(
        a_post(last, post_spikes), rel=1e-12)


@pytest.mark.parametrize("traces", ["neuron", "mixed"])
def test_per_neuron_traces_equal_per_synapse_traces_up_to_rounding(compiler, rng, traces):
    """The same sums of exponentials: the same spikes, and weights that differ by the rounding of
    their ~130 updates (measured over 5 seeds: at most 18 ulp of the weight range)."""
    seed = int(rng.integers(1 << 30))
    net, inputs, v0 = recurrent_case(compiler, np.random.default_rng(seed), traces=traces, steps=1000)
    exact, _, _ = recurrent_case(compiler, np.random.default_rng(seed), traces="synapse", steps=1000)
    spikes, state = net.run(inputs, net.initial_state(3, v=v0))
    exact_spikes, exact_state = exact.run(inputs, exact.initial_state(3, v=v0))
    assert spikes == exact_spikes and len(spikes) > 200
    for index, span in ((0, 0.8), (2, 0.4)):
        difference = np.abs(state.weights[index] - exact_state.weights[index]).max()
        assert difference <= 64 * np.finfo(np.float64).eps * span, (index, difference)


#: which groups of recurrent_case keep their traces per neuron
TRACES = {"synapse": ("synapse", "synapse"), "neuron": ("neuron", "neuron"), "mixed": ("neuron", "synapse")}


def recurrent_case(compiler, rng, dtype=np.float64, batch=3, steps=300, traces="synapse"):
    n, n_in = 12, 6
    input_traces, recurrent_traces = TRACES[traces]
    net = LIFNetwork(n, dt=1e-3, tau_m=0.02, v_threshold=1.0, v_reset=0.0, refractory=2e-3, tau_syn=(5e-3, 1e-2),
                     bias=0.6, dtype=dtype, compiler=compiler)
    pre, post = np.nonzero(rng.random((n_in, n)) < 0.5)
    net.connect_input(n_in, pre, post, rng.uniform(0, 0.8, pre.size),
                      plasticity=STDP(0.02, 0.02, 0.05, -0.06, 0.0, 0.8, traces=input_traces))
    pre, post = np.nonzero(rng.random((n, n)) < 0.3)
    net.connect(pre, post, 0.05, syn_type=1)  # static, one weight
    net.connect(pre, post, rng.uniform(-0.1, 0.3, pre.size), syn_type=rng.integers(0, 2, pre.size),
                plasticity=STDP(0.01, 0.03, 0.02, -0.025, -0.1, 0.3, traces=recurrent_traces))
    inputs = rng.random((batch, steps, n_in)) < 0.1
    v0 = rng.uniform(0, 1, (batch, n))
    return net, inputs, v0


def _flat(state):
    return [state.v, state.i_syn, state.refractory, state.step, *state.weights,
            *(x for traces in state.traces for x in traces)]


@pytest.mark.parametrize("traces", sorted(TRACES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_input_and_recurrent_plastic_groups_agree_on_every_backend(compiler, python_compiler, rng, dtype, traces):
    seed = int(rng.integers(1 << 30))
    net, inputs, v0 = recurrent_case(compiler, np.random.default_rng(seed), dtype, traces=traces)
    spikes, state = net.run(inputs, net.initial_state(3, v=v0))
    assert len(spikes) > 50
    # the same network on the NumPy twin
    ref_net, _, _ = recurrent_case(python_compiler, np.random.default_rng(seed), dtype, traces=traces)
    ref_spikes, ref_state = ref_net.run(inputs, ref_net.initial_state(3, v=v0))
    assert spikes == ref_spikes
    for a, b in zip(_flat(state), _flat(ref_state)):
        np.testing.assert_array_equal(a, b)
    # weights learned, within bounds
    for index, (low, high) in ((0, (0.0, 0.8)), (2, (-0.1, 0.3))):
        w = state.weights[index]
        assert w.shape[0] == 3 and w.dtype == dtype
        assert w.min() >= dtype(low) and w.max() <= dtype(high)
        assert not np.array_equal(w, net.initial_state(3).weights[index])
        assert ((w == dtype(low)) | (w == dtype(high))).any()  # the bounds were reached


@pytest.mark.parametrize("traces", ["synapse", "mixed"])
def test_each_batch_row_learns_its_own_weights(compiler, rng, traces):
    net, inputs, v0 = recurrent_case(compiler, rng, traces=traces)
    spikes, state = net.run(inputs, net.initial_state(3, v=v0))
    assert not np.array_equal(state.weights[0][0], state.weights[0][1])
    for b in range(3):
        one, alone = net.run(inputs[b:b + 1], net.initial_state(1, v=v0[b]))
        assert one.step.tolist() == spikes.step[spikes.batch == b].tolist()
        for a, c in zip(_flat(alone), _flat(state)):
            np.testing.assert_array_equal(a[0], c[b])


@pytest.mark.parametrize("traces", sorted(TRACES))
@pytest.mark.parametrize("cuts", [(1,), (37, 38, 150), (299,)])
def test_chunked_runs_equal_one_run(compiler, rng, cuts, traces):
    net, inputs, v0 = recurrent_case(compiler, rng, traces=traces)
    whole, final = net.run(inputs, net.initial_state(3, v=v0))
    state, parts = net.initial_state(3, v=v0), []
    for lo, hi in zip((0, *cuts), (*cuts, inputs.shape[1])):
        part, state = net.run(inputs[:, lo:hi], state)
        parts.append(part.to_dense())
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole.to_dense())
    for a, b in zip(_flat(state), _flat(final)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("traces", ["synapse", "mixed"])
def test_run_never_modifies_the_state_it_is_given(python_compiler, rng, traces):
    net, inputs, v0 = recurrent_case(python_compiler, rng, steps=60, traces=traces)
    state = net.initial_state(3, v=v0)
    before = [a.copy() for a in _flat(state)]
    net.run(inputs, state)
    for a, b in zip(before, _flat(state)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("arguments, error, match", [
    ((0.0, 0.02, 0.1, -0.1), ValueError, "tau_pre must be a finite time constant > 0"),
    ((0.02, -1.0, 0.1, -0.1), ValueError, "tau_post must be a finite time constant > 0"),
    ((math.inf, 0.02, 0.1, -0.1), ValueError, "tau_pre"),
    ((0.02, math.nan, 0.1, -0.1), ValueError, "tau_post must not be NaN"),
    ((0.02, 0.02, math.nan, -0.1), ValueError, "a_pre must not be NaN"),
    ((0.02, 0.02, 0.1, math.nan), ValueError, "a_post must not be NaN"),
    ((0.02, 0.02, 0.1, math.inf), ValueError, "a_post must be finite"),
    ((0.02, 0.02, 0.1, -0.1, 1.0, 0.5), ValueError, r"w_min = 1.0 must be <= w_max = 0.5"),
    ((0.02, 0.02, 0.1, -0.1, math.nan, 1.0), ValueError, "w_min must not be NaN"),
    ((0.02, 0.02, 0.1, -0.1, 0.0, math.nan), ValueError, "w_max must not be NaN"),
    (("0.02", 0.02, 0.1, -0.1), TypeError, "tau_pre must be a real number"),
    ((0.02, 0.02, 0.1, -0.1, 0.0, 1.0, "post"), ValueError, "traces must be 'synapse' or 'neuron', got 'post'"),
    ((0.02, 0.02, True, -0.1), TypeError, "a_pre must be a real number"),
])
def test_bad_stdp_parameters_are_refused_by_name(arguments, error, match):
    with pytest.raises(error, match=match):
        STDP(*arguments)


def test_bad_plastic_connections_are_refused(python_compiler, rng):
    net = LIFNetwork(3, dt=1e-3, tau_m=0.02, v_threshold=1.0, tau_syn=(5e-3,), compiler=python_compiler)
    rule = STDP(0.02, 0.02, 0.01, -0.01, 0.0, 1.0)
    with pytest.raises(ValueError, match="plasticity needs a weight per synapse: weight is one scalar"):
        net.connect([0, 1], [1, 2], 0.5, plasticity=rule)
    with pytest.raises(ValueError, match=r"weight must be in \[w_min, w_max\]"):
        net.connect([0, 1], [1, 2], [0.5, 1.5], plasticity=rule)
    with pytest.raises(TypeError, match="plasticity must be None or a neurojit.STDP"):
        net.connect_input(2, [0], [0], [0.5], plasticity="stdp")
    assert net.n_groups == 0
    net.connect([0, 1], [1, 2], [0.5, 0.7], plasticity=rule)
    state = net.initial_state(2)
    with pytest.raises(ValueError, match=r"state.weights\[0\] \(plastic\) must be \(2, 2\)"):
        net.run(3, neurojit.LIFState(state.v, state.i_syn, state.refractory, state.adaptation, state.traces,
                                     (state.weights[0][:1],), state.network, state.step))
    rule_n = STDP(0.02, 0.02, 0.01, -0.01, 0.0, 1.0, traces="neuron")
    net_n = LIFNetwork(3, dt=1e-3, tau_m=0.02, v_threshold=1.0, tau_syn=(5e-3,), compiler=python_compiler)
    net_n.connect([0, 1], [1, 2], [0.5, 0.7], plasticity=rule_n)
    state_n = net_n.initial_state(2)
    assert [x.shape for x in state_n.traces[0]] == [(2, 3), (2, 3)]
    with pytest.raises(ValueError, match=r"state.traces of group 0 must be \(z_pre, z_post\)"):
        net_n.run(3, neurojit.LIFState(state_n.v, state_n.i_syn, state_n.refractory, state_n.adaptation,
                                       (state_n.traces[0][:1],), state_n.weights, state_n.network, state_n.step))
    with pytest.raises(ValueError, match="state.traces must hold one"):
        net.run(3, neurojit.LIFState(state.v, state.i_syn, state.refractory, state.adaptation, (), state.weights,
                                     state.network, state.step))


def test_lazy_export():
    assert neurojit.STDP is STDP and "STDP" in neurojit.__all__
