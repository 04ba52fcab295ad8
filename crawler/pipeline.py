"""Scrapy item pipeline: FetchedPage → extract → normalise → store.

The only place where a page becomes a stored article. Extraction failures are
recorded as fetch errors with the URL, never stored as articles.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import DropItem

from crawler.errors import ExtractionError
from crawler.extract import extract
from crawler.models import Article, FetchedPage
from crawler.normalize import canonical_url, content_hash

log = logging.getLogger(__name__)


def article_record(article: Article, page: FetchedPage) -> dict[str, Any]:
    return {
        "url": page.url,
        "canonical_url": canonical_url(article.canonical_url or page.url),
        "title": article.title,
        "body": article.body,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "author": article.author,
        "source_name": article.source_name,
        "content_hash": content_hash(article.title, article.body),
        "encoding": page.encoding,
        "etag": page.etag,
        "last_modified": page.last_modified,
    }


class StorePipeline:
    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedPage):
            return item
        spider = self.crawler.spider
        try:
            article = extract(item.html, item.url, spider.source.cleanup)
        except ExtractionError as exc:
            spider.record_error(item.url, exc.kind, str(exc), item.status)
            raise DropItem(f"{exc.kind}: {item.url}") from None
        outcome, article_id = spider.store.save_article(item.source, article_record(article, item), article.flags)
        self.crawler.stats.inc_value(f"crawler/articles_{outcome}")
        if outcome != "unchanged":
            log.info("%s: %s article #%d %s (%s)", item.source, outcome, article_id, article.title, item.url)
        return item
