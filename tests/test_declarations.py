"""Every kernel and loop is declared once: the public names, the NumPy twins, the Dask
wrappers, the CLI and the benchmark inputs all agree with the declarations; bound kernels
give the unbound results; the package has no import cycle."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import neurojit
from cases import KERNELS, METHODS
from reference import REFERENCES
from neurojit import JITCompiler, JITConfig, bench, cli, compiler as compiler_module, operations
from neurojit.backends import python
from neurojit.declare import REQUIRED
from neurojit.kernels import signatures

PACKAGE = Path(neurojit.__file__).parent
PUBLIC = [name for name, spec in operations.KERNELS.items() if spec.public]


def test_every_public_kernel_has_a_reference_and_test_cases():
    assert sorted(REFERENCES) == sorted(KERNELS) == sorted(PUBLIC)

def test_every_public_kernel_has_its_public_names():
    assert sorted(METHODS) == sorted(PUBLIC)
    compiler = JITCompiler(JITConfig(backend="python"))
    for name in PUBLIC:
        spec = operations.KERNELS[name]
        kernel = getattr(compiler, METHODS[name])()
        assert kernel.name == name and kernel is compiler.kernel(name)
        assert inspect.signature(kernel) == spec.signature()
        global_function = getattr(neurojit, f"jit_{name}")
        assert global_function is getattr(neurojit.performance.jit_compilation, f"jit_{name}")
        assert inspect.signature(global_function) == spec.signature()
        assert kernel.__doc__ == spec.doc and "Parameters" in spec.doc
    assert sorted(bench.PUBLIC_KERNELS) == sorted(PUBLIC) == sorted(bench.GRID) == sorted(bench.BEST_NUMPY)
    choices = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices["bench"]._actions
                   if a.dest == "kernel").choices
    assert sorted(choices) == sorted(PUBLIC)


def test_dask_wrappers_follow_the_declarations():
    njd = pytest.importorskip("neurojit.dask")
    for name in PUBLIC:
        wrapper = getattr(njd, name)
        parameters = list(inspect.signature(wrapper).parameters)
        assert parameters == [p.name for p in operations.KERNELS[name].parameters] + ["config"]


def test_every_declared_loop_has_a_numpy_twin_with_its_arguments():
    for name, loop in signatures.LOOPS.items():
        assert name in python.TWINS, f"loop {name} has no NumPy twin in neurojit/backends/python.py"
        assert tuple(inspect.signature(python.TWINS[name]).parameters) == loop.arguments
        assert loop.signature("float32").count(", ") == len(loop.arguments) - 1
        assert all(0 <= p < len(loop.arguments) for p in loop.batch_positions)
    for spec in operations.KERNELS.values():
        assert set(spec.loops) <= set(signatures.LOOPS)


def test_a_bad_loop_declaration_is_refused():
    def loop(a, out):
        for i in range(a.shape[0]):
            out[i] = a[i]

    with pytest.raises(TypeError, match="lists"):
        signatures.Loop(loop, out="{t}[::1]", a="{t}[::1]")
    with pytest.raises(TypeError, match="batch arguments"):
        signatures.Loop(loop, a="{t}[::1]", out="{t}[::1]", batch=("b",))
    with pytest.raises(TypeError, match="prange"):
        signatures.Loop(loop, a="{t}[::1]", out="{t}[::1]", parallel=True)


def _imports(path: Path) -> set[str]:
    """The neurojit modules ``path`` imports (at any depth: also inside functions)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("neurojit")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("neurojit"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def test_the_package_has_no_import_cycle():
    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    # a package's __init__ importing its own submodules is not a cycle of the code below it
    graph = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(dep):] + [dep]))
            if dep not in state:
                visit(dep, trail + [dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert "neurojit.errors" in graph and not graph["neurojit.errors"]


def test_the_loops_import_only_numpy_math_and_each_other():
    for path in (PACKAGE / "kernels").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= {"numpy", "math", "os"}, path.name
            elif isinstance(node, ast.ImportFrom) and not node.level:
                assert node.module.split(".")[0] in {"numpy", "math", "os", "typing", "__future__", "_sha2",
                                                     "_sha256", "hashlib"}, (path.name, node.module)


def test_public_kernel_names_are_plain_definitions():
    """The public names are greppable assignments in compiler.py and dask.py (no exec)."""
    for path in (PACKAGE / "compiler.py", PACKAGE / "dask.py"):
        source = path.read_text()
        assert "exec(" not in source
    source = (PACKAGE / "compiler.py").read_text()
    for name in PUBLIC:
        assert f"jit_{name} = GlobalKernel({name!r})".replace("'", '"') in source
        assert f"{METHODS[name]} = _compile_method(" in source


# -- bound kernels (API.md section 6) ---------------------------------------------------


def _inputs(name: str, dtype, seed: int = 0) -> dict:
    return bench.make_inputs(name, 12, np.random.default_rng(seed), dtype, 0.2, batch=3, steps=40)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", PUBLIC)
def test_a_bound_kernel_equals_the_unbound_call_bit_for_bit(compiler, name, dtype):
    kernel = compiler.kernel(name)
    arguments = _inputs(name, dtype)
    expected = kernel(**arguments)
    spec = operations.KERNELS[name]
    names = [p.name for p in spec.parameters if p.name in arguments]
    for bound_names in (names[1:], names[:1], [n for n in names if arguments[n] is not None and np.ndim(arguments[n]) >= 2]):
        bound = kernel.bind(**{n: arguments[n] for n in bound_names})
        free = [n for n in names if n not in bound_names]
        np.testing.assert_array_equal(bound(*[arguments[n] for n in free]), expected)
        np.testing.assert_array_equal(bound(**{n: arguments[n] for n in free}), expected)
        assert list(inspect.signature(bound).parameters) == [p.name for p in spec.parameters if p.name not in bound_names]


def test_bound_arrays_are_private_copies(compiler, rng):
    kernel = compiler.compile_reservoir_update_kernel()
    x, u = np.tanh(rng.standard_normal((2, 8))), rng.random((2, 3))
    w_in, w = rng.standard_normal((3, 8)), rng.standard_normal((8, 8)) * 0.2
    step = kernel.bind(input_weights=w_in, reservoir_weights=w, leak_rate=0.3)
    expected = kernel(x, w_in, w, u, 0.3)
    w[:] = 0
    w_in[:] = 0
    np.testing.assert_array_equal(step(x, u), expected)
    np.testing.assert_array_equal(step(states=x, input_spikes=u), expected)


def test_a_bound_kernel_takes_other_dtypes_like_the_unbound_one(compiler, rng):
    kernel = compiler.compile_spike_processing_kernel()
    spikes = (rng.random((2, 30, 6)) < 0.3)
    w32 = (rng.standard_normal((6, 6)) * 0.5).astype(np.float32)
    bound = kernel.bind(weights=w32, thresholds=0.4, dt=1e-3)
    for s in (spikes, spikes.astype(np.float64), spikes.astype(np.float32)):
        result = bound(s)
        expected = kernel(s, w32, 0.4, 1e-3)
        assert result.dtype == expected.dtype
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 3])
def test_a_bound_step_called_again_equals_the_unbound_call(compiler, dtype, batch, rng):
    """From its second call a bound step of dense weights runs its loop directly (the
    declaration's ``direct``): the same numbers as the unbound call, step after step, a new
    array each time; arrays it cannot take as they are still go the full way."""
    kernel = compiler.compile_reservoir_update_kernel()
    w_in = rng.standard_normal((3, 9)).astype(dtype)
    w = (rng.standard_normal((9, 9)) * 0.3).astype(dtype)
    step = kernel.bind(input_weights=w_in, reservoir_weights=w, leak_rate=0.4, bias=0.1)
    x = np.tanh(rng.standard_normal((batch, 9))).astype(dtype)
    for _ in range(4):
        u = rng.random((batch, 3)).astype(dtype)
        expected = kernel(x, w_in, w, u, 0.4, 0.1)
        x_next = step(x, u)
        np.testing.assert_array_equal(x_next, expected)
        assert x_next.dtype == dtype and not np.shares_memory(x_next, x)
        x = x_next
    readonly = u.copy()
    readonly.flags.writeable = False
    others = (np.asfortranarray(np.tile(x, (1, 1))), x.astype(np.float64 if dtype == np.float32 else np.float32))
    for states, spikes in [(x, readonly), (x, u > 0.5), *((o, u) for o in others), (x[:, ::-1].copy(), u)]:
        np.testing.assert_array_equal(step(states, spikes), kernel(states, w_in, w, spikes, 0.4, 0.1))
    with pytest.raises(ValueError, match=r"states must be \(B, N\)"):
        step(x[:, :5].copy(), u)
    np.testing.assert_array_equal(step(x, u), kernel(x, w_in, w, u, 0.4, 0.1))  # direct again
    packed = step._direct_memo["constants"][1]
    for rows in (2, batch, 5, batch):  # calls of other shapes between: the constants are packed once
        states, spikes = np.tile(x[:1], (rows, 1)), np.tile(u[:1], (rows, 1))
        for _ in range(2):
            np.testing.assert_array_equal(step(states, spikes), kernel(states, w_in, w, spikes, 0.4, 0.1))
    assert step._direct_memo["constants"][1] is packed


def test_a_bound_step_of_a_large_reservoir_runs_its_body_again(compiler, rng):
    """Above PACKED_STEP_WEIGHTS nothing is packed (no second copy of the weights): calls
    after the first take the body on the bound values, with the same numbers."""
    n = int(np.sqrt(operations.PACKED_STEP_WEIGHTS)) + 1
    kernel = compiler.compile_reservoir_update_kernel()
    w_in, w = rng.standard_normal((2, n)), rng.standard_normal((n, n)) * 0.05
    step = kernel.bind(input_weights=w_in, reservoir_weights=w)
    x, u = np.tanh(rng.standard_normal((1, n))), rng.random((1, 2))
    for _ in range(3):
        np.testing.assert_array_equal(step(x, u), kernel(x, w_in, w, u))
    assert "constants" not in step._direct_memo


def test_binding_checks_at_once_and_calls_check_the_rest(compiler, rng):
    kernel = compiler.compile_reservoir_update_kernel()
    with pytest.raises(TypeError, match="no parameter 'weights'"):
        kernel.bind(weights=np.eye(3))
    with pytest.raises(ValueError, match="reservoir_weights must be"):
        kernel.bind(input_weights=np.ones((2, 4)), reservoir_weights=np.ones((3, 3)))
    with pytest.raises(ValueError, match="leak_rate"):
        kernel.bind(leak_rate=2.0)
    step = kernel.bind(input_weights=np.ones((2, 4)), reservoir_weights=np.eye(4))
    with pytest.raises(ValueError, match=r"states must be \(B, N\) = \(1, 4\), got \(1, 5\) \(N = 4 from input_weights\)"):
        step(np.zeros((1, 5)), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="missing required argument: input_spikes"):
        step(np.zeros((1, 4)))
    with pytest.raises(TypeError, match="multiple values"):
        step(np.zeros((1, 4)), np.zeros((1, 2)), states=np.zeros((1, 4)))


def test_unbound_calls_bind_their_arguments_like_python(compiler):
    kernel = compiler.compile_convolution_kernel()
    with pytest.raises(TypeError, match="takes 2 arguments but 3 were given"):
        kernel(np.zeros((1, 2, 3)), np.ones(2), 5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'taps'"):
        kernel(np.zeros((1, 2, 3)), taps=np.ones(2))
    with pytest.raises(TypeError, match="missing required argument: kernel"):
        kernel(np.zeros((1, 2, 3)))
    assert all(p.default is REQUIRED for p in operations.KERNELS["convolution"].parameters)


def test_lif_state_carries_over_between_chunks(compiler, rng):
    """The stateful loop: a sequence run in chunks (state handed on) equals one run, bit for bit."""
    continue_run = compiler.kernel("lif_network_continue")
    spikes = (rng.random((2, 60, 7)) < 0.2).astype(np.float64)
    w_in, w_rec = rng.standard_normal((7, 9)), rng.standard_normal((9, 9)) * 0.4
    whole = compiler.compile_lif_network_kernel()(spikes, w_in, w_rec, 0.5, 1e-3)
    v, fired = np.zeros((2, 9)), np.zeros((2, 9))
    parts = []
    for lo, hi in ((0, 1), (1, 25), (25, 25), (25, 60)):
        out, v_next, fired_next = continue_run(spikes[:, lo:hi], w_in, w_rec, 0.5, v, fired, 1e-3)
        assert v is not v_next and fired is not fired_next
        parts.append(out)
        v, fired = v_next, fired_next
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    np.testing.assert_array_equal(fired, whole[:, -1])


def test_compile_methods_come_from_one_helper():
    assert compiler_module.JITCompiler.compile_lif_network_kernel.__doc__.startswith("The ``lif_network_run`` kernel")


def test_a_call_like_the_previous_one_checks_its_own_arrays_again(compiler, rng):
    """The shortcut for repeated calls (same shapes) still converts, copies and rejects as a first call would."""
    kernel = compiler.compile_matrix_multiply_kernel()
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))
    np.testing.assert_allclose(kernel(a, b), a @ b)
    np.testing.assert_allclose(kernel(a, b), a @ b)  # the shortcut
    fortran, readonly = np.asfortranarray(a), a.copy()
    readonly.flags.writeable = False
    for other in (fortran, readonly, a.astype(np.float32), (a > 0).astype(np.int8), a[:, ::-1].copy()):
        np.testing.assert_allclose(kernel(other, b), np.asarray(other, np.float64) @ b, rtol=1e-6)
    with pytest.raises(ValueError, match=r"b must be \(K, N\) = \(5, N\), got \(6, 3\) \(K = 5 from a\)"):
        kernel(rng.standard_normal((4, 5)), b)
    with pytest.raises(TypeError, match="a must hold real numbers"):
        kernel(a.astype(complex), b)
    assert kernel(a, b).dtype == np.float64 and kernel(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32
    step = compiler.compile_reservoir_update_kernel().bind(input_weights=np.ones((2, 3)), reservoir_weights=np.eye(3))
    x, u = np.zeros((1, 3)), np.ones((1, 2))
    first = step(x, u, 0.5)
    np.testing.assert_array_equal(step(x, u, 0.5), first)
    with pytest.raises(ValueError, match="leak_rate"):
        step(x, u, 1.5)  # the scalar is checked on every call
    np.testing.assert_array_equal(step(x, u, 1.0), np.tanh(np.full((1, 3), 2.0)))
    rate = 0.25
    np.testing.assert_array_equal(step(x, u, rate), step(x, u, rate))  # the same float object again
    good, bad = np.full(3, 0.5), np.array([0.5, 1.5, 0.5])
    np.testing.assert_array_equal(step(x, u, good), first)
    with pytest.raises(ValueError, match="leak_rate must be in \\(0, 1\\]"):
        step(x, u, bad)  # an array whose values are checked: checked on every call, not only by shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_units", [1, 7, 100])
def test_a_reservoir_step_is_a_one_step_run_bit_for_bit(compiler, dtype, n_units, rng):
    """reservoir_update (its own loop on dense weights) gives reservoir_run's numbers exactly."""
    w_in = rng.uniform(-1, 1, (3, n_units)).astype(dtype)
    w = (rng.standard_normal((n_units, n_units)) / np.sqrt(n_units)).astype(dtype)
    x, u = rng.uniform(-1, 1, (5, n_units)).astype(dtype), rng.random((5, 3)).astype(dtype)
    lr, bias = rng.uniform(0.1, 1.0, n_units).astype(dtype), rng.normal(0, 0.1, n_units).astype(dtype)
    step = compiler.compile_reservoir_update_kernel()(x, w_in, w, u, lr, bias)
    run = compiler.compile_reservoir_run_kernel()(u[:, None], w_in, w, x, lr, bias)[:, 0]
    assert step.dtype == dtype
    if compiler.config.backend == "python":  # BLAS products of other shapes may round differently
        np.testing.assert_allclose(step, run, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-7)
    else:
        np.testing.assert_array_equal(step, run)


@pytest.mark.parametrize("v_reset", [-1e39, 3.41e38])
def test_a_scalar_beyond_float32_is_refused_in_a_float32_call(compiler, v_reset):
    kernel = compiler.compile_spike_processing_kernel()
    spikes, weights = np.zeros((1, 2, 3), np.float32), np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match="v_reset = .* is out of the range of float32"):
        kernel(spikes, weights, 0.5, 1e-3, v_reset=v_reset)
    assert kernel(spikes.astype(np.float64), weights, 0.5, 1e-3, v_reset=v_reset).dtype == np.float64
    with pytest.raises(ValueError, match="dt must be finite, got an integer too large for a float"):
        kernel(spikes, weights, 0.5, 10**400)


@pytest.mark.parametrize("name", PUBLIC)
def test_calls_cut_into_pieces_give_the_same_results(compiler, name, monkeypatch):
    """Long calls are cut along the batch, and one long row along time, so that Ctrl-C is
    answered between pieces: the results are those of one call, bit for bit."""
    arguments = _inputs(name, np.float64, seed=3)
    if name == "matrix_multiply":
        arguments["a"] = (np.random.default_rng(1).random((12, 12)) < 0.05).astype(float)
    expected = compiler.kernel(name)(**arguments)
    monkeypatch.setattr(operations, "CALL_WORK", 50.0)  # pieces of a few steps
    np.testing.assert_array_equal(compiler.kernel(name)(**arguments), expected)
    single_row = {k: (v[:1] if isinstance(v, np.ndarray) and v.ndim >= 2 and k in ("spike_trains", "input_spikes",
                  "inputs", "initial_states", "states") else v) for k, v in arguments.items()}
    monkeypatch.setattr(operations, "CALL_WORK", 1e8)
    expected_row = compiler.kernel(name)(**single_row)
    monkeypatch.setattr(operations, "CALL_WORK", 50.0)
    np.testing.assert_array_equal(compiler.kernel(name)(**single_row), expected_row)
