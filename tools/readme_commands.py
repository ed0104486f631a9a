"""Print one of the two commands on the README's first screen, so that CI runs them as written.

    python tools/readme_commands.py demo|test [--windows]

``demo`` is the command that installs and runs ``neurojit demo``, ``test`` the one that installs
and runs the tests: the first and second command of the README's first ``bash`` block.
``--windows`` gives the form for Git Bash on Windows, where a virtual environment's activate
script is ``.venv/Scripts/activate`` (the only difference). Used by ``.ci/run`` and the workflow.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def commands(text: str) -> dict[str, str]:
    """{"demo": ..., "test": ...} from the first ```bash block of ``text``."""
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    if block is None:
        raise ValueError("the README has no bash block")
    lines = [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]
    demo = [line for line in lines if line.endswith("neurojit demo")]
    test = [line for line in lines if line.endswith("python -m pytest")]
    if len(demo) != 1 or len(test) != 1:
        raise ValueError(f"expected one demo and one test command in the README's first bash block, got {lines}")
    return {"demo": demo[0], "test": test[0]}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        raise SystemExit(__doc__)
    command = commands(README.read_text(encoding="utf-8"))[argv[0]]
    if "--windows" in argv[1:]:
        command = command.replace(".venv/bin/activate", ".venv/Scripts/activate")
    print(command)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
