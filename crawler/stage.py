"""The ingest stage of a crawl process: the extraction pool and the writer, shared by its spiders.

``crawler crawl`` runs every source of a pass in one process; they share one stage, so the
machine runs one pool of extraction workers (not one per source) and SQLite has one writer:

    stage = IngestStage(db_path, workers=2).start()
    article, identity, index = await stage.analyse(page, cleanup)   # in the pool, after the first pages
    decision = await stage.writer.submit(lambda store: store.ingest(...))
    stage.close()
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from crawler.analysis import analyse
from crawler.dedupe import Fingerprint, band_keys, remember_stored
from crawler.identity import decider
from crawler.poolguard import die_with_parent
from crawler.writer import BatchWriter

INLINE_PAGES = 4  # pages extracted in the crawl process before the pool starts (a quiet poll never pays for one)


class IngestStage:
    def __init__(self, db_path: str | Path, workers: int = 1, writer: Any = None):
        """``writer``: where pages are stored — this process's own writer thread, unless another
        process writes for several crawl processes (a crawler.sharedwriter.RemoteWriter)."""
        self.workers = max(1, workers)
        self.writer = writer or BatchWriter(db_path)
        self._pool: ProcessPoolExecutor | None = None
        self._pages = 0

    def start(self) -> IngestStage:
        self.writer.start()
        return self

    async def analyse(self, html: str, url: str, cleanup: Any, files: list | None = None) -> Any:
        """Extraction, attachments, fingerprint and search text of one page; in the pool once the crawl has some pages."""
        self._pages += 1
        if self.workers == 1 or self._pages <= INLINE_PAGES:
            return analyse(html, url, cleanup, files)
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")  # no fork of a threaded reactor
            # Extraction only, no Scrapy in the workers; the fork server and workers die with this crawl.
            context.set_forkserver_preload(["crawler.forkserver_guard", "crawler.analysis"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=die_with_parent)
        return await asyncio.wrap_future(self._pool.submit(analyse, html, url, cleanup, files))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.writer.stop()


def store_article(store: Any, source: str, record: dict[str, Any], identity: Fingerprint, *, run_id: int | None,
                  flags: list[str], router: Any, index: tuple[str, str] | None = None) -> Any:
    """The one ingest call, for a crawl in one process (the writer thread) and for the Redis ingester:
    the identity decision, versions, search index and alert outbox rows of one page, in one transaction
    (a savepoint of the caller's batch): an article is never stored without its alerts, nor alerted twice."""
    with store.write():
        decision = store.ingest(source, record, identity, decider(source, record, identity, flags=flags),
                                run_id=run_id, flags=flags, band_keys_of=band_keys, index=index)
        if decision.outcome in ("new", "changed") and decision.duplicate_of is None or decision.promoted:
            remember_stored(record["body"], identity)  # stored as its story's representative: a later candidate
        if router is not None and alerts_for(decision):
            article = {**record, "content_hash": identity.content_hash, "url_key": record.get("url_key") or record["url"],
                       "attachments": decision.attachments, "version": decision.version, "story_id": decision.story_id,
                       "attachment_texts": record.get("attachment_texts") or {}}
            store.enqueue(router(source, decision, article, flags))
    return decision


def alerts_for(decision: Any) -> bool:
    """A new article, an edit, and a copy stored as a row of its own (the router decides who hears of it)."""
    stored_copy = decision.outcome == "duplicate" and decision.article_id != decision.duplicate_of
    return decision.outcome in ("new", "changed") or stored_copy
