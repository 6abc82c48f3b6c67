"""dlnlib.sweep: grid order, argument checks, the injected cache, and real two-process Dask clusters — results
bit-identical to the in-process sweep, a worker killed mid-sweep, nested sweeps, errors at a point."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
import torch

from dlnlib import GD, Factorisation, low_rank_target, train, wide_dln
from dlnlib.sweep import active_client, grid_points, sweep, timed

F64 = torch.float64
QUIET = {"dashboard_address": "127.0.0.1:0"}  # no dashboard, and the scheduler's HTTP routes on a free port
POINTS = {"seed": [0, 1, 2], "depth": [2, 3]}


def fit(seed: int, depth: int, d: int = 6, r: int = 2, iterations: int = 200) -> dict:
    """A short float64 GD run of a d×d rank-r factorisation: losses, singular values, end-to-end matrix."""
    torch.set_num_threads(1)
    M = low_rank_target(d, d, r, seed=seed, dtype=F64, device="cpu")
    net = wide_dln([d] * (depth + 1), 0.1, seed=seed + 100, dtype=F64, device="cpu")
    h = train(net, Factorisation(M), GD(0.2), iterations, record_at=20, record=("loss", "sv"))
    return {"loss": h.loss, "sv": h["sv"], "W": h.net.end_to_end().numpy()}


def slow_fit(seed: int, depth: int) -> dict:
    time.sleep(1.0)  # long enough to kill its worker while it runs
    return fit(seed, depth)


def nested(seed: int) -> list:
    return sweep(lambda depth: fit(seed, depth)["W"], {"depth": [2, 3]})  # inside a task: runs in-process


def fails_at_two(seed: int, depth: int) -> dict:
    if seed == 2:
        raise ArithmeticError("no result for seed 2")
    return fit(seed, depth)


def napping_pid(seconds: float) -> int:
    """Sleep ``seconds``, then the id of the process that slept."""
    time.sleep(seconds)
    return os.getpid()


def same_bits(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(x.keys() == y.keys() and all(
        x[k].dtype == y[k].dtype and x[k].shape == y[k].shape and x[k].tobytes() == y[k].tobytes() for k in x)
        for x, y in zip(a, b))


def report_cache(folder, monkeypatch):
    """The report layer's result cache, writing into ``folder``."""
    for var in ("DLN_RESULTS_DIR",):
        monkeypatch.setenv(var, str(folder))
    monkeypatch.setenv("DLN_CACHE", "1")
    try:
        from dlnlib.report.cache import cached
    except ImportError:
        from dlnlib.figures import cached
    return cached


# ----------------------------------------------------------------------------------------------
# In-process
# ----------------------------------------------------------------------------------------------


def test_grid_order_and_forms():
    assert grid_points({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert grid_points({"a": range(2), "b": np.array([0.5])}) == [{"a": 0, "b": 0.5}, {"a": 1, "b": 0.5}]
    assert grid_points({}) == [{}] and grid_points({"a": []}) == [] and grid_points([]) == []
    assert sweep(lambda a, b: (a, b), {"a": [1, 2], "b": [3]}) == [(1, 3), (2, 3)]
    assert sweep(lambda **kw: kw, [{"x": 1}, {"y": 2}]) == [{"x": 1}, {"y": 2}]


@pytest.mark.parametrize("kwargs, err, words", [
    ({"fn": 3, "grid": []}, TypeError, "fn must be callable"),
    ({"fn": len, "grid": 5}, TypeError, "grid must be a list of dicts or a dict of lists"),
    ({"fn": len, "grid": "ab"}, TypeError, "grid must be"),
    ({"fn": len, "grid": [{"a": 1}, 2]}, TypeError, "grid: point 1 must be a dict"),
    ({"fn": len, "grid": [{1: 1}]}, TypeError, "grid: point 0 has keys that are not argument names"),
    ({"fn": len, "grid": {"a": 1}}, TypeError, "grid['a'] must be a list of values"),
    ({"fn": len, "grid": {"a": "xyz"}}, TypeError, "grid['a'] must be a list of values"),
    ({"fn": len, "grid": [], "cache": 1}, TypeError, "cache must be a callable"),
    ({"fn": len, "grid": [], "client": object()}, TypeError, "client must be a distributed.Client"),
    ({"fn": len, "grid": [], "client": True}, TypeError, "client must be a distributed.Client"),
    ({"fn": len, "grid": [], "timeout": 0}, ValueError, "timeout must be a positive"),
    ({"fn": len, "grid": [], "key": "a/b"}, ValueError, "key must be a non-empty string"),
    ({"fn": lambda: 0, "grid": [], "cache": lambda n, p, c: c()}, ValueError, "key: a sweep with cache= needs key="),
])
def test_arguments_are_checked_by_name(kwargs, err, words):
    with pytest.raises(err, match=None) as e:
        sweep(**kwargs)
    assert words in str(e.value)


def test_error_at_a_point_names_it():
    with pytest.raises(ArithmeticError, match="no result for seed 2") as e:
        sweep(fails_at_two, POINTS)
    assert sys.version_info < (3, 11) or "grid point 4: {'seed': 2, 'depth': 2}" in "".join(e.value.__notes__)


def test_cache_is_asked_first_and_written_through(tmp_path, monkeypatch):
    cached = report_cache(tmp_path, monkeypatch)
    calls = []

    def counted(**p):
        calls.append(p)
        return fit(**p)

    first = sweep(counted, POINTS, cache=cached, key="fit")
    assert len(calls) == 6 and len(list(tmp_path.glob("fit-*.pkl"))) == 6
    again = sweep(fails_at_two, POINTS, cache=cached, key="fit")  # every point from the cache: fn never called
    assert same_bits(first, again) and len(calls) == 6
    assert active_client() is None


def test_timed_returns_the_value_and_its_seconds_and_caches_both(tmp_path, monkeypatch):
    import pickle

    value, seconds = timed(fit)(seed=0, depth=2)
    assert same_bits([value], [fit(0, 2)]) and isinstance(seconds, float) and seconds > 0
    naps = sweep(timed(napping_pid), {"seconds": [0.0, 0.1]}, client=False)
    assert [v for v, _ in naps] == [os.getpid()] * 2 and naps[0][1] < 0.1 <= naps[1][1] < 5
    again = pickle.loads(pickle.dumps(timed(napping_pid)))  # picklable: it can travel to a worker
    assert again.fn is napping_pid and repr(again).startswith("timed(<function napping_pid")
    with pytest.raises(TypeError, match="fn must be callable"):
        timed(3)
    with pytest.raises(ValueError, match="needs key="):  # a callable object: the cache must be told its name
        sweep(timed(napping_pid), {"seconds": [0.0]}, cache=report_cache(tmp_path, monkeypatch))
    cached = report_cache(tmp_path, monkeypatch)
    first = sweep(timed(napping_pid), {"seconds": [0.1]}, cache=cached, key="nap")
    served = sweep(timed(fails_at_two), {"seconds": [0.1]}, cache=cached, key="nap")  # fn never called
    assert served == first and served[0][1] >= 0.1  # the stored seconds, not those of a cache read


# ----------------------------------------------------------------------------------------------
# On a real two-process cluster
# ----------------------------------------------------------------------------------------------


def _children() -> set[int]:
    """This process's children, but multiprocessing's resource tracker (one per process, lives as long as it)."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())}


def _gone(pids: set[int], timeout: float = 20.0) -> set[int]:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = {p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        if not alive:
            return set()
        time.sleep(0.2)
    return alive


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-threaded worker processes (the tests below share it; a killed worker comes
    back before the next test); on teardown, no process of it may be left."""
    distributed = pytest.importorskip("distributed")
    import logging

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this test module
    before = _children()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       scheduler_kwargs=QUIET, memory_limit=0, silence_logs=logging.ERROR, timeout=60)
    try:
        with distributed.Client(cluster, timeout=60) as c:
            c.wait_for_workers(2, timeout=60)
            yield c
            c.wait_for_workers(2, timeout=60)  # a killed worker is back: close it too, not mid-start
    finally:
        cluster.close(timeout=30)
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert not _gone(_children() - before), "worker processes left behind"


def test_cluster_results_equal_in_process_bit_for_bit(client):
    assert active_client() is client  # Client(cluster) made itself the default: sweep finds it
    on_cluster = sweep(fit, POINTS, timeout=60)
    pids = client.run(os.getpid)
    assert len(set(pids.values()) - {os.getpid()}) == 2  # two worker processes, not this one
    assert same_bits(sweep(fit, POINTS, client=False), on_cluster)


def test_timed_measures_on_the_worker(client):
    pids = set(client.run(os.getpid).values())
    out = sweep(timed(napping_pid), {"seconds": [0.2, 0.2]}, client=client, timeout=60)
    assert {pid for pid, _ in out} <= pids and all(0.2 <= s < 5 for _, s in out)


def test_nested_sweeps_and_errors_on_the_cluster(client):
    out = sweep(nested, {"seed": [0, 1]}, client=client, timeout=60)
    assert all(a.tobytes() == b.tobytes() for row, s in zip(out, [0, 1])
               for a, b in zip(row, [fit(s, 2)["W"], fit(s, 3)["W"]]))
    with pytest.raises(ArithmeticError, match="no result for seed 2"):
        sweep(fails_at_two, POINTS, client=client, timeout=60)


def test_a_killed_worker_is_replaced_and_the_sweep_completes(client, tmp_path, monkeypatch):
    """SIGKILL one worker while it runs a task: the scheduler reruns its tasks elsewhere, the results are those
    of the in-process sweep, and the result cache (written by this process only) holds whole entries only."""
    cached = report_cache(tmp_path, monkeypatch)
    expected = [fit(**p) for p in grid_points(POINTS)]
    pids = client.run(os.getpid)
    got: dict = {}

    def run():
        try:
            got["out"] = sweep(slow_fit, POINTS, client=client, cache=cached, key="fit", timeout=90)
        except BaseException as e:  # handed to the main thread
            got["err"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    deadline, victim = time.monotonic() + 60, None
    while victim is None and time.monotonic() < deadline and th.is_alive():
        busy = [w for w, keys in client.processing().items() if keys]
        victim = busy[0] if busy else None
        time.sleep(0.05)
    assert victim is not None, "no task started within 60 s"
    time.sleep(0.3)  # the task is inside its 1 s
    lost = client.processing()[victim]
    os.kill(pids[victim], signal.SIGKILL)
    th.join(120)
    assert not th.is_alive(), "the sweep did not finish within 120 s of the kill"
    if "err" in got:
        raise got["err"]
    assert same_bits(expected, got["out"])
    client.wait_for_workers(2, timeout=60)
    assert pids[victim] not in client.run(os.getpid).values()  # the worker was really killed and replaced
    for k in lost:  # the scheduler took the lost worker's tasks back and ran them again
        story = [tuple(t[2:4]) for t in client.story(k) if t[0] == "scheduler"]
        taken_back = story.index(("processing", "released")) if ("processing", "released") in story else None
        assert taken_back is not None and ("processing", "memory") in story[taken_back:], (k, story)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 6 and all(f.startswith("fit-") and f.endswith(".pkl") for f in files), files
    assert same_bits(expected, sweep(fails_at_two, POINTS, cache=cached, key="fit", client=False))  # whole
