"""neurojit's own on-disk cache for JIT-compiled loops: files, names, size cap, clearing.

Layout::

    <cache_directory>/
        neurojit-<neurojit version>-numba-<numba version>/
            <loop>-<dtype>-<serial|parallel>-<ieee|fastmath>-<key>.py<XY>.njc

One file holds one compiled loop for one signature (a loop and a dtype), one set of
compile options, one CPU and one Python. ``<key>`` is a hash of everything the machine
code depends on (see :func:`neurojit.backends.jit.entry_key`): the loop's source file,
its code object and the constants it reads, the signature, the options and the CPU. So an
upgrade of neurojit or numba (another folder), an option change or a kernel edit (another
``<key>``) never loads a wrong entry; the full key is also stored inside the file and
compared on load.

A file is ``MAGIC + sha256(body) + body``: a truncated or corrupted file is detected
before anything is unpickled. Files are written to a temporary name in the same folder
and renamed into place, so several processes filling one folder at once never leave a
partial file under a real name (the last writer of identical content wins).

The cache never stops a kernel from working: a problem reading or writing it is
reported once per folder as a :class:`CacheWarning`, and the loop is compiled in memory.
A folder that vanishes while in use (deleted by hand or by a cleaner) is recreated on the
next save, with one :class:`CacheWarning` saying so; creating it the first time is silent.

Only files whose names match the patterns above, inside folders whose names match
``neurojit-*-numba-*``, directly under ``cache_directory``, are ever listed, measured,
evicted or deleted: anything else living in ``cache_directory`` is never touched.

This module does file work only; it imports neither numba nor the rest of neurojit
beyond its version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import threading
import time
import uuid
from pathlib import Path

from ._version import __version__
from ._warnings import warn_from_caller

logger = logging.getLogger("neurojit")

#: First bytes of every cache file (format version 1).
MAGIC = b"neurojit-jit-cache\x00v1\x00"
SUFFIX = ".njc"
_DIGEST_BYTES = 32

_ENTRY_FILE = re.compile(
    r"^[a-z_]+-float(?:32|64)-(?:serial|parallel)-(?:ieee|fastmath)-[0-9a-f]{16}"
    r"\.py\d+[a-z]*\.njc(?P<tmp>\.tmp\.[0-9a-f]{16})?$"
)
_VERSION_FOLDER = re.compile(r"^neurojit-[A-Za-z0-9.+_-]+-numba-[A-Za-z0-9.+_-]+$")

#: A temporary file older than this is the leftover of a crashed writer.
STALE_TMP_SECONDS = 3600.0


class CacheWarning(RuntimeWarning):
    """The JIT disk cache could not be used; kernels still work, compiled in memory."""


class CorruptEntryError(ValueError):
    """A cache file is truncated, altered or not a neurojit cache file."""


# -- where ---------------------------------------------------------------------------


def default_cache_directory() -> str:
    """The per-user cache folder of this platform (``platformdirs``), e.g. ``~/.cache/neurojit``.

    Without ``platformdirs`` (it comes with the ``jit`` extra): ``$XDG_CACHE_HOME/neurojit``,
    else ``~/.cache/neurojit``. The folder is not created here.
    """
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "neurojit")
    return platformdirs.user_cache_dir("neurojit", appauthor=False)


def version_folder(cache_directory: str | os.PathLike, numba_version: str) -> Path:
    """The sub-folder holding the entries of this neurojit version and ``numba_version``."""
    return Path(cache_directory) / f"neurojit-{__version__}-numba-{numba_version}"


def entry_name(loop: str, dtype: str, options: str, key_digest: str) -> str:
    """File name of one entry; ``key_digest`` is 16 hex digits, ``options`` e.g. ``serial-ieee``."""
    abiflags = getattr(sys, "abiflags", "")
    name = f"{loop}-{dtype}-{options}-{key_digest}.py{sys.version_info[0]}{sys.version_info[1]}{abiflags}{SUFFIX}"
    if not _ENTRY_FILE.match(name):
        raise ValueError(f"not a valid neurojit cache file name: {name!r}")
    return name


# -- one entry -------------------------------------------------------------------------


def read_entry(path: str | os.PathLike) -> bytes | None:
    """The body stored in ``path``; ``None`` if there is no such file.

    Raises
    ------
    CorruptEntryError
        If the file is not a complete, unaltered neurojit cache file.
    OSError
        If the file exists but cannot be read.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):  # no entry (or no folder) yet
        return None
    header = len(MAGIC) + _DIGEST_BYTES
    if len(data) < header or not data.startswith(MAGIC):
        raise CorruptEntryError(f"{os.fspath(path)} is not a neurojit cache file (or is truncated)")
    body = data[header:]
    if hashlib.sha256(body).digest() != data[len(MAGIC) : header]:
        raise CorruptEntryError(f"{os.fspath(path)} is truncated or corrupted (checksum mismatch)")
    _mark_in_use(Path(path).parent)
    return body


def write_entry(path: str | os.PathLike, body: bytes) -> None:
    """Store ``body`` in ``path`` atomically (temporary file, then rename), creating the folder.

    Creating the folder the first time is silent. If the folder had been used in this
    process (an entry read from it or written to it) and has vanished since, someone
    deleted the cache while neurojit was running: it is recreated and the entry written,
    with one :class:`CacheWarning` per folder (see :func:`warn_once`).

    Raises
    ------
    OSError
        If the folder cannot be created or written.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir() and _was_in_use(folder):
        gone = folder.parent if not folder.parent.is_dir() else folder
        warn_once(
            "vanished", folder,
            f"neurojit's JIT cache folder {gone} disappeared while running; recreated it. Entries "
            "saved before are gone and are compiled again on next use. If something cleans this "
            "folder, choose another JITConfig(cache_directory=...).",
        )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp.{uuid.uuid4().hex[:16]}")
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC)
            f.write(hashlib.sha256(body).digest())
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _mark_in_use(folder)


def remove_entry(path: str | os.PathLike) -> bool:
    """Delete one entry if it is there; True if it was removed."""
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def touch(path: str | os.PathLike) -> None:
    """Mark an entry as just used (its modification time is the last-use time for eviction)."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache still serves loads


# -- the whole cache -------------------------------------------------------------------


def _version_folders(cache_directory: str | os.PathLike) -> list[Path]:
    try:
        children = list(Path(cache_directory).iterdir())
    except OSError:
        return []
    folders = []
    for child in children:
        try:
            if _VERSION_FOLDER.match(child.name) and child.is_dir() and not child.is_symlink():
                folders.append(child)
        except OSError:
            continue
    return folders


def neurojit_files(cache_directory: str | os.PathLike | None) -> list[Path]:
    """Every cache file neurojit wrote under ``cache_directory`` (any version), temporary ones included."""
    if cache_directory is None:
        return []
    files = []
    for folder in _version_folders(cache_directory):
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            try:
                if _ENTRY_FILE.match(child.name) and child.is_file() and not child.is_symlink():
                    files.append(child)
            except OSError:
                continue
    return files


def _stat(path: Path):
    try:
        return path.stat()
    except OSError:
        return None


def cache_size(cache_directory: str | os.PathLike | None) -> int:
    """Bytes taken by neurojit's files under ``cache_directory``."""
    total = 0
    for path in neurojit_files(cache_directory):
        st = _stat(path)
        total += st.st_size if st is not None else 0
    return total


def evict(cache_directory: str | os.PathLike | None, max_size: int) -> list[tuple[Path, int]]:
    """Delete least-recently-used entries until neurojit's files take at most ``max_size`` bytes.

    Leftover temporary files of crashed writers (older than :data:`STALE_TMP_SECONDS`) go
    first; younger ones belong to a writer at work and are neither counted nor touched.
    Entries of other neurojit or numba versions compete on equal terms, so an old version's
    entries, no longer used, are the first to go. Returns ``(path, size)`` of each removed file.
    """
    now = time.time()
    removed: list[tuple[Path, int]] = []
    entries = []
    total = 0
    for path in neurojit_files(cache_directory):
        st = _stat(path)
        if st is None:
            continue
        if _ENTRY_FILE.match(path.name).group("tmp"):
            if now - st.st_mtime > STALE_TMP_SECONDS and remove_entry(path):
                removed.append((path, st.st_size))
            continue
        entries.append((st.st_mtime, path.name, path, st.st_size))
        total += st.st_size
    entries.sort()
    for _, _, path, size in entries:
        if total <= max_size:
            break
        if remove_entry(path):
            removed.append((path, size))
        total -= size  # gone either way: removed here or by another process
    return removed


def clear_disk_cache(cache_directory: str | os.PathLike | None) -> int:
    """Delete neurojit's files (and its version folders once empty); return how many files were removed."""
    removed = 0
    folders = set()
    if cache_directory is not None:
        _forget_in_use(cache_directory)  # an emptied folder may go: that is no accident
    for path in neurojit_files(cache_directory):
        folders.add(path.parent)
        removed += remove_entry(path)
    for folder in folders:
        try:
            folder.rmdir()  # only succeeds once the folder is empty
        except OSError:
            pass
    return removed


# -- folders in use ----------------------------------------------------------------------

#: Version folders this process has read an entry from or written one to, so that one
#: vanishing while neurojit runs is told apart from a folder that was never made.
_in_use: set[str] = set()
_in_use_lock = threading.Lock()


def _mark_in_use(folder: Path) -> None:
    with _in_use_lock:
        _in_use.add(os.path.abspath(folder))


def _was_in_use(folder: Path) -> bool:
    with _in_use_lock:
        return os.path.abspath(folder) in _in_use


def _forget_in_use(cache_directory: str | os.PathLike) -> None:
    """Forget the version folders under ``cache_directory`` (it is being cleared on purpose)."""
    base = os.path.abspath(cache_directory)
    with _in_use_lock:
        _in_use.difference_update({f for f in _in_use if os.path.dirname(f) == base})


# -- reporting -------------------------------------------------------------------------

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def warn_once(problem: str, folder: str | os.PathLike, message: str) -> bool:
    """Warn with :class:`CacheWarning` the first time ``problem`` happens for ``folder`` in this process.

    Returns True if the warning was issued. Later occurrences are logged at DEBUG level only.
    """
    key = (problem, os.fspath(folder))
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    if first:
        warn_from_caller(message, CacheWarning)
    else:
        logger.debug("%s (warned before)", message)
    return first
