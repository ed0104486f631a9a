"""Build the AOT modules twice, from two copies of this checkout at different paths and
from different working folders, and check that they are byte-identical.

    python tools/check_reproducible.py

Needs numba and a C compiler (about 2 x 15 s). CI makes the same check more cheaply in
``tests/test_aot.py::test_wheel_modules_are_byte_identical_to_the_in_place_build`` (the
wheel built from the sdist in its own build environment against the editable install's
in-place build).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_copy(where: Path) -> dict[str, str]:
    """Copy build_aot.py and the kernels to ``where``, build there, return {file: sha256}."""
    (where / "neurojit").mkdir(parents=True)
    shutil.copy2(REPO / "build_aot.py", where / "build_aot.py")
    shutil.copytree(REPO / "neurojit" / "kernels", where / "neurojit" / "kernels",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = where / "out"
    subprocess.run([sys.executable, str(where / "build_aot.py"), "--output", str(out)], cwd=where, check=True)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="neurojit-repro-a-") as a, \
            tempfile.TemporaryDirectory(prefix="neurojit-repro-bb-") as b:
        first, second = build_copy(Path(a) / "x"), build_copy(Path(b) / "checkout" / "y")
    same = first == second
    for name in sorted(first.keys() | second.keys()):
        mark = "same" if first.get(name) == second.get(name) else "DIFFERENT"
        print(f"{mark:<9} {name}  {first.get(name, '-')[:16]}  {second.get(name, '-')[:16]}")
    print("reproducible: byte-identical builds" if same else "NOT reproducible")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
