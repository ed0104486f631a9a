"""The typed signatures of every loop, read by the JIT backend and by ``build_aot.py``.

Arrays are C-contiguous (``::1``) and of one float dtype per signature; the validation
layer guarantees both before any loop is called. This module, like the loops, imports
nothing from numba or from the rest of neurojit.
"""

import os

try:  # the interpreter's own SHA-256: same digest as hashlib's, without loading OpenSSL (~2.5 ms)
    from _sha2 import sha256  # Python >= 3.12
except ImportError:
    try:
        from _sha256 import sha256  # Python <= 3.11
    except ImportError:
        from hashlib import sha256

#: dtype name -> numba type code used in the signature strings
TYPE_CODES = {"float32": "f4", "float64": "f8"}

#: loop name -> (module in this package, signature template with ``{t}`` for the float type)
LOOPS = {
    "lif_run": (
        "lif",
        "void({t}[:,:,::1], {t}[:,::1], {t}[:,::1], b1, {t}[::1], {t}, {t}, {t}[:,:,::1])",
    ),
    "reservoir_run": (
        "reservoir",
        "void({t}[:,:,::1], {t}[:,::1], {t}[:,::1], i8[::1], u4[::1], {t}[::1], {t}[::1], {t}, {t}[:,::1], {t}[:,:,::1])",
    ),
    "causal_convolution": ("convolution", "void({t}[:,:,::1], {t}[::1], {t}[:,:,::1])"),
    "binary_nonzeros": ("matmul", "i8({t}[:,::1])"),
    "binary_matmul": ("matmul", "void({t}[:,::1], {t}[:,::1], {t}[:,::1])"),
}


def signature(loop: str, dtype: str) -> str:
    """Numba signature string of ``loop`` for ``dtype`` ("float32" or "float64")."""
    return LOOPS[loop][1].format(t=TYPE_CODES[dtype])


def export_name(loop: str, dtype: str) -> str:
    """Name of the AOT export of ``loop`` for ``dtype``, e.g. ``lif_run_f32``."""
    return f"{loop}_f{dtype[-2:]}"


def source_digest() -> str:
    """SHA-256 over the source of every loop module and this file.

    Embedded in AOT builds so that a binary built from other kernel source is never used.
    """
    here = os.path.dirname(os.path.realpath(__file__))  # os.path, not pathlib: cheaper to import
    sha = sha256()
    for name in sorted({module for module, _ in LOOPS.values()} | {"signatures"}):
        sha.update(name.encode())
        with open(os.path.join(here, f"{name}.py"), "rb") as source:
            sha.update(source.read())
    return sha.hexdigest()
