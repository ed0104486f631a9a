"""Build script: the metadata lives in pyproject.toml; this adds the AOT build step.

``build_ext`` runs ``build_aot.py`` (in a fresh interpreter, so numba stays out of this
process): into the build tree for a wheel, and into ``neurojit/`` itself for an editable
install (``pip install -e .``), so that a checkout has AOT kernels too. After editing a
kernel in an editable install, run ``python build_aot.py`` again; until then neurojit
warns once that the build is stale and uses JIT.

A failed AOT build does not fail the install (the manifest records why and neurojit falls
back with one warning) unless ``NEUROJIT_REQUIRE_AOT=1``, as in the wheel builds.
"""

import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build_aot  # noqa: E402  (standard library only at import time)


class BinaryDistribution(Distribution):
    """The wheel holds compiled modules: tag it for this Python and platform."""

    def has_ext_modules(self):
        return True


class BuildAOT(build_ext):
    """Compile the AOT kernels with ``build_aot.py``."""

    def run(self):
        in_place = self.inplace or getattr(self, "editable_mode", False)
        target = HERE / "neurojit" if in_place else Path(self.build_lib) / "neurojit"
        build_aot.build_in_subprocess(target)

    def get_outputs(self):
        return []


setup(distclass=BinaryDistribution, cmdclass={"build_ext": BuildAOT})
