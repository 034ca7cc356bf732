"""Running the kernel over the buckets: in this process, on a pool of processes, or as
Dask tasks (``distributed`` futures; a local cluster when no scheduler is given). The
kernels' results are small sums; the order of the results is the buckets' order."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from .options import EngineOptions

KERNEL_MODULE = "totalcare_payments.engine.kernel"
T = TypeVar("T")
R = TypeVar("R")


class Runner:
    """Maps a function over items, in order, as the options say; a context manager that
    starts the pool or the Dask client once for all of a run's passes."""

    def __init__(self, options: EngineOptions, n_items: int) -> None:
        self.options = options
        self.workers = min(options.n_workers, max(n_items, 1))
        self._pool: Executor | None = None
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> Runner:
        if self.options.engine == "dask":
            from distributed import Client, LocalCluster

            if self.options.scheduler:
                self._client = Client(self.options.scheduler)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=max(self.options.limit // self.workers, 2**28),
                )
                self._client = Client(self._cluster)
        elif self.workers > 1:
            context = multiprocessing.get_context("forkserver")
            # the server imports the kernel once; each worker forks from it, loaded
            context.set_forkserver_preload([KERNEL_MODULE])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def map(self, fn: Callable[[T, Any], R], items: Sequence[T], shared: Any) -> list[R]:
        """``fn(item, shared)`` for each item, in the items' order."""
        if self._client is not None:
            shared_future = self._client.scatter(shared, broadcast=True)
            futures = self._client.map(fn, list(items), [shared_future] * len(items), pure=False)
            return list(self._client.gather(futures))
        if self._pool is not None:
            return list(self._pool.map(fn, items, [shared] * len(items)))
        return [fn(item, shared) for item in items]
