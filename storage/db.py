"""Open the database and expose the operations the crawler needs.

Every write goes through :meth:`Store.write`, which takes the write lock up
front (``BEGIN IMMEDIATE``) so two processes never deadlock half-way through a
transaction; readers never block thanks to WAL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from storage.articles import ArticleWrites
from storage.clock import utcnow
from storage.migrations import MIGRATIONS
from storage.outbox import OutboxQueries
from storage.reading import ArticleReads
from storage.runs import RunQueries

SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 10_000


class StorageError(Exception):
    """The database cannot be opened or is of an unknown (newer) schema."""


class StorageFull(StorageError):
    """A write failed because the disk (or the file system holding the database) is full.

    The transaction was rolled back: nothing is half-written, and the next write
    after space returns carries on.
    """


def disk_full(exc: BaseException) -> bool:
    """An SQLite error saying the disk (or the database's file system) is full."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "disk is full" in str(exc) or getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL")


class Store(ArticleWrites, ArticleReads, RunQueries, OutboxQueries):
    """One connection to the crawler database.

    ``Store(path)`` creates the file and its folder when missing and brings the
    schema up to date. ``Store(path, readonly=True)`` never writes.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._flat = False  # inside batch(savepoints=False): nested writes are part of the batch
        if readonly:
            if not self.path.exists():
                raise StorageError(f"{self.path}: database does not exist (run a crawl first)")
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        self.db = sqlite_utils.Database(conn)
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit that acknowledges an article survives power loss.
            conn.execute("PRAGMA synchronous = FULL")
            # Savepoint journals (one per article of a batch) and sorts in memory, not in temp files;
            # 8 MB of page cache holds the index pages an ingest touches (LSH bands, FTS, URL keys).
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -8192")
            self.migrate()
        else:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StorageError(f"{self.path}: schema version {version} is newer than this program knows")

    # -- plumbing -------------------------------------------------------
    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self, *, savepoints: bool = True) -> Iterator[sqlite_utils.Database]:
        """One transaction for several writes, each a savepoint of it. With ``savepoints=False``
        a failed write is not undone on its own: the whole batch rolls back (for a caller that
        redoes the batch then; a savepoint per article costs about a fifth of its write)."""
        flat, self._flat = self._flat, not savepoints
        try:
            with self.write() as db:
                yield db
        finally:
            self._flat = flat

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction that takes the lock at once (BEGIN IMMEDIATE).

        Inside another ``write()`` (a batch: several articles, one commit) it is a
        savepoint: a failure undoes only its own part, and nothing is durable before
        the outer transaction commits.
        """
        if self.readonly:
            raise StorageError(f"{self.path}: opened read-only")
        conn = self.db.conn
        if conn.in_transaction and self._flat:
            yield self.db
            return
        if conn.in_transaction:
            conn.execute("SAVEPOINT part")
            try:
                yield self.db
                conn.execute("RELEASE part")
            except BaseException:
                conn.execute("ROLLBACK TO part")
                conn.execute("RELEASE part")
                raise
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if disk_full(exc):
                raise StorageFull(
                    f"{self.path}: the disk is full ({exc}); the transaction was rolled back, nothing is half-written. "
                    "Free space, then run the crawl again"
                ) from None
            raise

    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names of those applied."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: schema version {current} is newer than this program ({SCHEMA_VERSION}); upgrade the crawler"
            )
        applied = []
        for number, (name, migration) in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            with self.write() as db:
                migration(db)
                db.execute(f"PRAGMA user_version = {number}")
            applied.append(name)
        return applied

    # -- a crawl's beginning and end (in one process, or by the Redis ingester) --------
    def begin_crawl(self, name: str, title: str, config_file: str, start_urls: list[str]) -> tuple[int, dict[str, bool]]:
        """Register the source, open a run and mark its lists unfinished.

        Returns the run id and what list_progress said before: a list read to the end
        last time may stop early now (304, fully known page); one whose crawl was cut
        off (kill, timeout, errors) is read to the end again.
        """
        self.register_source(name, title, config_file)
        run_id = self.start_run(name)
        progress = self.list_progress(start_urls)
        self.mark_lists(name, start_urls, complete=False)
        return run_id, progress

    def end_crawl(
        self, run_id: int, source: str, start_urls: list[str], *, clean: bool, status: str, reason: str,
        counts: dict[str, int], validators: dict[str, tuple[str | None, str | None]],
    ) -> None:
        """Close a run. List validators are kept, and the lists marked read to the end, only after
        a clean run: otherwise a 304 next time would hide the articles that failed this time."""
        if clean:
            self.save_page_validators(validators)
            self.mark_lists(source, start_urls, complete=True)
        self.finish_run(run_id, status=status, finish_reason=reason, counts=counts)

    # -- sources --------------------------------------------------------
    def register_source(self, name: str, title: str, config_file: str) -> None:
        now = utcnow()
        with self.write() as db:
            db.execute(
                "INSERT INTO sources (name, title, config_file, first_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET title = excluded.title, config_file = excluded.config_file",
                [name, title, config_file, now],
            )

    def source_titles(self) -> dict[str, str | None]:
        return dict(self.db.execute("SELECT name, title FROM sources").fetchall())

    # -- HTTP validators of list pages ------------------------------------
    def page_validator(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM page_validators WHERE url = ?", [url]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_page_validators(self, validators: dict[str, tuple[str | None, str | None]]) -> None:
        if not validators:
            return
        now = utcnow()
        with self.write() as db:
            db.conn.executemany(
                "INSERT INTO page_validators (url, etag, last_modified, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
                "updated_at = excluded.updated_at",
                [(url, etag, lm, now) for url, (etag, lm) in validators.items()],
            )

    # -- whether the last crawl of a start URL read its list to the end ---------------------
    def list_progress(self, start_urls: list[str]) -> dict[str, bool]:
        """For each start URL crawled before: did its last crawl finish cleanly?

        Only a list read to the end may be cut short next time (304, fully known page).
        """
        marks = ",".join("?" * len(start_urls))
        rows = self.db.execute(
            f"SELECT start_url, complete FROM list_progress WHERE start_url IN ({marks})", start_urls
        ).fetchall()
        return {url: bool(complete) for url, complete in rows}

    def mark_lists(self, source: str, start_urls: list[str], complete: bool) -> None:
        now = utcnow()
        with self.write() as db:
            db.conn.executemany(
                "INSERT INTO list_progress (start_url, source, complete, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(start_url) DO UPDATE SET complete = excluded.complete, updated_at = excluded.updated_at",
                [(url, source, int(complete), now) for url in start_urls],
            )
