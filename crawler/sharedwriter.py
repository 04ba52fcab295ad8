"""One writer for several crawl processes: the process that forked them stores what they all fetch.

    pipes = [multiprocessing.Pipe() for _ in groups]       # before any fork
    # in crawl process i:   IngestStage(db, writer=RemoteWriter(pipes[i][1]))
    # in the parent:        serve(db, [ends[0] for ends in pipes])   # until every crawl closed its end

Why not a writer per crawl process (crawler/writer.py's thread in each): SQLite lets one of them
write at a time, and a writer thread holds the lock for as long as its batch takes, which beside
the reactor's inline extraction is mostly waiting for the GIL after each SQL statement (py-spy:
six tenths of its time in a transaction). With three crawl processes the other writers slept in
SQLite's busy handler half the crawl, their stages filled and the downloads waited (bench.e2e at
5,000 articles: 1.48x the naive spider). Here the writer has a process, and the GIL, of its own,
and no other writer to wait for: the same batches, the same ``BatchWriter``, the same jobs —
plain data (functools.partial, operator.methodcaller) that pickle.

A crawl process's ``RemoteWriter`` has the writer's interface (submit, post, drain, the back-pressure
counts, which stay in the crawl process); a page still counts as stored only once the writer's
transaction committed and said so. A crawl process killed mid-way loses only what was not
acknowledged; the writer dying takes the crawl processes with it (they die with their parent).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import pickle
import socket
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from crawler.writer import Backlog, BatchWriter, Job, _answer, _settle, nothing

log = logging.getLogger(__name__)


class RemoteWriter(Backlog):
    """The crawl process's side: BatchWriter's interface over a pipe to the writer's process."""

    def __init__(self, conn: Connection, backlog: int = 120):
        super().__init__(backlog)
        self._conn = conn
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Any, Any]] = {}  # id -> (event loop or None, future or Event)
        self._thread = threading.Thread(target=self._receive, name="writer-replies", daemon=True)
        self.failure: BaseException | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> RemoteWriter:
        if not self._thread.is_alive() and self.failure is None:
            self._thread.start()
        return self

    async def submit(self, job: Job) -> Any:
        """Run ``job(store)`` in the writer's next transaction; its result once that committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._send("job", future, job, loop)
        return await future

    def post(self, job: Job, what: str) -> None:
        """Run ``job(store)`` in the writer's next transaction; a failure is logged there, with ``what``."""
        self._send("post", what, job)

    def drain(self, timeout: float = 30.0) -> bool:
        """Block until everything handed over so far is committed (or failed); False on timeout."""
        if self.failure is not None:
            return True
        done = threading.Event()
        self._send("job", done, nothing)
        return done.wait(timeout)

    def stop(self, timeout: float = 60) -> None:
        """Wait until what was handed over is committed, then end: the writer sees this end shut, closes
        its own, and that ends the thread that reads the answers."""
        if self._thread.is_alive():
            self.drain(timeout)
            self._stopping = True
            try:  # a close() would not wake the thread blocked reading this socket, nor tell the writer
                with socket.socket(fileno=os.dup(self._conn.fileno())) as sock:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self._thread.join(timeout)
        self._conn.close()

    def _send(self, kind: str, waiter: Any, job: Job, loop: Any = None) -> None:
        """A job to the writer: ``waiter`` gets its answer ("job"), or is what a failure is logged as ("post")."""
        if self.failure is not None:
            raise self.failure
        if kind == "post":
            with self._send_lock:
                self._conn.send((kind, waiter, job))
            return
        ref = next(self._ids)
        self._pending[ref] = (loop, waiter)
        try:
            with self._send_lock:
                self._conn.send((kind, ref, job))
        except BaseException:
            self._pending.pop(ref, None)
            raise

    def _receive(self) -> None:
        try:
            while True:
                settle: dict[Any, list[tuple[Any, Any, BaseException | None]]] = {}
                for ref, value, error in self._conn.recv():  # the answers of one batch
                    loop, waiter = self._pending.pop(ref)
                    if loop is None:
                        _answer(None, waiter, value, error)
                    else:
                        settle.setdefault(loop, []).append((waiter, value, error))
                for loop, answers in settle.items():  # one wake-up of the reactor for all
                    try:
                        loop.call_soon_threadsafe(_settle_all, answers)
                    except RuntimeError:  # the crawl's loop is gone: nobody waits for them
                        pass
        except (EOFError, OSError) as exc:  # the writer's process is gone, or closed its end after stop()
            self.failure = RuntimeError("the writer is stopped" if self._stopping
                                        else f"the writer process is gone ({type(exc).__name__})")
        for loop, waiter in list(self._pending.values()):
            _answer(loop, waiter, None, self.failure)
        self._pending.clear()


def _settle_all(answers: list[tuple[Any, Any, BaseException | None]]) -> None:
    for future, value, error in answers:
        _settle(future, value, error)


def serve(db_path: str | Path, conns: list[Connection]) -> BatchWriter:
    """Store the jobs that the crawl processes at the other ends of ``conns`` hand over, in one
    writer's batches, until each of them has closed its end; then commit and stop. Returns the
    writer (its counts, its failure if any)."""
    writer = BatchWriter(db_path).start()
    relays = [threading.Thread(target=_relay, args=(writer, conn), name=f"writer-relay-{n}", daemon=True)
              for n, conn in enumerate(conns)]
    for relay in relays:
        relay.start()
    for relay in relays:
        relay.join()
    writer.stop()
    return writer


def _relay(writer: BatchWriter, conn: Connection) -> None:
    replies = _Replies(conn)
    writer.after_batch.append(replies.flush)
    try:
        while True:
            kind, ref, job = conn.recv()
            if kind == "post":
                if writer.failure is None:
                    writer.post(job, ref)
                else:
                    log.error("could not store %s: %s", ref, writer.failure)
            else:
                writer.put(job, replies.to(ref))
                if writer.failure is not None:  # answered at once, not by a batch
                    replies.flush()
    except (EOFError, OSError):  # the crawl process closed its end, or died
        pass
    finally:
        conn.close()


class _Replies:
    """The answers for one crawl process, sent together once their batch is answered: one message,
    and one wake-up of its reactor, a batch (up to 50 pages), not one a page."""

    def __init__(self, conn: Connection):
        self._conn, self._lock = conn, threading.Lock()
        self._answers: list[tuple[int, Any, BaseException | None]] = []

    def to(self, ref: int) -> Any:
        return functools.partial(self._add, ref)

    def _add(self, ref: int, value: Any, error: BaseException | None) -> None:
        with self._lock:
            self._answers.append((ref, value, error))

    def flush(self) -> None:
        with self._lock:
            answers, self._answers = self._answers, []
            if not answers:
                return
            try:
                try:
                    self._conn.send(answers)
                except (TypeError, AttributeError, ValueError, pickle.PicklingError):  # an answer that does not pickle
                    self._conn.send([answer if _pickles(answer) else
                                     (answer[0], None, RuntimeError(f"{type(answer[2] or answer[1]).__name__}: {answer[2] or answer[1]}"))
                                     for answer in answers])
            except OSError:  # that crawl process is gone: nobody waits for the answers
                pass


def _pickles(answer: Any) -> bool:
    try:
        pickle.dumps(answer)
    except Exception:  # noqa: BLE001 - whatever pickling raises
        return False
    return True
