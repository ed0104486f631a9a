"""Reliability faults of issue #13: fork, atexit, damaged AOT builds, malformed manifests,
odd cache entries, scalar overflow, model argument checks and the trust model of the JIT cache.

Anything that could hang or crash the test process runs in a subprocess of its own, in a
new session, killed with its whole process group when it overruns its timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import neurojit
from neurojit import JITCompiler, JITConfig

from conftest import NON_BINARY, REPO_ROOT, backend_params, binary_scan

POSIX = hasattr(os, "fork")


def run_isolated(code: str, *, timeout: float = 180, cwd: Path | None = None, env: dict | None = None):
    """Run ``code`` in a fresh interpreter in its own session; on timeout kill the whole
    process group (forked children included) and return None."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH")) if p)
    full_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd or REPO_ROOT, env=full_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def last_json(result) -> dict:
    assert result is not None, "the subprocess hung (killed after its timeout)"
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(lines[-1])


# -- item 1: fork after use; item 8: atexit -------------------------------------------------

#: A compiler on BACKEND whose LIF kernel splits its batch (AOT: over threads, JIT: prange),
#: and the results of a small parameter sweep computed in this process first.
SPLIT_CALLS = """
    import json, multiprocessing, os, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() of a multi-threaded process
    from neurojit.backends import threads
    threads.available_cores = lambda: 4  # the AOT backend splits the batch even on one core
    from neurojit import JITCompiler, JITConfig
    compiler = JITCompiler(JITConfig(backend={backend!r}, cache_directory={cache!r}, enable_parallel_loops=True))
    kernel = compiler.compile_spike_processing_kernel()
    assert kernel.backend == {backend!r}
    rng = np.random.default_rng(0)
    spikes = (rng.random((8, 200, 100)) < 0.05).astype(np.float64)  # 160,000 outputs: split in 4
    weights = rng.standard_normal((100, 100))
    THRESHOLDS = (0.3, 0.6, 0.9, 1.2)

    def trial(threshold):
        return kernel(spikes, weights, threshold, 1e-3)

    expected = [trial(t) for t in THRESHOLDS]  # the parent uses the kernel (threads, OpenMP) first
"""


@pytest.mark.skipif(not POSIX, reason="os.fork is POSIX only")
@pytest.mark.parametrize("backend", backend_params())
def test_kernel_works_in_a_forked_child_after_a_split_call(backend, cache_dir):
    code = SPLIT_CALLS.format(backend=backend, cache=str(cache_dir)) + """
    pid = os.fork()
    if pid == 0:
        ok = all((trial(t) == e).all() for t, e in zip(THRESHOLDS, expected))
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    again = all((trial(t) == e).all() for t, e in zip(THRESHOLDS, expected))
    print(json.dumps({"child": os.waitstatus_to_exitcode(status), "parent_after_fork": bool(again)}))
    """
    assert last_json(run_isolated(code, timeout=90)) == {"child": 0, "parent_after_fork": True}


@pytest.mark.skipif(not POSIX, reason="the fork start method is POSIX only")
@pytest.mark.parametrize("backend", backend_params())
def test_fork_pool_parameter_sweep_just_works(backend, cache_dir):
    code = SPLIT_CALLS.format(backend=backend, cache=str(cache_dir)) + """
    with multiprocessing.get_context("fork").Pool(2) as pool:
        swept = pool.map(trial, THRESHOLDS)
    print(json.dumps({"equal": [bool((s == e).all()) for s, e in zip(swept, expected)]}))
    """
    assert last_json(run_isolated(code, timeout=90)) == {"equal": [True] * 4}


@pytest.mark.parametrize("backend", backend_params())
def test_batch_split_call_in_an_atexit_handler(backend, cache_dir):
    code = SPLIT_CALLS.format(backend=backend, cache=str(cache_dir)) + """
    import atexit

    def at_exit():
        print(json.dumps({"equal": bool((trial(THRESHOLDS[0]) == expected[0]).all())}), flush=True)

    atexit.register(at_exit)
    """
    result = run_isolated(code, timeout=90)
    assert last_json(result) == {"equal": True}
    assert "Exception ignored" not in result.stderr, result.stderr


# -- item 2: a damaged AOT binary; item 3: malformed manifests -----------------------------

from neurojit import FallbackWarning  # noqa: E402
from neurojit.backends import aot, select  # noqa: E402
from neurojit.kernels import signatures  # noqa: E402

PACKAGE = Path(neurojit.__file__).resolve().parent


def _aot_built() -> bool:
    return select.aot_status().backend is not None


def zero_text_section(path: Path) -> None:
    """Zero the ``.text`` section of a 64-bit ELF file: still a valid ELF, but its code is gone."""
    import struct

    data = bytearray(path.read_bytes())
    assert data[:4] == b"\x7fELF" and data[4] == 2, f"{path} is not a 64-bit ELF file"
    order = "<" if data[5] == 1 else ">"
    (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)

    def section(i):
        name, _, _, _, offset, size = struct.unpack_from(order + "IIQQQQ", data, shoff + i * shentsize)
        return name, offset, size

    _, strings, _ = section(shstrndx)
    for i in range(shnum):
        name, offset, size = section(i)
        if data[strings + name : data.index(b"\0", strings + name)] == b".text":
            data[offset : offset + size] = bytes(size)
            path.write_bytes(data)
            return
    raise AssertionError(f"no .text section in {path}")


#: Runs in a copy of the package (cwd = its parent); prints what a compiler on BACKEND did.
IN_COPY = """
    import json, sys, warnings
    from pathlib import Path
    import numpy as np
    # an editable install's import hook would serve neurojit's submodules from the checkout
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    import neurojit
    assert Path(neurojit.__file__).resolve().parent == Path.cwd().resolve() / "neurojit", neurojit.__file__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiler = neurojit.JITCompiler(neurojit.JITConfig(backend={backend!r}, cache_directory={cache!r}))
        kernel = compiler.compile_convolution_kernel()
        out = kernel(np.ones((1, 4, 2)), np.array([1.0, 0.5]))
        loaded = sorted(m for m in sys.modules if m.startswith("neurojit._aot_"))
        info = compiler.get_jit_info()
    print(json.dumps({{
        "backend": kernel.backend, "right": bool((out[0, :, 0] == [1.0, 1.5, 1.5, 1.5]).all()),
        "loaded_before_info": loaded, "aot_status": info["aot_status"],
        "warnings": [(w.category.__name__, str(w.message)) for w in caught],
    }}))
"""


def run_in_copy(tmp_path: Path, backend: str, cache_dir: Path) -> dict:
    env = {"PYTHONPATH": str(tmp_path)}
    return last_json(run_isolated(IN_COPY.format(backend=backend, cache=str(cache_dir)), cwd=tmp_path, env=env, timeout=120))


def copy_package(tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(PACKAGE, tmp_path / "neurojit", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "neurojit"


@pytest.mark.skipif(not _aot_built(), reason="needs the AOT build")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the AOT modules are ELF files on Linux only")
@pytest.mark.parametrize("backend", ["auto", "python", "jit"])
def test_damaged_aot_binary_is_detected_before_it_is_loaded(tmp_path, cache_dir, backend):
    if backend == "jit" and not neurojit.NUMBA_AVAILABLE:
        pytest.skip("numba is not installed")
    package = copy_package(tmp_path / "install")
    modules = [m for m in package.glob("_aot_*") if m.suffix in (".so", ".pyd", ".dylib")]
    assert modules
    for module in modules:
        zero_text_section(module)
    report = run_in_copy(tmp_path / "install", backend, cache_dir)
    assert report["right"] and report["loaded_before_info"] == []
    fallbacks = [message for category, message in report["warnings"] if category == "FallbackWarning"]
    if backend == "auto":
        assert report["backend"] == ("jit" if neurojit.NUMBA_AVAILABLE else "python")
        assert len(fallbacks) == 1, report["warnings"]
        assert "SHA-256 does not match" in fallbacks[0] and "reinstall" in fallbacks[0]
    else:
        assert report["backend"] == backend and fallbacks == []
    assert "SHA-256 does not match" in report["aot_status"]


@pytest.mark.skipif(not _aot_built(), reason="needs the AOT build")
def test_manifest_records_the_digest_of_each_module():
    manifest = json.loads(Path(aot.MANIFEST).read_text())
    for variant in manifest["variants"]:
        (path,) = [p for p in PACKAGE.glob(variant["module"] + ".*") if p.suffix in (".so", ".pyd", ".dylib")]
        assert variant["sha256"] == aot._file_sha256(str(path))


def _good_manifest() -> dict:
    return {
        "format": 1, "source_digest": signatures.source_digest(), "failed": None,
        "variants": [{"name": "baseline", "module": "_aot_baseline", "cpu_features": [], "sha256": "0" * 64}],
    }


def _variant(**changes) -> dict:
    manifest = _good_manifest()
    variant = manifest["variants"][0]
    for key, value in changes.items():
        if value is None:
            del variant[key]
        else:
            variant[key] = value
    return manifest


MALFORMED = {
    "variants a string": dict(_good_manifest(), variants="baseline"),
    "manifest a list": [_good_manifest()],
    "variant without module": _variant(module=None),
    "variant without digest": _variant(sha256=None),
    "variant a string": dict(_good_manifest(), variants=["baseline"]),
    "module outside the package's naming": _variant(module="os"),
    "cpu_features a string": _variant(cpu_features="X86_V3"),
    "failed a number": dict(_good_manifest(), failed=3),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_manifest_warns_once_and_falls_back(case, monkeypatch, tmp_path, cache_dir):
    path = tmp_path / "_aot_manifest.json"
    path.write_text(json.dumps(MALFORMED[case]))
    monkeypatch.setattr(aot, "MANIFEST", str(path))
    monkeypatch.setattr(select, "aot_status", aot.load)  # uncached: sees the patched manifest
    status = aot.load()
    assert status.backend is None and status.problem and "malformed" in status.reason and "build_aot.py" in status.reason

    # forced backends other than AOT work without a word (filterwarnings = error) ...
    for backend in ["python"] + (["jit"] if neurojit.NUMBA_AVAILABLE else []):
        compiler = JITCompiler(JITConfig(backend=backend, cache_directory=str(cache_dir)))
        assert compiler.compile_convolution_kernel()(np.ones((1, 3, 1)), [1.0])[0, :, 0].tolist() == [1.0] * 3
        assert "malformed" in compiler.get_jit_info()["aot_status"]
    # ... forced AOT says why it cannot ...
    with pytest.raises(neurojit.BackendUnavailableError, match="malformed"):
        JITCompiler(JITConfig(backend="aot", cache_directory=str(cache_dir)))
    # ... and the automatic choice falls back with one warning
    with pytest.warns(FallbackWarning, match="malformed") as record:
        compilers = [JITCompiler(JITConfig(backend="auto", cache_directory=str(cache_dir))) for _ in range(2)]
    assert len([w for w in record if issubclass(w.category, FallbackWarning)]) == 1
    assert {c.compile_convolution_kernel().backend for c in compilers} == {"jit" if neurojit.NUMBA_AVAILABLE else "python"}


# -- item 6: scalars that overflow the working dtype; item 7: huge Python ints -------------


def _lif_inputs(dtype):
    spikes = np.zeros((1, 6, 3), dtype)
    spikes[0, ::2, 0] = 1
    return spikes, np.full((3, 3), 2.0, dtype)


def _reservoir_inputs(dtype):
    return np.ones((1, 4, 2), dtype), np.full((2, 3), 0.1, dtype), np.eye(3, dtype=dtype) * 0.5, np.zeros((1, 3), dtype)


@pytest.mark.parametrize(
    ("kernel", "arguments"),
    [
        ("spike_processing", dict(v_reset=-1e39)),
        ("spike_processing", dict(thresholds=1e39)),
        ("lif_network_run", dict(v_reset=1e39)),
        ("reservoir_run", dict(bias=1e39)),
        ("reservoir_update", dict(bias=-1e39)),
        ("reservoir_run", dict(leak_rate=1e-50)),  # in (0, 1] as a Python float, 0 in float32
    ],
)
def test_scalar_that_overflows_float32_is_refused_by_name(compiler, kernel, arguments):
    (name, value), = arguments.items()
    with pytest.raises(ValueError, match=rf"^{name} = .*float32"):
        _call_kernel(compiler, kernel, np.float32, **arguments)
    _call_kernel(compiler, kernel, np.float64, **arguments)  # fine in float64: the dtype of that call


def _call_kernel(compiler, kernel, dtype, **arguments):
    if kernel in ("spike_processing", "lif_network_run"):
        spikes, w = _lif_inputs(dtype)
        call = {"thresholds": 0.5, "dt": 1e-3, "v_reset": 0.0, **arguments}
        if kernel == "spike_processing":
            return compiler.compile_spike_processing_kernel()(spikes, w, call["thresholds"], call["dt"], v_reset=call["v_reset"])
        return compiler.compile_lif_network_kernel()(spikes, w, w, call["thresholds"], call["dt"], v_reset=call["v_reset"])
    inputs, w_in, w, x0 = _reservoir_inputs(dtype)
    call = {"leak_rate": 0.5, "bias": 0.1, **arguments}
    if kernel == "reservoir_run":
        return compiler.compile_reservoir_run_kernel()(inputs, w_in, w, x0, call["leak_rate"], call["bias"])
    return compiler.compile_reservoir_update_kernel()(x0, w_in, w, inputs[:, 0], call["leak_rate"], call["bias"])


def test_largest_finite_float32_scalar_is_kept(compiler):
    spikes, w = _lif_inputs(np.float32)
    out = compiler.compile_spike_processing_kernel()(spikes, w, 0.5, 1e-3, v_reset=-3e38)
    assert out.dtype == np.float32 and out[0, :, 0].tolist() == [1, 0, 0, 0, 0, 0]  # reset far below: silent after


@pytest.mark.parametrize("name", ["dt", "tau", "v_reset", "thresholds", "bias", "leak_rate"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_python_int_is_refused_by_name(compiler, name, dtype):
    kernel = "reservoir_run" if name in ("bias", "leak_rate") else "spike_processing"
    huge = 10**400
    if kernel == "spike_processing":
        spikes, w = _lif_inputs(dtype)
        call = dict(thresholds=0.5, dt=1e-3, tau=0.02, v_reset=0.0)
        call[name] = huge
        run = lambda: compiler.compile_spike_processing_kernel()(spikes, w, **call)  # noqa: E731
    else:
        inputs, w_in, w, x0 = _reservoir_inputs(dtype)
        call = dict(leak_rate=0.5, bias=0.1)
        call[name] = huge
        run = lambda: compiler.compile_reservoir_run_kernel()(inputs, w_in, w, x0, **call)  # noqa: E731
    with pytest.raises(ValueError, match=rf"^{name} must be finite, got an integer too large for a float"):
        run()


# -- items 4, 10, 12: the JIT disk cache -------------------------------------------------------

from neurojit import CacheWarning, cache  # noqa: E402

needs_numba = pytest.mark.skipif(not neurojit.NUMBA_AVAILABLE, reason="numba is not installed")
needs_posix = pytest.mark.skipif(os.name != "posix", reason="POSIX ownership and modes")
LOOP = "binary_nonzeros"  # the cheapest loop to compile


@pytest.fixture(params=["descriptors", "paths"])
def opened_by(request, monkeypatch):
    """Both ways cache.py opens folders and entries: relative to a folder descriptor (POSIX),
    or by path (where descriptors of folders are not available, e.g. Windows)."""
    if request.param == "descriptors" and not cache._DIR_FD:
        pytest.skip("folder descriptors are not available here")
    if request.param == "paths":
        monkeypatch.setattr(cache, "_DIR_FD", False)
    return request.param


def jit_backend(folder) -> "jit.JITBackend":
    from neurojit.backends import jit

    return jit.JITBackend(fastmath=False, parallel=False, cache_directory=str(folder))


def cache_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, CacheWarning)]


def filled_cache(folder: Path) -> Path:
    """A cache folder holding one good entry of LOOP; returns the entry's path."""
    backend = jit_backend(folder)
    backend.loop(LOOP, "float64")
    path, _ = backend.entry_path(LOOP, "float64")
    assert path.is_file()
    return path


def load_again(folder: Path, match: str) -> tuple["jit.JITBackend", list[str]]:
    """A fresh backend on ``folder``: its loop works, with exactly one CacheWarning matching ``match``."""
    backend = jit_backend(folder)
    with pytest.warns(CacheWarning, match=match) as record:
        assert binary_scan(backend.loop(LOOP, "float64")) == -1
        assert binary_scan(backend.loop(LOOP, "float32"), NON_BINARY.astype(np.float32)) == -1  # same folder: no second word
    assert len(cache_warnings(record)) == 1, cache_warnings(record)
    return backend, cache_warnings(record)


@needs_numba
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_in_place_of_an_entry_is_left_alone(tmp_path):
    """Item 4: open() of a FIFO blocks; the entry is checked to be a regular file first."""
    code = f"""
        import json, os, stat, warnings
        import numpy as np
        from neurojit.backends import jit
        backend = jit.JITBackend(fastmath=False, parallel=False, cache_directory={str(tmp_path / "cache")!r})
        path, _ = backend.entry_path({LOOP!r}, "float64")
        path.parent.mkdir(parents=True, mode=0o700)
        os.mkfifo(path, 0o600)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = int(backend.loop({LOOP!r}, "float64")(np.array([[0.0, 2.0]]), 2, np.empty((1, 2), np.int64),
                                                                np.empty(3, np.int64)))
        print(json.dumps({{"result": result, "still_a_fifo": stat.S_ISFIFO(os.lstat(path).st_mode),
                          "warnings": [str(w.message) for w in caught]}}))
    """
    report = last_json(run_isolated(code, timeout=60))
    assert report["result"] == -1 and report["still_a_fifo"]
    assert len(report["warnings"]) == 1 and "FIFO" in report["warnings"][0], report["warnings"]


@needs_numba
def test_folder_in_place_of_an_entry_is_one_warning(tmp_path, opened_by):
    """Item 12: an entry path that is a folder was a read warning and then a write warning."""
    backend = jit_backend(tmp_path)
    path, _ = backend.entry_path(LOOP, "float64")
    (path / "inside").mkdir(parents=True)
    with pytest.warns(CacheWarning, match="is a folder") as record:
        assert binary_scan(backend.loop(LOOP, "float64")) == -1
    assert len(cache_warnings(record)) == 1, cache_warnings(record)
    assert (path / "inside").is_dir()


@needs_numba
def test_too_long_path_component_is_one_warning(tmp_path, opened_by):
    """Item 12: a component longer than the file system allows failed both the read and the write."""
    backend = jit_backend(tmp_path / ("x" * 300))
    with pytest.warns(CacheWarning) as record:
        assert binary_scan(backend.loop(LOOP, "float64")) == -1
    assert len(cache_warnings(record)) == 1, cache_warnings(record)


@needs_numba
@needs_posix
@pytest.mark.parametrize("where", ["entry", "version folder", "cache folder"])
@pytest.mark.parametrize("mode", [0o020, 0o002])
def test_cache_writable_by_others_is_neither_loaded_nor_written(tmp_path, opened_by, where, mode):
    """Item 10: an entry someone else could have written is never unpickled."""
    folder = tmp_path / "cache"
    entry = filled_cache(folder)
    target = {"entry": entry, "version folder": entry.parent, "cache folder": folder}[where]
    target.chmod(target.stat().st_mode | mode)
    content = entry.read_bytes()
    backend, messages = load_again(folder, "writable by " + ("others" if mode == 0o002 else "its group"))
    assert str(target) in messages[0] and "chmod go-w" in messages[0]
    assert backend.stats["cache_hits"] == 0 and backend.stats["compiles"] == 2
    assert entry.read_bytes() == content  # never replaced
    if where != "entry":  # nothing is written into an untrusted folder
        assert [p.name for p in entry.parent.iterdir()] == [entry.name]
    assert backend.cache_problems.keys() == {"untrusted"}


@needs_numba
@needs_posix
@pytest.mark.parametrize("where", ["entry", "version folder"])
def test_cache_owned_by_another_user_is_not_loaded(tmp_path, opened_by, monkeypatch, where):
    folder = tmp_path / "cache"
    entry = filled_cache(folder)
    target = entry if where == "entry" else entry.parent
    if os.geteuid() == 0:
        os.chown(target, 65534, 65534)  # nobody
    else:
        monkeypatch.setattr(cache, "_uid", lambda: os.geteuid() + 12345)  # everything is someone else's
    backend, messages = load_again(folder, "belongs to another user")
    assert backend.stats["cache_hits"] == 0
    if os.geteuid() == 0:
        assert str(target) in messages[0]
        cache.clear_disk_cache(folder)
        assert target.exists(), "another user's file or folder was deleted"


@needs_numba
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinked_version_folder_is_never_written_through(tmp_path, opened_by):
    """Item 10: entries written through a linked version folder escaped eviction and clear_cache."""
    folder, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    path, _ = jit_backend(folder).entry_path(LOOP, "float64")
    os.symlink(elsewhere, path.parent)
    backend, messages = load_again(folder, "symbolic link")
    assert list(elsewhere.iterdir()) == [] and backend.stats["compiles"] == 2
    compiler = JITCompiler(JITConfig(backend="jit", cache_directory=str(folder), enable_parallel_loops=False))
    compiler.clear_cache()
    assert path.parent.is_symlink() and elsewhere.is_dir()


@needs_numba
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinked_entry_is_not_followed(tmp_path, opened_by):
    folder = tmp_path / "cache"
    entry = filled_cache(folder)
    real = tmp_path / "elsewhere.njc"
    entry.rename(real)
    os.symlink(real, entry)
    backend, _ = load_again(folder, "symbolic link")
    assert backend.stats["cache_hits"] == 0 and entry.is_symlink() and real.is_file()


@needs_numba
@needs_posix
def test_cache_folders_and_files_are_private_to_the_user(tmp_path, opened_by):
    entry = filled_cache(tmp_path / "new" / "cache")
    assert entry.stat().st_mode & 0o777 == 0o600
    assert entry.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "new" / "cache").stat().st_mode & 0o777 == 0o700
    backend = jit_backend(tmp_path / "new" / "cache")
    backend.loop(LOOP, "float64")
    assert backend.stats == {"cache_hits": 1}  # and neurojit trusts what it wrote itself


@needs_numba
@needs_posix
@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="making another user's files needs root")
def test_another_users_files_are_never_evicted_or_cleared(tmp_path):
    folder = tmp_path / "cache"
    entry = filled_cache(folder)
    os.chown(entry, 65534, 65534)
    assert cache.neurojit_files(folder) == [] and cache.clear_disk_cache(folder) == 0 and entry.exists()
    assert cache.evict(folder, 1) == [] and entry.exists()


@needs_numba
def test_warmup_workers_do_not_import_from_the_current_folder(tmp_path):
    """Item 10: ``python -c`` put the current folder first on the workers' sys.path."""
    cwd, marker = tmp_path / "cwd", tmp_path / "imported-from-cwd"
    (cwd / "neurojit").mkdir(parents=True)
    (cwd / "neurojit" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "script").mkdir()
    script = tmp_path / "script" / "warm.py"
    script.write_text(textwrap.dedent(f"""
        import json
        from pathlib import Path
        import neurojit
        from neurojit.backends import jit
        assert Path(neurojit.__file__).resolve().parent == Path({str(PACKAGE)!r})
        backend = jit.JITBackend(fastmath=False, parallel=False, cache_directory={str(tmp_path / "cache")!r})
        variants = [(loop, dtype) for loop in ("causal_convolution", "binary_nonzeros") for dtype in ("float32", "float64")]
        print(json.dumps(backend.warmup(variants, concurrent=True, workers=1)))
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROJIT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    report = last_json(result)
    assert not marker.exists(), "a warm-up worker imported ./neurojit from the current folder"
    assert report["processes"] == 1 and report["compiled_in_workers"], report


# -- item 9: the models refuse bad data by name ------------------------------------------------

from neurojit.models import EchoStateNetwork, LiquidStateMachine  # noqa: E402
from neurojit.models.readout import RidgeReadout  # noqa: E402

NAN, INF = float("nan"), float("inf")
T = 40
GOOD_U, GOOD_Y = np.linspace(0, 1, T * 2).reshape(T, 2), np.linspace(0, 1, T)


def _with(array, index, value, dtype=None):
    array = np.array(array, dtype=dtype)
    array[index] = value
    return array


ESN_BAD = {
    # constructor
    "n_units 2.5": (dict(n_units=2.5), TypeError, "n_units must be an integer"),
    "n_units '20'": (dict(n_units="20"), TypeError, "n_units must be an integer"),
    "n_inputs True": (dict(n_inputs=True), TypeError, "n_inputs must be an integer"),
    "spectral_radius nan": (dict(spectral_radius=NAN), ValueError, "spectral_radius must be finite"),
    "spectral_radius inf": (dict(spectral_radius=INF), ValueError, "spectral_radius must be finite"),
    "spectral_radius '0.9'": (dict(spectral_radius="0.9"), TypeError, "spectral_radius must be a real number"),
    "input_scaling nan": (dict(input_scaling=NAN), ValueError, "input_scaling must hold finite numbers"),
    "input_scaling [1, nan]": (dict(input_scaling=[1.0, NAN]), ValueError, "input_scaling must hold finite"),
    "input_scaling '1'": (dict(input_scaling="1"), TypeError, "input_scaling must hold real numbers"),
    "input_scaling wrong length": (dict(input_scaling=[1.0, 2.0, 3.0]), ValueError, r"input_scaling must be a scalar or of shape \(2,\)"),
    "input_offset '0.5'": (dict(input_offset="0.5"), TypeError, "input_offset must hold real numbers"),
    "leak_rate '0.5'": (dict(leak_rate="0.5"), TypeError, "leak_rate must be a real number"),
    "leak_rate nan": (dict(leak_rate=NAN), ValueError, "leak_rate must be finite"),
    "bias_scaling inf": (dict(bias_scaling=INF), ValueError, "bias_scaling must be finite"),
    "connectivity nan": (dict(connectivity=NAN), ValueError, "connectivity must be finite"),
    "input_connectivity 0": (dict(input_connectivity=0), ValueError, r"input_connectivity must be in \(0, 1\]"),
    "ridge '1e-6'": (dict(ridge="1e-6"), TypeError, "ridge must be a real number"),
    "ridge nan": (dict(ridge=NAN), ValueError, "ridge must be finite"),
    "warmup nan": (dict(warmup=NAN), TypeError, "warmup must be an integer"),
    "warmup '10'": (dict(warmup="10"), TypeError, "warmup must be an integer"),
    "include_input 'no'": (dict(include_input="no"), TypeError, "include_input must be True or False"),
    # fit / predict
    "fit targets nan": (dict(fit=(GOOD_U, _with(GOOD_Y, 5, NAN))), ValueError, "targets must hold finite numbers"),
    "fit inputs nan": (dict(fit=(_with(GOOD_U, (3, 1), NAN), GOOD_Y)), ValueError, "inputs must hold finite numbers"),
    "fit inputs inf": (dict(fit=(_with(GOOD_U, (3, 1), INF), GOOD_Y)), ValueError, "inputs must hold finite numbers"),
    "fit inputs complex": (dict(fit=(GOOD_U + 1j, GOOD_Y)), TypeError, "inputs must hold real numbers"),
    "fit inputs strings": (dict(fit=(GOOD_U.astype(str), GOOD_Y)), TypeError, "inputs must hold real numbers"),
    "fit targets strings": (dict(fit=(GOOD_U, GOOD_Y.astype(str))), TypeError, "targets must hold real numbers"),
    "fit warmup nan": (dict(fit=(GOOD_U, GOOD_Y), fit_warmup=NAN), TypeError, "warmup must be an integer"),
    "fit warmup 2.5": (dict(fit=(GOOD_U, GOOD_Y), fit_warmup=2.5), TypeError, "warmup must be an integer"),
    "predict inputs nan": (dict(predict=_with(GOOD_U, 0, NAN)), ValueError, "inputs must hold finite numbers"),
    "run inputs object": (dict(run=np.array([[1.0, None]] * 3, dtype=object)), TypeError, "inputs must hold real numbers"),
}


@pytest.mark.parametrize("case", list(ESN_BAD))
def test_echo_state_network_refuses_bad_data_by_name(case, compilers):
    options, error, match = ESN_BAD[case]
    options = dict(options)
    calls = {key: options.pop(key) for key in ("fit", "fit_warmup", "predict", "run") if key in options}
    arguments = dict(n_units=10, n_inputs=2, warmup=5, ridge=1e-6, compiler=compilers["python"])
    arguments.update(options)
    with pytest.raises(error, match=match):
        esn = EchoStateNetwork(**arguments)
        if "fit" in calls:
            esn.fit(*calls["fit"], **({"warmup": calls["fit_warmup"]} if "fit_warmup" in calls else {}))
        if "predict" in calls:
            esn.fit(GOOD_U, GOOD_Y).predict(calls["predict"])
        if "run" in calls:
            esn.run(calls["run"])


def test_echo_state_network_still_takes_numpy_numbers_and_arrays(compilers):
    esn = EchoStateNetwork(np.int64(10), np.int32(2), spectral_radius=np.float32(0.9), input_scaling=np.array([1, 0.5]),
                           input_offset=[0, 1], warmup=np.int16(5), compiler=compilers["python"])
    assert esn.n_units == 10 and esn.fit(GOOD_U.astype(np.float32), GOOD_Y.tolist()).predict(GOOD_U).shape == (T, 1)


SPIKES = (np.arange(3 * 20 * 4).reshape(3, 20, 4) % 7 == 0).astype(np.float64)

LSM_BAD = {
    "n_inputs 4.5": (dict(n_inputs=4.5), TypeError, "n_inputs must be an integer"),
    "n_neurons '8'": (dict(n_neurons="8"), TypeError, "n_neurons must be an integer"),
    "dt '1e-3'": (dict(dt="1e-3"), TypeError, "dt must be a real number"),
    "dt nan": (dict(dt=NAN), ValueError, "dt must be finite"),
    "threshold nan": (dict(threshold=NAN), ValueError, "threshold must be finite"),
    "v_reset inf": (dict(v_reset=-INF), ValueError, "v_reset must be finite"),
    "noise_rate nan": (dict(noise_rate=NAN), ValueError, "noise_rate must be finite"),
    "excitatory_fraction nan": (dict(excitatory_fraction=NAN), ValueError, "excitatory_fraction must be finite"),
    "input_weight nan": (dict(input_weight=NAN), ValueError, "input_weight must be finite"),
    "ridge '1000'": (dict(ridge="1000"), TypeError, "ridge must be a real number"),
    "fit empty batch": (dict(fit=(np.zeros((0, 20, 4)), [])), ValueError, r"input_spikes must hold at least one sequence"),
    "transform empty batch": (dict(transform=np.zeros((0, 20, 4))), ValueError, r"input_spikes must hold at least one sequence"),
    "run complex": (dict(run=SPIKES + 0j), TypeError, "input_spikes must hold real numbers"),
    "run strings": (dict(run=SPIKES.astype(str)), TypeError, "input_spikes must hold real numbers"),
    "run nan": (dict(run=_with(SPIKES, (0, 0, 0), NAN)), ValueError, "input_spikes must hold finite numbers"),
    "step dt string": (dict(step_dt="1e-3"), TypeError, "dt must be a real number"),
    "step inputs strings": (dict(step_inputs=np.array([["1", "0", "0", "1"]])), TypeError, "input_spikes must hold real"),
}


@pytest.mark.parametrize("case", list(LSM_BAD))
def test_liquid_state_machine_refuses_bad_data_by_name(case, compilers):
    options, error, match = LSM_BAD[case]
    options = dict(options)
    calls = {key: options.pop(key) for key in ("fit", "transform", "run", "step_dt", "step_inputs") if key in options}
    arguments = dict(n_inputs=4, n_neurons=8, n_bins=2, compiler=compilers["python"])
    arguments.update(options)
    with pytest.raises(error, match=match):
        lsm = LiquidStateMachine(**arguments)
        if "fit" in calls:
            lsm.fit(*calls["fit"])
        if "transform" in calls:
            lsm.transform(calls["transform"])
        if "run" in calls:
            lsm.run(calls["run"])
        if "step_dt" in calls:
            lsm.step(lsm.init_state(1), np.zeros(4), calls["step_dt"], 0.0)
        if "step_inputs" in calls:
            lsm.step(lsm.init_state(1), calls["step_inputs"], 1e-3, 0.0)


def test_liquid_state_machine_still_takes_bool_and_int_spikes(compilers):
    lsm = LiquidStateMachine(np.int64(4), 8, n_bins=2, compiler=compilers["python"])
    assert lsm.fit(SPIKES.astype(bool), [0, 1, 0]).predict(SPIKES.astype(np.int8)).shape == (3,)


@pytest.mark.parametrize(("ridge", "error"), [("1e-6", TypeError), (NAN, ValueError), (True, TypeError)])
def test_ridge_readout_refuses_bad_ridge_by_name(ridge, error):
    with pytest.raises(error, match="ridge"):
        RidgeReadout(ridge)
