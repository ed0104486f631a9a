"""Bad input, on every backend: the exception type, and a message naming the argument
(and, for shapes, the expected shape). Also what is accepted and converted: lists,
scalars for thresholds and bias, mixed dtypes, empty dimensions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cases import KERNELS, check_against_reference, kernel_of, make_args
from neurojit import JITCompiler, JITConfig
from reference import REFERENCES

# Base shapes of every case: B=3, T=7, N=5, I=4, K=3, M=6 (see cases.make_args)
DIMS = dict(B=3, T=7, N=5, I=4, K=3, M=6)

#: positional index of each argument name, per kernel
POSITIONS = {
    "spike_processing": ("spike_trains", "weights", "thresholds", "dt"),
    "lif_network_run": ("input_spikes", "input_weights", "recurrent_weights", "thresholds", "dt"),
    "reservoir_update": ("states", "input_weights", "reservoir_weights", "input_spikes"),
    "reservoir_run": ("inputs", "input_weights", "reservoir_weights", "initial_states"),
    "convolution": ("spike_trains", "kernel"),
    "matrix_multiply": ("a", "b"),
}


def complex_of(x):
    return np.asarray(x).astype(np.complex128)


def object_of(x):
    return np.asarray(x).astype(object)


def string_of(x):
    return np.asarray(x).astype(str)


def drop_axis(x):
    return np.asarray(x)[0]


def add_axis(x):
    return np.asarray(x)[None]


# (kernel, argument, replacement: value or function of the valid value, exception, message fragments)
BAD_INPUTS = [
    # -- spike_processing
    ("spike_processing", "spike_trains", None, TypeError, ["spike_trains", "None"]),
    ("spike_processing", "spike_trains", drop_axis, ValueError, ["spike_trains", "3-D", "(B, T, N)"]),
    ("spike_processing", "spike_trains", add_axis, ValueError, ["spike_trains", "3-D"]),
    ("spike_processing", "spike_trains", complex_of, TypeError, ["spike_trains", "complex"]),
    ("spike_processing", "spike_trains", object_of, TypeError, ["spike_trains", "object"]),
    ("spike_processing", "spike_trains", string_of, TypeError, ["spike_trains"]),
    ("spike_processing", "spike_trains", [[[0, 1], [1]]], TypeError, ["spike_trains"]),
    ("spike_processing", "spike_trains", np.zeros((3, 7, 6)), ValueError,
     ["weights must be (N, N) = (6, 6), got (5, 5)"]),
    ("spike_processing", "weights", np.zeros((10, 10)), ValueError, ["weights must be (N, N) = (5, 5), got (10, 10)"]),
    ("spike_processing", "weights", np.zeros((5, 6)), ValueError, ["weights must be (N, N) = (5, 5), got (5, 6)"]),
    ("spike_processing", "weights", np.zeros(5), ValueError, ["weights", "2-D", "(N, N)"]),
    ("spike_processing", "weights", None, TypeError, ["weights"]),
    ("spike_processing", "weights", object_of, TypeError, ["weights", "object"]),
    ("spike_processing", "weights", complex_of, TypeError, ["weights"]),
    ("spike_processing", "thresholds", np.ones(4), ValueError, ["thresholds must be (N) = (5,), got (4,)"]),
    ("spike_processing", "thresholds", np.ones((5, 1)), ValueError, ["thresholds", "1-D"]),
    ("spike_processing", "thresholds", complex_of, TypeError, ["thresholds"]),
    ("spike_processing", "thresholds", float("nan"), ValueError, ["thresholds", "finite"]),
    ("spike_processing", "dt", float("nan"), ValueError, ["dt", "finite"]),
    ("spike_processing", "dt", float("inf"), ValueError, ["dt", "finite"]),
    ("spike_processing", "dt", -float("inf"), ValueError, ["dt"]),
    ("spike_processing", "dt", 0.0, ValueError, ["dt", "positive"]),
    ("spike_processing", "dt", -1e-3, ValueError, ["dt", "positive"]),
    ("spike_processing", "dt", None, TypeError, ["dt"]),
    ("spike_processing", "dt", "0.001", TypeError, ["dt"]),
    ("spike_processing", "dt", True, TypeError, ["dt"]),
    ("spike_processing", "dt", 1e-3 + 0j, TypeError, ["dt"]),
    ("spike_processing", "dt", np.array([1e-3]), TypeError, ["dt"]),
    ("spike_processing", "tau", float("nan"), ValueError, ["tau", "finite"]),
    ("spike_processing", "tau", float("inf"), ValueError, ["tau", "finite"]),
    ("spike_processing", "tau", 0.0, ValueError, ["tau", "positive"]),
    ("spike_processing", "tau", -0.02, ValueError, ["tau", "positive"]),
    ("spike_processing", "v_reset", float("nan"), ValueError, ["v_reset", "finite"]),
    ("spike_processing", "v_reset", float("inf"), ValueError, ["v_reset", "finite"]),
    ("spike_processing", "v_reset", "0", TypeError, ["v_reset"]),
    # -- lif_network_run
    ("lif_network_run", "input_spikes", drop_axis, ValueError, ["input_spikes", "3-D", "(B, T, I)"]),
    ("lif_network_run", "input_weights", np.zeros((3, 5)), ValueError,
     ["input_weights must be (I, N) = (4, N), got (3, 5) (I = 4 from input_spikes)"]),
    ("lif_network_run", "recurrent_weights", np.zeros((4, 4)), ValueError,
     ["recurrent_weights must be (N, N) = (5, 5), got (4, 4)"]),
    ("lif_network_run", "recurrent_weights", None, TypeError, ["recurrent_weights"]),
    ("lif_network_run", "thresholds", np.ones(6), ValueError, ["thresholds must be (N) = (5,), got (6,)"]),
    ("lif_network_run", "input_spikes", complex_of, TypeError, ["input_spikes"]),
    ("lif_network_run", "dt", float("nan"), ValueError, ["dt"]),
    ("lif_network_run", "tau", 0, ValueError, ["tau"]),
    ("lif_network_run", "v_reset", float("-inf"), ValueError, ["v_reset"]),
    # -- reservoir_update
    ("reservoir_update", "states", drop_axis, ValueError, ["states", "2-D", "(B, N)"]),
    ("reservoir_update", "states", None, TypeError, ["states"]),
    ("reservoir_update", "input_weights", np.zeros((4, 6)), ValueError,
     ["input_weights must be (I, N) = (4, 5), got (4, 6)"]),
    ("reservoir_update", "reservoir_weights", np.zeros((5, 4)), ValueError,
     ["reservoir_weights must be (N, N) = (5, 5), got (5, 4)"]),
    ("reservoir_update", "input_spikes", np.zeros((3, 9)), ValueError,
     ["input_spikes must be (B, I) = (3, 4), got (3, 9)"]),
    ("reservoir_update", "input_spikes", string_of, TypeError, ["input_spikes"]),
    ("reservoir_update", "leak_rate", 0.0, ValueError, ["leak_rate", "(0, 1]"]),
    ("reservoir_update", "leak_rate", 1.5, ValueError, ["leak_rate", "(0, 1]"]),
    ("reservoir_update", "leak_rate", -0.2, ValueError, ["leak_rate"]),
    ("reservoir_update", "leak_rate", float("nan"), ValueError, ["leak_rate"]),
    ("reservoir_update", "leak_rate", float("inf"), ValueError, ["leak_rate"]),
    ("reservoir_update", "leak_rate", "0.5", TypeError, ["leak_rate"]),
    ("reservoir_update", "bias", np.zeros(4), ValueError, ["bias must be (N) = (5,), got (4,)"]),
    ("reservoir_update", "bias", np.zeros((1, 5)), ValueError, ["bias", "1-D"]),
    ("reservoir_update", "bias", float("nan"), ValueError, ["bias", "finite"]),
    ("reservoir_update", "bias", complex_of, TypeError, ["bias"]),
    # -- reservoir_run
    ("reservoir_run", "inputs", drop_axis, ValueError, ["inputs", "3-D", "(B, T, I)"]),
    ("reservoir_run", "initial_states", np.zeros((2, 5)), ValueError,
     ["initial_states must be (B, N) = (3, 5), got (2, 5)"]),
    ("reservoir_run", "initial_states", drop_axis, ValueError, ["initial_states", "2-D"]),
    ("reservoir_run", "reservoir_weights", np.zeros((6, 6)), ValueError,
     ["reservoir_weights must be (N, N) = (5, 5), got (6, 6)"]),
    ("reservoir_run", "input_weights", object_of, TypeError, ["input_weights"]),
    ("reservoir_run", "leak_rate", 2, ValueError, ["leak_rate"]),
    ("reservoir_run", "bias", np.zeros(7), ValueError, ["bias must be (N) = (5,), got (7,)"]),
    # -- convolution
    ("convolution", "spike_trains", drop_axis, ValueError, ["spike_trains", "3-D"]),
    ("convolution", "spike_trains", None, TypeError, ["spike_trains"]),
    ("convolution", "kernel", np.ones((3, 1)), ValueError, ["kernel", "1-D", "(K)"]),
    ("convolution", "kernel", 1.0, ValueError, ["kernel", "1-D"]),
    ("convolution", "kernel", None, TypeError, ["kernel"]),
    ("convolution", "kernel", complex_of, TypeError, ["kernel"]),
    ("convolution", "kernel", string_of, TypeError, ["kernel"]),
    ("convolution", "kernel", np.array([1.0, np.inf]), ValueError, ["kernel", "finite"]),
    ("convolution", "kernel", np.array([np.nan, 1.0]), ValueError, ["kernel", "finite"]),
    # -- matrix_multiply
    ("matrix_multiply", "a", drop_axis, ValueError, ["a must be 2-D (M, K)"]),
    ("matrix_multiply", "b", add_axis, ValueError, ["b must be 2-D (K, N)"]),
    ("matrix_multiply", "b", np.zeros((4, 5)), ValueError, ["b must be (K, N) = (3, N), got (4, 5) (K = 3 from a)"]),
    ("matrix_multiply", "a", None, TypeError, ["a "]),
    ("matrix_multiply", "a", complex_of, TypeError, ["a "]),
    ("matrix_multiply", "b", object_of, TypeError, ["b "]),
]


def _case_id(case):
    kernel, argument, replacement, _, _ = case
    what = getattr(replacement, "__name__", None) or (
        f"shape{replacement.shape}" if isinstance(replacement, np.ndarray) else repr(replacement)
    )
    return f"{kernel}-{argument}-{what}"


def _call_with(compiler, kernel, argument, replacement, rng):
    args, kwargs = make_args(kernel, rng, np.float64, **DIMS)
    args = list(args)
    names = POSITIONS[kernel]
    if argument in names:
        valid = args[names.index(argument)]
    else:
        valid = kwargs.get(argument)
    value = replacement(valid) if callable(replacement) else replacement
    if argument in names:
        args[names.index(argument)] = value
    else:
        kwargs[argument] = value
    return kernel_of(compiler, kernel)(*args, **kwargs)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[_case_id(c) for c in BAD_INPUTS])
def test_bad_input_raises_naming_the_argument(compiler, case, rng):
    kernel, argument, replacement, exception, fragments = case
    with pytest.raises(exception) as info:
        _call_with(compiler, kernel, argument, replacement, rng)
    message = str(info.value)
    assert type(info.value) is exception
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    # the argument is named at the start of the message, not merely mentioned in passing
    first_named = [name for name in POSITIONS[kernel] + ("tau", "v_reset", "leak_rate", "bias") if message.startswith(name + " ")]
    assert first_named, f"message does not start with an argument name: {message!r}"


def test_every_kernel_has_bad_input_cases():
    assert {case[0] for case in BAD_INPUTS} == set(KERNELS)


@pytest.mark.parametrize("name", KERNELS)
def test_lists_are_accepted(compiler, name, rng):
    """Nested lists of numbers are converted (to float64) and give the reference result."""
    args, kwargs = make_args(name, rng, np.float64, **DIMS)
    as_lists = [a.tolist() if isinstance(a, np.ndarray) else a for a in args]
    list_kwargs = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    result = kernel_of(compiler, name)(*as_lists, **list_kwargs)
    check_against_reference(name, result, args, kwargs, np.float64)


def test_scalar_thresholds_and_bias_broadcast(compiler, rng):
    args, kwargs = make_args("spike_processing", rng, np.float32, **DIMS)
    s, w, _, dt = args
    kernel = compiler.compile_spike_processing_kernel()
    np.testing.assert_array_equal(kernel(s, w, 0.5, dt, **kwargs), kernel(s, w, np.full(5, 0.5, np.float32), dt, **kwargs))
    assert kernel(s, w, 0.5, dt).dtype == np.float32
    args, kwargs = make_args("reservoir_update", rng, np.float64, **DIMS)
    kernel = compiler.compile_reservoir_update_kernel()
    kwargs["bias"] = 0.25
    np.testing.assert_allclose(kernel(*args, **kwargs), REFERENCES["reservoir_update"](*args, **kwargs), rtol=1e-12, atol=1e-12)
    kwargs["bias"] = None
    np.testing.assert_allclose(kernel(*args, **kwargs), REFERENCES["reservoir_update"](*args, **kwargs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", KERNELS)
def test_mixed_precision_computes_in_float64(compiler, name, rng):
    """float32 spikes/inputs with float64 weights: the result is float64 (the wider dtype)."""
    args, kwargs = make_args(name, rng, np.float64, **DIMS)
    args = list(args)
    args[0] = args[0].astype(np.float32)
    result = kernel_of(compiler, name)(*args, **kwargs)
    check_against_reference(name, result, args, kwargs, np.float64)


def test_scalar_types_accepted(compiler, rng):
    """dt/tau as numpy scalars, 0-d arrays and ints mean the same as the Python float."""
    args, _ = make_args("spike_processing", rng, np.float64, **DIMS)
    s, w, th, _ = args
    kernel = compiler.compile_spike_processing_kernel()
    expected = kernel(s, w, th, 0.002, tau=0.02)
    np.testing.assert_array_equal(kernel(s, w, th, np.float64(0.002), tau=np.float64(0.02)), expected)
    np.testing.assert_array_equal(kernel(s, w, th, np.array(0.002), tau=np.array(0.02)), expected)
    np.testing.assert_array_equal(kernel(s, w, th, 2, tau=20), kernel(s, w, th, 2.0, tau=20.0))


def test_empty_neuron_dimension(compiler):
    """N = 0 neurons: an empty result of the right shape, no crash."""
    out = compiler.compile_spike_processing_kernel()(np.zeros((2, 3, 0)), np.zeros((0, 0)), np.zeros(0), 1e-3)
    assert out.shape == (2, 3, 0)
    out = compiler.compile_reservoir_run_kernel()(np.zeros((2, 3, 4)), np.zeros((4, 0)), np.zeros((0, 0)), np.zeros((2, 0)))
    assert out.shape == (2, 3, 0)


def test_extreme_decay_is_finite(compiler, rng):
    """dt/tau so large that exp(-dt/tau) underflows to 0: valid, the membrane forgets everything."""
    args, _ = make_args("spike_processing", rng, np.float64, **DIMS)
    s, w, th, _ = args
    out = compiler.compile_spike_processing_kernel()(s, w, th, 1e300, tau=1e-300)
    np.testing.assert_array_equal(out, REFERENCES["spike_processing"](s, w, th, 1.0, tau=1e-300))
    assert math.exp(-1.0 / 1e-300) == 0.0


# -- JITConfig -------------------------------------------------------------------------

BOOL_FIELDS = [
    "enable_jit", "cache_compiled_functions", "parallel_compilation", "optimize_memory_layout",
    "enable_fastmath", "enable_parallel_loops", "verbose", "profile_compilation",
]

BAD_CONFIG = (
    [(field, value) for field in BOOL_FIELDS for value in ("yes", 1, None)]
    + [("cache_directory", ""), ("cache_directory", 123), ("cache_directory", ["a"])]
    + [("max_cache_size", v) for v in (0, -1, 1.5, "512MB", True, None)]
    + [("backend", v) for v in ("gpu", "", 3, None, "numba")]
)


@pytest.mark.parametrize("field,value", BAD_CONFIG, ids=[f"{f}={v!r}" for f, v in BAD_CONFIG])
def test_jitconfig_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"\b{field}\b"):
        JITConfig(**{field: value})


def test_jitconfig_every_field_is_covered():
    from dataclasses import fields

    assert {f.name for f in fields(JITConfig)} == {f for f, _ in BAD_CONFIG}


def test_jitconfig_contradiction():
    with pytest.raises(ValueError, match="backend"):
        JITConfig(backend="jit", enable_jit=False)


def test_jitconfig_accepts_good_values(tmp_path):
    config = JITConfig(backend="PYTHON", cache_directory=tmp_path, max_cache_size=1)
    assert config.backend == "python"
    assert config.cache_directory == str(tmp_path)


def test_jitcompiler_rejects_non_config():
    with pytest.raises(TypeError, match="config"):
        JITCompiler({"backend": "python"})


@pytest.mark.parametrize("pattern", ["diagonal", "ROW_MAJOR", None, ""])
def test_optimize_memory_layout_rejects_bad_pattern(compiler, pattern):
    with pytest.raises(ValueError, match="access_pattern"):
        compiler.optimize_memory_layout(np.zeros((3, 3)), pattern)


@pytest.mark.parametrize(
    "kwargs", [dict(test_sizes=[]), dict(test_sizes=[0]), dict(test_sizes=[-5]), dict(test_sizes=[2.5]),
               dict(num_iterations=0), dict(num_iterations=1.5)],
    ids=["no-sizes", "size0", "negative", "float-size", "iterations0", "float-iterations"],
)
def test_benchmark_rejects_bad_arguments(compilers, kwargs):
    with pytest.raises(ValueError, match="test_sizes" if "test_sizes" in kwargs else "num_iterations"):
        compilers["python"].benchmark_jit_performance(**kwargs)


def test_jitconfig_accepts_numpy_integer_cache_size():
    config = JITConfig(max_cache_size=np.int64(1 << 20))
    assert config.max_cache_size == 1 << 20 and type(config.max_cache_size) is int
    with pytest.raises(ValueError, match="max_cache_size"):
        JITConfig(max_cache_size=np.int64(0))
    with pytest.raises(ValueError, match="max_cache_size"):
        JITConfig(max_cache_size=np.bool_(True))
