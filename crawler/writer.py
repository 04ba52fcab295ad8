"""The ingest stage's writer: one thread beside the reactor that stores pages in batched transactions.

    writer = BatchWriter(db_path).start()
    decision = await writer.submit(lambda store: store.ingest(...))   # from the reactor
    writer.post(lambda store: store.record_error(...), "what")        # a record nobody waits for
    writer.drain()                                                     # all committed (a run's end)
    writer.stop()                                                      # at the end of the crawl

One writer per process and database (``crawler crawl`` gives the same one to every
source's spider), and one for several crawl processes (crawler/sharedwriter.py): SQLite has
one writer at a time, and several writers would only wait for each other's lock.

The reactor only hands jobs over; the identity decision, the search index and the
SQLite commit run here, one transaction per batch (up to ``batch`` jobs or ``window``
seconds), so a crawl pays one commit for many articles. A job's result is delivered
only after its transaction committed: a page counts as stored when it is on disk, and
a crash before that loses nothing that was acknowledged. One failing job does not undo the
others: the batch is then rolled back and redone with a savepoint per job (savepoints for
every batch would cost about a fifth of each write). When the writer falls behind, ``admit`` /
``release`` count the pages in the stage (one more unit per MB of a page's attachments) and
``room`` holds article downloads back (spiders.middlewares.Backpressure).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage import StorageFull, Store
from storage.db import disk_full

log = logging.getLogger(__name__)

Job = Callable[[Store], Any]
_STOP = object()


class Backlog:
    """Back-pressure: pages admitted (being extracted or waiting to be stored) beyond ``backlog``
    hold new article downloads back (spiders.middlewares.Backpressure) until half of them are done.
    Counted on the reactor's thread only."""

    def __init__(self, backlog: int = 120):
        self.high, self.low = backlog, backlog // 2
        self.backlog = 0
        self._room: asyncio.Event | None = None

    def admit(self, units: int = 1) -> None:
        """A page enters the ingest stage; ``units``: what it weighs (a page with attachments counts one
        more per MB of their bytes, so files in flight are bounded as pages are)."""
        self.backlog += units
        if self.backlog >= self.high:
            self._event().clear()

    def release(self, units: int = 1) -> None:
        """A page left it: stored, refused or failed (``units`` as admitted)."""
        self.backlog -= units
        if self.backlog <= self.low:
            self._event().set()

    async def room(self) -> None:
        """Wait until the ingest stage takes more pages."""
        await self._event().wait()

    def _event(self) -> asyncio.Event:
        if self._room is None:
            self._room = asyncio.Event()
            self._room.set()
        return self._room


class BatchWriter(Backlog):
    def __init__(self, db_path: str | Path, *, batch: int = 50, window: float = 0.2, backlog: int = 120):
        super().__init__(backlog)
        self.db_path = Path(db_path)
        self.batch, self.window = batch, window
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self.commits = 0
        self.jobs = 0
        self.failure: BaseException | None = None  # why the thread stopped, if it did on its own
        self.after_batch: list[Callable[[], None]] = []  # called on the writer's thread once a batch is answered

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> BatchWriter:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    async def submit(self, job: Job) -> Any:
        """Run ``job(store)`` in the writer's next transaction; its result once that committed."""
        if self.failure is not None:
            raise self.failure
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((job, loop, future))
        if self.failure is not None and not future.done():  # the thread died after the check above
            future.set_exception(self.failure)
        return await future

    def post(self, job: Job, what: str) -> None:
        """Run ``job(store)`` in the writer's next transaction, answering no one: a record the crawl
        keeps besides its pages (a fetch error, a 304), which must not stall the reactor on the
        database lock or on a commit of its own. A failure is logged, with ``what``."""
        if self.failure is not None:
            raise self.failure
        self.start()
        self._queue.put((job, None, what))

    def drain(self, timeout: float = 30.0) -> bool:
        """Block until everything handed over so far is committed (or failed); False on timeout."""
        if not self.running:
            return True
        done = threading.Event()
        self._queue.put((nothing, None, done))  # set once its batch committed
        return done.wait(timeout)

    def put(self, job: Job, reply: Callable[[Any, BaseException | None], None]) -> None:
        """Run ``job(store)`` in the next transaction; ``reply(result, error)`` from the writer's thread once
        it committed (or failed): the jobs of another process (crawler/sharedwriter.py)."""
        if self.failure is not None:
            reply(None, self.failure)
            return
        self._queue.put((job, None, reply))

    def stop(self, timeout: float = 60) -> None:
        """Commit what was handed over, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            store = Store(self.db_path)
        except BaseException as exc:  # noqa: BLE001 - e.g. a full disk or a database that cannot be opened
            self._fail_all(exc)
            return
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                jobs, stopping = self._gather(first)
                self._commit(store, jobs)
        except BaseException as exc:  # noqa: BLE001 - never leave a crawl waiting for an answer that cannot come
            self._fail_all(exc)
        finally:
            store.close()

    def _fail_all(self, exc: BaseException) -> None:
        """The thread cannot go on: every job waiting, and every later one, fails with ``exc``."""
        log.error("the store writer stopped: %s", exc)
        self.failure = exc
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                _, loop, future = item
                _answer(loop, future, None, exc)
        self._answered()

    def _gather(self, first: Any) -> tuple[list[Any], bool]:
        jobs = [first]
        deadline = time.monotonic() + self.window
        while len(jobs) < self.batch:
            try:
                nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if nxt is _STOP:
                return jobs, True
            jobs.append(nxt)
            if time.monotonic() >= deadline:
                break
        return jobs, False

    def _commit(self, store: Store, jobs: list[Any]) -> None:
        began = time.monotonic()
        try:
            try:  # the common case, every page stores: one transaction, no savepoint per page
                results = self._apply(store, jobs, savepoints=False)
            except _PageFailed:  # again, each page in a savepoint: only the failed page is left out
                log.debug("a page of a batch of %d failed: storing them one savepoint each", len(jobs))
                results = self._apply(store, jobs, savepoints=True)
            self.commits += 1
            self.jobs += len(jobs)
            log.debug("committed %d page(s) in %.3fs", len(jobs), time.monotonic() - began)
        except BaseException as exc:  # the batch was rolled back: nothing of it is stored
            log.debug("batch of %d rolled back: %s", len(jobs), exc)
            results = [(loop, future, None, exc) for _, loop, future in jobs]
        for loop, future, value, error in results:
            _answer(loop, future, value, error)
        self._answered()

    def _answered(self) -> None:
        for hook in self.after_batch:
            hook()

    @staticmethod
    def _apply(store: Store, jobs: list[Any], *, savepoints: bool) -> list[tuple[Any, Any, Any, BaseException | None]]:
        results: list[tuple[Any, Any, Any, BaseException | None]] = []
        with store.batch(savepoints=savepoints):
            for job, loop, future in jobs:
                try:
                    results.append((loop, future, job(store), None))
                except Exception as exc:  # noqa: BLE001 - handed back to the job's caller
                    if isinstance(exc, StorageFull) or disk_full(exc):
                        raise  # the whole batch: the outer transaction rolls back and says so
                    if not savepoints:
                        raise _PageFailed() from exc  # the batch rolls back, to be redone page by page
                    results.append((loop, future, None, exc))
        return results


class _PageFailed(Exception):
    """A page of a batch stored without savepoints failed."""


def nothing(store: Store) -> None:
    """A job that writes nothing: its answer says that everything handed over before it is committed."""


def _answer(loop: Any, future: Any, value: Any, error: BaseException | None) -> None:
    """Hand a job's outcome to whoever waits for it, from the writer's thread."""
    if loop is None:  # no event loop waits: ``future`` is an Event (drain), a reply (put) or what was posted
        if isinstance(future, threading.Event):
            future.set()
        elif callable(future):
            future(value, error)
        elif error is not None:
            log.error("could not store %s: %s", future, error)
        return
    try:
        loop.call_soon_threadsafe(_settle, future, value, error)
    except RuntimeError:  # the crawl's loop is gone (killed mid-batch): nobody waits for it
        pass


def _settle(future: asyncio.Future, value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
