"""A source install without a C compiler, then the rebuild command its warning gives.

    python tools/check_source_install.py dist/neurojit_kernels-<version>.tar.gz

In a fresh virtual environment with its own pip cache (Linux and macOS: ``CC`` pointed at a
compiler that does not exist is how "no compiler" is simulated):

1. ``pip install neurojit-kernels==<version>`` from a folder holding only the sdist, without a
   compiler: the install must succeed, the AOT backend must be unavailable, and the one
   ``FallbackWarning`` must say why and give a rebuild command;
2. a plain ``pip install --force-reinstall`` once the compiler is back, for the record: pip reuses
   the wheel it cached in step 1, so AOT stays unavailable (the reason the command exists);
3. the command from the warning, run as printed (with ``--find-links`` to the sdist's folder,
   since the version under test is not on PyPI): every kernel must then run on AOT.

Exits non-zero unless steps 1 and 3 behave as described. Used by ``.ci/run`` and the release
workflow's sdist job.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPORT = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import neurojit
    info = neurojit.JITCompiler().get_jit_info()
print(json.dumps({"aot": info["aot_available"], "status": info["aot_status"],
                  "backends": sorted({k["backend"] for k in info["kernels"].values()}),
                  "warnings": [str(w.message) for w in caught if w.category.__name__ == "FallbackWarning"]}))
"""


def _run(command: list[str], env: dict, cwd: Path, echo: bool = True) -> subprocess.CompletedProcess:
    if echo:
        print("check_source_install: $ " + " ".join(shlex.quote(c) for c in command), flush=True)
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)


def _report(python: Path, env: dict, cwd: Path) -> dict:
    result = _run([str(python), "-c", REPORT], env, cwd, echo=False)
    if result.returncode != 0:
        raise SystemExit(f"check_source_install: the report failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].endswith(".tar.gz"):
        raise SystemExit(__doc__)
    sdist = Path(argv[0]).resolve()
    name, _, version = sdist.name[: -len(".tar.gz")].rpartition("-")
    distribution = name.replace("_", "-")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="neurojit-source-install-") as tmp:
        tmp = Path(tmp)
        index = tmp / "index"  # only the sdist: pip must build it, not take a wheel
        index.mkdir()
        shutil.copy2(sdist, index / sdist.name)
        venv.create(tmp / "venv", with_pip=True, clear=True)
        python = tmp / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEUROJIT_", "PIP_"))}
        env["PIP_CACHE_DIR"] = str(tmp / "pip-cache")  # pip's wheel cache, as a user's would be
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env.pop("PYTHONPATH", None)
        work = tmp / "work"  # no checkout on the path of the reports
        work.mkdir()
        find = ["--find-links", str(index)]

        # 1. no compiler
        no_cc = dict(env, CC=str(tmp / "no-such-compiler"))
        result = _run([str(python), "-m", "pip", "install", *find, f"{distribution}=={version}"], no_cc, work)
        if result.returncode != 0:
            raise SystemExit(f"check_source_install: the install without a compiler failed:\n{result.stderr[-3000:]}")
        first = _report(python, env, work)
        print(f"check_source_install: without a compiler: aot={first['aot']}; {first['status']}")
        if first["aot"]:
            problems.append("the install without a compiler has AOT kernels (the compiler was not hidden)")
        if len(first["warnings"]) != 1:
            problems.append(f"expected one FallbackWarning, got {first['warnings']}")
        message = first["warnings"][0] if first["warnings"] else first["status"]
        if "numpy.distutils" in message or "conda" in message or "no C compiler found" not in message:
            problems.append(f"the reason does not say plainly that no compiler was found: {message}")
        match = re.search(r"rebuild with `(pip install [^`]+)`", message)
        if match is None:
            problems.append(f"the warning gives no rebuild command: {message}")
            command = None
        else:
            command = shlex.split(match.group(1))

        # 2. a plain reinstall with the compiler back (for the record)
        _run([str(python), "-m", "pip", "install", "--force-reinstall", "--no-deps", *find,
              f"{distribution}=={version}"], env, work)
        plain = _report(python, env, work)
        print(f"check_source_install: plain `pip install --force-reinstall` with a compiler: aot={plain['aot']}"
              + (" (pip reused its cached wheel)" if not plain["aot"] else ""))

        # 3. the command the warning gives
        if command is not None:
            result = _run([str(python), "-m", *command, *find], env, work)
            if result.returncode != 0:
                problems.append(f"the rebuild command failed:\n{result.stderr[-3000:]}")
            else:
                after = _report(python, env, work)
                print(f"check_source_install: after the rebuild command: aot={after['aot']}; backends {after['backends']}")
                if not after["aot"] or after["backends"] != ["aot"] or after["warnings"]:
                    problems.append(f"after the rebuild command the kernels do not run on AOT: {after}")
    for problem in problems:
        print(f"check_source_install: {problem}", file=sys.stderr)
    print(f"check_source_install: {'FAILED' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
