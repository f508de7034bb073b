"""Running a sweep's chunks of points: in this process, on a local pool of processes or on Ray.

An interruption (Ctrl-C; SIGTERM, which `files.on_termination` turns into the same exception)
stops the workers at once and keeps what they had finished: `results` holds every point planned
before it, and `run_chunks` says it was interrupted rather than raising. (A pool under a `with`
block waited for every queued chunk on the way out: 200 s after a SIGTERM, and then nothing was
kept.)
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from .errors import PlanError

Chunk = tuple                       # (points [(index, values)], paradigm names, methods)


def run_chunks(scn, jobs: list[Chunk], init: Callable, chunk: Callable, engine: str, workers: int,
               address: str | None, bar, results: dict) -> bool:
    """Plan `jobs` (`chunk(job)` -> [(index, rows)], after `init(scn)` in each worker) into
    `results`; True if interrupted, with the finished chunks kept."""
    try:
        if engine == "ray":
            _ray(scn, jobs, init, chunk, workers, address, bar, results)
        elif engine == "process" and workers > 1 and len(jobs) > 1:
            _pool(scn, jobs, init, chunk, workers, bar, results)
        elif engine in ("process", "serial"):
            init(scn)
            for j in jobs:
                _keep(chunk(j), bar, results)
        else:
            raise PlanError(f"unknown engine '{engine}'; use process or ray")
    except KeyboardInterrupt:
        return True
    return False


def _keep(out, bar, results: dict) -> None:
    for i, rows in out:
        results[i] = rows
    bar.advance(len(out))


def _quiet_worker(init: Callable, scn) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool, a worker must not die
    # half-way through a chunk on its own; and the pool's terminate (SIGTERM) ends it quietly, not
    # through the parent's handler that turns SIGTERM into an exception and a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    init(scn)


def _pool(scn, jobs, init, chunk, workers, bar, results) -> None:
    import multiprocessing as mpx
    pool = mpx.get_context("fork").Pool(workers, initializer=_quiet_worker, initargs=(init, scn))
    try:
        for out in pool.imap_unordered(chunk, jobs):
            _keep(out, bar, results)
        pool.close()
    except BaseException:
        pool.terminate()            # now, not after the queued chunks
        raise
    finally:
        pool.join()


def _reachable(address: str, timeout: float = 3.0) -> None:
    """Refuse a Ray address where nothing answers (ray.init retries for minutes and prints its own
    connection warnings)."""
    import socket
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except ValueError:
        raise PlanError(f"--address {address}: give HOST:PORT of a Ray cluster's head (or ray://HOST:PORT)") from None
    except OSError as e:
        raise PlanError(f"--address {address}: no Ray cluster answers there ({e.strerror or e}); start one with "
                        "`ray start --head`, or leave --address out for a local one") from None


def _ray(scn, jobs, init, chunk, workers, address, bar, results) -> None:
    try:
        import ray
    except ImportError:
        raise PlanError("--engine ray needs Ray: pip install 'edgeplan[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address:
            _reachable(address)
        kw = {"address": address} if address else {"num_cpus": workers}
        from .solvers import highs  # its flag is the CLI's --verbose
        ours = signal.getsignal(signal.SIGTERM)
        try:       # Ray's own log lines (token authentication, "Started a local Ray instance") only with it
            ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                     logging_level=logging.INFO if highs.is_verbose() else logging.ERROR, **kw)
        except ConnectionError as e:
            raise PlanError(f"--address {address}: {e}; start a cluster with `ray start --head`, or leave "
                            "--address out for a local one") from None
        started = True
        # ray.init takes SIGTERM over (it logs and exits 1, the points planned lost): ours again,
        # which stops the sweep as Ctrl-C does
        if callable(ours):
            signal.signal(signal.SIGTERM, ours)
    pending = []
    try:
        ref = ray.put(scn)

        @ray.remote(num_cpus=1)
        def run(s, job):
            init(s)
            return chunk(job)

        pending = [run.remote(ref, j) for j in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            _keep(ray.get(done[0]), bar, results)
    finally:
        if started:
            # our own local instance: shutting it down stops its workers. Cancelling each task
            # first raced with tasks finishing meanwhile: Ray's core worker aborted the process
            # ("Tried to complete task that was not pending") and the sweep did not end as interrupted
            # (once in five runs of the SIGTERM test)
            ray.shutdown()
        else:
            for p in pending:       # interrupted: what is queued on a cluster we did not start goes too
                ray.cancel(p, force=True)
