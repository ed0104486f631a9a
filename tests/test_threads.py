"""The thread-pool adapter: split batches give exactly the single-call result."""

import numpy as np
import pytest

from neurojit import JITCompiler, JITConfig
from neurojit.backends import python, threads
from neurojit.backends.select import aot_status
from neurojit.backends.threads import ThreadedBackend
from neurojit.kernel import kernel_on
from neurojit.kernels import signatures


class CountingBackend:
    """A backend recording the batch sizes its loops were called with."""

    name = "counting"
    native = True  # the compiled backends' paths (compressed reservoir, event-driven matmul)

    def __init__(self):
        self.calls = []

    def loop(self, name, dtype):
        inner = python.loop(name, dtype)

        def record(*args):
            self.calls.append((name, args[0].shape[0]))
            return inner(*args)

        return record


def _arguments(rng, batch):
    spikes = (rng.random((batch, 30, 12)) < 0.2).astype(np.float64)
    weights = rng.standard_normal((12, 12)) * 0.5
    return {
        "spike_processing": (spikes, weights, 0.4, 1e-3),
        "lif_network_run": (spikes, weights, weights * 0.3, 0.4, 1e-3),
        "reservoir_run": (spikes, weights, weights * 0.1, rng.standard_normal((batch, 12)), 0.5, 0.1),
        "reservoir_update": (spikes[:, 0], weights, weights * 0.1, spikes[:, 1], 0.5),
        "convolution": (spikes, np.array([1.0, 0.5, 0.25])),
        "matrix_multiply": (np.eye(batch, 60)[:, rng.permutation(60)], rng.standard_normal((60, 12))),  # 0/1, < 2 %
    }


@pytest.mark.parametrize("batch", [1, 2, 5, 7])
@pytest.mark.parametrize("kernel", list(_arguments(np.random.default_rng(0), 2)))
def test_split_batches_equal_one_call(monkeypatch, kernel, batch):
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    args = _arguments(np.random.default_rng(batch), batch)[kernel]
    counting = CountingBackend()
    expected = kernel_on(python, kernel)(*args)
    result = kernel_on(ThreadedBackend(counting, threads=3), kernel)(*args)
    if kernel.startswith("reservoir"):
        # the NumPy reservoir loop uses BLAS on the whole batch: last bits depend on batch size
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_array_equal(result, expected)
    split_calls = [size for name, size in counting.calls if signatures.LOOPS[name].batch_positions]
    assert sum(split_calls) == batch
    assert len(split_calls) == min(3, batch)


def test_small_work_is_not_split():
    counting = CountingBackend()
    args = _arguments(np.random.default_rng(1), 4)["spike_processing"]
    kernel_on(ThreadedBackend(counting, threads=4), "spike_processing")(*args)
    assert counting.calls == [("lif_run", 4)]


def test_errors_in_a_slice_reach_the_caller(monkeypatch):
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)

    class Failing:
        name = "failing"
        native = True

        def loop(self, name, dtype):
            def fail(*args):
                if args[0].shape[0] and args[-1] is not None:
                    raise FloatingPointError("slice failed")

            return fail

    spikes = np.ones((4, 3, 2))
    with pytest.raises(FloatingPointError, match="slice failed"):
        kernel_on(ThreadedBackend(Failing(), threads=2), "convolution")(spikes, np.ones(2))


@pytest.mark.skipif(aot_status().backend is None, reason="AOT kernels are not built")
def test_aot_backend_is_threaded_only_with_parallel_loops():
    threaded = JITCompiler(JITConfig(backend="aot", enable_parallel_loops=True))
    serial = JITCompiler(JITConfig(backend="aot", enable_parallel_loops=False))
    assert isinstance(threaded._resolver.backend, ThreadedBackend)
    assert not isinstance(serial._resolver.backend, ThreadedBackend)
    rng = np.random.default_rng(3)
    spikes = (rng.random((6, 200, 64)) < 0.1).astype(np.float32)
    weights = (rng.standard_normal((64, 64)) * 0.3).astype(np.float32)
    np.testing.assert_array_equal(
        threaded.compile_spike_processing_kernel()(spikes, weights, 0.5, 1e-3),
        serial.compile_spike_processing_kernel()(spikes, weights, 0.5, 1e-3),
    )
