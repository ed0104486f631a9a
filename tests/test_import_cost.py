"""A process that runs AOT (or NumPy) kernels never imports numba, even where numba is installed."""

import subprocess
import sys
from pathlib import Path

import pytest

import neurojit
from neurojit.backends.select import aot_status

ROOT = str(Path(neurojit.__file__).resolve().parent.parent)

SCRIPT = """
import sys
import numpy as np
import neurojit
compiler = neurojit.JITCompiler(neurojit.JITConfig(backend={backend!r}))
kernel = compiler.compile_spike_processing_kernel()
kernel(np.ones((1, 5, 3)), np.eye(3), 0.5, 1e-3)
assert kernel.backend == {backend!r}, kernel.backend
assert "numba" not in sys.modules, "numba was imported"
assert "llvmlite" not in sys.modules, "llvmlite was imported"
print(neurojit.NUMBA_AVAILABLE)          # asking for it is what imports numba
assert ("numba" in sys.modules) is neurojit.NUMBA_AVAILABLE
"""


@pytest.mark.parametrize("backend", ["aot", "python"])
def test_numba_is_imported_only_when_asked_for(backend):
    if backend == "aot" and aot_status().backend is None:
        pytest.skip("AOT kernels are not built")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(backend=backend)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
