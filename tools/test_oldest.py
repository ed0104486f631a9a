"""The test suite on the oldest versions pyproject.toml declares: Python, numpy, numba and the rest.

    python tools/test_oldest.py SDIST [--python PYTHON] [--constraints-only] [pytest arguments]

Runs under Python >= 3.11 (it reads pyproject.toml with tomllib). In a fresh virtual environment
of the oldest supported Python (``requires-python``; ``--python`` names its interpreter, else
``python3.X`` is looked for on PATH and under pyenv):

* every run-time requirement with a lower bound is pinned to that bound (``numpy>=1.22`` ->
  ``numpy==1.22.0``; the ``jit``, ``plot`` and ``dask`` extras and the test extra's dask too) -
  the test tools themselves (pytest, hypothesis) are left to the resolver;
* the wheel is built from SDIST with that Python (AOT modules required: built against numpy 2
  headers for numpy 1.22's C API, so this is also the check that they run on the oldest numpy);
* the tests of the sdist run against the installed wheel (``tools/wheel_tests.py --with-numba``):
  AOT kernels on the oldest numpy, JIT kernels on the oldest numba.

``--constraints-only`` prints the pins and stops. Used by ``.ci/run`` and the release workflow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: extras whose floors are pinned (the test tools are not: their floors are not what users run)
EXTRAS = ("jit", "plot", "dask", "test")
NOT_PINNED = {"pytest", "hypothesis"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def floors(pyproject: dict) -> dict[str, str]:
    """{distribution: lowest declared version} of the run-time requirements and ``EXTRAS``."""
    project = pyproject["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    found: dict[str, str] = {}
    for requirement in requirements:
        name = _name(requirement)
        match = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", requirement)
        if name in NOT_PINNED or match is None or ";" in requirement:
            continue
        version = match.group(1)
        version = version + ".0" * max(0, 2 - version.count("."))  # 1.22 -> 1.22.0 (an exact release)
        if name not in found or _key(version) > _key(found[name]):
            found[name] = version
    return found


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def oldest_python_version(pyproject: dict) -> tuple[int, int]:
    match = re.fullmatch(r">=\s*3\.(\d+)", pyproject["project"]["requires-python"].strip())
    if not match:
        raise SystemExit(f"test_oldest: cannot read requires-python {pyproject['project']['requires-python']!r}")
    return 3, int(match.group(1))


def find_python(version: tuple[int, int]) -> str:
    """An interpreter of exactly ``version``: python3.X on PATH, else a pyenv install."""
    name = f"python{version[0]}.{version[1]}"
    candidates = [shutil.which(name)]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{version[0]}.{version[1]}.*/bin/{name}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(version):
            return candidate
    raise SystemExit(f"test_oldest: no {name} found (PATH, pyenv); pass --python, the oldest Python must be tested")


def _run(command: list, **kwargs) -> None:
    print("test_oldest: $ " + " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, **kwargs)


def main(argv: list[str]) -> int:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = floors(pyproject)
    if "--constraints-only" in argv:
        print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
        return 0
    python = None
    if "--python" in argv:
        index = argv.index("--python")
        python = argv[index + 1]
        del argv[index:index + 2]
    if not argv or not argv[0].endswith(".tar.gz"):
        raise SystemExit(__doc__)
    sdist, pytest_args = Path(argv[0]).resolve(), argv[1:]
    version = oldest_python_version(pyproject)
    python = python or find_python(version)
    with tempfile.TemporaryDirectory(prefix="neurojit-oldest-") as tmp:
        tmp = Path(tmp)
        constraints = tmp / "constraints.txt"
        constraints.write_text("".join(f"{name}=={v}\n" for name, v in sorted(pins.items())))
        print(f"test_oldest: Python {version[0]}.{version[1]} ({python}); pins: "
              + ", ".join(f"{n}=={v}" for n, v in sorted(pins.items())), flush=True)
        _run([python, "-m", "venv", tmp / "venv"])
        env_python = tmp / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_") and k != "PYTHONPATH"}
        pip = [env_python, "-m", "pip", "--disable-pip-version-check"]
        # the wheel, from the sdist, with this Python (its build environment has numpy 2 and numba 0.68)
        _run([*pip, "wheel", "-q", "--no-deps", "-w", tmp / "wheel", sdist], env=dict(env, NEUROJIT_REQUIRE_AOT="1"))
        wheel = next((tmp / "wheel").glob("*.whl"))
        # PIP_CONSTRAINT: the pins hold for everything pip installs, also what the extras pull in
        _run([*pip, "install", "-q", f"{wheel}[{','.join(EXTRAS)}]"], env=dict(env, PIP_CONSTRAINT=str(constraints)))
        report = subprocess.run([env_python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                                env=env).stdout.lower().replace("_", "-")
        for name, wanted in sorted(pins.items()):
            installed = re.search(rf"^{re.escape(name)}==(\S+)$", report, re.M)
            if installed is None or installed.group(1) != wanted:
                raise SystemExit(f"test_oldest: {name} is {installed and installed.group(1)}, not the floor {wanted}")
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp / "src", filter="data")
        source = next((tmp / "src").iterdir())
        _run([env_python, source / "tools" / "wheel_tests.py", "--with-numba", *pytest_args], env=env, cwd=tmp)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(f"test_oldest: failed ({exc.returncode}): {' '.join(map(str, exc.cmd))}")
