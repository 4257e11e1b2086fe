"""Where units of work (shards) run: a pool of local worker processes, or an existing Dask cluster.

Both executors have one interface: ``map(build, build_args, work, items)``
builds the shared state once per worker (``build(*build_args)``, e.g. the
digit pool of a split: loaded by each local worker, or loaded here and
broadcast to a cluster), then yields ``work(state, item)`` for each item, in
the order of ``items``. ``build`` and ``work`` must be module-level functions
(they are pickled for the workers).

Local workers die with their parent: on Linux each asks the kernel to kill it
when its parent dies (``PR_SET_PDEATHSIG``), and every worker also watches its
parent's PID, so a parent killed with SIGKILL leaves no orphan behind (nor
multiprocessing's resource tracker, which exits once every worker has gone).
Workers ignore Ctrl-C: the parent handles it, stops the pool and cleans up.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from digitgen.errors import InputError

logger = logging.getLogger(__name__)

#: Seconds between a worker's checks that its parent is still alive.
PARENT_POLL = 0.5
_PR_SET_PDEATHSIG = 1

_state: Any = None  # the shared state of this worker process (see LocalExecutor.map)


def resolve_workers(workers: int) -> int:
    """``0`` means all cores available to this process."""
    if workers < 0:
        raise InputError(f"workers == {workers}, must be >= 0 (0 = all cores).")
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def die_with_parent(parent: int) -> None:
    """Make this process exit when process ``parent`` is gone (kernel signal on Linux, and a watching thread)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watching thread alone does the job
            pass
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)

    def watch() -> None:
        while True:
            threading.Event().wait(PARENT_POLL)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _start_worker(parent: int, build: Callable[..., Any], build_args: Sequence[Any]) -> None:
    global _state
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _state = build(*build_args)


def _run_item(call: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    work, item = call
    return work(_state, item)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT for the duration (in the main thread; elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LocalExecutor:
    """Work on a pool of local worker processes (inline when there is one worker or one item)."""

    def __init__(self, workers: int) -> None:
        self.workers = resolve_workers(workers)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def describe(self, n_items: int) -> str:
        return f"{min(self.workers, n_items)} local worker(s)"

    def map(self, build: Callable[..., Any], build_args: Sequence[Any], work: Callable[[Any, Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """``work(state, item)`` for each item, in order; ``state = build(*build_args)`` once per worker."""
        if self.workers == 1 or len(items) <= 1:
            state = build(*build_args)
            for item in items:
                yield work(state, item)
            return
        context = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(items))
        with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), build, tuple(build_args))
        ) as pool:
            with _sigint_ignored():  # inherited by the workers started here, before their own code runs
                results = pool.map(_run_item, [(work, item) for item in items])
            try:
                yield from results
            except BaseException:  # Ctrl-C or a failed item: stop the rest before the pool is joined
                pool.shutdown(wait=True, cancel_futures=True)
                raise


class DaskExecutor:
    """Work on an existing Dask distributed cluster.

    The shared state is built here and broadcast to the workers, so they need
    no access to its input files; they need write access to the output (a
    shared folder or an fsspec URL).
    """

    def __init__(self, scheduler: str, timeout: float) -> None:
        self.scheduler = scheduler
        self.timeout = timeout
        self.client = None

    def __enter__(self) -> DaskExecutor:
        from distributed import Client

        try:
            self.client = Client(self.scheduler, timeout=f"{self.timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(
                f"sequences.scheduler: could not reach the Dask scheduler at {self.scheduler!r} "
                f"within {self.timeout:g} s ({error})."
            ) from None
        return self

    def __exit__(self, *exc_info) -> None:
        self.client.close()

    def describe(self, n_items: int) -> str:
        return f"Dask cluster {self.scheduler} ({len(self.client.scheduler_info()['workers'])} worker(s))"

    def map(self, build: Callable[..., Any], build_args: Sequence[Any], work: Callable[[Any, Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """``work(state, item)`` for each item, in order; ``state`` built once here and broadcast."""
        state = self.client.scatter(build(*build_args), broadcast=True)
        futures = self.client.map(work, [state] * len(items), list(items), pure=False)
        try:
            for future in futures:
                yield future.result()
        finally:
            self.client.cancel(futures)


def make_executor(executor: str, *, workers: int, scheduler: str | None = None, timeout: float = 10.0) -> LocalExecutor | DaskExecutor:
    """``local`` (a pool of ``workers`` processes) or ``dask`` (the cluster at ``scheduler``)."""
    if executor == "dask":
        return DaskExecutor(scheduler, timeout)
    return LocalExecutor(workers)
