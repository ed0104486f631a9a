"""Every loop's declaration, collected: read by the JIT backend, the AOT thread splitter,
the disk cache and ``build_aot.py``.

Arrays are C-contiguous (``::1``) and of one float dtype per signature; the validation
layer guarantees both before any loop is called. This module, like the loops, imports
nothing from numba or from the rest of neurojit. A new loop module is added to
``MODULES``; a new loop only to its module's ``LOOPS``.
"""

import os

from . import convolution, lif, matmul, network, reservoir
from .loop import TYPE_CODES, Loop

try:  # the interpreter's own SHA-256: same digest as hashlib's, without loading OpenSSL (~2.5 ms)
    from _sha2 import sha256  # Python >= 3.12
except ImportError:
    try:
        from _sha256 import sha256  # Python <= 3.11
    except ImportError:
        from hashlib import sha256

#: the loop modules, each ending with its ``LOOPS`` declarations
MODULES = (lif, reservoir, convolution, matmul, network)

#: loop name -> its declaration
LOOPS: dict[str, Loop] = {loop.name: loop for module in MODULES for loop in module.LOOPS}

__all__ = ["LOOPS", "MODULES", "TYPE_CODES", "Loop", "export_name", "signature", "source_digest"]


def signature(loop: str, dtype: str) -> str:
    """Numba signature string of ``loop`` for ``dtype`` ("float32" or "float64")."""
    return LOOPS[loop].signature(dtype)


def export_name(loop: str, dtype: str) -> str:
    """Name of the AOT export of ``loop`` for ``dtype``, e.g. ``lif_run_f32``."""
    return LOOPS[loop].export_name(dtype)


def source_digest() -> str:
    """SHA-256 over the source of every module of this package that a loop is built from.

    Embedded in AOT builds so that a binary built from other kernel source is never used.
    """
    here = os.path.dirname(os.path.realpath(__file__))  # os.path, not pathlib: cheaper to import
    sha = sha256()
    for name in sorted(f[:-3] for f in os.listdir(here) if f.endswith(".py")):
        sha.update(name.encode())
        with open(os.path.join(here, f"{name}.py"), "rb") as source:
            sha.update(source.read())
    return sha.hexdigest()
