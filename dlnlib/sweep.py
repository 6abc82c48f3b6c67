"""Sweeps: map a function over a parameter grid on the active Dask client, or in-process when there is none.

:func:`sweep` is the one way a study runs a grid (Theorem 2 instances, α grids, seeds, widths and depths):

* **where** — on ``client=`` if given (``False``: in this process), else on the process's active
  ``dask.distributed`` client (one the caller started: ``Client(LocalCluster(...))``, or ``Client(address)`` for
  an existing cluster), else in this process, point after point. A sweep never starts a cluster or a client
  itself, and inside a Dask task (a nested sweep) it runs in-process, so it cannot wait on its own worker's
  thread. ``distributed`` is imported only when a client is in play: the engine works without it.
* **what comes back** — ``[fn(**point) for point in points]``, in grid order, whatever order the workers
  finish in. Each point runs in one process on one thread with the same code, so results are bit-identical
  to the in-process ones (tested); a lost worker's tasks are rerun by the scheduler.
* **the result cache** — ``cache(name, params, compute)`` (the report layer's ``cached``, injected by the
  caller so the engine does not import the report layer) is asked for each point first; only the missing
  points are computed, and each result is written through ``cache`` by the calling process as it arrives.
  Workers never write the cache, so a killed worker cannot leave a half-written entry, the cluster needs no
  shared disk, and a local run and a cluster run share one cache.
* **compute times** — a cached result would report ~0 s when served from the cache; :class:`timed` makes the
  time part of the result instead: ``sweep(timed(fn), grid, cache=...)`` returns ``(fn(**point), seconds)``
  per point, the seconds measured where the point ran, and stored with its result.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["grid_points", "fold", "sweep", "active_client", "timed"]

Point = dict[str, Any]


class _Miss(Exception):
    """Raised by the probe ``compute`` to learn that the cache holds no result for a point."""


def _probe() -> Any:
    raise _Miss


def _check_point(point: Any, where: str) -> Point:
    if not isinstance(point, Mapping):
        raise TypeError(f"grid: {where} must be a dict of keyword arguments, got {type(point).__name__}.")
    bad = [k for k in point if not (isinstance(k, str) and k.isidentifier())]
    if bad:
        raise TypeError(f"grid: {where} has keys that are not argument names: {bad!r}.")
    return dict(point)


def grid_points(grid: Sequence[Mapping[str, Any]] | Mapping[str, Iterable[Any]]) -> list[Point]:
    """The points of ``grid``, in sweep order.

    ``grid`` is either a list of points (dicts of keyword arguments), kept as given, or a dict of lists, whose
    Cartesian product is taken with the **first key varying slowest and the last fastest** (the order of
    ``itertools.product`` over the values in the dict's order). ``{}`` is the one empty point; a dict with
    an empty list has no points.

    >>> grid_points({"seed": [0, 1], "eps": [0.1, 0.01]})
    [{'seed': 0, 'eps': 0.1}, {'seed': 0, 'eps': 0.01}, {'seed': 1, 'eps': 0.1}, {'seed': 1, 'eps': 0.01}]
    >>> grid_points([{"d": 10}, {"d": 20, "r": 2}])
    [{'d': 10}, {'d': 20, 'r': 2}]
    >>> grid_points({"seed": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: grid['seed'] must be a list of values (a dict of lists is a Cartesian grid); got int. Write [3] ...
    """
    if isinstance(grid, Mapping):
        axes = []
        for k, values in grid.items():
            _check_point({k: None}, "the dict")
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
                raise TypeError(f"grid[{k!r}] must be a list of values (a dict of lists is a Cartesian grid); "
                                f"got {type(values).__name__}. Write [{values!r}] for one value.")
            axes.append(list(values))
        return [dict(zip(grid, combo)) for combo in itertools.product(*axes)]
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Iterable):
        raise TypeError(f"grid must be a list of dicts or a dict of lists, got {type(grid).__name__}.")
    return [_check_point(p, f"point {i}") for i, p in enumerate(grid)]


def fold(results: Sequence[Any], grid: Mapping[str, Sequence[Any]] | Sequence[int], value: Callable[[Any], Any]
         ) -> Any:
    """``value(result)`` of each result of a sweep over ``grid`` as a float64 array over the grid's axes: the
    inverse of :func:`grid_points` for a dict of lists (first key slowest), shape ``(len(grid[k0]), len(grid[k1]),
    …, *value_shape)``; ``grid`` may also be that shape itself.

    >>> fold([1, 2, 3, 4, 5, 6], {"a": [0, 1], "b": [0, 1, 2]}, lambda x: 10 * x).tolist()
    [[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]
    >>> fold([1, 2, 3], (2, 2), float)
    Traceback (most recent call last):
    ...
    ValueError: results has 3 entries but the grid has 4 points.
    """
    import numpy as np

    if not callable(value):
        raise TypeError(f"value must be a function of one result, got {type(value).__name__}.")
    if isinstance(grid, Mapping):
        shape = tuple(len(v) for v in grid.values())
    elif isinstance(grid, Sequence) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in grid):
        shape = tuple(grid)
    else:
        raise TypeError(f"grid must be a dict of lists or a shape (a tuple of counts), got {grid!r}.")
    vals = np.asarray([value(r) for r in results], dtype=np.float64)
    if vals.shape[0] != int(np.prod(shape)):
        raise ValueError(f"results has {vals.shape[0]} entries but the grid has {int(np.prod(shape))} points.")
    return vals.reshape(shape + vals.shape[1:])


class timed:
    """``fn`` that also returns its compute time: ``timed(fn)(**point) == (fn(**point), seconds)``.

    ``seconds`` is ``time.perf_counter()`` after the call minus before it, in the process that runs the point (a
    Dask worker or this process), so it excludes scheduling and transfers. Picklable when ``fn`` is (a
    module-level function): ``sweep(timed(fn), grid, key=..., cache=...)`` caches each point's ``(result,
    seconds)``, and a result served from the cache keeps the seconds of the run that computed it.

    >>> value, seconds = timed(lambda a, b: divmod(a, b))(a=17, b=5)
    >>> value, isinstance(seconds, float) and seconds >= 0
    ((3, 2), True)
    >>> [v for v, s in sweep(timed(lambda a, b: a * b), {"a": [1, 2], "b": [10]})]
    [10, 20]
    """

    def __init__(self, fn: Callable[..., Any]):
        if not callable(fn):
            raise TypeError(f"timed: fn must be callable, got {type(fn).__name__}.")
        self.fn = fn

    def __call__(self, **point: Any) -> tuple[Any, float]:
        t0 = time.perf_counter()
        value = self.fn(**point)
        return value, time.perf_counter() - t0

    def __repr__(self) -> str:
        return f"timed({self.fn!r})"


def active_client():
    """The ``dask.distributed`` client of this process, or ``None``: none started, ``distributed`` not
    installed, or called from inside a Dask task (a nested sweep runs in-process).

    >>> active_client() is None  # no client started in the doctest process
    True
    """
    if "distributed" not in sys.modules:  # no client without it; do not pay its import for an in-process sweep
        return None
    from distributed import default_client, get_worker

    try:
        get_worker()
        return None  # inside a task: its worker's one thread is busy with us
    except ValueError:
        pass
    try:
        return default_client()
    except ValueError:
        return None


def _name(fn: Callable, key: str | None, cached: bool) -> str:
    if key is not None:
        if not isinstance(key, str) or not key or any(c in key for c in "/\\\0"):
            raise ValueError(f"key must be a non-empty string without path separators, got {key!r}.")
        return key
    qualname = getattr(fn, "__qualname__", "")
    if not qualname or "<" in qualname:  # lambda, local function, functools.partial, callable object
        if cached:
            raise ValueError(f"key: a sweep with cache= needs key= naming the computation when fn ({fn!r}) is a "
                             "lambda, a local function, a partial or a callable object; its fixed arguments are "
                             "not in the cache's parameters, so the name must tell them apart.")
        return "sweep"
    return f"{fn.__module__}.{qualname}"


def _call(fn: Callable, point: Point) -> Any:
    return fn(**point)


def _noted(err: BaseException, i: int, point: Point) -> BaseException:
    if hasattr(err, "add_note"):  # Python >= 3.11
        err.add_note(f"sweep: raised at grid point {i}: {point!r}")
    return err


def sweep(fn: Callable[..., Any], grid: Sequence[Mapping[str, Any]] | Mapping[str, Iterable[Any]], *,
          client=None, cache: Callable[[str, dict, Callable[[], Any]], Any] | None = None,
          key: str | None = None, timeout: float | None = None) -> list[Any]:
    """``[fn(**point) for point in grid_points(grid)]``, computed on the active Dask client or in-process.

    ``fn``: a function of keyword arguments; on a cluster it and its results are pickled (module-level
    functions, tensors, arrays, dataclasses). ``grid``: a list of points (dicts) or a dict of lists
    (Cartesian product, first key slowest, see :func:`grid_points`). ``client``: a ``distributed.Client``,
    ``None`` (the :func:`active_client`; in-process when there is none) or ``False`` (in-process even when a
    client is active). ``cache``: optional ``cache(name, params, compute) -> result`` that returns the stored
    result for ``(name, params)`` or else calls ``compute()``, stores and returns its value, letting its
    exceptions through (the report layer's ``cached``, with the study bound: ``lambda n, p, c: cached(n, p, c,
    study=__name__)``); each point is looked up once, the missing ones are computed (on the cluster) and
    stored through ``cache`` by this process as they arrive (see the module notes).
    ``key``: the computation's name, used as the cache's ``name`` and as the Dask task-name prefix (default:
    ``fn``'s module and qualified name; required with ``cache`` for lambdas, local functions and partials —
    everything ``fn`` depends on besides the point must be in the key or the grid). ``timeout``: seconds to
    wait for the cluster's results (``TimeoutError`` naming the pending points; in-process runs ignore it).

    Returns a list of ``len(grid_points(grid))`` results in grid order (an empty grid, ``[]`` or a dict with an
    empty list, has no points: ``[]``, nothing computed; ``{}`` is the one empty point). An exception raised by ``fn`` at a point
    propagates (with a note naming the point); the sweep's remaining tasks are cancelled, while results stored
    in the cache so far stay.

    >>> sweep(lambda a, b: a * b, {"a": [1, 2], "b": [10, 100]})
    [10, 100, 20, 200]
    >>> store = {}
    >>> def cache(name, params, compute):
    ...     k = (name, tuple(sorted(params.items())))
    ...     return store[k] if k in store else store.setdefault(k, compute())
    >>> sweep(lambda base, exp: base ** exp, [{"base": 2, "exp": 3}], cache=cache)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: key: a sweep with cache= needs key= naming the computation when fn (<function <lambda> at ...>) is ...
    >>> sweep(lambda base, exp: base ** exp, [{"base": 2, "exp": 3}], cache=cache, key="power")
    [8]
    >>> sweep(lambda base, exp: -1, [{"base": 2, "exp": 3}], cache=cache, key="power")  # served by the cache
    [8]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
    if cache is not None and not callable(cache):
        raise TypeError(f"cache must be a callable cache(name, params, compute), got {type(cache).__name__}.")
    if timeout is not None and (isinstance(timeout, (bool, str, bytes, complex)) or not hasattr(timeout, "__float__")):
        raise TypeError(f"timeout must be a positive number of seconds or None, got {type(timeout).__name__} "
                        f"{timeout!r}.")
    if timeout is not None and not float(timeout) > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}.")
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must be a non-empty string without path separators, got {type(key).__name__} {key!r}.")
    if not (client is None or client is False or hasattr(client, "map") and hasattr(client, "gather")):
        raise TypeError(f"client must be a distributed.Client, None or False, got {client!r}.")
    name = _name(fn, key, cache is not None)
    points = grid_points(grid)
    results: list[Any] = [None] * len(points)
    todo = list(range(len(points)))
    if cache is not None:
        todo = []
        for i, p in enumerate(points):
            try:
                results[i] = cache(name, p, _probe)
            except _Miss:
                todo.append(i)

    def store(i: int, value: Any) -> Any:
        return value if cache is None else cache(name, points[i], lambda: value)

    client = active_client() if client is None else client
    if client is False or client is None or not todo:
        for i in todo:
            try:
                value = fn(**points[i])
            except Exception as e:
                raise _noted(e, i, points[i])
            results[i] = store(i, value)
        return results

    from distributed import TimeoutError as DaskTimeoutError
    from distributed import as_completed

    futures = client.map(_call, [fn] * len(todo), [points[i] for i in todo], key=name.replace(".", "-"), pure=False)
    index = {f.key: i for f, i in zip(futures, todo)}
    pending = set(index)
    done = as_completed(futures, loop=client.loop, timeout=timeout)
    try:
        while pending:
            try:
                fut = next(done)
            except (TimeoutError, DaskTimeoutError) as e:
                left = sorted(index[k] for k in pending)
                raise TimeoutError(f"sweep {name!r}: {len(left)} of {len(points)} point(s) not done after {timeout} "
                                   f"s (grid indices {left[:10]}{' ...' if len(left) > 10 else ''}).") from e
            i = index[fut.key]
            pending.discard(fut.key)
            try:
                value = fut.result()
            except Exception as e:
                raise _noted(e, i, points[i])
            finally:
                fut.release()  # the cluster may forget it (a lost worker's finished results are not recomputed)
            results[i] = store(i, value)
    finally:
        left = [f for f in futures if f.key in pending]
        if left:  # after an error or a timeout: stop the rest, keep no result on the cluster
            client.cancel(left)
            for f in left:
                f.release()
    return results
