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
from .operations import KERNELS

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
    return _compiler(config).kernel(kernel)(*arrays_and_scalars)


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
    meta = compiler.kernel(kernel)(*probe)
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


class DaskKernel:
    """A kernel over Dask arrays chunked along its split axis (``B``; rows ``M`` for
    ``matrix_multiply``), derived from the kernel's declaration: the arguments with that
    axis first are split, every other array is one shared graph key.

    Call it with the kernel's arguments and an optional keyword-only ``config``
    (:class:`~neurojit.JITConfig` of the workers' compilers; :func:`default_config`).
    Returns a dask array chunked like the split input.
    """

    def __init__(self, kernel: str):
        self.spec = KERNELS[kernel]
        self.__name__ = self.__qualname__ = kernel
        self.__doc__ = f":func:`neurojit.operations.{kernel}` chunked along {self.spec.split}.\n\n{self.spec.doc}"

    @property
    def __signature__(self):
        import inspect

        signature = self.spec.signature()
        config = inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None)
        return signature.replace(parameters=[*signature.parameters.values(), config])

    def __call__(self, *args: Any, config: JITConfig | None = None, **kwargs: Any) -> "da.Array":
        spec = self.spec
        arguments = list(self.__signature__.bind(*args, **kwargs, config=config).arguments.items())
        values = {name: value for name, value in arguments if name != "config"}
        for p in spec.parameters:
            values.setdefault(p.name, p.default)
        batched, rows = [], None
        for p in spec.parameters:
            if p.is_array and p.dims and p.dims[0] == spec.split:
                array = _batched(p.name, values[p.name], len(p.dims))
                if rows is not None and array.shape[0] != rows[1]:
                    raise ValueError(f"{p.name} must be ({', '.join(p.dims)}) with {spec.split} = {rows[1]} "
                                     f"(from {rows[0]}), got {array.shape}")
                rows = rows or (p.name, array.shape[0])
                values[p.name] = array
                batched.append(array)
        return _map_batches(spec.name, config, batched, [values[p.name] for p in spec.parameters])


spike_processing = DaskKernel("spike_processing")
lif_network_run = DaskKernel("lif_network_run")
reservoir_update = DaskKernel("reservoir_update")
reservoir_run = DaskKernel("reservoir_run")
convolution = DaskKernel("convolution")
matrix_multiply = DaskKernel("matrix_multiply")


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
