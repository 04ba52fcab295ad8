"""A page's attachments, fetched by the spider while it holds the page (crawler/attachments.py reads them).

Each readable file is fetched like a page (network guard, robots.txt, per-source concurrency and delay,
retries), all of a page's files at once, within ``attachments.max_size``; a file linked from several
pages of one crawl is fetched once (:class:`FileCache`). A failure is recorded and the page is still stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

import scrapy
from scrapy.http import TextResponse
from scrapy.http.request import NO_CALLBACK
from twisted.python.failure import Failure

from crawler import attachments
from spiders.faults import classify_failure

STAT = "crawler/{}".format


async def fetch_attachments(spider: Any, crawl: Any, response: TextResponse) -> list[dict[str, Any]]:
    """The page's attachments: each readable one fetched like a page (network guard, robots.txt, delay,
    retries), within ``attachments.max_size``; a failure is recorded and the page is still stored."""
    if not attachments.mentions_files(response.text):
        return []
    links = attachments.find_links(response.selector.root, response.url)
    settings = crawl.source.attachments
    files: list[dict[str, Any]] = []
    wanted: list[tuple[dict[str, Any], Any, scrapy.Request]] = []
    for link in links:
        entry: dict[str, Any] = {"name": link.name, "url": link.url, "kind": link.kind, "status": "listed"}
        files.append(entry)
        if not settings.fetch or link.kind not in settings.types:
            continue
        request = spider._request(crawl, link.url, NO_CALLBACK, (None, None), {"kind": "attachment", "link": link.url})
        request.meta["download_maxsize"] = settings.max_size
        request.headers["Referer"] = response.url
        wanted.append((entry, link, request))
    waits = [(entry, crawl.files[link.url]) for entry, link, _ in wanted if link.url in crawl.files]
    wanted = [w for w in wanted if w[1].url not in crawl.files]  # not linked from an earlier page of this crawl
    for entry, link, _ in wanted:
        crawl.files.expect(link.url)
    spider.crawler.stats.inc_value(STAT("attachments_requested"), len(wanted))
    try:
        # all at once: the downloader's per-source slot still keeps request.concurrency and request.delay
        answers = await asyncio.gather(*(spider.crawler.engine.download_async(r) for _, _, r in wanted), return_exceptions=True)
        for (entry, link, _), got in zip(wanted, answers):
            if isinstance(got, BaseException):
                if not isinstance(got, Exception):
                    raise got
                kind, message, _ = classify_failure(Failure(got))
                if kind == "too_large":
                    message = f"larger than attachments.max_size ({settings.max_size / 2**20:g} MB); not fetched"
                entry.update(status="refused" if kind in ("too_large", "robots_disallowed") else "failed", error=message)
                _failed(spider, crawl, response.url, link, kind, message, None, refused=entry["status"] == "refused")
            elif got.status != 200:
                entry.update(status="failed", error=f"HTTP {got.status}")
                _failed(spider, crawl, response.url, link, f"http_{got.status}", f"HTTP {got.status}", got.status)
            else:
                entry.update(status="fetched", data=got.body)
            crawl.files.keep(entry)
    finally:  # a page that fails here never leaves the pages waiting for its files hanging
        for _, link, _ in wanted:
            crawl.files.abandon(link.url)
    for entry, known in waits:  # a form every notice attaches: fetched by the first page that links it
        entry.update(await asyncio.shield(known) if isinstance(known, asyncio.Future) else known)
    return files

def _failed(spider: Any, crawl: Any, page: str, link: Any, kind: str, message: str, status: int | None,
        refused: bool = False) -> None:
    text = f"attachment {link.name} ({link.kind}) of {page}: {message}"
    if refused:  # a file we will not take is worth knowing, not a failure of the crawl
        spider.record_notice(crawl, link.url, "attachment_refused", text)
    else:
        spider.record_error(crawl, link.url, f"attachment_{kind}", text, status)


class FileCache(dict):
    """Attachments fetched in one crawl, by URL: a file linked from several pages (a form every notice
    attaches) is fetched once per crawl, by the first page (the others wait for it); its failure is
    recorded once. At most MAX_BYTES of files are kept; past that a file is fetched again."""

    MAX_BYTES = 32 * 2**20

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def expect(self, url: str) -> None:
        """This page fetches ``url``: later pages wait for its answer."""
        self[url] = asyncio.get_running_loop().create_future()

    def abandon(self, url: str) -> None:
        pending = self.get(url)
        if isinstance(pending, asyncio.Future) and not pending.done():
            pending.set_result({"status": "failed", "error": "not fetched (the page that linked it first failed)"})
            self.pop(url, None)

    def keep(self, entry: dict[str, Any]) -> None:
        answer = {k: entry[k] for k in ("status", "data", "error") if k in entry}
        pending = self.get(entry["url"])
        if isinstance(pending, asyncio.Future) and not pending.done():
            pending.set_result(answer)
        data = entry.get("data") or b""
        if self.size + len(data) <= self.MAX_BYTES:
            self.size += len(data)
            self[entry["url"]] = answer
        else:
            self.pop(entry["url"], None)
