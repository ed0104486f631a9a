"""The built-in tasks: the published recurrences, determinism under a seed, shapes."""

from __future__ import annotations

import numpy as np
import pytest

from neurojit.models import mackey_glass, mackey_glass_task, narma10, nrmse, spike_pattern_task


def test_narma10_follows_the_recurrence():
    u, y = narma10(300, seed=3, discard=0)
    u, y = u[:, 0], y[:, 0]
    prev = np.concatenate([[0.0], y])  # prev[t] = y[t], y[0] = 0; target y_out[t] = y[t+1]
    for t in range(20, 300):
        expected = (0.3 * prev[t] + 0.05 * prev[t] * prev[t - 9 : t + 1].sum()
                    + 1.5 * u[t - 9] * u[t] + 0.1)
        assert prev[t + 1] == pytest.approx(expected, rel=1e-12)
    assert u.min() >= 0 and u.max() <= 0.5


def test_narma10_seeded_and_discard_is_a_suffix():
    a, b = narma10(500, seed=7), narma10(500, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(narma10(500, seed=8)[0], a[0])
    full_u, full_y = narma10(600, seed=7, discard=0)
    np.testing.assert_array_equal(full_u[100:], a[0])
    np.testing.assert_array_equal(full_y[100:], a[1])


def test_mackey_glass_is_chaotic_in_the_usual_range():
    x = mackey_glass(2000)
    assert x.shape == (2000,)
    assert 0.2 < x.min() < 0.6 and 1.1 < x.max() < 1.5  # the familiar tau = 17 attractor
    # a derivative check of the delay equation on the sampled series (central differences)
    lag = 17
    t = np.arange(lag + 1, 1999)
    lhs = (x[t + 1] - x[t - 1]) / 2
    rhs = 0.2 * x[t - lag] / (1 + x[t - lag] ** 10) - 0.1 * x[t]
    assert np.corrcoef(lhs, rhs)[0, 1] > 0.98


def test_mackey_glass_task_is_one_step_ahead():
    u, y = mackey_glass_task(400, seed=1)
    assert u.shape == y.shape == (400, 1)
    np.testing.assert_array_equal(u[1:], y[:-1])
    assert not np.array_equal(mackey_glass_task(400, seed=2)[0], u)


def test_spike_patterns_are_jittered_templates():
    task = spike_pattern_task(40, n_classes=4, n_channels=10, n_steps=50, rate=40.0, jitter=2e-3, seed=0)
    assert task.spikes.shape == (40, 50, 10) and set(np.unique(task.spikes)) <= {0.0, 1.0}
    assert np.bincount(task.labels).tolist() == [10] * 4 and task.chance == 0.25
    for spikes, label in zip(task.spikes, task.labels):
        # every channel keeps at most its template's spike count (merges only), and spikes move little
        assert np.all(spikes.sum(0) <= task.templates[label].sum(0))
        kernel = np.ones(13)
        smear = np.apply_along_axis(lambda c: np.convolve(c, kernel, "same"), 0, task.templates[label])
        assert np.all(smear[spikes != 0] > 0)


def test_spike_pattern_template_seed_shares_classes():
    a = spike_pattern_task(8, seed=1, template_seed=5)
    b = spike_pattern_task(8, seed=2, template_seed=5)
    np.testing.assert_array_equal(a.templates, b.templates)
    assert not np.array_equal(a.spikes, b.spikes)
    noisy = spike_pattern_task(8, seed=1, template_seed=5, noise_rate=50.0)
    assert noisy.spikes.sum() > a.spikes.sum()


def test_nrmse():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert nrmse(y, y) == 0
    assert nrmse(y, np.full(4, y.mean())) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        nrmse(y, y[:3])
    with pytest.raises(ValueError, match="variance"):
        nrmse(np.ones(3), np.ones(3))
