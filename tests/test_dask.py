"""neurojit.dask on a real multi-process cluster: same results as local calls, clear errors,
and no wrong or lost results when a worker is killed mid-computation."""

import os
import signal
import sys
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from neurojit import JITCompiler, JITConfig  # noqa: E402
from neurojit import dask as njd  # noqa: E402

# The trial functions below live in this test module, which workers cannot import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return JITConfig(cache_directory=str(tmp_path_factory.mktemp("dask-cache")))


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def local(config):
    return JITCompiler(config)


def _spikes(rng, shape, density=0.1, dtype=np.float32):
    return (rng.random(shape) < density).astype(dtype)


def _cases(rng):
    B, T, N, I = 7, 40, 16, 5
    spikes = _spikes(rng, (B, T, N))
    inputs = _spikes(rng, (B, T, I))
    w = (rng.standard_normal((N, N)) * 0.4).astype(np.float32)
    w_in = (rng.standard_normal((I, N)) * 0.8).astype(np.float32)
    states = rng.standard_normal((B, N)).astype(np.float32)
    return {
        "spike_processing": ((spikes, w, np.full(N, 0.5, np.float32), 1e-3), (0,)),
        "lif_network_run": ((inputs, w_in, w, 0.5, 1e-3), (0,)),
        "reservoir_update": ((states, w_in, w * 0.2, inputs[:, 0], 0.7, 0.1), (0, 3)),
        "reservoir_run": ((inputs, w_in, w * 0.2, states, 0.7, 0.1), (0, 3)),
        "convolution": ((spikes, np.exp(-np.arange(6) / 2.0).astype(np.float32)), (0,)),
        "matrix_multiply": ((spikes[:, 0], w), (0,)),
    }


@pytest.mark.parametrize("name", list(_cases(np.random.default_rng(0))))
def test_every_kernel_matches_the_local_call(client, config, local, name):
    args, batched = _cases(np.random.default_rng(1))[name]
    expected = local.kernel(name)(*args)
    dask_args = [
        da.from_array(a, chunks=(2,) + a.shape[1:]) if i in batched else a for i, a in enumerate(args)
    ]
    result = getattr(njd, name)(*dask_args, config=config)
    assert result.dtype == expected.dtype
    assert result.shape == expected.shape
    assert result.chunks[0] == (2, 2, 2, 1)
    # meta: what dask (and libraries reading it) take the blocks to be, without computing them
    assert type(result._meta) is np.ndarray
    assert result._meta.dtype == expected.dtype and result._meta.ndim == expected.ndim
    computed = result.compute()
    assert computed.dtype == expected.dtype
    np.testing.assert_array_equal(computed, expected)


def test_weights_are_one_graph_key_shared_by_all_chunks(config):
    rng = np.random.default_rng(2)
    spikes = da.from_array(_spikes(rng, (12, 10, 8)), chunks=(1, 10, 8))
    weights = rng.standard_normal((8, 8)).astype(np.float32)
    graph = dict(njd.spike_processing(spikes, weights, 0.5, 1e-3, config=config).__dask_graph__())
    weight_keys = [k for k, v in graph.items() if isinstance(v, np.ndarray) and v.shape == (8, 8)]
    assert len(weight_keys) == 1
    chunk_tasks = [task for key, task in graph.items() if key[0].startswith("run_chunk")]
    assert len(chunk_tasks) == 12
    assert all(_depends_on(task, weight_keys[0]) for task in chunk_tasks)


def _depends_on(task, key) -> bool:
    """Whether a graph task reads ``key``: a ``Task`` object (dask >= 2024.12) or a tuple (older dask)."""
    if hasattr(task, "dependencies"):
        return key in task.dependencies
    if isinstance(task, (tuple, list)):
        return any(item == key or _depends_on(item, key) for item in task if isinstance(item, (tuple, list, str)))
    return False


def test_chunking_along_time_or_neurons_is_refused_clearly():
    rng = np.random.default_rng(3)
    spikes = _spikes(rng, (4, 20, 6))
    weights = np.eye(6, dtype=np.float32)
    with pytest.raises(ValueError, match=r"spike_trains is chunked along axis 1.*rechunk"):
        njd.spike_processing(da.from_array(spikes, chunks=(2, 10, 6)), weights, 0.5, 1e-3)
    with pytest.raises(ValueError, match=r"spike_trains is chunked along axis 2"):
        njd.spike_processing(da.from_array(spikes, chunks=(2, 20, 3)), weights, 0.5, 1e-3)
    with pytest.raises(ValueError, match=r"a is chunked along axis 1"):
        njd.matrix_multiply(da.from_array(spikes[:, 0], chunks=(2, 3)), weights)


def test_bad_input_gets_the_local_error_before_any_computation():
    spikes = da.zeros((4, 20, 6), chunks=(2, 20, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"weights must be \(N, N\) = \(6, 6\), got \(5, 5\)"):
        njd.spike_processing(spikes, np.eye(5), 0.5, 1e-3)
    with pytest.raises(ValueError, match="dt must be positive"):
        njd.spike_processing(spikes, np.eye(6), 0.5, -1e-3)
    with pytest.raises(ValueError, match=r"spike_trains must be 3-D"):
        njd.spike_processing(spikes[0], np.eye(6), 0.5, 1e-3)
    with pytest.raises(ValueError, match=r"initial_states must be \(B, N\) with B = 4"):
        njd.reservoir_run(spikes, np.eye(6), np.eye(6), da.zeros((3, 6), chunks=(3, 6)))


def _esn_trial(leak_rate, u, y, config):
    """A model trial as a sweep would run it: build, train and score an ESN on the worker."""
    from neurojit.models import PRESETS, EchoStateNetwork, nrmse

    esn = EchoStateNetwork(50, seed=3, compiler=JITCompiler(config), **dict(PRESETS["narma10"], leak_rate=leak_rate))
    esn.fit(u[:700], y[:700], warmup=100)
    states = esn.run(u[700:])  # continues from the end of training
    prediction = esn.readout.predict(esn.features(u[700:], states))
    return {"states": states, "prediction": prediction, "score": nrmse(y[700:], prediction)}


def _lsm_trial(key, spikes, config):
    from neurojit.models import LiquidStateMachine

    lsm = LiquidStateMachine(spikes.shape[2], 30, noise_rate=50.0, seed=1, compiler=JITCompiler(config))
    return lsm.run(spikes, key=key)


def test_models_through_map_trials_match_local_runs(client, config):
    from neurojit.models import narma10

    u, y = narma10(1000, seed=1)
    trials = [{"leak_rate": 1.0}, {"leak_rate": 0.5}]
    futures = njd.map_trials(client, _esn_trial, trials, shared={"u": u, "y": y, "config": config})
    assert all(isinstance(f, distributed.Future) for f in futures)
    results = client.gather(futures)
    assert len(results) == 2
    for trial, remote in zip(trials, results):
        expected = _esn_trial(u=u, y=y, config=config, **trial)
        np.testing.assert_array_equal(remote["states"], expected["states"])  # the kernel: bit for bit
        # the readout solve goes through BLAS, whose threading may differ on a worker
        np.testing.assert_allclose(remote["prediction"], expected["prediction"], rtol=1e-9, atol=1e-12)
        assert remote["score"] == pytest.approx(expected["score"], rel=1e-9)
        assert remote["score"] < 0.6  # trained (a constant prediction scores 1)
    assert results[0]["score"] != results[1]["score"]

    spikes = _spikes(np.random.default_rng(6), (3, 50, 8), density=0.1, dtype=np.float64)
    keys = [{"key": 11}, {"key": 12}]
    remote = client.gather(njd.map_trials(client, _lsm_trial, keys, shared={"spikes": spikes, "config": config}))
    for key, result in zip(keys, remote):
        np.testing.assert_array_equal(result, _lsm_trial(spikes=spikes, config=config, **key))
    assert not np.array_equal(remote[0], remote[1])


def _slow_trial(seed, scale, weights):
    time.sleep(0.3)
    rng = np.random.default_rng(seed)
    spikes = (rng.random((2, 50, weights.shape[0])) < 0.2).astype(np.float64)
    return JITCompiler(JITConfig(backend="python")).compile_spike_processing_kernel()(
        spikes, weights * scale, 0.5, 1e-3
    )


def _kill_one_worker(client):
    pids = client.run(os.getpid)
    address, pid = sorted(pids.items())[0]
    os.kill(pid, signal.SIGKILL)
    return address


def test_map_trials_survives_a_killed_worker(client):
    weights = np.random.default_rng(4).standard_normal((12, 12))
    trials = [{"seed": s, "scale": 0.5 + 0.1 * s} for s in range(10)]
    futures = njd.map_trials(client, _slow_trial, trials, shared={"weights": weights})
    time.sleep(0.5)  # let both workers start on their first trials
    _kill_one_worker(client)
    results = client.gather(futures)
    assert len(results) == len(trials)
    for trial, result in zip(trials, results):
        np.testing.assert_array_equal(result, _slow_trial(weights=weights, **trial))
    client.wait_for_workers(2, timeout=60)


def _slowly(block):
    time.sleep(0.2)
    return block


def test_dask_array_result_survives_a_killed_worker(client, config, local):
    rng = np.random.default_rng(5)
    spikes = _spikes(rng, (16, 60, 24), density=0.15)
    weights = (rng.standard_normal((24, 24)) * 0.5).astype(np.float32)
    expected = local.compile_spike_processing_kernel()(spikes, weights, 0.4, 1e-3)
    lazy = njd.spike_processing(
        da.from_array(spikes, chunks=(1, 60, 24)).map_blocks(_slowly, dtype=np.float32), weights, 0.4, 1e-3, config=config
    )
    future = client.compute(lazy)
    time.sleep(0.6)
    _kill_one_worker(client)
    np.testing.assert_array_equal(future.result(timeout=120), expected)
    client.wait_for_workers(2, timeout=60)
