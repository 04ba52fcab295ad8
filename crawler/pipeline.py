"""Scrapy item pipeline: FetchedPage → extract → normalise → store.

The only place where a page becomes a stored article. Extraction failures are
recorded as fetch errors with the URL, never stored as articles.

Extraction is CPU-heavy: after the first few pages of a crawl (a quiet poll
never pays for a pool) pages are extracted in a process pool, so every core
works and the reactor keeps downloading meanwhile. Storing (the identity
decision, the search index, the commit) runs in the writer thread beside the
reactor (crawler/writer.py), one transaction per batch of pages; an item counts
as done only once its transaction committed. One writer per crawl process, or one for
several (crawler/sharedwriter.py); the jobs handed to it are plain data either way.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from scrapy.exceptions import DropItem

from crawler.alerts.config import load_alerts
from crawler.alerts.rules import make_router
from crawler.dedupe import Fingerprint
from crawler.errors import ExtractionError
from crawler.models import Article, FetchedPage
from crawler.normalize import canonical_url, url_key
from crawler.stage import IngestStage, store_article
from crawler.writer import BatchWriter
from storage import StorageFull

log = logging.getLogger(__name__)


def article_record(article: Article, page: FetchedPage, role: str = "primary") -> dict[str, Any]:
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
        "source_role": role,
        "written_at": article.written_at.date().isoformat() if article.written_at else None,
        "notice": json.dumps(article.notice.as_dict(), ensure_ascii=False) if article.notice else None,
        "tables": json.dumps(article.tables, ensure_ascii=False) if article.tables else None,
        "attachments": json.dumps(article.attachments, ensure_ascii=False),  # "[]": none (NULL: stored before they were read)
        "attachment_texts": article.attachment_texts,  # not a column: each file's text, kept once by hash
    }



class IngestPipeline:
    def __init__(self, crawler: Any, workers: int):
        self.crawler = crawler
        self.workers = workers
        self.router = self._router()
        self._stage: IngestStage | None = None
        self._own_stage = False

    def _router(self) -> Any:
        # A broken alerts.yaml stops the crawl here, before anything is stored without its alerts.
        return make_router(load_alerts(self.crawler.settings.get("CRAWLER_CONFIG")))

    @classmethod
    def from_crawler(cls, crawler: Any) -> IngestPipeline:
        return cls(crawler, max(1, crawler.settings.getint("CRAWLER_EXTRACT_WORKERS", 1)))

    def _stage_of(self, spider: Any) -> IngestStage:
        """The pass's stage (crawler.runner gives every spider the same one), or one of this crawl's own."""
        if self._stage is None:
            self._stage = getattr(spider, "stage", None)
            if self._stage is None:  # `scrapy crawl listing`, the Redis worker
                self._stage = IngestStage(self.crawler.settings.get("CRAWLER_DB"), self.workers)
                self._own_stage = True
                spider.stage = self._stage  # the back-pressure middleware finds it there
        return self._stage

    def _writer_of(self, spider: Any) -> BatchWriter | None:
        return self._stage_of(spider).writer

    def close_spider(self) -> None:
        if self._stage is not None and self._own_stage:
            self._stage.close()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedPage):
            return item
        spider = self.crawler.spider
        crawl = spider.crawl_of(item.crawl)
        writer = self._writer_of(spider)
        if writer is None:
            return await self._process(spider, crawl, item)
        units = 1 + sum(len(f.get("data") or b"") for f in item.attachments) // 2**20  # a page, and a unit per MB of files
        writer.admit(units)  # released when stored or refused: the back-pressure middleware counts on it
        try:
            return await self._process(spider, crawl, item)
        finally:
            writer.release(units)

    async def _process(self, spider: Any, crawl: Any, item: FetchedPage) -> FetchedPage:
        try:
            article, identity, index = await self._stage_of(spider).analyse(item.html, item.url, crawl.source.cleanup,
                                                                            item.attachments)
        except ExtractionError as exc:
            spider.record_error(crawl, item.url, exc.kind, str(exc), item.status)
            self._done(crawl, item)
            raise DropItem(f"{exc.kind}: {item.url}") from None
        if article.chrome_spam:
            spider.record_notice(
                crawl, item.url, "spam_chrome",
                f"spam phrase(s) {'、'.join(article.chrome_spam)} only outside the article text (footer, side column, "
                "navigation): the article is not flagged; the site's template may be tampered with",
            )
        for entry in article.attachments:
            if entry["status"] == "refused" and entry.get("sha256"):  # fetched, then refused by its bytes
                spider.record_notice(crawl, entry["url"], "attachment_refused",
                                     f"attachment {entry['name']} ({entry['kind']}) of {item.url}: {entry['error']}")
        item.attachments = []  # the bytes are read: do not hold them while the article waits for its commit
        await self._keep(spider, crawl, item, article, identity, index)
        return item

    def _done(self, crawl: Any, item: FetchedPage) -> None:
        """The page's request is finished (the Redis worker's pipeline marks it done)."""

    async def _keep(self, spider: Any, crawl: Any, item: FetchedPage, article: Article, identity: Fingerprint,
                    index: tuple[str, str]) -> None:
        writer = self._writer_of(spider)
        assert writer is not None
        if not writer.running:
            writer.start()
        # a job of plain data (crawler/sharedwriter.py may hand it to the writer of another process)
        store = partial(store_article, source=item.source, record=article_record(article, item, crawl.source.role),
                        identity=identity, run_id=crawl.run_id, flags=article.flags, router=self.router, index=index)
        try:
            decision = await writer.submit(store)
        except StorageFull as exc:
            spider.stop_storage_full(exc)
            raise DropItem(f"not stored, disk full: {item.url}") from None
        except Exception as exc:  # noqa: BLE001 - recorded, so the run is not clean and the page is fetched again
            spider.record_error(crawl, item.url, "store_failed", f"not stored: {type(exc).__name__}: {exc}", item.status)
            raise DropItem(f"not stored: {item.url}") from None
        self.crawler.stats.inc_value(f"crawler/articles_{decision.outcome}")
        if decision.outcome != "unchanged":
            detail = f" [{decision.detail}]" if decision.detail else ""
            log.info("%s: %s article #%d %s (%s)%s", item.source, decision.outcome, decision.article_id, article.title, item.url, detail)
