"""Execute the workbook's notebooks with papermill at one scale, as tasks on a Dask cluster.

    python scripts/run_notebooks.py --scale ci|paper [--jobs N] [--out-dir DIR] [NOTEBOOK ...]

Each notebook is one task of a ``dask.distributed`` cluster:

* nothing configured: an embedded ``LocalCluster`` of ``--jobs`` worker processes with one thread each (default:
  one per CPU core, at most 4; every notebook trains on one thread), no memory limit (the nanny never restarts
  a worker for its memory), closed when the run ends;
* ``DASK_SCHEDULER_ADDRESS`` (Dask's own setting, or ``scheduler-address`` in Dask's configuration) names a
  scheduler: the notebooks run on that cluster's workers and ``--jobs`` is ignored. Its workers need this
  repository, its environment and the output folder at the same paths (a shared disk).

Every kernel gets this process's ``DLN_*`` variables and thread settings (:func:`task_env`; not the ones a Dask
nanny gives its workers), so a notebook computes exactly as under the former process pool. Kernels talk over IPC
sockets and are shut down without an interrupt (:func:`quiet_kernel_manager`): a clean run prints no kernel
warnings, so what a run prints in red is worth reading. Likewise the embedded cluster: its client, workers and
scheduler are closed in that order, and a worker closed while a heartbeat is on the wire does not log the failed
heartbeat (:func:`_quiet_worker_close`; the busier the machine, the more often that happens).

The dashboard's address is printed (with bokeh installed; port 8787, or a free one when that is taken). Executed
copies go to ``build/notebooks/<scale>/`` (``--out-dir``); the committed notebooks are not modified. Notebooks are
submitted longest first according to the runtimes of the previous run (``runtimes.json`` in the output folder).
Prints the runtime of each notebook and the wall time, and exits non-zero if any failed (all are run first).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
# Passed to every task with this process's value (or unset): with every DLN_* variable, the ones a Dask nanny sets in
# its workers (thread counts, malloc trimming), so that kernels see the environment `make` gives them.
FORWARDED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_", "MPLBACKEND")


def _set_environ(env: dict[str, str | None]) -> None:
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextmanager
def _environ(env: dict[str, str | None]) -> Iterator[None]:
    """Set ``env`` in ``os.environ`` for the block (``None``: unset) and restore the previous values after it."""
    old = {k: os.environ.get(k) for k in env}
    _set_environ(env)
    try:
        yield
    finally:
        _set_environ(old)


def quiet_kernel_manager():
    """The kernel manager class the notebooks run under: jupyter_client's, made quiet.

    * **Transport set explicitly to IPC** (Unix sockets in a private temporary folder, removed after): the kernel
      is only reachable from this machine's user, and ipykernel does not print "Kernel is running over TCP without
      encryption" for every notebook. Where IPC is not available (Windows) the default TCP transport stays.
    * **Shut down without an interrupt first**: jupyter_client sends SIGINT before asking an idle kernel to shut
      down, which ipykernel reports as "KeyboardInterrupt caught in kernel" — red text after every successful
      run. The polite shutdown request, and the kill if it times out, are unchanged.

    Built on call (the import happens in the worker that runs the notebook).
    """
    import shutil
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._ipc_dir = None
            if os.name == "posix":
                self._ipc_dir = tempfile.mkdtemp(prefix="dln-kernel-")
                self.transport = "ipc"
                self.ip = os.path.join(self._ipc_dir, "kernel")

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:  # an interrupt asked for by the user still interrupts
                await super()._async_interrupt_kernel()

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if self._ipc_dir and not restart:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

    return QuietKernelManager


def run_one(nb: str, scale: str, out_dir: str, env: dict[str, str | None]) -> tuple[str, float, str]:
    """Run one notebook (a Dask task; its worker has one thread, so setting the environment is safe).

    The kernel inherits ``env`` and ``DLN_NOTEBOOK`` (recorded with each saved figure). Returns
    ``(name, seconds, error text or "")``; papermill writes the executed copy, also of a failed notebook.
    """
    name = Path(nb).name
    try:
        import papermill as pm
    except ImportError as e:
        return name, 0.0, f"papermill cannot be imported on this worker: {e}"
    t0 = time.perf_counter()  # after the import, which a worker does once
    print(f"[{scale}] {name} ...", flush=True)
    try:
        with _environ({**env, "DLN_NOTEBOOK": name}):
            pm.execute_notebook(nb, str(Path(out_dir) / name), parameters={"scale": scale},
                                cwd=str(Path(nb).parent), kernel_name="python3", language="python",
                                progress_bar=False, kernel_manager_class=quiet_kernel_manager())
        err = ""
    except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
        err = str(e)[-3000:] or repr(e)
    return name, round(time.perf_counter() - t0, 1), err


def longest_first(notebooks: list[Path], previous: dict[str, float]) -> list[Path]:
    """Submission order: longest previous runtime first, unknown ones before all, ties in the given order.

    >>> [p.name for p in longest_first([Path("a"), Path("b"), Path("c")], {"a": 5.0, "c": 60.0})]
    ['b', 'c', 'a']
    """
    return sorted(notebooks, key=lambda p: -previous.get(p.name, float("inf")))


def scheduler_address() -> str | None:
    """The configured scheduler: ``DASK_SCHEDULER_ADDRESS``, else Dask's ``scheduler-address`` setting, else None."""
    import dask

    return os.environ.get("DASK_SCHEDULER_ADDRESS") or dask.config.get("scheduler-address", None) or None


def task_env() -> dict[str, str | None]:
    """The variables every task runs with: ``DLN_*`` and :data:`FORWARDED_ENV` as in this process (``None``: unset).

    A worker's environment is the nanny's (with ``OMP_NUM_THREADS=1``, ``MALLOC_TRIM_THRESHOLD_``, ...); the
    kernels get this process's instead, as a plain subprocess would: same thread counts, same BLAS results.
    """
    keys = set(FORWARDED_ENV)
    try:
        import dask

        keys |= set(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
        keys |= set(dask.config.get("distributed.nanny.environ", {}) or {})
    except ImportError:
        pass
    env = {k: os.environ.get(k) for k in sorted(keys)}
    return {**env, **{k: v for k, v in os.environ.items() if k.startswith("DLN_")}}


def _quiet_worker_close():
    """A worker plugin that drops the one error a worker logs as a matter of course when it is closed.

    A worker sends its scheduler a heartbeat every 0.5 s; when it is closed while one is on the wire, closing
    its connections makes that heartbeat fail, and ``distributed.worker`` logs "Failed to communicate with
    scheduler during heartbeat" with a ``CommClosedError`` traceback — the more often the busier the machine (the
    reply is slower). That record is dropped when the worker is already closing or closed; the same failure on a
    running worker, and every other record, is still printed. Installed on the embedded cluster only (it is
    registered with the scheduler, so a worker that replaces a lost one gets it too).
    """
    from distributed import WorkerPlugin
    from distributed.core import Status

    class QuietWorkerClose(WorkerPlugin):
        idempotent = True
        name = "dln-quiet-worker-close"

        def setup(self, worker) -> None:
            class ClosingHeartbeat(logging.Filter):
                def filter(self, record: logging.LogRecord) -> bool:
                    return not (worker.status in (Status.closing, Status.closed) and record.getMessage().startswith(
                        "Failed to communicate with scheduler during heartbeat"))

            log = logging.getLogger("distributed.worker")
            if not any(type(f).__name__ == "ClosingHeartbeat" for f in log.filters):
                log.addFilter(ClosingHeartbeat())  # kept after teardown: the heartbeat fails later in close()

    return QuietWorkerClose()


@contextmanager
def dask_client(jobs: int, address: str | None = None) -> Iterator:
    """A client on the cluster at ``address``, or on an embedded ``LocalCluster`` of ``jobs`` single-threaded
    worker processes; the embedded cluster is closed on exit, an existing one is left running."""
    from distributed import Client, LocalCluster

    if __name__ != "__main__" and __name__ in sys.modules:  # imported: workers cannot import this script,
        import cloudpickle  # so send run_one by value

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    if address:
        with Client(address, set_as_default=False) as client:
            yield client
        return
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1 (worker processes), got {jobs!r}.")
    import dask

    # A loaded machine starts workers slowly: twice Dask's 30 s to connect (the nannies pass it to their workers).
    with dask.config.set({"distributed.comm.timeouts.connect": "60s"}):
        with warnings.catch_warnings():  # 8787 taken (another run): Dask serves the dashboard on a free port
            warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, memory_limit=0,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:8787", silence_logs=logging.ERROR)
        try:  # the client closes first, then the cluster its workers, then its scheduler
            with Client(cluster, set_as_default=False) as client:
                client.register_plugin(_quiet_worker_close())
                yield client
        finally:
            cluster.close(timeout=30)


def _describe(client, address: str | None) -> str:
    """Where the notebooks run and the dashboard's address (bokeh serves it; without bokeh there is none)."""
    if address:
        return f"the cluster at {address} ({len(client.nthreads())} worker(s)); dashboard: {client.dashboard_link}"
    dashboard = client.dashboard_link if importlib.util.find_spec("bokeh") else "none (install bokeh>=3.1)"
    return f"a local cluster {client.scheduler.address}; dashboard: {dashboard}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=["ci", "paper"], required=True)
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                    help="worker processes of the local cluster (notebooks side by side; each trains on one "
                         "thread); ignored when DASK_SCHEDULER_ADDRESS names a cluster")
    ap.add_argument("--out-dir", type=Path, help="executed copies and runtimes.json (default build/notebooks/<scale>)")
    ap.add_argument("notebooks", nargs="*")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be an integer >= 1, got {args.jobs}")
    nbs = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    out_dir = (args.out_dir or ROOT / "build" / "notebooks" / args.scale).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "runtimes.json"
    previous = json.loads(log.read_text()) if log.exists() else {}
    nbs = longest_first(nbs, previous)
    address = scheduler_address()
    failed, times = [], {}
    t0 = time.perf_counter()
    with dask_client(args.jobs, address) as client:
        print(f"[{args.scale}] {len(nbs)} notebook(s) on {_describe(client, address)}", flush=True)
        env = task_env()
        run = uuid.uuid4().hex[:8]  # task keys unique on a shared cluster; priorities keep the order
        futures = {client.submit(run_one, str(nb), args.scale, str(out_dir), env, key=f"notebook-{nb.stem}-{run}",
                                 pure=False, priority=len(nbs) - i): nb for i, nb in enumerate(nbs)}
        from distributed import as_completed

        for fut in as_completed(futures, loop=client.loop):
            try:
                name, seconds, err = fut.result()
            except Exception as e:  # the task itself failed: a worker lost too often, papermill missing there, ...
                name, seconds, err = futures[fut].name, round(time.perf_counter() - t0, 1), f"{type(e).__name__}: {e}"
            times[name] = seconds
            if err:
                failed.append(name)
                print(err, file=sys.stderr)
            print(f"[{args.scale}] {name}: {'FAILED' if err else 'ok'} in {seconds} s", flush=True)
    wall = time.perf_counter() - t0
    log.write_text(json.dumps(dict(sorted({**previous, **times}.items())), indent=1) + "\n")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(sorted(failed))}", file=sys.stderr)
        return 1
    workers = "the cluster's workers" if address else f"{args.jobs} worker(s)"
    print(f"all {len(nbs)} notebooks ran at scale={args.scale}: {sum(times.values()):.0f} s of notebook time, "
          f"{wall:.0f} s wall with {workers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
