"""``neurojit demo`` in a fresh interpreter: backend, scores and throughput printed; --plot."""

from __future__ import annotations

import importlib.util
import io
import re

import pytest

from conftest import run_python


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict:
    """A private cache folder shared by this module's demo runs (never the user's own)."""
    return {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("demo-cache"))}


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return float(match.group(1).replace(",", ""))


def test_demo_quick_reports_backend_scores_and_throughput(demo_env):
    result = run_python("", args=["-m", "neurojit", "demo", "--quick"], env=demo_env)
    out = result.stdout
    assert re.search(r"backend: reservoir_run=(aot|jit|python), lif_network_run=(aot|jit|python)", out)
    assert _number(r"test NRMSE = ([0-9.]+)", out) <= 0.35  # 100 units, the bar
    assert _number(r"accuracy = ([0-9.]+)", out) >= 0.4  # quick: 200 training samples, measured 0.62
    assert _number(r"chance ([0-9.]+)", out) == pytest.approx(0.1)
    assert _number(r"reservoir ([0-9,]+) steps/s", out) > 0
    assert _number(r"liquid ([0-9,]+) steps/s", out) > 0
    assert "neurojit demo" in result.stderr  # the progress bar ...
    assert "\r" not in result.stderr and re.search(r"neurojit demo: (\d+)/\1 done in [0-9.]+ s\n", result.stderr)
    # ... on a pipe: no redraws, one line when done


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_fallback_progress_bar_redraws_only_on_a_terminal():
    from neurojit.models.demo import _Progress

    for stream in (_Terminal(), io.StringIO()):
        bar = _Progress(3, "job", stream=stream)
        for _ in range(3):
            bar.set_postfix_str("working")
            bar.update()
        bar.close()
        text = stream.getvalue()
        if isinstance(stream, _Terminal):
            assert text.count("\r") == 7 and "3/3" in text and text.endswith("\n")
        else:
            assert "\r" not in text and re.fullmatch(r"job: 3/3 done in [0-9.]+ s\n", text), repr(text)


def test_demo_full_run_meets_the_documented_scores(demo_env):
    """The README's main job as written: 500-unit ESN and the LSM on 1000 / 500 samples."""
    out = run_python("", args=["-m", "neurojit", "demo"], env=demo_env).stdout
    assert "ESN (500 units)" in out and "1000 train / 500 test" in out
    assert _number(r"test NRMSE = ([0-9.]+)", out) <= 0.21  # 500 units, the bar; README: 0.126
    assert _number(r"accuracy = ([0-9.]+)", out) >= 0.8  # README: 0.902, chance 0.1
    assert _number(r"total ([0-9.]+) s", out) > 0  # timed, not judged here (tests assert no timings)


def test_demo_on_the_numpy_backend_says_so(demo_env):
    env = dict(demo_env, NEUROJIT_BACKEND="python")
    out = run_python("", args=["-m", "neurojit", "demo", "--quick"], env=env).stdout
    assert "backend: reservoir_run=python, lif_network_run=python" in out
    assert _number(r"test NRMSE = ([0-9.]+)", out) <= 0.35


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib not installed (the plot extra)")
def test_demo_plot_writes_a_png(demo_env, tmp_path):
    figure = tmp_path / "demo.png"
    out = run_python("", args=["-m", "neurojit", "demo", "--quick", "--plot", str(figure)], env=demo_env).stdout
    assert f"figure: {figure}" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000


def test_demo_help_lists_its_options():
    out = run_python("", args=["-m", "neurojit", "demo", "--help"]).stdout
    assert "--plot" in out and "--quick" in out and "--stdp" in out and "--seconds" in out
