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
evicted or deleted: anything else living in ``cache_directory`` is never touched. On
POSIX systems only those owned by the current user count as neurojit's (another user's
files are never measured, evicted or deleted).

Trust model. An entry is a pickle of machine code: loading it runs code in this process,
and the checksum only detects accidents, not tampering. So an entry is only loaded, and
only written, where nobody but the user (and root) could have put it there, checked the
way ssh checks ``~/.ssh`` (POSIX only; on Windows the folders' access lists are not
inspected):

* ``cache_directory`` (followed if it is a symbolic link: it is the user's own choice)
  must belong to the user or root and must not be writable by group or others;
* the version folder and the entry must belong to the user, must not be writable by
  group or others, and must not be symbolic links: nothing inside the cache folder is
  ever followed out of it (files are opened relative to their folder with ``O_NOFOLLOW``);
* an entry must be a regular file (a FIFO, a device or a folder in its place is left
  alone, never opened for reading: opening a FIFO would block).

A folder or entry that fails these checks is never loaded from or written to: one
:class:`CacheWarning` says which and how to fix it, and the loop is compiled in memory.
neurojit creates its folders with mode 0700 and its files with mode 0600.

This module does file work only; it imports neither numba nor the rest of neurojit
beyond its version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
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
    r"^[a-z][a-z0-9_]*-float(?:32|64)-(?:serial|parallel)-(?:ieee|fastmath)-[0-9a-f]{16}"
    r"\.py\d+[a-z]*\.njc(?P<tmp>\.tmp\.[0-9a-f]{16})?$"
)
_VERSION_FOLDER = re.compile(r"^neurojit-[A-Za-z0-9.+_-]+-numba-[A-Za-z0-9.+_-]+$")

#: A temporary file older than this is the leftover of a crashed writer.
STALE_TMP_SECONDS = 3600.0


class CacheWarning(RuntimeWarning):
    """The JIT disk cache could not be used; kernels still work, compiled in memory."""


class CorruptEntryError(ValueError):
    """A cache file is truncated, altered or not a neurojit cache file."""


class UntrustedCacheError(OSError):
    """A cache folder or entry that someone other than the user could have written (or a
    symbolic link inside the cache folder): it is neither loaded from nor written to."""


class NotAnEntryError(OSError):
    """Something that is not a regular file (a FIFO, a folder, a device) where an entry belongs."""


# -- trust ----------------------------------------------------------------------------

_POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_BINARY = getattr(os, "O_BINARY", 0)
#: folders are opened and entries opened, created and renamed relative to their folder
#: (``os.replace`` takes descriptors wherever ``os.rename`` does: both are renameat)
_DIR_FD = _POSIX and {os.open, os.rename, os.unlink} <= os.supports_dir_fd


def _uid() -> int:
    """The user whose cache this is (the effective uid)."""
    return os.geteuid()


def _distrust(st: os.stat_result, what: str, path) -> str | None:
    """Why ``st`` (of ``what`` at ``path``) is not trusted, or None. POSIX only."""
    if not _POSIX:
        return None
    if st.st_uid not in (_uid(), 0):
        return f"{what} {os.fspath(path)} belongs to another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "others" if st.st_mode & stat.S_IWOTH else "its group"
        return f"{what} {os.fspath(path)} is writable by {who} (mode {stat.filemode(st.st_mode)})"
    return None


def _check_root(root: Path) -> None:
    """Raise :class:`UntrustedCacheError` unless ``cache_directory`` may hold entries.

    Raises FileNotFoundError / NotADirectoryError when it does not exist (yet).
    """
    st = os.stat(root)  # follows a link: the configured folder itself is the user's choice
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{os.fspath(root)} is not a folder")
    why = _distrust(st, "the cache folder", root)
    if why:
        raise UntrustedCacheError(why)


def _open_folder(folder: Path) -> int | None:
    """A descriptor of the version folder after checking it (never a link), or None where
    descriptors of folders are not available. Raises FileNotFoundError if it is absent."""
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        raise UntrustedCacheError(
            f"{os.fspath(folder)} is a symbolic link; neurojit never follows links inside its cache folder"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{os.fspath(folder)} is not a folder")
    if not _DIR_FD:
        why = _distrust(st, "the cache folder", folder)
        if why:
            raise UntrustedCacheError(why)
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError as exc:
        if os.path.islink(folder):  # swapped for a link since the lstat
            raise UntrustedCacheError(f"{os.fspath(folder)} is a symbolic link") from exc
        raise
    try:
        why = _distrust(os.fstat(fd), "the cache folder", folder)
        if why:
            raise UntrustedCacheError(why)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISLNK, "symbolic link"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device")):
        if test(mode):
            return name
    return "special file"


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

    The cache folder (``path``'s grandparent), the version folder and the entry are checked
    first (see the trust model in the module docstring).

    Raises
    ------
    CorruptEntryError
        If the file is not a complete, unaltered neurojit cache file.
    UntrustedCacheError
        If the folders or the file could have been written by someone else, or are links.
    NotAnEntryError
        If something other than a regular file is in the entry's place.
    OSError
        If the file exists but cannot be read.
    """
    path = Path(path)
    try:
        _check_root(path.parent.parent)
        folder_fd = _open_folder(path.parent)
    except (FileNotFoundError, NotADirectoryError):  # no entry (or no folder) yet
        return None
    try:
        try:
            if folder_fd is not None:
                fd = os.open(path.name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=folder_fd)
            else:
                fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if os.path.islink(path):
                raise UntrustedCacheError(
                    f"{os.fspath(path)} is a symbolic link; neurojit never follows links inside its cache folder"
                ) from exc
            raise
    finally:
        if folder_fd is not None:
            os.close(folder_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # checked on the open file: a FIFO is never read
            raise NotAnEntryError(f"{os.fspath(path)} is a {_kind(st.st_mode)}, not a cache file; neurojit leaves it alone")
        why = _distrust(st, "the cache file", path)
        if why:
            raise UntrustedCacheError(why)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read()
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

    The folders are created with mode 0700 and the file with mode 0600, and both folders are
    checked as for :func:`read_entry` before anything is written.

    Raises
    ------
    UntrustedCacheError
        If a folder could be written by someone else, or the version folder is a link.
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
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_root(folder.parent)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass  # checked next, like any folder found in place
    folder_fd = _open_folder(folder)
    tmp = f"{path.name}.tmp.{uuid.uuid4().hex[:16]}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
    try:
        if folder_fd is not None:
            fd = os.open(tmp, flags, 0o600, dir_fd=folder_fd)
        else:
            fd = os.open(folder / tmp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC)
                f.write(hashlib.sha256(body).digest())
                f.write(body)
            if folder_fd is not None:
                os.replace(tmp, path.name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            else:
                os.replace(folder / tmp, path)
        except BaseException:
            try:
                if folder_fd is not None:
                    os.unlink(tmp, dir_fd=folder_fd)
                else:
                    os.unlink(folder / tmp)
            except OSError:
                pass
            raise
    finally:
        if folder_fd is not None:
            os.close(folder_fd)
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
        if os.utime in os.supports_follow_symlinks:
            os.utime(path, follow_symlinks=False)
        else:
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
            if _VERSION_FOLDER.match(child.name) and child.is_dir() and not child.is_symlink() and _mine(child):
                folders.append(child)
        except OSError:
            continue
    return folders


def _mine(path: Path) -> bool:
    """True unless ``path`` (not followed) belongs to another user (POSIX)."""
    return not _POSIX or path.lstat().st_uid == _uid()


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
                if _ENTRY_FILE.match(child.name) and child.is_file() and not child.is_symlink() and _mine(child):
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
