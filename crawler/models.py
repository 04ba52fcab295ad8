"""Value objects that flow down the pipeline: FetchedPage → Article."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler.notice import Notice


@dataclass
class FetchedPage:
    """An article page as downloaded by a spider (Scrapy item)."""

    source: str
    url: str
    html: str = field(repr=False)  # a failed item is logged by its repr: one line, not the page
    encoding: str
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    list_url: str | None = None
    crawl: dict[str, Any] = field(default_factory=dict)  # which crawl it belongs to (Redis workers: run, source, field)
    # the page's attachments as fetched (crawler/attachments.py): name, url, kind, status, data (bytes) or error
    attachments: list[dict[str, Any]] = field(default_factory=list, repr=False)


@dataclass
class Article:
    """What extraction makes of one page. Text is kept as served (no folding)."""

    url: str
    title: str
    body: str  # paragraphs separated by "\n"
    canonical_url: str | None = None
    published_at: datetime | None = None  # timezone-aware, Asia/Shanghai
    date_origin: str | None = None  # where the date came from: meta, header, url, trafilatura
    author: str | None = None
    source_name: str | None = None  # the original source ("来源:大众日报"), not the portal
    column: str | None = None  # the portal's column (CMS meta ColumnName), when the page names it
    flags: list[str] = field(default_factory=list)
    chrome_spam: list[str] = field(default_factory=list)  # spam phrases only outside the article (footer, side column)
    notice: Notice | None = None  # the 信息公开 header of a government notice (crawler/notice.py)
    tables: list[list[list[str]]] = field(default_factory=list)  # the body's data tables: rows of cells (crawler/tables.py)
    attachments: list[dict[str, Any]] = field(default_factory=list)  # manifest: crawler.attachments.Attachment dicts
    attachment_texts: dict[str, str] = field(default_factory=dict)  # sha256 -> text of each file read

    @property
    def written_at(self) -> datetime | None:
        """The date the document was written (成文日期), not its publish date."""
        return self.notice.written if self.notice else None

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "canonical_url": self.canonical_url,
            "title": self.title,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "date_origin": self.date_origin,
            "author": self.author,
            "source_name": self.source_name,
            "column": self.column,
            "flags": list(self.flags),
            "written_at": self.written_at.date().isoformat() if self.written_at else None,
            "notice": self.notice.as_dict() if self.notice else None,
            "tables": self.tables,
            "attachments": self.attachments,
            "body": self.body,
        }
