"""Scale-out on Dask: the same kernels over arrays chunked along the batch axis, and trials
or parameter sweeps over a ``distributed.Client``.

Requires the ``dask`` extra (``pip install 'neurojit-kernels[dask]'``). Every worker runs the
kernels through its own :class:`~neurojit.JITCompiler` with the configuration you pass
(default :func:`default_config`: serial kernels, since Dask parallelises over chunks), so a worker with the AOT build starts computing at once,
without compiling anything.

Only the batch axis may be split: each batch row is a recursion over time that couples
all neurons, so chunks along time, neurons or inputs are refused with an error that
says how to rechunk. Weights, thresholds and kernels are single graph keys shared by
all tasks, so the distributed scheduler sends them to each worker once, not per chunk.

>>> import dask.array as da, numpy as np
>>> from neurojit import dask as njd
>>> spikes = da.from_array(np.zeros((8, 100, 20), np.float32), chunks=(2, 100, 20))
>>> out = njd.spike_processing(spikes, np.eye(20, dtype=np.float32), 0.5, 1e-3)
>>> out.chunks[0], out.dtype
((2, 2, 2, 2), dtype('float32'))
"""

from __future__ import annotations

import string
import threading
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ._version import DISTRIBUTION

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"neurojit.dask needs Dask: pip install '{DISTRIBUTION}[dask]'") from exc

from .compiler import JITCompiler
from .config import JITConfig

__all__ = [
    "spike_processing",
    "lif_network_run",
    "reservoir_update",
    "reservoir_run",
    "convolution",
    "matrix_multiply",
    "map_trials",
    "default_config",
]

_compilers: dict[str, JITCompiler] = {}
_compilers_lock = threading.Lock()


def _compiler(config: JITConfig | None) -> JITCompiler:
    """One compiler per configuration and process (so per worker), created on first use."""
    config = config if config is not None else default_config()
    key = repr(config)
    compiler = _compilers.get(key)
    if compiler is None:
        with _compilers_lock:
            compiler = _compilers.setdefault(key, JITCompiler(config))
    return compiler


def default_config() -> JITConfig:
    """``JITConfig(enable_parallel_loops=False)``: Dask already runs one task per worker thread,
    so kernels that also spread over all cores would oversubscribe them."""
    return JITConfig(enable_parallel_loops=False)


def _run_chunk(kernel: str, config: JITConfig | None, n_batched: int, *arrays_and_scalars: Any) -> np.ndarray:
    return _compiler(config)._kernel(kernel)(*arrays_and_scalars)


def _batched(name: str, value: Any, ndim: int) -> "da.Array":
    """``value`` as a dask array of rank ``ndim``, chunked along axis 0 only."""
    array = value if isinstance(value, da.Array) else da.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D with the batch on axis 0, got {array.ndim}-D of shape {array.shape}")
    for axis in range(1, ndim):
        if len(array.chunks[axis]) > 1:
            raise ValueError(
                f"{name} is chunked along axis {axis} (chunks {array.chunks[axis]}); neurojit.dask splits work "
                "along the batch axis only, because every batch row is a recursion over time that couples all "
                f"neurons. Rechunk with {name}.rechunk({{{', '.join(f'{a}: -1' for a in range(1, ndim))}}})"
            )
    return array


def _whole(value: Any) -> Any:
    """A broadcast argument: a dask array becomes one chunk; NumPy data stays as it is."""
    if isinstance(value, da.Array):
        return value.rechunk(value.shape)
    return value


def _empty_batch(array: "da.Array") -> np.ndarray:
    return np.empty((0,) + array.shape[1:], dtype=array.dtype)


def _map_batches(kernel: str, config: JITConfig | None, batched: list, arguments: list) -> "da.Array":
    """Run ``kernel`` per batch chunk. ``arguments`` follow the kernel's signature, with the
    batched positions holding the dask arrays of ``batched`` (identified by identity)."""
    compiler = _compiler(config)
    # Validation on an empty batch: the same checks and messages as a local call, and the
    # exact output shape and dtype (the meta) without computing anything.
    probe = [_empty_batch(a) if any(a is b for b in batched) else a for a in arguments]
    meta = compiler._kernel(kernel)(*probe)
    letters = iter(string.ascii_letters.replace("b", ""))
    out_index = "b" + "".join(next(letters) for _ in meta.shape[1:])
    pairs: list[Any] = []
    for argument in arguments:
        if any(argument is b for b in batched):
            pairs += [argument, "b" + "".join(next(letters) for _ in argument.shape[1:])]
        elif isinstance(argument, (np.ndarray, da.Array)) and argument.ndim > 0:
            whole = _whole(argument)
            pairs += [whole, "".join(next(letters) for _ in whole.shape)]
        else:
            pairs += [argument, None]
    return da.blockwise(
        _run_chunk, out_index, kernel, None, config, None, len(batched), None, *pairs,
        new_axes=dict(zip(out_index[1:], meta.shape[1:])),
        concatenate=True,
        dtype=meta.dtype,
        meta=meta,
    )


def spike_processing(spike_trains, weights, thresholds, dt, tau=0.02, v_reset=0.0, *, config: JITConfig | None = None):
    """:func:`neurojit.operations.spike_processing` over ``spike_trains[B, T, N]`` chunked along B.

    Returns a dask array of output spikes, shape (B, T, N), chunked like the input batch.
    """
    x = _batched("spike_trains", spike_trains, 3)
    return _map_batches("spike_processing", config, [x], [x, weights, thresholds, dt, tau, v_reset])


def lif_network_run(
    input_spikes, input_weights, recurrent_weights, thresholds, dt, tau=0.02, v_reset=0.0, *, config: JITConfig | None = None
):
    """:func:`neurojit.operations.lif_network_run` over ``input_spikes[B, T, I]`` chunked along B."""
    x = _batched("input_spikes", input_spikes, 3)
    return _map_batches(
        "lif_network_run", config, [x], [x, input_weights, recurrent_weights, thresholds, dt, tau, v_reset]
    )


def reservoir_update(
    states, input_weights, reservoir_weights, input_spikes, leak_rate=1.0, bias=None, *, config: JITConfig | None = None
):
    """:func:`neurojit.operations.reservoir_update` over ``states[B, N]`` and ``input_spikes[B, I]`` chunked along B."""
    s = _batched("states", states, 2)
    u = _batched("input_spikes", input_spikes, 2)
    if s.shape[0] != u.shape[0]:
        raise ValueError(f"input_spikes must be (B, I) with B = {s.shape[0]}, got {u.shape}")
    return _map_batches(
        "reservoir_update", config, [s, u], [s, input_weights, reservoir_weights, u, leak_rate, bias]
    )


def reservoir_run(
    inputs, input_weights, reservoir_weights, initial_states, leak_rate=1.0, bias=None, *, config: JITConfig | None = None
):
    """:func:`neurojit.operations.reservoir_run` over ``inputs[B, T, I]`` and ``initial_states[B, N]`` chunked along B."""
    x = _batched("inputs", inputs, 3)
    s = _batched("initial_states", initial_states, 2)
    if s.shape[0] != x.shape[0]:
        raise ValueError(f"initial_states must be (B, N) with B = {x.shape[0]}, got {s.shape}")
    return _map_batches(
        "reservoir_run", config, [x, s], [x, input_weights, reservoir_weights, s, leak_rate, bias]
    )


def convolution(spike_trains, kernel, *, config: JITConfig | None = None):
    """:func:`neurojit.operations.convolution` over ``spike_trains[B, T, N]`` chunked along B."""
    x = _batched("spike_trains", spike_trains, 3)
    return _map_batches("convolution", config, [x], [x, kernel])


def matrix_multiply(a, b, *, config: JITConfig | None = None):
    """:func:`neurojit.operations.matrix_multiply` with ``a[M, K]`` chunked along its rows."""
    rows = _batched("a", a, 2)
    return _map_batches("matrix_multiply", config, [rows], [rows, b])


def map_trials(
    client,
    function: Callable[..., Any],
    trials: Iterable[Mapping[str, Any]],
    *,
    shared: Mapping[str, Any] | None = None,
    retries: int = 2,
) -> list:
    """Run ``function(**trial, **shared)`` for every trial on a ``distributed.Client``.

    Parameters
    ----------
    client : distributed.Client
    function : callable
        A module-level function (it is pickled to the workers), e.g. one that builds an
        :class:`~neurojit.models.EchoStateNetwork` with the trial's hyperparameters,
        trains it and returns its score.
    trials : iterable of mapping
        Keyword arguments of each trial.
    shared : mapping, optional
        Keyword arguments common to all trials (data sets, weights): scattered to every
        worker once instead of being sent with each task.
    retries : int
        How often a task is retried after an exception in it (a worker that dies is
        replaced by the scheduler regardless).

    Returns
    -------
    list of distributed.Future
        One per trial, in order; ``client.gather(futures)`` collects the results.
    """
    trials = [dict(t) for t in trials]
    shared = dict(shared or {})
    scattered = {}
    if shared:
        names = list(shared)
        futures = client.scatter([shared[n] for n in names], broadcast=True, hash=False)
        scattered = dict(zip(names, futures))
    return [
        client.submit(_call_trial, function, trial, pure=False, retries=retries, **scattered)
        for trial in trials
    ]


def _call_trial(function: Callable[..., Any], trial: Mapping[str, Any], **shared: Any) -> Any:
    return function(**trial, **shared)
