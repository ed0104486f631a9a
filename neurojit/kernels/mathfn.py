"""A tanh written in the loop source, so that compiled loops over it vectorise.

``np.tanh`` / ``math.tanh`` inside a numba loop is one libm call per element (~20 ns),
which LLVM cannot vectorise. :func:`tanh` below uses only ``+ - * /``, ``abs``,
``min``, one comparison, a float -> int32 -> float conversion, integer ``+``/``<<``, a
scalar ``.view`` and ``math.copysign`` (all of which numba lowers to LLVM instructions or
intrinsics with packed forms), no early return and no loop, so a loop
``for i in range(n): dst[i] = tanh(src[i])`` compiles to packed AVX2 / AVX-512 code.

Accuracy: at most 1.05 ulp from the exact tanh in float32 and float64 (measured on
dense grids, random points and every float32 in [0.3, 2), against long double), so within
2 ulp of ``numpy.tanh``, whose own error is up to 1.37 ulp in float32 and 1.18 in
float64 (numpy 2.4, AVX-512 host): 1 ulp in float64, 2 ulp at 0.03 % of float32 points.
Exactly ``x`` for tiny ``|x|`` (sign of zero kept), exactly +-1 once tanh rounds to +-1
(``|x| > 19.07`` in float64, ``> 9.02`` in float32), +-1 for +-inf, NaN for NaN. Under
``fastmath=True`` still within 2 ulp of numpy (1.7 ulp from exact in float32).

Types: the arithmetic is done in the type of the argument. ``T = type(x)`` is
``float`` / ``np.float64`` / ``np.float32`` in plain Python and numba's float64 /
float32 number class in compiled code, so every constant is written ``T(c)``: in the
float32 specialisation there is no float64 operation at all (numba types a bare Python
float literal as float64 and would promote). The test ``T(0.1) == np.float64(0.1)``
picks the float64 or float32 coefficient set; it is a constant expression, folded
away by LLVM in each specialisation (both branches are typed, only one survives).

Method, for ``a = |x|``:

* ``a < 0.625``: ``tanh(a) = a + a * s * P(s)``, ``s = a*a``, ``P`` a polynomial of degree
  10 (float64) or 4 (float32) fitting ``(tanh(a) - a) / a**3``. The correction
  term is at most 13 % of the result, so its rounding errors count little (<= 0.93 ulp
  in all). Tiny and subnormal ``a`` give ``a`` exactly.
* ``a >= 0.625``: ``tanh(a) = 1 - 2 / (1 + E)``, ``E = exp(2b)``, ``b = min(20, a)`` in
  float64 (``min(10, a)`` in float32: tanh is already 1 there; the clamp keeps every
  intermediate finite, also for inf, and in this order maps NaN to 20). ``exp`` is
  computed here, not by libm:
  ``k = round(2b / ln 2)`` (``b >= 0``), ``r = 2b - k ln2``
  with fdlibm's two-part ln 2 (``k * LN2_HI`` and ``2b - k * LN2_HI`` are exact),
  ``expm1(r) = r + r*r * Q(r)`` on ``|r| <= ln2/2`` (``Q`` of degree 9, resp. 4; the high
  and low parts of ``r`` are added separately, so ``r``'s own rounding does not count),
  and ``2**k`` (``0 <= k <= 58``, resp. 29) from its bits: ``(k + 1023) << 52``
  reinterpreted with a scalar ``.view(np.float64)`` (``(k + 127) << 23`` and float32).
  ``k`` is rounded by adding ``M = 1.5 * 2**52`` (``1.5 * 2**23``): the sum's bits hold ``k``
  in their low part, and subtracting ``M`` again gives ``k`` as a float - two additions (in
  the reservoir loop, float64: 2.6 ns per unit against 3.2 with the int32 conversions there
  and back). Reassociation would fold that subtraction away, so a ``fastmath=True`` compile
  (the JIT backend sets ``FASTMATH`` in its copy) rounds through ``int32(2b / ln2 + 0.5)``
  instead, which survives it. The two differ only where ``2b / ln2`` is exactly halfway
  (``|r| = ln2 / 2``, inside the fit).
  numba lowers the conversions, the integer ``+``/``<<`` and the ``.view`` (a bitcast)
  to packed instructions (``cvttpd2dq``, ``paddq``, ``psllq``, ...); ``math.ldexp``,
  ``np.floor`` and ``np.rint`` (on SSE2) would be libm calls.
  ``1 + E = (1 + 2**k) + 2**k * expm1(r)`` has a single rounding, whose error is
  recovered exactly (Fast2Sum) and folded into the quotient to first order:
  ``2 / (d + e) ~ q0 - q0*q0 * e/2`` with ``q0 = 2 / d``.
* the sign is put back with ``math.copysign`` (so ``tanh(-0.0) == -0.0``). NaN gets the
  polynomial result (``a >= 0.625`` is false), which is NaN: ``min(a, 0.625)`` keeps it
  (Python's ``min(nan, c)`` is ``nan``).

Both branches are computed and one is selected, so the loop has no branch. The division
is ``np.divide``, not ``/``: numba's ``/`` checks for a zero divisor (ZeroDivisionError
under the default error model), and that raise would keep the loop from vectorising.

Coefficients: minimax fits (Lawson-iterated weighted least squares over 500 Chebyshev
nodes, in long double) of ``(tanh(a) - a) / a**3`` as a polynomial in ``s`` on
``[0, 0.625**2]`` weighted by ``s`` (the relative error of ``tanh``), and of
``(exp(r) - 1 - r) / r**2`` on ``[-1.01 ln2/2, 1.01 ln2/2]`` weighted by
``r*r/exp(r)``; each coefficient rounded to the target type in turn (lowest order first)
and the remaining ones refitted. Fit errors (relative to the result): float64 9.8e-18
(tanh) and 4.2e-18 (exp); float32 4.2e-9 and 3.4e-9. ``LN2_HI``/``LN2_LO`` are fdlibm's
(``e_exp.c``, ``e_expf.c``). The float64 polynomials are evaluated in Estrin's scheme
(shorter dependency chains: measured ~15 % faster than Horner's).

Calling it from a compiled loop: the callee has to be a numba function too, and it must
be inlined for the loop to vectorise. LLVM inlines it on its own in ``tanh_into`` (numba
0.68), but that is a cost-model decision (an earlier, larger float64 body was not
inlined) that also depends on the caller, so compile it with
``numba.njit(inline="always")`` (numba inlines it before typing, whatever the caller)
and put that in the calling loop's globals under the name ``tanh``, as the JIT backend
already does for ``prange``; ``build_aot.py`` needs the same globals for ``numba.pycc``::

    jit_tanh = numba.njit(inline="always")(mathfn.tanh)
    loop = types.FunctionType(source.__code__, dict(source.__globals__, tanh=jit_tanh), ...)

A loop then calls it like any function, on one element at a time, e.g.
``x[i] = retain * x[i] + leak_rate * tanh(pre[i])`` in an innermost loop over ``i``
(contiguous arrays, no other call or raise in that loop), or ``tanh_into(pre, pre)``.

As plain Python it accepts Python floats and numpy float32/float64 scalars (the result
has the argument's type; a Python float gives a Python float).
"""

import math

import numpy as np

#: True in the JIT backend's copy for ``fastmath=True`` (reassociation would fold the rounding
#: ``(t + 1.5 * 2**52) - 1.5 * 2**52`` to ``t``; the int32 conversion survives it)
FASTMATH = False


def tanh(x):
    """Hyperbolic tangent of the float32 or float64 scalar ``x``, branch-free (see the module docstring)."""
    T = type(x)
    a = abs(x)
    if T(0.1) == np.float64(0.1):  # float64 (constant: folded away when compiled)
        t1 = T(0.625)
        # small |x|: a + a*s*P(s), P of degree 10 (Estrin)
        u = min(a, t1)
        s = u * u
        s2 = s * s
        s4 = s2 * s2
        p = (
            ((T(-0.33333333333332876) + T(0.13333333333264763) * s)
             + (T(-0.05396825393243322) + T(0.021869487601152142) * s) * s2)
            + ((T(-0.008863221311323773) + T(0.00359199152192459) * s)
               + (T(-0.0014549702825613217) + T(0.0005863519899497544) * s) * s2) * s4
            + ((T(-0.00022863245780161749) + T(7.721847954118476e-05) * s)
               + T(-1.610727775983635e-05) * s2) * (s4 * s4)
        )
        ra = u + u * (s * p)
        # large |x|: exp(2b) = 2**k * (1 + expm1(r))
        b = min(T(20.0), a)  # this order maps NaN to 20: the int conversion never sees NaN
        if FASTMATH:  # k = round(2b / ln2) >= 0 through an int32, 2**k from its bits
            ki = np.int32(b * T(2.8853900817779268) + T(0.5))
            k = T(ki)
            f = T(np.int64((np.int64(ki) + 1023) << 52).view(np.float64))
        else:  # the same k by adding 1.5 * 2**52 (k in the low bits) and subtracting it again
            kk = b * T(2.8853900817779268) + T(6755399441055744.0)
            k = kk - T(6755399441055744.0)
            kb = np.float64(kk).view(np.int64) - np.int64(0x4338000000000000)  # k, from the sum's low bits
            f = T(np.int64((kb + 1023) << 52).view(np.float64))
        rh = (b + b) - k * T(6.93147180369123816490e-01)
        rl = k * T(-1.90821492927058770002e-10)
        r = rh + rl
        r2 = r * r
        r4 = r2 * r2
        q = (
            ((T(0.5000000000000012) + T(0.1666666666666642) * r)
             + (T(0.04166666666651631) + T(0.008333333333490662) * r) * r2)
            + ((T(0.0013888888947478912) + T(0.00019841269517907283) * r)
               + (T(2.4801488886968894e-05) + T(2.7557571949271977e-06) * r) * r2) * r4
            + (T(2.7631826651655593e-07) + T(2.5006249868830512e-08) * r) * (r4 * r4)
        )
        em = rh + (rl + r2 * q)
    else:  # float32
        t1 = T(0.625)
        u = min(a, t1)
        s = u * u
        s2 = s * s
        p = (
            (T(-0.3333328366279602) + T(0.13331486284732819) * s)
            + (T(-0.05374317243695259) + T(0.020649708807468414) * s) * s2
            + T(-0.005716200452297926) * (s2 * s2)
        )
        ra = u + u * (s * p)
        b = min(T(10.0), a)
        if FASTMATH:
            ki = np.int32(b * T(2.8853900817779268) + T(0.5))
            k = T(ki)
            f = T(np.int32((ki + np.int32(127)) << np.int32(23)).view(np.float32))
        else:  # 1.5 * 2**23
            kk = b * T(2.8853900817779268) + T(12582912.0)
            k = kk - T(12582912.0)
            kb = np.float32(kk).view(np.int32) - np.int32(0x4B400000)
            f = T(np.int32((kb + np.int32(127)) << np.int32(23)).view(np.float32))
        rh = (b + b) - k * T(0.693145751953125)
        rl = k * T(-1.428606765330187045e-06)
        r = rh + rl
        r2 = r * r
        q = (
            (T(0.4999999403953552) + T(0.16666516661643982) * r)
            + (T(0.04166828468441963) + T(0.00836925022304058) * r) * r2
            + T(0.0013820466119796038) * (r2 * r2)
        )
        em = rh + (rl + r2 * q)
    # 1 - 2 / (1 + exp(2b)), the rounding error of the denominator folded in
    d1 = T(1.0) + f
    fe = f * em
    den = d1 + fe
    derr = (d1 - den) + fe
    q0 = np.divide(T(2.0), den)
    rb = T(1.0) - (q0 - (q0 * q0) * (derr * T(0.5)))
    res = rb if a >= t1 else ra  # NaN: ra, which is NaN (u = min(a, t1) keeps it)
    return T(math.copysign(res, x))


def tanh_into(src, dst):
    """``dst[i] = tanh(src[i])`` over 1-D contiguous arrays of one float type (``dst`` may be ``src``)."""
    for i in range(src.shape[0]):
        dst[i] = tanh(src[i])
