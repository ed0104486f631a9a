"""neurojit's own on-disk cache for JIT-compiled loops.

numba's cache files go into one sub-folder of the cache directory per neurojit and numba
version (``neurojit-<version>-numba-<version>``); the file names carry the loop and the
compile options, and each index is stamped with a hash of the loop's source file. So an
upgrade, an option change or a kernel edit never loads a wrong entry, and
:func:`clear_disk_cache` can remove exactly what neurojit wrote and nothing else.

The cache never stops a kernel from working: any error while reading or writing it is
reported once as a warning and the loop is compiled in memory instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from pathlib import Path

from ._version import __version__

logger = logging.getLogger("neurojit")

#: Names of the files numba writes for one neurojit loop (see ``_CacheImpl.get_filename_base``).
_ENTRY_FILE = re.compile(
    r"^[a-z_]+\.[a-z_]+-(serial|parallel)-(ieee|fastmath)-\d+\.py\d+[a-z]*\.(nbi|\d+\.nbc)$"
)
_ENTRY_FOLDER = re.compile(r"^neurojit-[^/\\]+-numba-[^/\\]+$")


class CacheWarning(RuntimeWarning):
    """The JIT disk cache could not be used; kernels still work, compiled in memory."""


def default_cache_directory() -> str | None:
    """The per-user cache folder of this platform, or ``None`` if ``platformdirs`` is missing."""
    try:
        import platformdirs
    except ImportError:
        return None
    return platformdirs.user_cache_dir("neurojit", appauthor=False)


def entry_folder(cache_directory: str | os.PathLike, numba_version: str) -> Path:
    """The sub-folder holding the entries of this neurojit and numba version."""
    return Path(cache_directory) / f"neurojit-{__version__}-numba-{numba_version}"


def neurojit_files(cache_directory: str | os.PathLike | None) -> list[Path]:
    """Every cache file neurojit wrote under ``cache_directory`` (any version)."""
    if cache_directory is None:
        return []
    root = Path(cache_directory)
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and _ENTRY_FOLDER.match(p.name)]
    except OSError:
        return []
    files = []
    for folder in folders:
        try:
            files.extend(p for p in folder.iterdir() if p.is_file() and _ENTRY_FILE.match(p.name))
        except OSError:
            continue
    return files


def cache_size(cache_directory: str | os.PathLike | None) -> int:
    """Bytes taken by neurojit's files under ``cache_directory``."""
    total = 0
    for path in neurojit_files(cache_directory):
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def clear_disk_cache(cache_directory: str | os.PathLike | None) -> int:
    """Delete neurojit's files (and its then-empty version folders); return how many were removed."""
    removed = 0
    for path in neurojit_files(cache_directory):
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue
        try:
            path.parent.rmdir()  # only succeeds once the folder is empty
        except OSError:
            pass
    return removed


def _warn_once(message: str, _seen: set = set()) -> None:
    if message not in _seen:
        _seen.add(message)
        warnings.warn(message, CacheWarning, stacklevel=4)


def attach_disk_cache(dispatcher, func, source, cache_directory: str, tag: str) -> bool:
    """Give a numba dispatcher neurojit's disk cache; return False (with a warning) if impossible.

    Parameters
    ----------
    dispatcher : numba.core.registry.CPUDispatcher
        Not yet compiled.
    func : function
        The function being compiled (its qualname carries ``tag``).
    source : function
        The loop as written in :mod:`neurojit.kernels`; its file is hashed for freshness.
    cache_directory : str
        The user's cache directory.
    tag : str
        The compile options, part of every file name.
    """
    from numba.core import caching

    import numba

    folder = entry_folder(cache_directory, numba.__version__)
    source_file = Path(source.__code__.co_filename)

    class Locator(caching._CacheLocator):
        def __init__(self, py_func, py_file):
            self._lineno = py_func.__code__.co_firstlineno

        def get_cache_path(self):
            return str(folder)

        def get_source_stamp(self):
            return hashlib.sha256(source_file.read_bytes()).hexdigest()

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            return cls(py_func, py_file)

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [Locator]

    class GuardedCache(caching.FunctionCache):
        _impl_class = Impl

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception as exc:  # corrupt, truncated or unreadable files
                _warn_once(
                    f"neurojit could not read its JIT cache in {folder} ({type(exc).__name__}: {exc}); "
                    "compiling instead. Fix: clear it with JITCompiler().clear_cache() or choose "
                    "another JITConfig(cache_directory=...)."
                )
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except Exception as exc:  # unwritable, deleted or full folder
                _warn_once(
                    f"neurojit could not write its JIT cache in {folder} ({type(exc).__name__}: {exc}); "
                    "kernels are compiled in memory only. Fix: make the folder writable or choose "
                    "another JITConfig(cache_directory=...), or cache_compiled_functions=False."
                )
            else:
                logger.debug("saved %s to the JIT cache in %s", func.__qualname__, folder)

    try:
        dispatcher._cache = GuardedCache(func)
    except Exception as exc:
        _warn_once(f"neurojit could not set up its JIT cache in {folder} ({exc}); compiling in memory only.")
        return False
    return True
