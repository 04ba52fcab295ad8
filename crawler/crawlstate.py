"""What a list crawl reads and records besides its pages: the one door from the spiders to storage.

The spider decides what to fetch from what is known (list and article validators, the
URLs already stored) and records its run (start, end, fetch errors, 304s, a pause the
portal asked for). Pages themselves go down the pipeline to the ingest stage. Two
implementations: :class:`SqliteState` here for a crawl in one process, and
``spiders.worker.RedisState`` for the Redis workers (the mirror and messages).
"""

from __future__ import annotations

import logging
from datetime import datetime
from operator import methodcaller
from pathlib import Path
from typing import Any, Protocol

from crawler import revisit
from storage import StorageFull, Store

__all__ = ["CrawlState", "SqliteState", "StorageFull"]

log = logging.getLogger(__name__)


class CrawlState(Protocol):
    def page_validator(self, url: str) -> tuple[str | None, str | None]: ...

    def article_validator(self, url: str) -> tuple[str | None, str | None]: ...

    def fresh_urls(self, urls: dict[str, str]) -> set[str]: ...

    def due_revisits(self, source: Any, now: datetime | None = None) -> list[str]: ...

    def touch_article(self, url: str) -> None: ...

    def record_error(self, *, run_id: int | None, source: str, url: str, kind: str, message: str,
                     status: int | None = None) -> None: ...

    def save_schedule_state(self, source: str, *, backoff_until: str) -> None: ...


class SqliteState:
    """The crawl's state in the SQLite database: read on the reactor's thread (its own connection);
    the records a crawl keeps while it runs (fetch errors, 304s, a pause) are handed to the ingest
    stage's writer, in its next batch, so the reactor never waits for the database lock or a commit
    of its own. The end of the run waits until they are committed, then writes on this connection."""

    def __init__(self, db_path: str | Path, writer: Any = None):
        self._store = Store(db_path)
        self._writer = writer  # crawler.writer.BatchWriter, or None: written here at once

    def begin_crawl(self, name: str, title: str, config_file: str, start_urls: list[str]) -> tuple[int, dict[str, bool]]:
        return self._store.begin_crawl(name, title, config_file, start_urls)

    def end_crawl(self, run_id: int, name: str, start_urls: list[str], **fields: Any) -> None:
        if self._writer is not None and not self._writer.drain():
            log.warning("%s: the writer did not commit this run's records within 30 s", name)
        self._store.end_crawl(run_id, name, start_urls, **fields)

    def page_validator(self, url: str) -> tuple[str | None, str | None]:
        return self._store.page_validator(url)

    def article_validator(self, url: str) -> tuple[str | None, str | None]:
        return self._store.article_validator(url)

    def fresh_urls(self, urls: dict[str, str]) -> set[str]:
        return self._store.fresh_urls(urls)

    def due_revisits(self, source: Any, now: datetime | None = None) -> list[str]:
        """The URLs of the source's stored articles due for a revisit (crawler/revisit.py)."""
        return revisit.due_urls(self._store, source, now)

    # the jobs are plain data (methodcaller), so the writer may be another process's (crawler/sharedwriter.py)
    def touch_article(self, url: str) -> None:
        self._write(methodcaller("touch_article", url), f"the 304 of {url}")

    def record_error(self, *, run_id: int | None, source: str, url: str, kind: str, message: str,
                     status: int | None = None) -> None:
        self._write(methodcaller("record_error", run_id=run_id, source=source, url=url, kind=kind, message=message,
                                 status=status), f"the {kind} error of {url}")

    def save_schedule_state(self, source: str, *, backoff_until: str) -> None:
        self._write(methodcaller("save_schedule_state", source, backoff_until=backoff_until), f"{source}'s pause")

    def _write(self, job: Any, what: str) -> None:
        if self._writer is None or self._writer.failure is not None:
            job(self._store)
        else:
            self._writer.post(job, what)

    def close(self) -> None:
        self._store.close()
