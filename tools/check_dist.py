"""Check what a release ships: the sdist and the wheels in a folder (default ``dist/``).

    python tools/check_dist.py [DIST] [--require-aot] [--manylinux TAG]

Exits non-zero (naming every problem) unless

* each file is named after the distribution (``neurojit_kernels-<version>``);
* the metadata says ``Name: neurojit-kernels``, ``License-Expression: BSD-3-Clause`` and
  ``License-File: LICENSE`` (PEP 639), and the LICENSE text ships in the sdist and in every
  wheel's ``.dist-info/licenses/``;
* the sdist holds what its tests and README need: ``build_aot.py``, the tests and their data,
  ``tools/``, ``benchmarks/`` with ``benchmarks/README.md`` (which the README cites);
* with ``--require-aot``, every wheel holds the AOT modules and a manifest of a successful build;
* with ``--manylinux TAG`` (e.g. ``manylinux_2_28``), ``auditwheel show`` finds every Linux wheel
  consistent with that policy or an older one (needs ``auditwheel``), and its name carries manylinux
  tags it satisfies, one of them TAG or older (it was repaired). ``--manylinux any`` asks only for some manylinux
  policy (a wheel built on a host, whose glibc sets the tag: no libraries beyond the policy's).

Used by ``.ci/run`` and the release workflow.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import re
import runpy
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = runpy.run_path(str(ROOT / "neurojit" / "_version.py"))["DISTRIBUTION"]
STEM = DISTRIBUTION.replace("-", "_")
LICENSE = (ROOT / "LICENSE").read_text(encoding="utf-8")  # (newlines normalised: a Windows checkout has CRLF)
SDIST_MUST_HOLD = [
    "LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in", "build_aot.py",
    "benchmarks/README.md", "benchmarks/requirements-peers.txt", "tools/wheel_tests.py",
    "tests/conftest.py", "tests/data/brian2_lif.npz", "tests/data/reservoirpy_states.npz",
    "neurojit/__init__.py", "neurojit/kernels/signatures.py",
]


def _text(data: bytes) -> str:
    return data.decode("utf-8").replace("\r\n", "\n")


def _metadata_problems(where: str, text: str) -> list[str]:
    meta = email.parser.Parser().parsestr(text)
    problems = []
    expected = {"Name": DISTRIBUTION, "License-Expression": "BSD-3-Clause"}
    for field, value in expected.items():
        if meta.get(field) != value:
            problems.append(f"{where}: {field} is {meta.get(field)!r}, not {value!r}")
    if "LICENSE" not in meta.get_all("License-File", []):
        problems.append(f"{where}: no License-File: LICENSE")
    if meta.get("License"):
        problems.append(f"{where}: a legacy License field ({meta['License']!r}) next to the expression")
    return problems


def check_sdist(path: Path) -> list[str]:
    problems = []
    with tarfile.open(path) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        top = archive.getnames()[0].split("/")[0]
        for needed in SDIST_MUST_HOLD:
            if needed not in names:
                problems.append(f"{path.name}: lacks {needed}")
        if "LICENSE" in names and _text(archive.extractfile(f"{top}/LICENSE").read()) != LICENSE:
            problems.append(f"{path.name}: LICENSE differs from the checkout's")
        problems += _metadata_problems(path.name, archive.extractfile(f"{top}/PKG-INFO").read().decode())
        built = [n for n in names if re.search(r"\.(so|pyd|dylib)$", n) or n.endswith("_aot_manifest.json")]
        if built:
            problems.append(f"{path.name}: holds build outputs {built}")
    return problems


def check_wheel(path: Path, require_aot: bool) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        dist_info = next((n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")), None)
        if dist_info is None:
            return [f"{path.name}: no .dist-info"]
        licence = f"{dist_info}/licenses/LICENSE"
        if licence not in names:
            problems.append(f"{path.name}: lacks {licence}")
        elif _text(archive.read(licence)) != LICENSE:
            problems.append(f"{path.name}: {licence} differs from the checkout's")
        problems += _metadata_problems(path.name, archive.read(f"{dist_info}/METADATA").decode())
        if require_aot:
            modules = [n for n in names if re.match(r"neurojit/_aot_\w+\.", n) and not n.endswith(".json")]
            try:
                manifest = json.loads(archive.read("neurojit/_aot_manifest.json"))
            except KeyError:
                manifest = {"failed": "no manifest"}
            if manifest.get("failed") or not modules:
                problems.append(f"{path.name}: no AOT modules ({manifest.get('failed') or 'none in the wheel'})")
    return problems


def _glibc(tag: str) -> tuple[int, int]:
    """(major, minor) of a manylinux tag: manylinux_2_28 -> (2, 28); the legacy aliases too."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    if tag in legacy:
        return legacy[tag]
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)", tag)
    if not match:
        raise ValueError(f"not a manylinux tag: {tag!r}")
    return int(match.group(1)), int(match.group(2))


def named_manylinux(wheel: str) -> list[str]:
    """The manylinux policies a wheel's file name claims: ``...-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl``
    -> ``["manylinux_2_27", "manylinux_2_28"]``."""
    platform_tags = wheel[: -len(".whl")].split("-")[-1].split(".")
    return [m.group(1) for m in (re.match(r"(manylinux_\d+_\d+|manylinux\d+)_", t) for t in platform_tags) if m]


def check_manylinux(path: Path, tag: str) -> list[str]:
    """``auditwheel show``: the wheel must be consistent with ``tag`` (or an older policy)."""
    if "linux" not in path.name:
        return []
    result = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(path)], capture_output=True, text=True)
    text = " ".join((result.stdout + result.stderr).split())
    if result.returncode != 0:
        return [f"{path.name}: auditwheel show failed: {text[-500:]}"]
    found = re.search(r'consistent with the following platform tag: "(manylinux_\d+_\d+|manylinux\d+)_\w+"', text)
    if not found:
        return [f"{path.name}: auditwheel show names no manylinux tag: {text[:500]}"]
    if tag == "any":  # a wheel built on the host: it must only need libraries every manylinux system has
        print(f"check_dist: {path.name}: auditwheel: consistent with {found.group(1)}")
        return []
    problems = []
    needs = _glibc(found.group(1))
    if needs > _glibc(tag):
        problems.append(f"{path.name}: needs {found.group(1)}, newer than {tag} ({text[:300]})")
    named = named_manylinux(path.name)
    if not named:
        problems.append(f"{path.name}: no manylinux tag in the name (not repaired by auditwheel repair)")
    elif any(_glibc(t) < needs for t in named):
        problems.append(f"{path.name}: its name claims {named}, but it needs {found.group(1)}")
    elif not any(_glibc(t) <= _glibc(tag) for t in named):
        problems.append(f"{path.name}: its name ({named}) does not admit {tag} systems")
    if not problems:
        print(f"check_dist: {path.name}: auditwheel: consistent with {found.group(1)} (<= {tag})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", nargs="?", type=Path, default=ROOT / "dist")
    parser.add_argument("--require-aot", action="store_true", help="every wheel must hold the AOT modules")
    parser.add_argument("--manylinux", metavar="TAG", help="auditwheel show: Linux wheels consistent with TAG (or 'any')")
    args = parser.parse_args(argv)
    files = sorted(args.dist.iterdir()) if args.dist.is_dir() else []
    sdists = [f for f in files if f.name.endswith(".tar.gz")]
    wheels = [f for f in files if f.suffix == ".whl"]
    problems = [f"{f.name}: not named {STEM}-*" for f in sdists + wheels if not f.name.startswith(f"{STEM}-")]
    if not sdists and not wheels:
        problems.append(f"no sdist or wheel in {args.dist}")
    for sdist in sdists:
        problems += check_sdist(sdist)
    for wheel in wheels:
        problems += check_wheel(wheel, args.require_aot)
        if args.manylinux:
            problems += check_manylinux(wheel, args.manylinux)
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    names = ", ".join(f.name for f in sdists + wheels)
    print(f"check_dist: {'FAILED' if problems else 'ok'}: {names}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
