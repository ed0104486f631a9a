"""Every Python example in the README runs as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import neurojit

README = Path(__file__).resolve().parent.parent / "README.md"


def _sections():
    text = README.read_text()
    blocks = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.S):
        heading = re.findall(r"^## (.+)$", text[: match.start()], re.M)
        blocks.append(pytest.param(match.group(1), id=(heading[-1] if heading else "top").replace(" ", "_")))
    return blocks


def test_readme_has_examples():
    assert len(_sections()) >= 2


@pytest.mark.parametrize("code", _sections())
def test_readme_example_runs(code, tmp_path):
    if "dask" in code:
        pytest.importorskip("distributed")
    script = tmp_path / "example.py"
    script.write_text(code)
    # The example runs elsewhere, so tell it where the neurojit under test lives.
    package_root = str(Path(neurojit.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
