"""Adaptive micro-batching: concurrent requests for the same model share one predict call.

Requests are queued by the event loop and scored by ONE dedicated thread, so
the loop never blocks on the model. When the thread picks up work it takes
everything already queued (up to `max_batch`) and calls the scoring script's
`run_batch` once. With `max_wait_ms=0` (the default) nothing ever waits for a
batch to fill: a lone request is scored at once, and batches form only from
requests that queued while the previous predict ran — so batching costs
nothing at concurrency 1 and amortises per-call overhead (a 100-tree forest
costs ~the same for 1 row or 64) as load grows.

Failure isolation: `run_batch` may put an exception in one request's slot; if
it raises as a whole, each member is retried on its own so only the bad
request fails. Scripts without `run_batch` keep per-request `run()` calls.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any, Callable, Optional

log = logging.getLogger("deployers.serving")

_STOP = object()


class BatchStats:
    """Counters read by /ready and the benchmark (plain ints: written by one thread)."""

    __slots__ = ("batches", "items", "max_seen", "isolations")

    def __init__(self) -> None:
        self.batches = 0
        self.items = 0
        self.max_seen = 0
        self.isolations = 0

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "requests": self.items, "largest_batch": self.max_seen,
                "mean_batch": round(self.items / self.batches, 2) if self.batches else 0.0,
                "isolated_retries": self.isolations}


class _Entry:
    __slots__ = ("item", "future", "queued_at")

    def __init__(self, item: Any, future: asyncio.Future, queued_at: float) -> None:
        self.item = item
        self.future = future
        self.queued_at = queued_at


class MicroBatcher:
    """One scoring thread fed by the event loop; results come back as asyncio futures.

    `setup` runs first on the scoring thread (the model is loaded and used by the
    same thread: some runtimes keep per-thread state). `run_batch(items) -> list`
    scores several items at once; `run_one(item)` is used when there is no
    `run_batch` (then every call holds one item).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, max_batch: int = 64, max_wait_ms: float = 0.0,
                 max_queue: int = 1000) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.loop = loop
        self.max_batch = int(max_batch)
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.max_queue = int(max_queue)
        self.stats = BatchStats()
        self.busy_since: Optional[float] = None  # monotonic start of the call in progress
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._run_batch: Optional[Callable[[list], list]] = None
        self._run_one: Optional[Callable[[Any], Any]] = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self, setup: Callable[[], tuple[Optional[Callable], Callable]],
              on_ready: Callable[[], None], on_failed: Callable[[BaseException], None]) -> None:
        """Run `setup()` on the scoring thread, then serve the queue until `stop()`."""

        def main() -> None:
            try:
                self._run_batch, self._run_one = setup()
            except BaseException as exc:  # noqa: BLE001 - reported to the loop, which exits
                self.loop.call_soon_threadsafe(on_failed, exc)
                return
            self.loop.call_soon_threadsafe(on_ready)
            self._serve()

        self._thread = threading.Thread(target=main, name="scoring", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def batched(self) -> bool:
        return self._run_batch is not None

    # -- event-loop side ---------------------------------------------------------
    def submit(self, item: Any) -> asyncio.Future:
        """Queue one request; the future resolves to its output or raises its error."""
        fut = self.loop.create_future()
        self._queue.put(_Entry(item, fut, time.monotonic()))
        return fut

    def _deliver(self, entries: list[_Entry], results: list[Any]) -> None:
        for entry, result in zip(entries, results):
            fut = entry.future
            if fut.done():  # timed out meanwhile
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    # -- scoring thread ----------------------------------------------------------
    def _take(self) -> tuple[list[_Entry], bool]:
        """Block for the first entry, then add what is queued (waiting up to max_wait if set)."""
        q = self._queue
        first = q.get()
        if first is _STOP:
            return [], True
        batch = [first]
        stop = False
        deadline = first.queued_at + self.max_wait
        while len(batch) < self.max_batch:
            try:
                if self.max_wait:
                    remaining = deadline - time.monotonic()
                    nxt = q.get(timeout=remaining) if remaining > 0 else q.get_nowait()
                else:
                    nxt = q.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                stop = True
                break
            batch.append(nxt)
        return batch, stop

    def _serve(self) -> None:
        while True:
            batch, stop = self._take()
            live = [e for e in batch if not e.future.done()]  # skip requests that already timed out
            if live:
                self.busy_since = time.monotonic()
                try:
                    results = self._score([e.item for e in live])
                finally:
                    self.busy_since = None
                s = self.stats
                s.batches += 1
                s.items += len(live)
                if len(live) > s.max_seen:
                    s.max_seen = len(live)
                self.loop.call_soon_threadsafe(self._deliver, live, results)
            if stop:
                return

    def _score(self, items: list[Any]) -> list[Any]:
        if self._run_batch is None:
            return [self._call_one(item) for item in items]
        try:
            out = self._run_batch(items)
            if not isinstance(out, list) or len(out) != len(items):
                raise RuntimeError(f"run_batch returned {len(out) if isinstance(out, list) else type(out).__name__}"
                                   f" results for {len(items)} requests")
            return out
        except BaseException as exc:  # noqa: BLE001 - isolate the bad member below
            if len(items) == 1:
                return [_as_error(exc)]
        self.stats.isolations += 1
        results = []
        for item in items:
            try:
                one = self._run_batch([item])
                results.append(one[0] if isinstance(one, list) and len(one) == 1
                               else RuntimeError("run_batch must return one result per request"))
            except BaseException as exc:  # noqa: BLE001
                results.append(_as_error(exc))
        return results

    def _call_one(self, item: Any) -> Any:
        try:
            return self._run_one(item)  # type: ignore[misc]
        except BaseException as exc:  # noqa: BLE001
            return _as_error(exc)


def _as_error(exc: BaseException) -> Exception:
    """SystemExit & co. from a scoring script must fail the request, not the scoring thread."""
    if isinstance(exc, Exception):
        return exc
    err = RuntimeError(f"the scoring script raised {type(exc).__name__}")
    err.__cause__ = exc
    return err
