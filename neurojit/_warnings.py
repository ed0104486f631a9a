"""``warn_from_caller``: a warning that points at the user's line, not at neurojit's insides.

A fixed ``stacklevel`` is right for one call path only: the same fallback warning is reached
from ``JITCompiler()``, from a ``compile_*`` call, from a model, from the command line, so a
fixed level points into neurojit or past the top of the stack (``sys:1``). This walks the
stack to the first frame outside the package instead (Python 3.12's ``skip_file_prefixes``,
done by hand for 3.10 and 3.11).
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _internal(filename: str) -> bool:
    """Frames ``warnings`` itself skips when it counts ``stacklevel`` (the import machinery)."""
    return "importlib" in filename and "_bootstrap" in filename


def _inside(frame) -> bool:
    return os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR)


def caller_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` made by this function's caller that names the
    first frame outside neurojit (or the outermost frame, when every frame is neurojit's)."""
    frame = sys._getframe(1)  # the caller, the frame that calls warnings.warn: level 1
    level = 1
    while _inside(frame):
        back = frame.f_back
        while back is not None and _internal(back.f_code.co_filename):
            back = back.f_back  # not counted, as warnings does not count them
        if back is None:
            break
        frame, level = back, level + 1
    return level


def warn_from_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` located at the first line outside neurojit."""
    warnings.warn(message, category, stacklevel=caller_stacklevel())
