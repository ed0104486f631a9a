"""``neurojit demo --stdp`` and ``neurojit.models.stdp``: Brian2's STDP example (Song, Miller & Abbott 2000)
with the fixture's numbers, its seeded inputs, the text histogram, the figure, bad command lines."""

from __future__ import annotations

import importlib.util
import io
import re

import numpy as np
import pytest

from conftest import DATA, run_python
from neurojit import SpikeEvents
from neurojit.models import stdp


@pytest.fixture(scope="module")
def fixture():
    with np.load(DATA / "brian2_stdp.npz") as data:
        return {key: data[key] for key in data.files}


def test_the_model_is_the_fixtures_to_the_last_bit(fixture):
    d = fixture
    p = stdp.SONG2000
    for name in ("dt", "input_rate", "tau_m", "v_rest", "v_threshold", "v_reset", "v0", "tau_pre", "tau_post", "a_pre",
                 "a_post", "w_min", "w_max"):
        assert p[name] == float(d[name]), name
    assert p["n_inputs"] == int(d["n_inputs"]) and (p["tau_syn"],) == tuple(d["tau_syn"])


def test_the_network_gives_brian2s_spikes_and_weights_bit_for_bit(fixture):
    """Brian2's input spikes and initial weights handed to song2000_network: its 720 output spikes and
    its final weights exactly (so the demo runs Brian2's model, with other inputs)."""
    d = fixture
    net = stdp.song2000_network(d["w_init"])
    inputs = SpikeEvents(d["input_step"], d["input_index"], n_steps=int(d["n_steps"]), n_channels=int(d["n_inputs"]))
    spikes, state = net.run(inputs, net.initial_state(v=stdp.SONG2000["v0"]))
    np.testing.assert_array_equal(spikes.step, d["out_step"])
    np.testing.assert_array_equal(state.weights[0][0], d["w_final"])


def test_poisson_events_have_the_rate_and_are_reproducible():
    events = stdp.poisson_events(200, 15.0, 1e-4, 50_000, np.random.default_rng(3))
    again = stdp.poisson_events(200, 15.0, 1e-4, 50_000, np.random.default_rng(3))
    other = stdp.poisson_events(200, 15.0, 1e-4, 50_000, np.random.default_rng(4))
    assert events == again and events != other
    assert (events.n_steps, events.n_channels) == (50_000, 200)
    key = events.step * 200 + events.index
    assert np.all(np.diff(key) > 0)  # sorted by (step, channel), one spike per channel and step at most
    expected = 200 * 15.0 * 5.0  # channels x rate x seconds
    assert abs(len(events) - expected) < 4 * np.sqrt(expected)
    per_channel = np.bincount(events.index, minlength=200)
    assert per_channel.min() > 30 and per_channel.max() < 130  # every channel fires at about 75 spikes
    with pytest.raises(ValueError, match=r"rate \* dt must be in \(0, 1\]"):
        stdp.poisson_events(10, 2e4, 1e-4, 10, np.random.default_rng(0))


def test_histogram_and_its_text():
    counts = stdp.weight_histogram([0.0, 0.05, 0.5, 1.0, 1.0], 1.0, bins=4)
    assert counts.tolist() == [2, 0, 1, 2]  # the last bin holds w_max
    lines = stdp.format_histogram(counts, width=10).splitlines()
    assert lines == ["  [0.0, 0.2)      2  ##########", "  [0.2, 0.5)      0  ", "  [0.5, 0.8)      1  #####",
                     "  [0.8, 1.0]      2  ##########"]


def test_a_run_is_seeded_and_moves_the_weights_to_the_bounds():
    """20 s (``--quick``): reproducible from the seed; the weights leave the middle for the outer bins."""
    first, again = stdp.run_song2000(20.0, seed=0), stdp.run_song2000(20.0, seed=0)
    np.testing.assert_array_equal(first["weights"], again["weights"])
    np.testing.assert_array_equal(first["output_steps"], again["output_steps"])
    assert not np.array_equal(first["weights"], stdp.run_song2000(20.0, seed=1)["weights"])
    w, w_max = first["weights"], first["w_max"]
    assert w.min() >= 0.0 and w.max() <= w_max
    start = stdp.weight_histogram(first["initial_weights"], w_max)
    end = stdp.weight_histogram(w, w_max)
    assert end.sum() == start.sum() == 1000
    assert end[0] + end[-1] > start[0] + start[-1] + 80  # measured: 308 against 185
    assert first["n_steps"] == 200_000 and 500 < first["output_steps"].size < 3000  # measured: 1099


def test_the_demo_report_prints_the_histogram_it_returns():
    out = io.StringIO()
    result = stdp.run_stdp_demo(seconds=2.0, out=out)
    text = out.getvalue()
    rows = re.findall(r"^  \[(\d\.\d), (\d\.\d)[)\]]\s+(\d+)  #*$", text, flags=re.M)
    assert [int(count) for _, _, count in rows] == result["histogram"].tolist()
    assert len(rows) == stdp.BINS and sum(int(count) for _, _, count in rows) == 1000
    assert re.search(r"backend: network_run=(aot|jit|python); [\d,]+ input spikes drawn", text)
    assert f"output: {result['output_steps'].size} spikes" in text
    assert "2 s of network time" in text and "figure:" not in text


@pytest.mark.parametrize("flags", [["--quick"], ["--seconds", "2"]])
def test_the_command_prints_the_histogram(flags):
    out = run_python("", args=["-m", "neurojit", "demo", "--stdp", *flags]).stdout
    rows = re.findall(r"^  \[\d\.\d, \d\.\d[)\]]\s+(\d+)  #*$", out, flags=re.M)
    assert len(rows) == 10 and sum(map(int, rows)) == 1000
    assert ("20 s of network time" if flags == ["--quick"] else "2 s of network time") in out
    assert re.search(r"the two outer bins: [\d.]+ % of the weights \([\d.]+ % at the start\)", out)


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib not installed (the plot extra)")
def test_the_command_draws_the_histogram(tmp_path):
    figure = tmp_path / "stdp.png"
    out = run_python("", args=["-m", "neurojit", "demo", "--stdp", "--seconds", "2", "--plot", str(figure)]).stdout
    assert f"figure: {figure}" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000


@pytest.mark.parametrize(("flags", "message"), [
    (["--seconds", "5"], "argument --seconds: only with --stdp (the network time of the STDP example)"),
    (["--stdp", "--seconds", "0"], "argument --seconds: must be a positive number of seconds, got 0"),
    (["--stdp", "--seconds", "-3"], "argument --seconds: must be a positive number of seconds, got -3"),
    (["--stdp", "--seconds", "nan"], "argument --seconds: must be a positive number of seconds, got nan"),
    (["--stdp", "--seconds", "inf"], "argument --seconds: must be a positive number of seconds, got inf"),
    (["--stdp", "--seconds", "1e-6"], "argument --seconds: must be at least one step of the example (0.0001 s), got 1e-06"),
    (["--stdp", "--quick", "--seconds", "3"], "argument --seconds: not with --quick (--quick is a shorter --seconds)"),
    (["--stdp", "--seed", "-1"], "argument --seed: must be >= 0 (numpy's generators take no negative seed), got -1"),
    (["--stdp", "--seconds", "ten"], "argument --seconds: invalid float value: 'ten'"),
])
def test_bad_command_lines_fail_before_any_work(flags, message):
    result = run_python("", args=["-m", "neurojit", "demo", *flags], check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"neurojit demo: error: {message}"
    assert result.stdout == "" and "Traceback" not in result.stderr
