"""Fidelity: the LIF kernels follow API.md section 2 spike for spike over 1000 steps, reproduce
Brian2's own output (all 1,887 spikes, 0 mismatches) and ReservoirPy's reservoir states, on
every backend. The fixtures (tests/data/, copied from ../shared/fixtures/) were made by
running those libraries; neither is needed here."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import reference
from conftest import DATA

BRIAN2 = DATA / "brian2_lif.npz"
RESERVOIRPY = DATA / "reservoirpy_states.npz"


@pytest.fixture(scope="module")
def brian2():
    with np.load(BRIAN2) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def reservoirpy():
    with np.load(RESERVOIRPY) as data:
        return {key: data[key] for key in data.files}


def test_fixture_files_are_what_the_readme_says(brian2, reservoirpy):
    assert brian2["input_spikes"].shape == (1, 400, 64)
    assert brian2["brian2_spikes"].dtype == bool and int(brian2["brian2_spikes"].sum()) == 1887
    assert float(brian2["dt"]) == 1e-3 and float(brian2["tau"]) == 0.02
    assert reservoirpy["reservoirpy_states"].shape == (1, 600, 100)
    assert float(reservoirpy["leak_rate"]) == 0.6


def test_brian2_spikes_reproduced_exactly(compiler, brian2):
    kernel = compiler.compile_spike_processing_kernel()
    out = kernel(brian2["input_spikes"], brian2["weights"], brian2["thresholds"], float(brian2["dt"]),
                 tau=float(brian2["tau"]), v_reset=0.0)
    assert out.dtype == np.float64
    mismatches = int(np.count_nonzero(out.astype(bool) != brian2["brian2_spikes"]))
    assert mismatches == 0, f"{mismatches} spikes differ from Brian2's"
    assert int(out.sum()) == 1887


def test_brian2_spikes_reproduced_by_the_reference(brian2):
    """The reference loop itself agrees with Brian2 (so it is a sound oracle for the other tests)."""
    out = reference.spike_processing(brian2["input_spikes"], brian2["weights"], brian2["thresholds"],
                                     float(brian2["dt"]), tau=float(brian2["tau"]))
    np.testing.assert_array_equal(out.astype(bool), brian2["brian2_spikes"])


def test_brian2_as_a_network_without_recurrence(compiler, brian2):
    """lif_network_run with zero recurrent weights is the same neuron: same 1,887 spikes."""
    kernel = compiler.compile_lif_network_kernel()
    out = kernel(brian2["input_spikes"], brian2["weights"], np.zeros_like(brian2["weights"]),
                 brian2["thresholds"], float(brian2["dt"]), tau=float(brian2["tau"]))
    np.testing.assert_array_equal(out.astype(bool), brian2["brian2_spikes"])


def test_reservoirpy_states_reproduced(compiler, reservoirpy):
    kernel = compiler.compile_reservoir_run_kernel()
    states = kernel(reservoirpy["inputs"], reservoirpy["input_weights"], reservoirpy["reservoir_weights"],
                    reservoirpy["initial_states"], leak_rate=float(reservoirpy["leak_rate"]),
                    bias=reservoirpy["bias"])
    assert states.dtype == np.float64
    np.testing.assert_allclose(states, reservoirpy["reservoirpy_states"], rtol=0, atol=1e-12)


def test_reservoirpy_step_by_step(compiler, reservoirpy):
    """reservoir_update applied step by step follows the same trajectory (first 50 steps)."""
    kernel = compiler.compile_reservoir_update_kernel()
    x = reservoirpy["initial_states"]
    for t in range(50):
        x = kernel(x, reservoirpy["input_weights"], reservoirpy["reservoir_weights"], reservoirpy["inputs"][:, t],
                   leak_rate=float(reservoirpy["leak_rate"]), bias=reservoirpy["bias"])
        np.testing.assert_allclose(x, reservoirpy["reservoirpy_states"][:, t], rtol=0, atol=1e-12)


@functools.lru_cache(maxsize=None)
def thousand_step_case(name, dtype_name):
    """Inputs and the reference loop's spikes, computed once per kernel and dtype (slow loop)."""
    dtype = np.dtype(dtype_name).type
    rng = np.random.default_rng(2024)
    B, T, N, I = 2, 1000, 24, 24
    spikes = (rng.random((B, T, I)) < 0.08).astype(dtype)
    w_in = rng.normal(0.15, 0.35, (I, N)).astype(dtype)
    thresholds = rng.uniform(0.3, 0.8, N).astype(dtype)
    if name == "spike_processing":
        args = (spikes, w_in, thresholds, 1e-3)
    else:
        args = (spikes, w_in, rng.normal(0.0, 0.25, (N, N)).astype(dtype), thresholds, 1e-3)
    kwargs = dict(tau=0.02, v_reset=-0.1)
    return args, kwargs, getattr(reference, name)(*args, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", reference.SPIKING)
def test_lif_matches_update_equations_over_1000_steps(compiler, name, dtype):
    """API.md 2.1/2.5 update equations, 1000 steps, spike for spike, with a negative reset."""
    args, kwargs, expected = thousand_step_case(name, dtype)
    kernel = getattr(compiler, {"spike_processing": "compile_spike_processing_kernel",
                                "lif_network_run": "compile_lif_network_kernel"}[name])()
    out = kernel(*args, **kwargs)
    assert out.shape == (2, 1000, 24) and out.dtype == np.dtype(dtype)
    assert expected.sum() > 500, "the run must spike plenty to be a test"
    mismatches = int(np.count_nonzero(out != expected))
    assert mismatches == 0, f"{mismatches} of {int(expected.sum())} spikes differ over 1000 steps"


def test_fixture_copies_match_shared(brian2):
    """tests/data holds the same bytes as ../shared/fixtures when that folder is beside the repo."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    if not shared.is_dir():
        pytest.skip("../shared/fixtures not present")
    for name in ("brian2_lif.npz", "reservoirpy_states.npz"):
        assert (DATA / name).read_bytes() == (shared / name).read_bytes(), name
