"""The loop-source tanh of neurojit.kernels.mathfn: <= 2 ulp from numpy.tanh, special values,
types, and (with numba) the compiled scalar and loop, which must vectorise."""

from __future__ import annotations

import math
import platform
import re
import types

import numpy as np
import pytest

from neurojit.kernels import mathfn

DTYPES = (np.float32, np.float64)
MAX_ULP = 2


def ulp_error(got, ref):
    """|got - ref| in units of spacing(ref), in the arrays' (common) float type."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.dtype == ref.dtype
    both_nan = np.isnan(got) & np.isnan(ref)
    wide = np.longdouble if ref.dtype == np.float64 else np.float64  # exact differences
    err = np.abs(got.astype(wide) - ref.astype(wide)) / np.abs(np.spacing(ref)).astype(wide)
    return np.where(both_nan, 0, np.where(np.isnan(got) | np.isnan(ref), np.inf, err))


def around(values, dtype, steps=4):
    """Each value and its neighbours up to ``steps`` ulps either side, in ``dtype``."""
    out = []
    for v in np.asarray(values, dtype):
        lo = hi = v
        out.append(v)
        for _ in range(steps):
            lo = np.nextafter(lo, dtype(-np.inf))
            hi = np.nextafter(hi, dtype(np.inf))
            out += [lo, hi]
    return np.array(out, dtype)


def saturation(dtype):
    """The smallest positive x with numpy.tanh(x) == 1 in ``dtype``."""
    lo, hi = dtype(1), dtype(30)
    while np.nextafter(lo, hi) != hi:
        mid = dtype((lo + hi) / 2)
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if np.tanh(mid) == 1 else (mid, hi)
    return hi


def boundaries(dtype):
    """Values at which the implementation switches formula, clamp or exponent, both signs."""
    tiny = np.finfo(dtype).smallest_normal
    sub = np.finfo(dtype).smallest_subnormal
    kmax = 60 if dtype == np.float64 else 31
    points = [
        0.625,  # polynomial / exp formula
        20.0 if dtype == np.float64 else 10.0,  # clamp
        saturation(dtype),
        2.0**-28, 2.0**-27, 2.0**-13, 2.0**-12, 2.0**-26,  # where tanh(x) rounds to x
        tiny, sub, 2 * sub, tiny / 2, 1.0, 0.5, 2.0, 9.0, 19.0, 19.1, 1e3,
    ]
    # each change of k = round(2|x| / ln2) in the exp reduction
    points += [(j + 0.5) * math.log(2) / 2 for j in range(kmax)]
    values = around(points, dtype)
    values = values[values > 0]
    return np.concatenate([values, -values])


def grid(dtype, n=20000, seed=0):
    lo = 1e-45 if dtype == np.float32 else 1e-320
    logs = np.geomspace(lo, 1e3, n)
    rng = np.random.default_rng(seed)
    rand = np.concatenate([
        rng.uniform(-25, 25, n),
        rng.uniform(-1, 1, n),
        np.copysign(10.0 ** rng.uniform(-45 if dtype == np.float32 else -320, 3, n), rng.uniform(-1, 1, n)),
    ])
    subnormals = np.finfo(dtype).smallest_subnormal * np.array([1, 2, 3, 7, 1000, 2**20, 2**22 - 1], dtype)
    if dtype == np.float64:
        subnormals = np.concatenate([subnormals, subnormals * 2.0**30])
    x = np.concatenate([logs, -logs, rand, np.linspace(-25, 25, n)]).astype(dtype)
    return np.concatenate([x, subnormals, -subnormals, boundaries(dtype)])


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan]


def check_specials(f, dtype):
    for v in SPECIAL:
        x = dtype(v)
        got = f(x)
        ref = np.tanh(x)
        if np.isnan(ref):
            assert np.isnan(got)
        else:
            assert got == ref and np.signbit(got) == np.signbit(ref), (x, got)
    # exactly +-1 beyond 20, x itself for tiny x
    for v in (20.0, 20.5, 50.0, 1e3, 1e30, np.finfo(dtype).max):
        assert f(dtype(v)) == 1 and f(dtype(-v)) == -1
    tiny_limit = 2.0**-28 if dtype == np.float64 else 2.0**-13
    for v in (tiny_limit, tiny_limit / 3, 1e-30, np.finfo(dtype).smallest_normal, np.finfo(dtype).smallest_subnormal):
        x = dtype(v)
        assert f(x) == x and f(-x) == -x


# -- plain Python


@pytest.mark.parametrize("dtype", DTYPES)
def test_python_accuracy(dtype):
    x = np.concatenate([grid(dtype, n=600, seed=1), boundaries(dtype)])
    got = np.array([mathfn.tanh(v) for v in x], dtype)
    err = ulp_error(got, np.tanh(x))
    assert err.max() <= MAX_ULP, (x[np.argmax(err)], err.max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_python_specials(dtype):
    check_specials(mathfn.tanh, dtype)


def test_python_types():
    assert type(mathfn.tanh(0.3)) is float
    assert type(mathfn.tanh(np.float64(0.3))) is np.float64
    assert type(mathfn.tanh(np.float32(0.3))) is np.float32
    assert type(mathfn.tanh(np.float32(3.0))) is np.float32
    assert mathfn.tanh(0.3) == np.tanh(0.3)
    assert math.copysign(1, mathfn.tanh(-0.0)) == -1
    assert math.isnan(mathfn.tanh(math.nan))
    assert mathfn.tanh(-math.inf) == -1.0


def test_python_tanh_into():
    for dtype in DTYPES:
        x = np.linspace(-4, 4, 101).astype(dtype)
        y = np.empty_like(x)
        mathfn.tanh_into(x, y)
        assert ulp_error(y, np.tanh(x)).max() <= MAX_ULP


# -- compiled with numba, the way the JIT backend compiles the loops


@pytest.fixture(scope="module")
def jit():
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("NUMBA_DISABLE_JIT is set")
    scalar = numba.njit(inline="always")(mathfn.tanh)
    source = mathfn.tanh_into
    loop = numba.njit(nogil=True, fastmath=False)(
        types.FunctionType(source.__code__, dict(source.__globals__, tanh=scalar), source.__name__)
    )
    signatures = {}
    for dtype in DTYPES:
        array = numba.types.Array(numba.from_dtype(dtype), 1, "C")
        signatures[dtype] = (array, array)
        loop.compile(signatures[dtype])
    return types.SimpleNamespace(numba=numba, scalar=scalar, loop=loop, signatures=signatures)


@pytest.mark.parametrize("dtype", DTYPES)
def test_jit_accuracy(jit, dtype):
    x = grid(dtype)
    y = np.empty_like(x)
    jit.loop(x, y)
    err = ulp_error(y, np.tanh(x))
    assert err.max() <= MAX_ULP, (x[np.argmax(err)], err.max())
    # the compiled loop computes what the plain-Python function computes
    some = x[:: max(1, x.size // 500)]
    assert np.array_equal(y[:: max(1, x.size // 500)], np.array([mathfn.tanh(v) for v in some], dtype), equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_jit_accuracy_against_exact(jit, dtype):
    """Independent of numpy's own error: within 1.1 ulp of a wider-precision tanh."""
    if dtype == np.float32:
        wide = np.float64
    elif np.finfo(np.longdouble).nmant >= 63:
        wide = np.longdouble
    else:
        pytest.skip("no extended long double here")
    x = np.concatenate([grid(dtype, n=5000, seed=2), np.linspace(0.6, 1.6, 20001).astype(dtype)])
    y = np.empty_like(x)
    jit.loop(x, y)
    exact = np.tanh(x.astype(wide))
    err = np.abs(y.astype(wide) - exact) / np.abs(np.spacing(exact.astype(dtype))).astype(wide)
    assert err.max() <= 1.1, (x[np.argmax(err)], err.max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_jit_specials(jit, dtype):
    x = np.array(SPECIAL, dtype)
    y = np.empty_like(x)
    jit.loop(x, y)

    def via_loop(v):
        out = np.empty(1, dtype)
        jit.loop(np.array([v], dtype), out)
        return out[0]

    check_specials(via_loop, dtype)
    # a special value inside a vector of ordinary ones, at every lane position
    for pos in range(9):
        for v in SPECIAL:
            x = np.full(17, 0.7, dtype)
            x[pos] = v
            y = np.empty_like(x)
            jit.loop(x, y)
            ref = np.tanh(x)
            assert np.array_equal(y, ref, equal_nan=True) or ulp_error(y, ref).max() <= MAX_ULP
            assert np.signbit(y[pos]) == np.signbit(ref[pos]) or np.isnan(ref[pos])


def test_jit_in_place(jit):
    x = np.linspace(-3, 3, 37)
    ref = np.tanh(x)
    jit.loop(x, x)
    assert ulp_error(x, ref).max() <= MAX_ULP


def _function_body(ir: str, marker: str) -> str:
    for block in re.findall(r"^define .*?^}", ir, flags=re.S | re.M):
        header = block.splitlines()[0]
        if marker in header and "cpython" not in header and "cfunc" not in header:
            return block
    raise AssertionError(f"no function {marker} in the IR")


def test_jit_float32_stays_float32(jit):
    numba = jit.numba
    jit.scalar.compile((numba.float32,))
    body = _function_body(jit.scalar.inspect_llvm((numba.float32,)), "4tanh")
    assert "float" in body and "double" not in body
    body = _function_body(jit.loop.inspect_llvm(jit.signatures[np.float32]), "9tanh_into")
    assert "double" not in body


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 assembly")
@pytest.mark.parametrize("dtype", DTYPES)
def test_jit_loop_vectorises(jit, dtype):
    asm = jit.loop.inspect_asm(jit.signatures[dtype])
    suffix = "ps" if dtype == np.float32 else "pd"
    # packed (SSE2 or wider) multiplies and divides, and no call to a libm tanh/exp
    assert re.search(rf"\bv?mul{suffix}\b", asm) and re.search(rf"\bv?div{suffix}\b", asm)
    assert not re.search(r"call\w*\s+\S*(tanh|exp)", asm)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fastmath_compile_rounds_k_through_an_integer(jit, dtype):
    """Under fastmath=True, reassociation would fold the rounding (t + M) - M to t and make k
    fractional (errors of whole percent); the JIT backend's fastmath copy of tanh sets FASTMATH
    and rounds through int32 instead: still within 2 ulp of numpy. The plain module copy (the
    AOT build and ieee JIT) takes the additions."""
    from neurojit.backends.jit import _inlined

    assert mathfn.FASTMATH is False
    numba = jit.numba
    source = mathfn.tanh_into
    x = grid(dtype)
    for use_flag in (True, False):
        scalar = _inlined(mathfn.tanh, True, ()) if use_flag else numba.njit(inline="always")(
            types.FunctionType(mathfn.tanh.__code__, dict(mathfn.tanh.__globals__, FASTMATH=False), "tanh"))
        loop = numba.njit(nogil=True, fastmath=True)(
            types.FunctionType(source.__code__, dict(source.__globals__, tanh=scalar), source.__name__))
        y = np.empty_like(x)
        loop(x, y)
        err = ulp_error(y, np.tanh(x))
        if use_flag:
            assert err.max() <= MAX_ULP, (x[np.argmax(err)], err.max())
        else:  # what the flag prevents (if this LLVM folds it): shown so that the test can fail
            assert err.max() > MAX_ULP or np.array_equal(y, np.array([mathfn.tanh(v) for v in x], dtype), equal_nan=True)
