"""The CPU-heavy part of the pipeline, run in the extraction pool: extraction, attachments, fingerprint, search text.

A module of its own so the pool's workers import only what extraction needs
(trafilatura, lxml, OpenCC, numpy, and the attachment readers), not Scrapy and Twisted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from crawler import attachments
from crawler.dedupe import Fingerprint, fingerprint
from crawler.extract import extract
from crawler.models import Article
from crawler.sources import Cleanup
from storage.fts import index_text


def analyse(html: str, url: str, cleanup: Cleanup, files: list[dict[str, Any]] | None = None,
            ) -> tuple[Article, Fingerprint, tuple[str, str]]:
    """The article, its identity, and its title and body as segmented for search (storage/fts.py).

    ``files``: the page's attachments as the spider fetched them; each fetched one is checked and
    read here, and the article carries their manifest and texts."""
    article = extract(html, url, cleanup)
    article.attachments, article.attachment_texts = read_files(files or [])
    return article, fingerprint(article.title, article.body), (index_text(article.title), index_text(searched_text(article)))


def read_files(files: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(manifest, sha256 → text): a fetched file is ``stored`` once read, ``refused`` when it is not what
    its name says, expands like a zip bomb or cannot be read."""
    manifest, texts = [], {}
    for f in files:
        entry = attachments.Attachment(f["name"], f["url"], f["kind"], f["status"], error=f.get("error"))
        data = f.get("data")
        if f["status"] == "fetched" and data is not None:
            entry.size, entry.sha256 = len(data), hashlib.sha256(data).hexdigest()
            try:
                attachments.check(entry.kind, data)
                texts[entry.sha256] = attachments.read_text(entry.kind, data)
                entry.status = "stored"
            except attachments.Refused as exc:
                entry.status, entry.error = "refused", str(exc)
        manifest.append(entry.as_dict())
    return manifest, texts


def searched_text(article: Article) -> str:
    """What search reads of an article besides its title: the body, the notice header (发文字号…),
    and each attachment's name and text."""
    parts = [article.body, *(article.notice.lines() if article.notice else [])]
    if article.attachments:
        parts.append(attachments.text_of(article.attachments, article.attachment_texts))
    return "\n".join(parts)
