"""The CPU-heavy part of the pipeline, run in the extraction pool: extraction, fingerprint, search text.

A module of its own so the pool's workers import only what extraction needs
(trafilatura, lxml, OpenCC, numpy), not Scrapy and Twisted.
"""

from __future__ import annotations

from crawler.dedupe import Fingerprint, fingerprint
from crawler.extract import extract
from crawler.models import Article
from crawler.sources import Cleanup
from storage.fts import index_text


def analyse(html: str, url: str, cleanup: Cleanup) -> tuple[Article, Fingerprint, tuple[str, str]]:
    """The article, its identity, and its title and body as segmented for search (storage/fts.py)."""
    article = extract(html, url, cleanup)
    searched = "\n".join([article.body, *(article.notice.lines() if article.notice else [])])  # 发文字号 etc. findable
    return article, fingerprint(article.title, article.body), (index_text(article.title), index_text(searched))
