"""neurojit.interop.reservoirpy.Reservoir: ReservoirPy's node on neurojit's kernels (API.md 9)."""

from __future__ import annotations

import numpy as np
import pytest

rpy = pytest.importorskip("reservoirpy")
pytest.importorskip("scipy")
if not hasattr(__import__("numpy").random.Generator, "spawn"):  # reservoirpy 0.4.2 needs numpy >= 1.25
    pytest.skip("reservoirpy 0.4.2 needs numpy >= 1.25 (Generator.spawn), whatever its metadata says",
                allow_module_level=True)

from reservoirpy.nodes import Reservoir as RPyReservoir, Ridge  # noqa: E402

from neurojit.interop.reservoirpy import Reservoir  # noqa: E402

CASES = {
    "default sparse W": dict(units=60),
    "leaky, biased": dict(units=80, lr=0.3, sr=0.9, bias=0.1, input_scaling=0.5),
    "per-unit lr": dict(units=50, lr=np.linspace(0.05, 1.0, 50)),
    "dense W": dict(units=40, W=np.random.default_rng(1).normal(0, 0.15, (40, 40)), rc_connectivity=1.0),
    "float32 matrices": dict(units=30, lr=0.5, dtype=np.float32),
}


def _pair(compiler, **kwargs):
    return RPyReservoir(**kwargs, seed=7), Reservoir(**kwargs, seed=7, compiler=compiler)


@pytest.mark.parametrize("case", CASES)
def test_states_equal_reservoirpy_within_1e_12(compiler, case, rng):
    theirs, ours = _pair(compiler, **CASES[case])
    x = rng.normal(size=(300, 3))
    expected, states = theirs.run(x), ours.run(x)
    assert ours._neurojit_kernels() is not None  # ran on the kernels, not ReservoirPy's code
    for a, b in ((theirs.W, ours.W), (theirs.Win, ours.Win)):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a.toarray() if hasattr(a, "toarray") else a,
                                      b.toarray() if hasattr(b, "toarray") else b)
    assert states.shape == expected.shape and states.dtype == expected.dtype
    np.testing.assert_allclose(states, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.state["out"], theirs.state["out"], rtol=0, atol=1e-12)
    # steps continue from the state, as ReservoirPy's
    for u in x[:5]:
        np.testing.assert_allclose(ours.step(u), theirs.step(u), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.run(x[:20]), theirs.run(x[:20]), rtol=0, atol=1e-12)


def test_several_sequences_run_as_one_batch_and_as_a_list(compiler, rng):
    theirs, ours = _pair(compiler, units=50, lr=0.4)
    xs = rng.normal(size=(4, 60, 2))
    np.testing.assert_allclose(ours.run(xs), theirs.run(xs), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.state["out"], theirs.state["out"], rtol=0, atol=1e-12)
    ragged = [rng.normal(size=(n, 2)) for n in (10, 25)]
    for a, b in zip(ours.run(ragged), theirs.run(ragged)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_what_the_kernels_cannot_express_runs_reservoirpys_code(compiler, rng):
    x = rng.normal(size=(50, 3))
    for kwargs in (dict(units=20, activation="relu"), dict(units=20, lr=0.0), dict(units=20, lr=np.r_[0.0, np.full(19, 0.5)])):
        theirs, ours = _pair(compiler, **kwargs)
        expected = theirs.run(x)
        states = ours.run(x)
        assert ours._neurojit_kernels() is None
        np.testing.assert_array_equal(states, expected)


def test_assigned_matrices_are_used(compiler, rng):
    theirs, ours = _pair(compiler, units=30, lr=0.6)
    x = rng.normal(size=(40, 2))
    theirs.run(x), ours.run(x)
    w = rng.normal(0, 0.1, (30, 30))
    theirs.W, ours.W = w, w.copy()
    np.testing.assert_allclose(ours.run(x), theirs.run(x), rtol=0, atol=1e-12)


def test_reservoir_to_ridge_models_work(compiler, rng):
    from reservoirpy.datasets import mackey_glass

    series = mackey_glass(600, seed=3)
    x, y = series[:-1], series[1:]
    theirs_r, ours_r = _pair(compiler, units=100, lr=0.3, sr=0.9)
    theirs = theirs_r >> Ridge(ridge=1e-6)
    ours = ours_r >> Ridge(ridge=1e-6)
    theirs.fit(x[:400], y[:400], warmup=50)
    ours.fit(x[:400], y[:400], warmup=50)
    np.testing.assert_allclose(ours.run(x[400:]), theirs.run(x[400:]), rtol=0, atol=1e-9)
