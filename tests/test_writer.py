"""The ingest stage's writer thread (crawler/writer.py) on a real SQLite file: batches, savepoints, back-pressure."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from crawler.writer import BatchWriter
from storage import Store


def _insert(name: str):
    def job(store: Store) -> str:
        with store.write() as db:  # a savepoint inside the writer's batch
            db.execute("INSERT INTO sources (name, title) VALUES (?, ?)", [name, name])
        return name
    return job


def _fail(store: Store) -> None:
    with store.write() as db:
        db.execute("INSERT INTO sources (name, title) VALUES ('half', 'half')")
        raise ValueError("this page is broken")


def test_a_batch_commits_once_and_a_failing_job_undoes_only_itself(tmp_path: Path) -> None:
    Store(tmp_path / "c.db").close()
    writer = BatchWriter(tmp_path / "c.db", batch=50, window=0.5).start()

    async def main() -> list:
        # the batch is tried in one go, rolled back at the broken page, and redone a savepoint per page
        jobs = [writer.submit(_insert(f"s{n}")) for n in range(5)] + [writer.submit(_fail)]
        jobs += [writer.submit(_insert(f"s{n}")) for n in range(5, 10)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        writer.stop()
    assert results[:5] + results[6:] == [f"s{n}" for n in range(10)]
    assert isinstance(results[5], ValueError)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sources")}
    assert names == {f"s{n}" for n in range(10)}  # the failing job's own row was rolled back, no other
    assert writer.commits == 1 and writer.jobs == 11


def test_results_arrive_only_after_the_commit(tmp_path: Path) -> None:
    """A job's caller is answered once its transaction is on disk: another connection sees the row then."""
    Store(tmp_path / "c.db").close()
    writer = BatchWriter(tmp_path / "c.db", batch=5, window=0.05).start()
    seen: list[int] = []

    async def main() -> None:
        await writer.submit(_insert("early"))
        with sqlite3.connect(tmp_path / "c.db") as conn:
            seen.append(conn.execute("SELECT COUNT(*) FROM sources WHERE name = 'early'").fetchone()[0])

    try:
        asyncio.run(main())
    finally:
        writer.stop()
    assert seen == [1]


def test_back_pressure_holds_until_half_the_backlog_is_done(tmp_path: Path) -> None:
    writer = BatchWriter(tmp_path / "c.db", backlog=4)

    async def main() -> None:
        for _ in range(4):
            writer.admit()
        waiting = asyncio.ensure_future(writer.room())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # full: article downloads wait
        writer.release()
        await asyncio.sleep(0.01)
        assert not waiting.done()  # 3 left, above the low mark (2)
        writer.release()
        await asyncio.wait_for(waiting, 1)  # 2 left: room again

    asyncio.run(main())


def test_a_page_with_large_attachments_weighs_more(tmp_path: Path) -> None:
    writer = BatchWriter(tmp_path / "c.db", backlog=40)

    async def main() -> None:
        writer.admit()
        writer.admit(39)  # a page with 38 MB of attachments: the stage is full
        waiting = asyncio.ensure_future(writer.room())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        writer.release(39)
        await asyncio.wait_for(waiting, 1)

    asyncio.run(main())


def test_a_full_disk_fails_the_whole_batch(tmp_path: Path) -> None:
    Store(tmp_path / "c.db").close()
    writer = BatchWriter(tmp_path / "c.db", window=0.2).start()

    def disk_full(store: Store) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    async def main() -> list:
        return await asyncio.gather(writer.submit(_insert("a")), writer.submit(disk_full), return_exceptions=True)

    try:
        first, second = asyncio.run(main())
    finally:
        writer.stop()
    assert isinstance(first, Exception) and isinstance(second, Exception)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 0  # nothing half-written


def test_a_writer_that_cannot_open_its_database_fails_every_job_at_once(tmp_path: Path) -> None:
    """No crawl waits for ever on a writer that died: its jobs fail with the reason, and so do later ones."""
    (tmp_path / "not-a-dir").write_text("x", encoding="utf-8")
    writer = BatchWriter(tmp_path / "not-a-dir" / "c.db").start()

    async def main() -> list:
        first = await asyncio.gather(writer.submit(_insert("a")), return_exceptions=True)
        later = await asyncio.gather(writer.submit(_insert("b")), return_exceptions=True)
        return first + later

    results = asyncio.run(asyncio.wait_for(main(), 10))
    writer.stop()
    assert all(isinstance(r, Exception) for r in results), results
    assert writer.failure is not None


def test_posted_records_are_stored_in_the_next_batch_and_drain_waits_for_their_commit(tmp_path: Path, caplog) -> None:
    """Fetch errors and 304s of a crawl go to the writer, answering no one: the reactor never waits for the lock."""
    Store(tmp_path / "c.db").close()
    writer = BatchWriter(tmp_path / "c.db", batch=50, window=0.3)
    try:
        writer.post(_insert("posted"), "a posted row")  # starts the writer
        writer.post(_fail, "a broken record")
        writer.post(_insert("after"), "another posted row")
        assert writer.drain(5)
        with sqlite3.connect(tmp_path / "c.db") as conn:  # committed once drain() returns
            names = {row[0] for row in conn.execute("SELECT name FROM sources")}
        assert names == {"posted", "after"}  # the broken one undid only itself
        assert "could not store a broken record: this page is broken" in caplog.text
    finally:
        writer.stop()
    assert BatchWriter(tmp_path / "c.db").drain(1)  # never started: nothing to wait for
