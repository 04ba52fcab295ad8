"""One writer for several crawl processes (crawler/sharedwriter.py): real pipes, a real SQLite file.

The crawl side (RemoteWriter) and the writer (serve) run in threads of this process here; across a
fork they are the same objects (tests/test_shards.py crawls through them end to end)."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
from functools import partial
from pathlib import Path

import pytest

from crawler.sharedwriter import RemoteWriter, serve
from storage import Store


def insert(store: Store, name: str) -> str:  # a job of plain data: partial(insert, name=...) pickles
    with store.write() as db:
        db.execute("INSERT INTO sources (name, title) VALUES (?, ?)", [name, name])
    return name


def broken(store: Store) -> None:
    with store.write() as db:
        db.execute("INSERT INTO sources (name, title) VALUES ('half', 'half')")
        raise ValueError("this page is broken")


def _names(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sources")}


def test_two_crawls_one_writer_answers_after_commit_and_errors_come_back(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    Store(db).close()
    pipes = [multiprocessing.Pipe() for _ in range(2)]
    served: list = []
    server = threading.Thread(target=lambda: served.append(serve(db, [w for w, _ in pipes])))
    server.start()
    crawls = [RemoteWriter(c).start() for _, c in pipes]
    seen: list[bool] = []

    async def crawl(n: int, writer: RemoteWriter) -> list:
        results = []
        for k in range(5):
            name = await writer.submit(partial(insert, name=f"c{n}-{k}"))
            seen.append(name in _names(db))  # answered only once another connection can read it
            results.append(name)
        results.append(await asyncio.gather(writer.submit(broken), return_exceptions=True))
        writer.post(partial(insert, name=f"c{n}-posted"), "a posted row")
        return results

    async def both() -> list:
        return await asyncio.gather(*(crawl(n, w) for n, w in enumerate(crawls)))

    results = asyncio.run(both())
    assert all(writer.drain(10) for writer in crawls)  # the posted rows are committed too
    assert {f"c{n}-posted" for n in range(2)} <= _names(db)
    for writer in crawls:
        writer.stop()
    server.join(10)
    assert not server.is_alive(), "serve() returns once every crawl closed its end"
    for n, got in enumerate(results):
        assert got[:5] == [f"c{n}-{k}" for k in range(5)]
        assert isinstance(got[5][0], ValueError) and "broken" in str(got[5][0])
    assert all(seen)
    assert "half" not in _names(db)  # the broken job's own row was rolled back, no other
    assert served[0].jobs >= 14


def test_a_crawl_learns_that_the_writer_is_gone(tmp_path: Path) -> None:
    writers_end, crawls_end = multiprocessing.Pipe()
    writer = RemoteWriter(crawls_end).start()

    async def main() -> None:
        pending = asyncio.ensure_future(writer.submit(partial(insert, name="lost")))
        await asyncio.sleep(0.05)
        writers_end.close()  # the writer's process died before it answered
        with pytest.raises(RuntimeError, match="writer process is gone"):
            await asyncio.wait_for(pending, 5)

    asyncio.run(main())
    assert writer.failure is not None
    with pytest.raises(RuntimeError):
        writer.post(partial(insert, name="later"), "a later row")
    assert writer.drain(1)  # nothing more can be committed: no wait


def unpicklable(store: Store) -> object:
    return threading.Lock()  # stored fine, but its answer cannot cross the pipe


def test_a_batch_answered_at_once_and_an_answer_that_does_not_pickle(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    Store(db).close()
    writers_end, crawls_end = multiprocessing.Pipe()
    served: list = []
    server = threading.Thread(target=lambda: served.append(serve(db, [writers_end])))
    server.start()
    writer = RemoteWriter(crawls_end).start()

    async def many() -> list:
        jobs = [partial(insert, name=f"p{k}") for k in range(30)]
        jobs.insert(10, unpicklable)
        return await asyncio.gather(*(writer.submit(job) for job in jobs), return_exceptions=True)

    got = asyncio.run(many())
    writer.stop()
    server.join(10)
    assert isinstance(got[10], RuntimeError) and "lock" in str(got[10]).lower()
    assert [g for k, g in enumerate(got) if k != 10] == [f"p{k}" for k in range(30)]
    assert served[0].commits < 31  # the pages shared transactions (and each batch one message back)
