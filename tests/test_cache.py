"""neurojit's JIT disk cache: keys, size cap (LRU), clear_cache, faults, logging, profiling.

Most tests use the cheapest loop, ``binary_nonzeros`` (it is what ``matrix_multiply``
runs first; real-valued input then goes to BLAS), on a :class:`JITBackend` or a
``JITCompiler`` with its own ``tmp_path`` cache folder, never the user's cache.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from neurojit import CacheWarning, JITCompiler, JITConfig, cache
from neurojit.backends import jit

from conftest import NON_BINARY, binary_scan, run_python

pytestmark = pytest.mark.skipif(not jit.NUMBA_AVAILABLE, reason="numba is not installed")

LOOP = "binary_nonzeros"


def backend(cache_directory, *, parallel=False, fastmath=False, **kwargs) -> jit.JITBackend:
    directory = None if cache_directory is None else str(cache_directory)
    return jit.JITBackend(fastmath=fastmath, parallel=parallel, cache_directory=directory, **kwargs)


def compiler(cache_directory, **options) -> JITCompiler:
    options.setdefault("enable_parallel_loops", False)
    directory = None if cache_directory is None else str(cache_directory)
    return JITCompiler(JITConfig(backend="jit", cache_directory=directory, **options))


def entries(cache_directory) -> list[Path]:
    return sorted(p for p in cache.neurojit_files(cache_directory))


def check_matmul(c: JITCompiler) -> None:
    """Run matrix_multiply (its binary_nonzeros loop) and check the product."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    a[0, 0] = 1.0  # a first entry of 0 or 1 sends `a` through the 0/1 scan (binary_nonzeros)
    np.testing.assert_allclose(c.compile_matrix_multiply_kernel()(a, b), a @ b)


def cache_warnings(record) -> list:
    return [w for w in record if issubclass(w.category, CacheWarning)]


# -- keys ------------------------------------------------------------------------------


def test_second_backend_loads_the_entry_instead_of_compiling(tmp_path):
    first = backend(tmp_path)
    assert binary_scan(first.loop(LOOP, "float64")) == -1
    assert first.stats["compiles"] == 1 and first.stats["cache_misses"] == 1
    (entry,) = entries(tmp_path)
    assert entry.parent.name == f"neurojit-{cache.__version__}-numba-{jit.NUMBA_VERSION}"
    assert entry.name.startswith("binary_nonzeros-float64-serial-ieee-")

    second = backend(tmp_path)
    assert binary_scan(second.loop(LOOP, "float64")) == -1
    assert second.stats == {"cache_hits": 1}
    # another signature (dtype) is another entry
    second.loop(LOOP, "float32")
    assert second.stats["compiles"] == 1 and len(entries(tmp_path)) == 2


def test_each_option_set_has_its_own_entry(tmp_path):
    """serial/parallel and ieee/fastmath never share an entry (numba's own cache would: numba#6845)."""
    options = [dict(parallel=False, fastmath=False), dict(parallel=True, fastmath=False), dict(parallel=False, fastmath=True)]
    for opts in options:
        b = backend(tmp_path, **opts)
        b.loop("binary_matmul", "float32")
        assert b.stats["compiles"] == 1, f"{opts} loaded another option set's entry"
    names = [p.name for p in entries(tmp_path)]
    assert len(names) == 3
    assert {n.split("-")[2] + "-" + n.split("-")[3] for n in names} == {"serial-ieee", "parallel-ieee", "serial-fastmath"}
    for opts in options:  # and each is found again
        b = backend(tmp_path, **opts)
        b.loop("binary_matmul", "float32")
        assert b.stats == {"cache_hits": 1}


def test_loop_without_prange_shares_its_serial_entry(tmp_path):
    """A loop with no prange is compiled serial under both settings, so one entry serves both."""
    backend(tmp_path, parallel=False).loop(LOOP, "float64")
    b = backend(tmp_path, parallel=True)
    b.loop(LOOP, "float64")
    assert b.stats == {"cache_hits": 1}


@pytest.mark.parametrize("upgraded", ["neurojit", "numba"])
def test_upgrade_never_loads_an_old_entry(tmp_path, monkeypatch, upgraded):
    backend(tmp_path).loop(LOOP, "float64")
    (old,) = entries(tmp_path)
    if upgraded == "neurojit":
        monkeypatch.setattr(cache, "__version__", "99.0.0")
    else:
        monkeypatch.setattr(jit, "NUMBA_VERSION", "99.0.0")
    b = backend(tmp_path)
    b.loop(LOOP, "float64")
    assert b.stats["compiles"] == 1 and b.stats["cache_hits"] == 0
    new = [p for p in entries(tmp_path) if p != old]
    assert len(new) == 1 and new[0].parent != old.parent and "99.0.0" in new[0].parent.name


def test_entry_with_another_key_inside_is_not_loaded(tmp_path, monkeypatch):
    """The full key is stored in the file: an entry copied under another key's name is a miss."""
    backend(tmp_path).loop(LOOP, "float64")
    (old,) = entries(tmp_path)
    monkeypatch.setattr(cache, "__version__", "99.0.0")
    path, _ = backend(tmp_path).entry_path(LOOP, "float64")
    path.parent.mkdir(parents=True)
    shutil.copy(old, path)
    b = backend(tmp_path)
    b.loop(LOOP, "float64")
    assert b.stats["compiles"] == 1 and b.stats["cache_hits"] == 0


def load_kernel_copy(source: Path, name: str, monkeypatch):
    """Import ``source`` as module ``name`` and make the JIT backend compile its loops."""
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(jit, "_loop_source", lambda loop: getattr(module, loop))
    return module


def test_edited_kernel_is_never_loaded_stale(tmp_path, monkeypatch):
    """Edit a constant of the loop (same bytecode, other co_consts): the old entry is not used."""
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    source = kernels / "matmul.py"
    original = (Path(jit.__file__).parents[1] / "kernels" / "matmul.py").read_text()
    original = original.replace("from .loop import", "from neurojit.kernels.loop import")  # a lone module
    assert "return -1" in original
    source.write_text(original)
    folder = tmp_path / "cache"

    load_kernel_copy(source, "nj_edit_v1", monkeypatch)
    assert binary_scan(backend(folder).loop(LOOP, "float64")) == -1
    again = backend(folder)
    assert binary_scan(again.loop(LOOP, "float64")) == -1 and again.stats == {"cache_hits": 1}

    source.write_text(original.replace("return -1", "return -2"))
    load_kernel_copy(source, "nj_edit_v2", monkeypatch)
    edited = backend(folder)
    assert binary_scan(edited.loop(LOOP, "float64")) == -2
    assert edited.stats["compiles"] == 1 and edited.stats["cache_hits"] == 0

    # The file is edited after this process imported it: what it compiles (the old code)
    # must not be saved under a key that a process importing the new file would load.
    source.write_text(original.replace("return -1", "return -3"))
    load_kernel_copy(source, "nj_edit_v3", monkeypatch)
    source.write_text(original.replace("return -1", "return -4"))
    assert binary_scan(backend(folder).loop(LOOP, "float64")) == -3
    load_kernel_copy(source, "nj_edit_v4", monkeypatch)
    assert binary_scan(backend(folder).loop(LOOP, "float64")) == -4


# -- size cap --------------------------------------------------------------------------


def test_tiny_max_cache_size_evicts_after_each_compile(tmp_path):
    c = compiler(tmp_path, max_cache_size=1)
    check_matmul(c)
    info = c.get_jit_info()
    assert info["max_cache_size"] == 1
    assert info["cache_size_bytes"] == 0 and entries(tmp_path) == []
    assert info["cache_stats"]["evictions"] == 1
    check_matmul(c)  # the kernel itself is unaffected


def test_least_recently_used_entry_is_evicted_first(tmp_path):
    first = backend(tmp_path)
    first.loop(LOOP, "float32")
    first.loop(LOOP, "float64")
    a, _ = first.entry_path(LOOP, "float32")
    b, _ = first.entry_path(LOOP, "float64")
    old = time.time() - 1000
    os.utime(a, (old, old))  # a written first ...
    os.utime(b, (old + 10, old + 10))
    backend(tmp_path).loop(LOOP, "float32")  # ... but used last
    assert a.stat().st_mtime > b.stat().st_mtime

    probe = backend(tmp_path / "probe")  # learn the size of the third entry
    probe.loop("binary_matmul", "float32")
    size_c = probe.entry_path("binary_matmul", "float32")[0].stat().st_size
    size_a, size_b = a.stat().st_size, b.stat().st_size
    assert size_b > 64
    bounded = backend(tmp_path, max_cache_size=size_a + size_c + 64)  # room for a and c, not b too
    bounded.loop("binary_matmul", "float32")
    c, _ = bounded.entry_path("binary_matmul", "float32")
    assert a.exists() and c.exists() and not b.exists()
    assert bounded.stats["evictions"] == 1
    assert cache.cache_size(tmp_path) == size_a + c.stat().st_size <= bounded.max_cache_size


def test_evict_removes_stale_temporary_files_but_not_fresh_ones(tmp_path):
    backend(tmp_path).loop(LOOP, "float64")
    (entry,) = entries(tmp_path)
    stale = entry.with_name(entry.name + ".tmp." + "a" * 16)
    fresh = entry.with_name(entry.name + ".tmp." + "b" * 16)
    stale.write_bytes(b"x" * 10)
    fresh.write_bytes(b"x" * 10)
    long_ago = time.time() - 2 * cache.STALE_TMP_SECONDS
    os.utime(stale, (long_ago, long_ago))
    removed = [p for p, _ in cache.evict(tmp_path, 10**9)]
    assert removed == [stale] and fresh.exists() and entry.exists()


# -- clear_cache and a shared folder -------------------------------------------------------


def fill_with_user_files(folder: Path, version_folder: Path) -> dict[Path, bytes]:
    """Files a user (or another program) keeps in the folder, some with names close to ours."""
    files = {
        folder / "notes.txt": b"mine",
        folder / "data" / "table.csv": b"1,2,3",
        folder / "foo-1.py311.nbi": b"numba index",
        folder / "foo-1.py311.1.nbc": b"numba data",
        # our names, but not inside one of our version folders
        folder / ("binary_nonzeros-float64-serial-ieee-" + "0" * 16 + ".py311.njc"): b"not ours",
        folder / "data" / ("binary_nonzeros-float64-serial-ieee-" + "1" * 16 + ".py311.njc"): b"not ours",
        # inside our version folder, but not our names
        version_folder / "keep.txt": b"keep",
        version_folder / "sub" / "deeper.bin": b"keep",
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def test_clear_cache_deletes_only_neurojit_files(tmp_path):
    c = compiler(tmp_path)
    user_files = fill_with_user_files(tmp_path, cache.version_folder(tmp_path, jit.NUMBA_VERSION))
    check_matmul(c)
    assert len(entries(tmp_path)) == 1 and c.get_jit_info()["compiled_functions"] == ["binary_nonzeros[float64]"]

    c.clear_cache()
    assert entries(tmp_path) == []
    assert c.get_jit_info()["compiled_functions"] == [] and c.get_jit_info()["cache_size_bytes"] == 0
    for path, content in user_files.items():
        assert path.read_bytes() == content, f"{path} was touched"
    check_matmul(c)  # compiled again (nothing on disk any more)
    assert c.get_jit_info()["cache_stats"]["compiles"] == 2


def test_clear_cache_removes_empty_version_folders_and_nothing_else(tmp_path):
    (tmp_path / "empty-user-folder").mkdir()
    c = compiler(tmp_path)
    check_matmul(c)
    c.clear_cache()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-user-folder"]


def test_eviction_in_a_shared_folder_never_touches_other_files(tmp_path):
    user_files = fill_with_user_files(tmp_path, cache.version_folder(tmp_path, jit.NUMBA_VERSION))
    c = compiler(tmp_path, max_cache_size=1)
    check_matmul(c)
    assert entries(tmp_path) == []
    for path, content in user_files.items():
        assert path.read_bytes() == content


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinked_version_folder_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / ("binary_nonzeros-float64-serial-ieee-" + "2" * 16 + ".py311.njc")
    victim.write_bytes(b"someone else's")
    folder = tmp_path / "cache"
    folder.mkdir()
    os.symlink(elsewhere, cache.version_folder(folder, "0.0.0"))
    assert cache.clear_disk_cache(folder) == 0
    assert victim.read_bytes() == b"someone else's"


def test_clear_cache_when_folder_does_not_exist(tmp_path):
    c = compiler(tmp_path / "never-created")
    c.clear_cache()
    assert c.get_jit_info()["cache_size_bytes"] == 0


# -- faults: each one warning, and a working kernel ------------------------------------------


def test_cache_folder_under_a_regular_file(tmp_path):
    """Unwritable for everyone, root included: a path whose parent is a file."""
    (tmp_path / "a-file").write_text("x")
    c = compiler(tmp_path / "a-file" / "cache")
    rng = np.random.default_rng(1)
    with pytest.warns(CacheWarning, match="could not write its JIT cache") as record:
        check_matmul(c)
        x = (rng.random((2, 6, 4)) < 0.3).astype(np.float64)
        c.compile_convolution_kernel()(x, np.ones(2))  # a second loop: no second warning
    assert len(cache_warnings(record)) == 1
    info = c.get_jit_info()
    assert info["cache_size_bytes"] == 0
    assert list(info["cache_problems"]) == ["write"] and "a-file" in info["cache_problems"]["write"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_read_only_cache_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        c = compiler(folder)
        with pytest.warns(CacheWarning, match="could not write") as record:
            check_matmul(c)
        assert len(cache_warnings(record)) == 1
    finally:
        folder.chmod(0o700)


def test_read_only_home_default_cache_folder_unusable(tmp_path, monkeypatch):
    """HOME is not writable (here: it lies under a regular file), cache_directory left at its default."""
    (tmp_path / "a-file").write_text("x")
    home = tmp_path / "a-file" / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    c = compiler(None)
    assert c.cache_directory.startswith(str(home))
    with pytest.warns(CacheWarning, match="could not write") as record:
        check_matmul(c)
        check_matmul(compiler(None))  # another compiler, same folder: still one warning
    assert len(cache_warnings(record)) == 1


CORRUPTIONS = {
    "garbage": lambda data: b"\x00garbage" * 10,
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "header_only": lambda data: data[: len(cache.MAGIC) + 5],
    "flipped_byte": lambda data: data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:],
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS) + ["valid_checksum_not_a_pickle"])
def test_corrupt_cache_file(tmp_path, corruption):
    backend(tmp_path).loop(LOOP, "float64")
    (entry,) = entries(tmp_path)
    if corruption == "valid_checksum_not_a_pickle":
        cache.write_entry(entry, b"not a pickle")
    else:
        entry.write_bytes(CORRUPTIONS[corruption](entry.read_bytes()))
    c = compiler(tmp_path)
    with pytest.warns(CacheWarning, match="corrupt JIT cache file") as record:
        check_matmul(c)
    assert len(cache_warnings(record)) == 1
    assert c.get_jit_info()["cache_stats"]["compiles"] == 1
    assert list(c.get_jit_info()["cache_problems"]) == ["corrupt"]
    # replaced by a good entry: the next process-like backend loads it without a word
    b = backend(tmp_path)
    assert binary_scan(b.loop(LOOP, "float64")) == -1 and b.stats == {"cache_hits": 1}


def test_cache_folder_deleted_while_running(tmp_path):
    """The folder in use vanishing is a fault: one warning, recreated, the kernel works and is saved."""
    folder = tmp_path / "cache"
    c = compiler(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # making the folder the first time is silent
        check_matmul(c)
    assert len(entries(folder)) == 1
    shutil.rmtree(folder)
    assert c.get_jit_info()["cache_size_bytes"] == 0
    x = np.zeros((1, 3, 2))
    with pytest.warns(CacheWarning, match=r"cache folder .*cache disappeared while running; recreated it") as record:
        np.testing.assert_array_equal(c.compile_convolution_kernel()(x, np.ones(2)), x)
        shutil.rmtree(folder)  # again, with another compiler on the same folder: no second warning
        other = compiler(folder)
        np.testing.assert_array_equal(other.compile_convolution_kernel()(x, np.ones(2)), x)
    assert len(cache_warnings(record)) == 1
    assert [p.name.split("-")[0] for p in entries(folder)] == ["causal_convolution"]
    # clear_cache deletes the folder on purpose: making it again afterwards is silent
    c.clear_cache()
    assert entries(folder) == [] and not (folder / f"neurojit-{cache.__version__}-numba-{jit.NUMBA_VERSION}").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        check_matmul(c)
    assert len(entries(folder)) == 1
    assert c.get_jit_info()["cache_problems"] == {}


def test_version_folder_deleted_while_running_is_named(tmp_path):
    """Only neurojit's version folder removed (the cache folder stays): the warning names it."""
    c = compiler(tmp_path)
    check_matmul(c)
    (entry,) = entries(tmp_path)
    shutil.rmtree(entry.parent)
    x = np.zeros((1, 3, 2))
    with pytest.warns(CacheWarning, match="disappeared while running") as record:
        np.testing.assert_array_equal(c.compile_convolution_kernel()(x, np.ones(2)), x)
    (warning,) = cache_warnings(record)
    assert str(entry.parent) in str(warning.message)
    assert [p.name.split("-")[0] for p in entries(tmp_path)] == ["causal_convolution"]


def test_no_disk_cache_writes_nothing(tmp_path):
    c = JITCompiler(JITConfig(backend="jit", cache_compiled_functions=False, cache_directory=str(tmp_path)))
    assert c.cache_directory is None
    check_matmul(c)
    assert list(tmp_path.iterdir()) == []


# -- logging and profiling -------------------------------------------------------------


def test_verbose_logs_compile_miss_hit_and_eviction(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO, logger="neurojit")
    check_matmul(compiler(tmp_path, verbose=True))
    check_matmul(compiler(tmp_path, verbose=True))
    check_matmul(compiler(tmp_path / "tiny", verbose=True, max_cache_size=1))
    messages = [r.getMessage() for r in caplog.records if r.name == "neurojit" and r.levelno == logging.INFO]
    for expected in ("cache miss: binary_nonzeros[float64]", "compiled binary_nonzeros[float64]",
                     "cache hit: binary_nonzeros[float64]", "evicted binary_nonzeros-float64-"):
        assert any(m.startswith(expected) for m in messages), f"no {expected!r} in {messages}"
    assert capsys.readouterr().out == ""  # logging only, no prints


def test_not_verbose_logs_at_debug_only(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="neurojit")
    check_matmul(compiler(tmp_path))
    assert not [r for r in caplog.records if r.name == "neurojit" and "binary_nonzeros" in r.getMessage()]


def test_quiet_compiler_after_a_verbose_one_stays_quiet(tmp_path):
    """verbose=True is per compiler: it must not turn on stderr output for compilers made later.

    In a fresh process (no logging configured, as in a user's script), so that the stderr
    handler verbose mode adds is the one that would print.
    """
    code = f"""
        import sys
        import numpy as np
        from neurojit import JITCompiler, JITConfig, operations
        operations.SPARSE_MATMUL_MIN_WORK = 0  # a small product takes the 0/1 scan too

        def run(compiler):
            a = np.array([[1.0, 0.5], [1.0, 0.0]])  # not 0/1: only the binary_nonzeros loop runs
            assert (compiler.compile_matrix_multiply_kernel()(a, a) == a @ a).all()

        run(JITCompiler(JITConfig(backend="jit", verbose=True, cache_directory={str(tmp_path / "loud")!r})))
        sys.stderr.write("=== quiet compiler ===\\n")
        sys.stderr.flush()
        for _ in range(2):  # a compile (miss), then a load (hit) from the disk cache
            quiet = JITCompiler(JITConfig(backend="jit", cache_directory={str(tmp_path / "quiet")!r}))
            run(quiet)
            print(sorted(quiet.get_jit_info()["cache_stats"]))
        quiet.clear_cache()
    """
    result = run_python(code)
    loud, _, quiet = result.stderr.partition("=== quiet compiler ===\n")
    assert "neurojit: compiled binary_nonzeros[float64]" in loud  # verbose still logs, on stderr
    assert quiet == "", f"a non-verbose compiler wrote to stderr:\n{quiet}"
    assert result.stdout.split("\n")[:2] == ["['cache_misses', 'compiles']", "['cache_hits']"]


@pytest.mark.parametrize("profile", [True, False])
def test_profile_compilation_fills_compilation_times(tmp_path, profile):
    c = compiler(tmp_path, profile_compilation=profile)
    check_matmul(c)
    times = c.get_jit_info()["compilation_times"]
    if profile:
        assert list(times) == ["binary_nonzeros[float64]"] and times["binary_nonzeros[float64]"] > 0
    else:
        assert times == {}
