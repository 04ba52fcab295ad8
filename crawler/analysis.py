"""The CPU-heavy part of the pipeline, run in the extraction pool: extraction, attachments, fingerprint, search text.

A module of its own so the pool's workers import only what extraction needs
(trafilatura, lxml, OpenCC, numpy, and the attachment readers), not Scrapy and Twisted.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
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


class _ReadCache(OrderedDict):
    """Files this worker read lately, by (kind, SHA-256): a form that every notice of a portal
    attaches is read once, not once per page. The newest READ_CACHE_FILES, at most
    READ_CACHE_CHARS of text; a refusal is remembered too."""

    def get_or_read(self, kind: str, sha256: str, data: bytes) -> str | attachments.Refused:
        key = (kind, sha256)
        if key in self:
            self.move_to_end(key)
            return self[key]
        try:
            attachments.check(kind, data)
            value: str | attachments.Refused = attachments.read_text(kind, data)
        except attachments.Refused as exc:
            value = exc
        self[key] = value
        while len(self) > READ_CACHE_FILES or sum(len(v) for v in self.values() if isinstance(v, str)) > READ_CACHE_CHARS:
            self.popitem(last=False)
        return value


READ_CACHE_FILES = 32
READ_CACHE_CHARS = 2_000_000
_read_cache = _ReadCache()


def forget_read_files() -> None:
    """Empty this process's cache of read files (a benchmark timing the reading itself)."""
    _read_cache.clear()


def read_files(files: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(manifest, sha256 → text): a fetched file is ``stored`` once read, ``refused`` when it is not what
    its name says, expands like a zip bomb or cannot be read."""
    manifest, texts = [], {}
    for f in files:
        entry = attachments.Attachment(f["name"], f["url"], f["kind"], f["status"], error=f.get("error"))
        data = f.get("data")
        if f["status"] == "fetched" and data is not None:
            entry.size, entry.sha256 = len(data), hashlib.sha256(data).hexdigest()
            text = _read_cache.get_or_read(entry.kind, entry.sha256, data)
            if isinstance(text, attachments.Refused):
                entry.status, entry.error = "refused", str(text)
            else:
                texts[entry.sha256] = text
                entry.status = "stored"
        manifest.append(entry.as_dict())
    return manifest, texts


def searched_text(article: Article) -> str:
    """What search reads of an article besides its title: the body, the notice header (发文字号…),
    and each attachment's name and text."""
    parts = [article.body, *(article.notice.lines() if article.notice else [])]
    if article.attachments:
        parts.append(attachments.text_of(article.attachments, article.attachment_texts))
    return "\n".join(parts)
