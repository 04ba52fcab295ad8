"""Scrapy item pipeline: FetchedPage → extract → normalise → store.

The only place where a page becomes a stored article. Extraction failures are
recorded as fetch errors with the URL, never stored as articles.

Extraction is CPU-heavy: after the first few pages of a crawl (a quiet poll
never pays for a pool) pages are extracted in a process pool, so every core
works and the reactor keeps downloading meanwhile. Storage stays in the crawl
process: one writer.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from scrapy.exceptions import DropItem

from crawler.alerts.config import load_alerts
from crawler.alerts.rules import make_router
from crawler.analysis import analyse
from crawler.dedupe import Fingerprint, band_keys, make_matcher, unified_diff
from crawler.errors import ExtractionError
from crawler.models import Article, FetchedPage
from crawler.normalize import canonical_url, url_key
from crawler.poolguard import die_with_parent
from storage import StorageFull

log = logging.getLogger(__name__)


def article_record(article: Article, page: FetchedPage) -> dict[str, Any]:
    return {
        "url": page.url,
        "url_key": url_key(page.url),
        "canonical_url": canonical_url(article.canonical_url or page.url),
        "title": article.title,
        "body": article.body,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "author": article.author,
        "source_name": article.source_name,
        "column_name": article.column,
        "encoding": page.encoding,
        "etag": page.etag,
        "last_modified": page.last_modified,
    }


INLINE_PAGES = 4  # pages extracted in the crawl process before the pool starts


class StorePipeline:
    def __init__(self, crawler: Any, workers: int):
        self.crawler = crawler
        self.workers = workers
        self.router = self._router()
        self._pool: ProcessPoolExecutor | None = None
        self._pages = 0

    def _router(self) -> Any:
        # A broken alerts.yaml stops the crawl here, before anything is stored without its alerts.
        return make_router(load_alerts(self.crawler.settings.get("CRAWLER_CONFIG")))

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler, max(1, crawler.settings.getint("CRAWLER_EXTRACT_WORKERS", 1)))

    async def _analyse(self, page: FetchedPage, cleanup: Any) -> tuple[Article, Fingerprint]:
        self._pages += 1
        if self.workers == 1 or self._pages <= INLINE_PAGES:
            return analyse(page.html, page.url, cleanup)
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")  # no fork of a threaded reactor
            # Extraction only, no Scrapy in the workers; the fork server and workers die with this crawl.
            context.set_forkserver_preload(["crawler.poolguard", "crawler.analysis"])
            os.environ["CRAWLER_POOL_PROCESS"] = "1"  # read by crawler.poolguard in the fork server
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=die_with_parent)
        return await asyncio.wrap_future(self._pool.submit(analyse, page.html, page.url, cleanup))

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedPage):
            return item
        spider = self.crawler.spider
        crawl = spider.crawl_of(item.crawl)
        try:
            article, identity = await self._analyse(item, crawl.source.cleanup)
        except ExtractionError as exc:
            spider.record_error(crawl, item.url, exc.kind, str(exc), item.status)
            self._done(crawl, item)
            raise DropItem(f"{exc.kind}: {item.url}") from None
        self._keep(spider, crawl, item, article, identity)
        return item

    def _done(self, crawl: Any, item: FetchedPage) -> None:
        """The page's request is finished (the Redis worker's pipeline marks it done)."""

    def _keep(self, spider: Any, crawl: Any, item: FetchedPage, article: Article, identity: Fingerprint) -> None:
        try:
            decision = crawl.store.ingest(
                item.source, article_record(article, item), identity, make_matcher(identity),
                lambda old, new: unified_diff(old, new, item.url), run_id=crawl.run_id, flags=article.flags,
                band_keys_of=band_keys, router=self.router,
            )
        except StorageFull as exc:
            spider.stop_storage_full(exc)
            raise DropItem(f"not stored, disk full: {item.url}") from None
        self.crawler.stats.inc_value(f"crawler/articles_{decision.outcome}")
        if decision.outcome != "unchanged":
            detail = f" [{decision.detail}]" if decision.detail else ""
            log.info("%s: %s article #%d %s (%s)%s", item.source, decision.outcome, decision.article_id, article.title, item.url, detail)
