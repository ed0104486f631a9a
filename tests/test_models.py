"""EchoStateNetwork and LiquidStateMachine: quality bars (seeded), fidelity to the update
equations, step-by-step == whole-sequence runs, and the seed's OptimizedLSM example."""

from __future__ import annotations

import copy
import math
import sys

import numpy as np
import pytest

import neurojit
from neurojit import JITCompiler
from neurojit.models import (
    PRESETS,
    EchoStateNetwork,
    LiquidStateMachine,
    RidgeReadout,
    mackey_glass_task,
    narma10,
    spike_pattern_task,
)
from neurojit.models.demo import PATTERN_TASK


@pytest.fixture(scope="module")
def fast(compilers) -> JITCompiler:
    """The fastest backend available here (AOT, else JIT, else NumPy)."""
    for name in ("aot", "jit", "python"):
        if name in compilers:
            return compilers[name]


# -- ESN quality bars (issue #5): 200 warm-up / 4000 train / 2000 test ---------------------


def _esn_nrmse(task, n_units, compiler, preset):
    u, y = task
    esn = EchoStateNetwork(n_units, seed=0, compiler=compiler, **PRESETS[preset])
    esn.fit(u[:4200], y[:4200], warmup=200)
    return esn.score(u[4200:], y[4200:])  # continues from the state at the end of training


@pytest.mark.parametrize("n_units, bar", [(100, 0.35), (500, 0.21)])
def test_esn_narma10_quality_bar(fast, n_units, bar):
    score = _esn_nrmse(narma10(6200, seed=0), n_units, fast, "narma10")
    # measured: 0.241 (100 units), 0.126 (500 units)
    assert score <= bar


def test_esn_mackey_glass_quality_bar(fast):
    score = _esn_nrmse(mackey_glass_task(6200), 100, fast, "mackey_glass")
    assert score <= 0.0026  # measured: 0.00029


def test_esn_untrained_readout_would_fail_the_bar(fast):
    """The bar is not trivially met: predicting with a readout fitted on shuffled targets fails."""
    u, y = narma10(6200, seed=0)
    esn = EchoStateNetwork(100, seed=0, compiler=fast, **PRESETS["narma10"])
    esn.fit(u[:4200], np.random.default_rng(0).permutation(y[:4200]), warmup=200)
    assert esn.score(u[4200:], y[4200:]) > 0.9


# -- ESN mechanics ------------------------------------------------------------------------------


def _reference_esn_states(esn, u, x0):
    """A plain loop of x = (1-a) x + a tanh(x @ W + (u + offset) @ W_in + b)."""
    x, states = x0.copy(), []
    for t in range(u.shape[0]):
        pre = x @ esn.reservoir_weights + (u[t] + esn.input_offset) @ esn.input_weights + esn.bias
        x = (1 - esn.leak_rate) * x + esn.leak_rate * np.tanh(pre)
        states.append(x)
    return np.array(states)


def test_esn_states_follow_the_update_equation_on_every_backend(compiler, rng):
    esn = EchoStateNetwork(30, 2, leak_rate=0.6, bias_scaling=0.2, input_offset=-0.1, seed=4, compiler=compiler)
    u = rng.uniform(0, 0.5, (150, 2))
    states = esn.run(u)
    np.testing.assert_allclose(states, _reference_esn_states(esn, u, np.zeros(30)), rtol=1e-12, atol=1e-13)
    assert states.dtype == np.float64


def test_esn_runs_continue_and_reset(fast, rng):
    esn = EchoStateNetwork(20, seed=1, compiler=fast)
    u = rng.uniform(0, 0.5, 100)
    whole = esn.run(u, reset=True)
    first, second = esn.run(u[:37], reset=True), esn.run(u[37:])
    np.testing.assert_array_equal(np.vstack([first, second]), whole)
    np.testing.assert_array_equal(esn.state, whole[-1])
    esn.reset()
    assert not esn.state.any()


def test_esn_weights(fast):
    esn = EchoStateNetwork(200, 3, spectral_radius=1.1, connectivity=0.05, input_scaling=[1.0, 0.5, 0.0],
                           bias_scaling=0.3, seed=2, compiler=fast)
    assert np.abs(np.linalg.eigvals(esn.reservoir_weights)).max() == pytest.approx(1.1)
    assert 0.03 < np.count_nonzero(esn.reservoir_weights) / 200**2 < 0.07
    assert np.abs(esn.input_weights[1]).max() <= 0.5 and not esn.input_weights[2].any()
    assert np.abs(esn.bias).max() <= 0.3 and esn.bias.any()
    again = EchoStateNetwork(200, 3, spectral_radius=1.1, connectivity=0.05, input_scaling=[1.0, 0.5, 0.0],
                             bias_scaling=0.3, seed=2, compiler=fast)
    np.testing.assert_array_equal(again.reservoir_weights, esn.reservoir_weights)
    other = EchoStateNetwork(200, 3, seed=3, compiler=fast)
    assert not np.array_equal(other.input_weights, esn.input_weights)


def test_esn_float32_close_to_float64(fast, rng):
    u = rng.uniform(0, 0.5, 200)
    s64 = EchoStateNetwork(40, seed=5, compiler=fast).run(u)
    s32 = EchoStateNetwork(40, seed=5, dtype=np.float32, compiler=fast).run(u)
    assert s32.dtype == np.float32
    np.testing.assert_allclose(s32, s64, atol=1e-4)


def test_esn_uses_the_global_compiler_by_default(restore_global_compiler, fast):
    neurojit.set_global_compiler(fast)
    assert EchoStateNetwork(10).compiler is fast
    assert LiquidStateMachine(4, 10).compiler is fast


@pytest.mark.parametrize("warmup", [0, 50])
def test_esn_fit_leaves_the_warmup_steps_out_of_the_readout(fast, rng, warmup):
    """fit(warmup=w) equals a readout fitted by hand on states[w:], and ignores targets before w."""
    u = rng.uniform(0, 0.5, (300, 2))
    y = np.column_stack([np.roll(u[:, 0], 3), u[:, 1] ** 2])
    esn = EchoStateNetwork(30, 2, seed=7, ridge=1e-4, compiler=fast).fit(u, y, warmup=warmup)
    states = esn.run(u, reset=True)
    manual = RidgeReadout(1e-4).fit(np.hstack([states[warmup:], u[warmup:]]), y[warmup:])
    np.testing.assert_allclose(esn.readout.weights, manual.weights, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(esn.readout.intercept, manual.intercept, rtol=1e-10, atol=1e-12)
    # garbage targets inside the warm-up change nothing; the same garbage after it does
    spoiled = y.copy()
    spoiled[:50] = 1e6
    again = EchoStateNetwork(30, 2, seed=7, ridge=1e-4, compiler=fast).fit(u, spoiled, warmup=50)
    fitted_50 = EchoStateNetwork(30, 2, seed=7, ridge=1e-4, compiler=fast).fit(u, y, warmup=50)
    np.testing.assert_array_equal(again.readout.weights, fitted_50.readout.weights)
    np.testing.assert_array_equal(again.readout.intercept, fitted_50.readout.intercept)
    if warmup == 0:  # warmup=0 fits on all steps, so the spoiled ones count
        shifted = EchoStateNetwork(30, 2, seed=7, ridge=1e-4, compiler=fast).fit(u, spoiled, warmup=0)
        assert not np.allclose(shifted.readout.intercept, esn.readout.intercept)
    # the constructor's warmup is the default
    default = EchoStateNetwork(30, 2, seed=7, ridge=1e-4, warmup=50, compiler=fast).fit(u, spoiled)
    np.testing.assert_array_equal(default.readout.weights, fitted_50.readout.weights)


def test_esn_rejects_bad_arguments(fast):
    with pytest.raises(ValueError, match="leak_rate"):
        EchoStateNetwork(10, leak_rate=0, compiler=fast)
    with pytest.raises(ValueError, match="connectivity"):
        EchoStateNetwork(10, connectivity=1.5, compiler=fast)
    # each argument its own message, naming the value (not "spectral_radius and warmup must be >= 0")
    for kwargs, message in [({"spectral_radius": -1}, "spectral_radius must be >= 0, got -1.0"),
                            ({"spectral_radius": float("nan")}, "spectral_radius must be finite, got nan"),
                            ({"warmup": -5}, "warmup must be >= 0, got -5"),
                            ({"n_inputs": 0}, "n_inputs must be >= 1, got 0")]:
        with pytest.raises(ValueError) as error:
            EchoStateNetwork(10, compiler=fast, **kwargs)
        assert str(error.value) == message
    esn = EchoStateNetwork(10, 2, compiler=fast)
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        esn.run(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="warmup"):
        esn.fit(np.zeros((5, 2)), np.zeros(5), warmup=10)
    with pytest.raises(RuntimeError, match="fit"):
        esn.predict(np.zeros((5, 2)))


# -- ESN output feedback and free running (issue #15, item 6) --------------------------------


def _feedback_esn(compiler, dtype=np.float64, **kwargs):
    options = dict(leak_rate=0.7, bias_scaling=0.2, input_offset=0.1, feedback_scaling=[0.8, 0.4], n_outputs=2,
                   ridge=1e-6, warmup=20, seed=11, dtype=dtype, compiler=compiler)
    options.update(kwargs)
    return EchoStateNetwork(40, 2, **options)


def _two_sines(steps, start=0):
    t = np.arange(start, start + steps)[:, None]
    return np.hstack([np.sin(0.2 * t), 0.5 * np.cos(0.13 * t)])


def _reference_free_run(esn, u, x0, y0):
    """A plain loop of the feedback update and the readout, in the model's dtype."""
    w_out, b = esn.readout.weights, esn.readout.intercept
    x, y, outputs, states = x0.copy(), y0.copy(), [], []
    dtype = esn.dtype
    for t in range(u.shape[0]):
        drive_u = (u[t] + esn.input_offset).astype(dtype)
        pre = x @ esn.reservoir_weights + drive_u @ esn.input_weights + y.astype(dtype) @ esn.feedback_weights + esn.bias
        x = ((1 - esn.leak_rate) * x + esn.leak_rate * np.tanh(pre)).astype(dtype)
        y = np.concatenate([x.astype(np.float64), u[t]]) @ w_out + b
        outputs.append(y)
        states.append(x)
    return np.array(outputs), np.array(states)


@pytest.mark.parametrize("connectivity", [0.1, 0.5])  # the bound step gets W compressed / dense
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_esn_generate_follows_the_feedback_loop_on_every_backend(compiler, rng, dtype, tolerance, connectivity):
    esn = _feedback_esn(compiler, dtype, connectivity=connectivity)
    u = rng.uniform(-0.5, 0.5, (330, 2))
    esn.fit(u[:300], _two_sines(300))
    x0, y0 = esn.state.copy(), esn.last_output.copy()
    np.testing.assert_array_equal(y0, _two_sines(300)[-1])  # fit leaves the last teacher value to feed back
    generated = esn.generate(30, u[300:])
    expected, states = _reference_free_run(esn, u[300:], x0, y0)
    assert generated.shape == (30, 2) and generated.dtype == np.float64 and esn.state.dtype == dtype
    np.testing.assert_allclose(generated, expected, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(esn.state, states[-1], rtol=tolerance, atol=tolerance)
    np.testing.assert_array_equal(esn.last_output, generated[-1])
    # the feedback matters: the same loop without it is far off
    silent = EchoStateNetwork(40, 2, leak_rate=0.7, bias_scaling=0.2, input_offset=0.1, seed=11, dtype=dtype,
                              compiler=compiler)
    silent.feedback_weights, silent.readout = np.zeros_like(esn.feedback_weights), esn.readout
    no_feedback, _ = _reference_free_run(silent, u[300:], x0, y0)
    assert np.abs(no_feedback - expected).max() > 100 * tolerance


def test_esn_teacher_forced_run_is_one_sequence_kernel_call(compiler, rng):
    esn = _feedback_esn(compiler)
    u, teacher = rng.uniform(-0.5, 0.5, (120, 2)), _two_sines(120)
    esn.last_output = np.array([0.3, -0.2])  # fed back at the first step
    x0 = rng.uniform(-0.5, 0.5, 40)
    esn.state = x0.copy()
    states = esn.run(u, teacher=teacher)
    previous = np.vstack([[0.3, -0.2], teacher[:-1]])
    kernel = compiler.compile_reservoir_run_kernel()
    expected = kernel(np.hstack([u + esn.input_offset, previous])[None],
                      np.vstack([esn.input_weights, esn.feedback_weights]), esn.reservoir_weights, x0[None],
                      esn.leak_rate, esn.bias)[0]
    np.testing.assert_array_equal(states, expected)
    np.testing.assert_array_equal(esn.last_output, teacher[-1])
    np.testing.assert_array_equal(esn.state, states[-1])
    # and the kernel follows the feedback equation
    x, by_hand = x0.copy(), []
    for t in range(120):
        pre = (x @ esn.reservoir_weights + (u[t] + esn.input_offset) @ esn.input_weights
               + previous[t] @ esn.feedback_weights + esn.bias)
        x = (1 - esn.leak_rate) * x + esn.leak_rate * np.tanh(pre)
        by_hand.append(x)
    np.testing.assert_allclose(states, by_hand, rtol=1e-12, atol=1e-13)
    # chunked teacher forcing continues the same sequence
    esn.state, esn.last_output = x0.copy(), np.array([0.3, -0.2])
    first, second = esn.run(u[:50], teacher=teacher[:50]), esn.run(u[50:], teacher=teacher[50:])
    np.testing.assert_array_equal(np.vstack([first, second]), states)


def test_esn_fit_teacher_forces_with_seeded_noise(fast, rng):
    u, y = rng.uniform(-0.5, 0.5, (200, 2)), _two_sines(200)
    generator = np.random.default_rng(3)
    esn = _feedback_esn(fast, seed=generator)
    twin = copy.deepcopy(generator)  # continues where the weights left the stream
    esn.fit(u, y, teacher_noise=1e-3)
    previous = np.vstack([np.zeros((1, 2)), y[:-1]]) + twin.uniform(-1e-3, 1e-3, (200, 2))
    states = fast.compile_reservoir_run_kernel()(
        np.hstack([u + esn.input_offset, previous])[None], np.vstack([esn.input_weights, esn.feedback_weights]),
        esn.reservoir_weights, np.zeros((1, 40)), esn.leak_rate, esn.bias)[0]
    manual = RidgeReadout(1e-6).fit(np.hstack([states[20:], u[20:]]), y[20:])  # the noise-free targets
    np.testing.assert_allclose(esn.readout.weights, manual.weights, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(esn.state, states[-1])
    np.testing.assert_array_equal(esn.last_output, y[-1])
    clean = _feedback_esn(fast, seed=3).fit(u, y)
    noisy_again = _feedback_esn(fast, seed=3).fit(u, y, teacher_noise=1e-3)
    np.testing.assert_array_equal(noisy_again.readout.weights, esn.readout.weights)  # reproducible
    assert not np.allclose(clean.readout.weights, esn.readout.weights, rtol=1e-6, atol=0)
    # teacher-forced states of the clean fit are those of run() with the targets as teacher
    again = _feedback_esn(fast, seed=3)
    np.testing.assert_array_equal(clean.readout.weights,
                                  RidgeReadout(1e-6).fit(again.features(u[20:], again.run(u, teacher=y)[20:]),
                                                         y[20:]).weights)


def test_esn_generate_continues_and_equals_teacher_forcing_on_its_own_output(fast, rng):
    esn = _feedback_esn(fast)
    u = rng.uniform(-0.5, 0.5, (340, 2))
    esn.fit(u[:300], _two_sines(300))
    x0, y0 = esn.state.copy(), esn.last_output.copy()
    whole = esn.generate(40, u[300:])
    esn.state, esn.last_output = x0.copy(), y0.copy()
    parts = np.vstack([esn.generate(15, u[300:315]), esn.generate(0, u[315:315]), esn.generate(25, u[315:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-13, atol=1e-14)
    # teacher forcing with the generated outputs as teacher replays the free run
    esn.state, esn.last_output = x0.copy(), y0.copy()
    np.testing.assert_allclose(esn.predict(u[300:], teacher=whole), whole, rtol=1e-9, atol=1e-11)
    # inputs default to zeros
    esn.state, esn.last_output = x0.copy(), y0.copy()
    zero_input = esn.generate(10)
    esn.state, esn.last_output = x0.copy(), y0.copy()
    np.testing.assert_array_equal(zero_input, esn.generate(10, np.zeros((10, 2))))


def test_esn_generate_without_scipy_runs_the_dense_matrix_to_the_same_outputs(compiler, rng, monkeypatch):
    pytest.importorskip("scipy")
    esn = _feedback_esn(compiler)
    u = rng.uniform(-0.5, 0.5, (260, 2))
    esn.fit(u[:200], _two_sines(200))
    x0, y0 = esn.state.copy(), esn.last_output.copy()
    assert hasattr(esn._step_matrix(), "tocsr")  # 10 % connectivity: compressed
    with_scipy = esn.generate(60, u[200:])
    monkeypatch.setitem(sys.modules, "scipy", None)  # `from scipy import sparse` fails
    esn.state, esn.last_output = x0.copy(), y0.copy()
    assert not hasattr(esn._step_matrix(), "tocsr")
    without = esn.generate(60, u[200:])
    if compiler.compile_reservoir_update_kernel().backend == "python":  # scipy's products against BLAS
        np.testing.assert_allclose(without, with_scipy, rtol=1e-11, atol=1e-12)
    else:  # the compiled loops sum the stored entries in the same order as the dense rows
        np.testing.assert_array_equal(without, with_scipy)


def test_esn_generates_a_sine_it_was_taught(fast):
    """A trained feedback loop keeps oscillating on its own; an untrained readout does not."""
    t = np.arange(1300)
    wave = np.sin(2 * np.pi * t / 25)[:, None]
    esn = EchoStateNetwork(100, spectral_radius=0.8, feedback_scaling=1.0, include_input=False, ridge=1e-8,
                           seed=0, compiler=fast)
    esn.fit(np.zeros((1000, 1)), wave[:1000], warmup=100, teacher_noise=1e-4)
    error = np.abs(esn.generate(300)[:, 0] - wave[1000:, 0]).max()
    assert error < 0.01  # measured: 3.2e-5
    wrong = EchoStateNetwork(100, spectral_radius=0.8, feedback_scaling=1.0, include_input=False, ridge=1e-8,
                             seed=0, compiler=fast)
    wrong.fit(np.zeros((1000, 1)), np.random.default_rng(0).permutation(wave[:1000]), warmup=100)
    wrong.state, wrong.last_output = esn.state.copy(), wave[999].copy()
    assert np.abs(wrong.generate(300)[:, 0] - wave[1000:, 0]).max() > 0.5


def test_esn_feedback_leaves_the_other_weights_unchanged(fast):
    plain = EchoStateNetwork(60, 2, bias_scaling=0.3, seed=5, compiler=fast)
    with_feedback = EchoStateNetwork(60, 2, bias_scaling=0.3, feedback_scaling=[1.0, 0.25], n_outputs=2, seed=5,
                                     compiler=fast)
    for name in ("reservoir_weights", "input_weights", "bias"):
        np.testing.assert_array_equal(getattr(with_feedback, name), getattr(plain, name))
    assert plain.feedback_weights is None and not plain.has_feedback and with_feedback.has_feedback
    w_fb = with_feedback.feedback_weights
    assert w_fb.shape == (2, 60) and np.abs(w_fb[0]).max() <= 1.0 and np.abs(w_fb[1]).max() <= 0.25
    assert np.abs(w_fb[1]).max() > 0.2 and np.abs(w_fb[0]).max() > 0.8


def test_esn_feedback_rejects_bad_arguments(fast):
    plain = EchoStateNetwork(10, compiler=fast).fit(np.zeros((30, 1)), np.arange(30.0), warmup=0)
    with pytest.raises(ValueError, match="generate.. needs a model with output feedback"):
        plain.generate(5)
    with pytest.raises(ValueError, match="teacher is only for a model with output feedback"):
        plain.run(np.zeros(5), teacher=np.zeros(5))
    with pytest.raises(ValueError, match="teacher_noise is only for a model with output feedback"):
        EchoStateNetwork(10, compiler=fast).fit(np.zeros(30), np.arange(30.0), warmup=0, teacher_noise=1e-5)
    esn = EchoStateNetwork(10, 2, n_outputs=2, feedback_scaling=0.5, compiler=fast)
    with pytest.raises(RuntimeError, match="fit"):
        esn.generate(5)
    with pytest.raises(ValueError, match="needs teacher="):
        esn.run(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"teacher must be \(T, 2\), got shape \(5, 1\)"):
        esn.run(np.zeros((5, 2)), teacher=np.zeros(5))
    with pytest.raises(ValueError, match="teacher must have 5 steps like inputs, got 4"):
        esn.run(np.zeros((5, 2)), teacher=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"targets must be \(T, 2\)"):
        esn.fit(np.zeros((30, 2)), np.zeros(30), warmup=0)
    with pytest.raises(ValueError, match="teacher_noise must be >= 0"):
        esn.fit(np.zeros((30, 2)), np.zeros((30, 2)), warmup=0, teacher_noise=-1e-5)
    esn.fit(np.zeros((30, 2)), np.random.default_rng(0).random((30, 2)), warmup=0)
    state = esn.state.copy()
    with pytest.raises(ValueError, match="n_steps must be >= 0, got -1"):
        esn.generate(-1)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        esn.generate(2.5)
    with pytest.raises(ValueError, match="inputs must have n_steps = 5 rows, got 4"):
        esn.generate(5, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"inputs must be \(T, 2\)"):
        esn.generate(5, np.zeros((5, 3)))
    np.testing.assert_array_equal(esn.state, state)  # refused calls change nothing
    for kwargs, error, message in [({"feedback_scaling": [1.0, 2.0, 3.0]}, ValueError, r"feedback_scaling must be a "
                                    r"scalar or of shape \(2,\)"),
                                   ({"feedback_scaling": float("nan")}, ValueError, "feedback_scaling must hold finite"),
                                   ({"feedback_scaling": "1"}, TypeError, "feedback_scaling"),
                                   ({"n_outputs": 0}, ValueError, "n_outputs must be >= 1, got 0")]:
        with pytest.raises(error, match=message):
            EchoStateNetwork(10, n_outputs=kwargs.pop("n_outputs", 2), compiler=fast, **kwargs)


# -- ridge readout ----------------------------------------------------------------------------


def test_ridge_readout_closed_form_with_centering(rng):
    x = rng.standard_normal((200, 5)) + 3.0
    y = x @ rng.standard_normal((5, 2)) + 7.0 + 0.01 * rng.standard_normal((200, 2))
    readout = RidgeReadout(0.5).fit(x, y)
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = np.linalg.solve(xc.T @ xc + 0.5 * np.eye(5), xc.T @ yc)
    np.testing.assert_allclose(readout.weights, expected, rtol=1e-10)
    np.testing.assert_allclose(readout.predict(x.mean(0)[None]), y.mean(0)[None], rtol=1e-10)
    # the intercept is not penalised: a huge ridge predicts the target mean, not zero
    np.testing.assert_allclose(RidgeReadout(1e12).fit(x, y).predict(x), np.broadcast_to(y.mean(0), y.shape), rtol=1e-6)
    with pytest.raises(ValueError, match="ridge"):
        RidgeReadout(-1.0)


# -- LSM --------------------------------------------------------------------------------------


def _reference_lif_network(inputs, w_in, w_rec, threshold, dt, tau, v_reset):
    """The LIF equations of the README, one neuron at a time."""
    batch, steps, _ = inputs.shape
    n = w_rec.shape[0]
    out = np.zeros((batch, steps, n))
    decay = math.exp(-dt / tau)
    for b in range(batch):
        v = np.zeros(n)
        for t in range(steps):
            current = np.zeros(n)
            for j in np.flatnonzero(inputs[b, t]):
                current += w_in[j]
            if t > 0:
                for j in np.flatnonzero(out[b, t - 1]):
                    current += w_rec[j]
            v = v * decay + current
            out[b, t] = v > threshold
            v[out[b, t] != 0] = v_reset
    return out


def test_lsm_run_matches_the_reference_loop_on_every_backend(compiler, rng):
    lsm = LiquidStateMachine(12, 30, v_reset=0.1, seed=3, compiler=compiler)
    inputs = (rng.random((2, 80, 12)) < 0.1).astype(np.float64)
    out = lsm.run(inputs)
    expected = _reference_lif_network(inputs, lsm.input_weights, lsm.reservoir_weights, lsm.threshold,
                                      lsm.dt, lsm.tau, lsm.v_reset)
    assert expected.sum() > 50  # the liquid is active
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("key_kind", ["generator", "int"])
@pytest.mark.parametrize("noise_rate, dtype", [(0.0, np.float64), (40.0, np.float64), (40.0, np.float32)])
def test_lsm_steps_equal_run_spike_for_spike(compiler, rng, noise_rate, dtype, key_kind):
    lsm = LiquidStateMachine(10, 40, noise_rate=noise_rate, seed=6, dtype=dtype, compiler=compiler)
    inputs = (rng.random((3, 60, 10)) < 0.08).astype(np.float64)
    if key_kind == "generator":  # one stream, drawn in step order
        whole = lsm.run(inputs, key=np.random.default_rng(123))
        key = np.random.default_rng(123)
    else:  # the same int to run and to every step
        whole, key = lsm.run(inputs, key=123), 123
    state, stepped = lsm.init_state(3), []
    for t in range(60):
        state = lsm.step(state, inputs[:, t], lsm.dt, t * lsm.dt, key=key)
        stepped.append(state.neuron_state.spikes)
    assert whole.sum() > 30
    np.testing.assert_array_equal(np.stack(stepped, axis=1), whole)
    assert whole.dtype == state.neuron_state.v.dtype == dtype
    assert state.t == pytest.approx(60 * lsm.dt)


def test_lsm_noise_key(fast):
    lsm = LiquidStateMachine(5, 30, noise_rate=100.0, seed=1, compiler=fast)
    silent = np.zeros((1, 100, 5))
    a, b, c = lsm.run(silent, key=1), lsm.run(silent, key=1), lsm.run(silent, key=2)
    np.testing.assert_array_equal(a, b)
    assert a.sum() > 0 and not np.array_equal(a, c)
    assert not LiquidStateMachine(5, 30, seed=1, compiler=fast).run(silent, key=1).any()


def test_lsm_int_key_seeds_each_step_apart(fast):
    """The same int passed to successive steps gives fresh noise each step (not one frozen draw).

    With no recurrence and a noise spike alone above threshold, the liquid's spikes are the
    background spikes themselves: step i draws ``default_rng([key, i]).random((B, N)) < rate * dt``.
    """
    lsm = LiquidStateMachine(3, 50, recurrent_weight=0.0, noise_rate=200.0, noise_weight=2.0, seed=0, compiler=fast)
    silent = np.zeros((2, 20, 3))
    state, stepped = lsm.init_state(2), []
    for i in range(20):
        state = lsm.step(state, silent[:, i], lsm.dt, i * lsm.dt, key=7)
        stepped.append(state.neuron_state.spikes)
    stepped = np.stack(stepped, axis=1)
    expected = np.stack([np.random.default_rng([7, i]).random((2, 50)) < 0.2 for i in range(20)], axis=1)
    np.testing.assert_array_equal(stepped, expected)
    assert len({row.tobytes() for row in stepped[0]}) == 20  # every step its own noise
    np.testing.assert_array_equal(lsm.run(silent, key=7), stepped)
    np.testing.assert_array_equal(lsm.transform(silent, key=7), lsm.features_from_spikes(stepped))
    assert not np.array_equal(lsm.run(silent, key=8), stepped)
    # a step is placed by its time: t selects the step's seed, whatever came before
    lone = lsm.step(lsm.init_state(2), silent[:, 5], lsm.dt, 5 * lsm.dt, key=7)
    np.testing.assert_array_equal(lone.neuron_state.spikes, expected[:, 5])
    with pytest.raises(ValueError, match="Generator"):
        lsm.step(lsm.init_state(2), silent[:, 0], lsm.dt, -lsm.dt, key=7)


def test_lsm_weights_are_sparse_seeded_and_follow_dale(fast):
    lsm = LiquidStateMachine(20, 100, connectivity=0.1, input_connectivity=0.3, seed=9, compiler=fast)
    w = lsm.reservoir_weights
    assert not np.diag(w).any()
    assert 0.07 < np.count_nonzero(w) / w.size < 0.13
    assert 0.25 < np.count_nonzero(lsm.input_weights) / lsm.input_weights.size < 0.35
    assert (w[lsm.excitatory] >= 0).all() and (w[~lsm.excitatory] <= 0).all() and lsm.excitatory.sum() == 80
    again = LiquidStateMachine(20, 100, connectivity=0.1, input_connectivity=0.3, seed=9, compiler=fast)
    np.testing.assert_array_equal(again.reservoir_weights, w)


def test_lsm_features_are_filtered_traces(fast, rng):
    lsm = LiquidStateMachine(4, 6, feature_tau=0.01, n_bins=2, seed=0, compiler=fast)
    spikes = (rng.random((2, 40, 6)) < 0.2).astype(np.float64)
    taps = np.exp(-np.arange(50) * lsm.dt / lsm.feature_tau)
    trace = np.array([[[sum(taps[k] * spikes[b, t - k, n] for k in range(t + 1)) for n in range(6)]
                       for t in range(40)] for b in range(2)])
    np.testing.assert_allclose(lsm.features_from_spikes(spikes), trace[:, [19, 39]].reshape(2, -1), rtol=1e-12)
    counts = LiquidStateMachine(4, 6, features="counts", n_bins=2, seed=0, compiler=fast)
    expected = np.stack([spikes[:, :20].sum(1), spikes[:, 20:].sum(1)], axis=1).reshape(2, -1)
    np.testing.assert_array_equal(counts.features_from_spikes(spikes), expected)


def test_lsm_pattern_classification_well_above_chance(fast):
    """The demo's task: 10 classes of 5 Hz Poisson templates, 30 ms jitter, 20 Hz noise spikes."""
    train, test = spike_pattern_task(500, seed=1, **PATTERN_TASK), spike_pattern_task(300, seed=2, **PATTERN_TASK)
    lsm = LiquidStateMachine(train.spikes.shape[2], 200, seed=0, compiler=fast).fit(train.spikes, train.labels)
    accuracy = lsm.score(test.spikes, test.labels)
    assert test.chance == pytest.approx(0.1)
    assert accuracy >= 0.75  # measured: 0.883 (1000 train / 500 test as in the demo: 0.902)
    shuffled = LiquidStateMachine(train.spikes.shape[2], 200, seed=0, compiler=fast)
    shuffled.fit(train.spikes, np.random.default_rng(0).permutation(train.labels))
    assert shuffled.score(test.spikes, test.labels) < 0.3


def test_lsm_rejects_bad_arguments(fast):
    with pytest.raises(ValueError, match="tau"):
        LiquidStateMachine(4, 8, tau=0, compiler=fast)
    with pytest.raises(ValueError, match="features"):
        LiquidStateMachine(4, 8, features="rates", compiler=fast)
    lsm = LiquidStateMachine(4, 8, compiler=fast)
    with pytest.raises(ValueError, match=r"\(B, T, 4\)"):
        lsm.run(np.zeros((2, 10, 5)))
    with pytest.raises(ValueError, match="input_spikes"):
        lsm.step(lsm.init_state(2), np.zeros((3, 4)), 1e-3, 0.0)
    with pytest.raises(RuntimeError, match="fit"):
        lsm.predict(np.zeros((1, 10, 4)))


def test_models_exported_from_neurojit():
    assert neurojit.LiquidStateMachine is LiquidStateMachine
    assert neurojit.EchoStateNetwork is EchoStateNetwork
    assert {"LiquidStateMachine", "EchoStateNetwork"} <= set(neurojit.__all__)


# -- LSM on LIFNetwork (neuron="lif", issue #11) -----------------------------------------------


def test_lif_lsm_steps_equal_run_and_storage_is_sparse(compiler, rng):
    from neurojit import LIFNetwork

    lsm = LiquidStateMachine(10, 60, neuron="lif", refractory=(3e-3, 2e-3), tau_syn=(3e-3, 6e-3), bias=0.5,
                             v_init=(0.0, 0.9), noise_rate=40.0, seed=4, compiler=compiler)
    assert isinstance(lsm.network, LIFNetwork) and lsm.reservoir_weights is None
    assert lsm.network.synapse_bytes <= 12 * lsm.network.n_synapses + 8 * 3 * 200
    w = lsm.synapses["weight"]
    assert ((w >= 0) == lsm.excitatory[lsm.synapses["pre"]]).all()  # Dale's law per source
    inputs = (rng.random((2, 50, 10)) < 0.1).astype(np.float64)
    whole = lsm.run(inputs, key=5)
    state, stepped = lsm.init_state(2), []
    for t in range(50):
        state = lsm.step(state, inputs[:, t], lsm.dt, t * lsm.dt, key=5)
        stepped.append(state.neuron_state.spikes)
    assert whole.sum() > 30 and whole.dtype == np.float64
    np.testing.assert_array_equal(np.stack(stepped, axis=1), whole)
    with pytest.raises(ValueError, match="own dt"):
        lsm.step(state, inputs[:, 0], 2e-3, 0.0)


def test_the_maass2002_preset_builds_their_column_and_classifies(fast):
    from neurojit.models import LSM_PRESETS

    lsm = LiquidStateMachine(40, 135, seed=0, compiler=fast, **LSM_PRESETS["maass2002"])
    assert lsm.excitatory.sum() == 108 and lsm.network.n_types == 2
    assert lsm.network._refractory_steps.tolist() == np.where(lsm.excitatory, 3, 2).tolist()
    assert ((13.5 <= lsm.initial_v) & (lsm.initial_v <= 15.0)).all()
    assert 5 < lsm.network.n_synapses / 135 < 40  # ~16 per neuron on the 3 x 3 x 15 grid
    train, test = spike_pattern_task(500, seed=1, **PATTERN_TASK), spike_pattern_task(300, seed=2, **PATTERN_TASK)
    accuracy = lsm.fit(train.spikes, train.labels).score(test.spikes, test.labels)
    assert accuracy >= 0.7  # measured: 0.837 (README)


def test_lif_lsm_rejects_bad_arguments(fast):
    with pytest.raises(ValueError, match="neuron must be"):
        LiquidStateMachine(4, 8, neuron="izhikevich", compiler=fast)
    with pytest.raises(ValueError, match="topology='column' needs neuron='lif'"):
        LiquidStateMachine(4, 8, topology="column", compiler=fast)
    with pytest.raises(ValueError, match="tau_syn must hold finite, positive"):
        LiquidStateMachine(4, 8, neuron="lif", tau_syn=(0.0, 1e-3), compiler=fast)
    with pytest.raises(ValueError, match="refractory must be >= 0"):
        LiquidStateMachine(4, 8, neuron="lif", refractory=-1e-3, compiler=fast)
    with pytest.raises(ValueError, match="weight_cv"):
        LiquidStateMachine(4, 8, neuron="lif", weight_cv=0.0, compiler=fast)
