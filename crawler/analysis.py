"""The CPU-heavy part of the pipeline, run in the extraction pool: extraction and fingerprint.

A module of its own so the pool's workers import only what extraction needs
(trafilatura, lxml, OpenCC, numpy), not Scrapy and Twisted.
"""

from __future__ import annotations

from crawler.dedupe import Fingerprint, fingerprint
from crawler.extract import extract
from crawler.models import Article
from crawler.sources import Cleanup


def analyse(html: str, url: str, cleanup: Cleanup) -> tuple[Article, Fingerprint]:
    article = extract(html, url, cleanup)
    return article, fingerprint(article.title, article.body)
