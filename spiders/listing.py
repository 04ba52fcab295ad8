"""The generic list-page spider: one source config drives it.

Per crawl: fetch each start URL (conditionally, with the stored ETag /
Last-Modified), follow the article links not stored yet, page on until a whole
list page is already known or ``max_pages`` is reached, and hand every article
page to the item pipeline as a FetchedPage.

    scrapy crawl listing -a source=iqilu-zaozhuang      # for Scrapy users
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.charset import better_encoding, looks_binary
from crawler.crawlstate import SqliteState, StorageFull
from crawler.errors import ConfigError
from crawler.extract import unavailable_reason
from crawler.models import FetchedPage
from crawler.normalize import canonical_url, url_key
from crawler.sources import LoadedSource, Pagination, load_sources
from spiders.cms import JPage, NextPage, script_rendered
from spiders.faults import classify_failure
from spiders.files import FileCache, fetch_attachments
from spiders.links import article_links, next_page

log = logging.getLogger(__name__)

STAT = "crawler/{}".format  # our counters live under crawler/ in Scrapy's stats
CRAWL_META = ("run", "source", "field")  # request meta naming a request's crawl (Redis workers)


class ListingSpider(scrapy.Spider):
    name = "listing"

    def __init__(self, source: LoadedSource | str | None = None, stage: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._source_arg = source
        self.stage = stage  # crawler.stage.IngestStage shared by the pass's spiders (None: the pipeline makes one)
        self.loaded: LoadedSource
        self.state: SqliteState  # what the crawl reads and records besides its pages (crawler/crawlstate.py)
        self.run_id: int | None = None
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._resume: set[str] = set()
        self.start_netlocs: set[str] = set()
        self.paused_until: datetime | None = None
        self._requested: set[str] = set()  # article URLs asked for in this crawl
        self.disk_full = False
        self.files = FileCache()  # attachments fetched in this crawl (the Redis worker keeps one per run)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ListingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.loaded = spider._resolve_source(crawler.settings)
        source = spider.loaded.source
        spider.name = source.name  # log lines and stats carry the source name
        req = source.request
        for key, value in {
            "DOWNLOAD_DELAY": req.delay.total_seconds(),
            "CONCURRENT_REQUESTS_PER_DOMAIN": req.concurrency,
            # requests the engine hands the downloader at once (one crawler per source): the source's
            # concurrency and two waiting, not Scrapy's 16: a stop waits for every request handed over,
            # one per delay
            "CONCURRENT_REQUESTS": req.concurrency + 2,
            "USER_AGENT": req.user_agent,
            "DOWNLOAD_TIMEOUT": req.timeout.total_seconds(),
            "RETRY_TIMES": req.retries,
            "ROBOTSTXT_OBEY": req.obey_robots,
        }.items():
            crawler.settings.set(key, value, priority="spider")
        # the stage's writer records fetch errors and 304s in its batches (none given: the pipeline makes a stage)
        spider.state = SqliteState(crawler.settings.get("CRAWLER_DB"), spider.stage.writer if spider.stage else None)
        spider.start_netlocs = {urlsplit(u).netloc.lower() for u in source.start_urls}
        return spider

    def _resolve_source(self, settings: Any) -> LoadedSource:
        if isinstance(self._source_arg, LoadedSource):
            return self._source_arg
        if not self._source_arg:
            raise ValueError("give the source: scrapy crawl listing -a source=NAME")
        loaded, problems = load_sources(Path(settings.get("CRAWLER_CONFIG")))
        for item in loaded:
            if item.source.name == self._source_arg:
                return item
        bad = [p for p in problems if Path(p.file).stem == self._source_arg]
        if bad:
            raise ConfigError(bad)
        raise ValueError(f"no source named {self._source_arg!r} in {settings.get('CRAWLER_CONFIG')}/sources")

    @property
    def source(self):
        return self.loaded.source

    def crawl_of(self, meta: dict[str, Any]) -> Any:
        """What a callback needs of its crawl: ``source``, ``state``, ``run_id``, ``start_netlocs``.

        One crawl per spider here; the Redis worker (spiders/worker.py) runs many at once.
        """
        return self

    def crawl_for(self, request: scrapy.Request) -> Any:
        """The crawl of any request, robots.txt included (see crawl_of)."""
        return self.crawl_of(request.meta)

    @property
    def _max_pages(self) -> int:
        return (self.source.pagination or Pagination()).max_pages

    # -- requests --------------------------------------------------------------------------------
    async def start(self):
        urls = self.source.start_urls
        try:
            self.run_id, progress = self.state.begin_crawl(self.source.name, self.source.title, str(self.loaded.file), urls)
        except StorageFull as exc:
            self.stop_storage_full(exc)
            return
        self._resume = {url for url in urls if not progress.get(url)}
        for url in urls:
            if url not in progress:
                log.info("%s: first crawl of %s (up to %d list pages)", self.source.name, url, self._max_pages)
            elif not progress[url]:
                log.info("%s: last crawl of %s did not finish; reading the whole list again", self.source.name, url)
            yield self._list_request(self, url, page=1, start_url=url, resume=url in self._resume)
        due = self._requested_now(self, self.state.due_revisits(self.source))
        if due:
            log.info("%s: revisiting %d stored article(s) to see edits (request.revisit)", self.source.name, len(due))
        for url in due:
            self.crawler.stats.inc_value(STAT("revisits"))
            yield self._request(self, url, self.parse_article, self.state.article_validator(url),
                                {"list_url": None, "kind": "article", "link": url, "revisit": True})

    def _list_request(
        self, crawl: Any, url: str, page: int, start_url: str, resume: bool, via: NextPage | None = None
    ) -> scrapy.Request:
        meta: dict[str, Any] = {"page": page, "start_url": start_url, "resume": resume, "kind": "list"}
        if via is not None and via.method == "POST":  # a Hanweb dataproxy.jsp group: never conditional
            meta["jpage"] = via.jpage.as_dict() if via.jpage else None
            return self._request(crawl, url, self.parse_list, (None, None), meta, form=via.form)
        validators = (None, None) if resume else crawl.state.page_validator(url)
        return self._request(crawl, url, self.parse_list, validators, meta)

    def _request(
        self, crawl: Any, url: str, callback: Any, validators: tuple, meta: dict[str, Any],
        form: dict[str, str] | None = None,
    ) -> scrapy.Request:
        """Every request of a crawl is made here (the Redis worker adds per-source options).

        ``form``: POST these fields (a Hanweb pager's dataproxy.jsp request) instead of a GET.
        """
        post = {} if form is None else {"method": "POST", "body": urlencode(form)}
        headers = _conditional_headers(*validators)
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            **post,
            # list pages are re-read every poll; article links are de-duplicated before this,
            # and a redirect loop must reach REDIRECT_MAX_TIMES, not vanish in the dupe filter
            dont_filter=True,
            meta={**meta, "handle_httpstatus_list": [304]},
        )

    def _requested_now(self, crawl: Any, urls: list[str]) -> list[str]:
        """The URLs not yet asked for in this crawl; they count as asked for from now on."""
        todo = [url for url in urls if url not in self._requested]
        self._requested.update(todo)
        return todo

    def _list_validators(self, crawl: Any, url: str, validators: tuple[str | None, str | None]) -> None:
        self._validators[url] = validators

    # -- callbacks -------------------------------------------------------------------------------
    def parse_list(self, response: Response):
        crawl = self.crawl_of(response.meta)
        source = crawl.source
        stats = self.crawler.stats
        page = response.meta["page"]
        if response.status == 304:
            stats.inc_value(STAT("not_modified"))
            log.info("%s: list page %s not modified", source.name, response.url)
            return
        stats.inc_value(STAT("pages_fetched"))
        response = self._decoded(crawl, response)
        if response is None:
            return
        if response.request is None or response.request.method == "GET":
            self._list_validators(crawl, response.url, (_header(response, "ETag"), _header(response, "Last-Modified")))
        links = article_links(response, source.links, crawl.start_netlocs)
        jpage = JPage.from_dict(response.meta["jpage"]) if response.meta.get("jpage") else None
        if not links:
            if jpage is not None:  # a dataproxy.jsp group past the column's end
                log.info("%s: the column ends before list page %d (%s holds no records)", source.name, page, response.url)
                return
            text = " ".join(t.strip() for t in response.xpath("//body//text()[not(ancestor::script or ancestor::style)]").getall())
            reason = unavailable_reason(response.xpath("//title/text()").get(), text)
            if reason:
                self.record_error(crawl, response.url, reason[0], reason[1], response.status)
            else:
                why = script_rendered(response.text, len(response.xpath("//a[@href]")), len(text))
                self.record_error(crawl, response.url, "no_links", (
                    f"no article links found on the list page: {why}; set links.allow, or start from another URL"
                    if why else "no article links found on the list page; check links.css/xpath/allow"
                ))
            return
        fresh = crawl.state.fresh_urls({url: url_key(url) for url in links})
        todo = self._requested_now(crawl, [url for url in links if url not in fresh])
        log.info("%s: list page %d %s: %d links, %d new", source.name, page, response.url, len(links), len(todo))
        for url in todo:
            yield self._request(
                crawl, url, self.parse_article, crawl.state.article_validator(url),
                {"list_url": response.url, "kind": "article", "link": url},
            )
        resume = response.meta.get("resume", False)
        if not todo and not resume:
            log.info("%s: every link on list page %d is known; not paging further", source.name, page)
            return
        start_url = response.meta["start_url"]
        following = next_page(response, source.pagination or Pagination(), page, start_url, jpage)
        if following and canonical_url(following.url) != canonical_url(response.url):
            yield self._list_request(crawl, following.url, page + 1, start_url, resume, following)

    async def parse_article(self, response: Response):
        crawl = self.crawl_of(response.meta)
        link = response.meta["link"]
        if response.status == 304:
            self.crawler.stats.inc_value(STAT("not_modified"))
            crawl.state.touch_article(link)
            return
        self.crawler.stats.inc_value(STAT("pages_fetched"))
        response = self._decoded(crawl, response)
        if response is None:
            return
        files = await self._attachments(crawl, response)
        yield FetchedPage(
            source=crawl.source.name,
            url=link,
            html=response.text,
            encoding=response.encoding,
            status=response.status,
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
            list_url=response.meta.get("list_url"),
            crawl={key: response.meta[key] for key in CRAWL_META if key in response.meta},
            attachments=files,
        )

    async def _attachments(self, crawl: Any, response: TextResponse) -> list[dict[str, Any]]:
        return await fetch_attachments(self, crawl, response)

    def _decoded(self, crawl: Any, response: Response) -> TextResponse | None:
        """The response as text in the right charset, or None (recorded) for a binary or empty body."""
        if not isinstance(response, TextResponse):
            ctype = _header(response, "Content-Type") or "unknown"
            self.record_error(crawl, response.url, "not_text", f"response is not a text page (Content-Type: {ctype})", response.status)
            return None
        if not response.body.strip():
            self.record_error(crawl, response.url, "empty", "the page is empty", response.status)
            return None
        if looks_binary(response.body):
            self.record_error(crawl, response.url, "binary", "the page is binary data, not HTML", response.status)
            return None
        forced = crawl.source.request.encoding
        if forced:
            return response.replace(encoding=forced)
        better = better_encoding(response.body, response.encoding, response.text)
        if better is not None:
            log.info("%s: %s declares %s but is %s; decoded as %s", crawl.source.name, response.url, response.encoding, better, better)
            self.crawler.stats.inc_value(STAT("charset_repaired"))
            return response.replace(encoding=better)
        return response

    # -- errors and the end of the run --------------------------------------------------------------
    def on_error(self, failure: Failure) -> None:
        request = failure.request
        meta = request.meta
        crawl = self.crawl_of(meta)
        kind, message, status = classify_failure(failure)
        url = meta.get("link") or (meta.get("redirect_urls") or [request.url])[0]  # the URL we asked for
        if url != request.url:
            message = f"{message} (after redirects, at {request.url})"
        if kind == "http_404" and meta.get("kind") == "list" and meta.get("page", 1) > 1:
            # A URL pattern cannot know the last page: a 404 past page 1 ends the list.
            log.info("%s: list ends before page %d (%s answered 404)", crawl.source.name, meta["page"], request.url)
            return
        if kind == "paused":  # already recorded once, as rate_limited
            self.crawler.stats.inc_value(STAT("skipped_paused"))
            return
        if kind == "robots_disallowed":
            # robots.txt said no: worth seeing, not a failure of the crawl.
            self.crawler.stats.inc_value(STAT("robots_disallowed"))
            crawl.state.record_error(run_id=crawl.run_id, source=crawl.source.name, url=url, kind=kind, message=message)
            return
        self.record_error(crawl, url, kind, message, status)

    def pause(self, crawl: Any, until: datetime) -> None:
        """The portal asked us to wait (429/503 with Retry-After): skip the rest of this crawl and the polls until then."""
        if crawl.paused_until is None or until > crawl.paused_until:
            crawl.paused_until = until
            crawl.state.save_schedule_state(crawl.source.name, backoff_until=until.isoformat(timespec="seconds"))
            log.warning("%s: the portal asked us to wait; paused until %s", crawl.source.name, until.isoformat(timespec="seconds"))

    def record_error(self, crawl: Any, url: str, kind: str, message: str, status: int | None = None) -> None:
        self.crawler.stats.inc_value(STAT("errors"))
        log.warning("%s: %s %s: %s", crawl.source.name, kind, url, message)
        crawl.state.record_error(run_id=crawl.run_id, source=crawl.source.name, url=url, kind=kind, message=message, status=status)

    def record_notice(self, crawl: Any, url: str, kind: str, message: str) -> None:
        """Something the operators should know that is not a failure (the run stays clean): kept with the
        run's errors (``crawler runs --errors``) and read by the source's health."""
        log.info("%s: %s %s: %s", crawl.source.name, kind, url, message)
        crawl.state.record_error(run_id=crawl.run_id, source=crawl.source.name, url=url, kind=kind, message=message)

    def stop_storage_full(self, exc: StorageFull) -> None:
        """The disk is full: say so once, plainly, and end this crawl (what is stored stays intact)."""
        if not self.disk_full:
            self.disk_full = True
            log.error("%s: %s", self.source.name, exc)
            # Not awaited: closing waits for the item or start request that is calling us.
            self._closing = asyncio.get_running_loop().create_task(self.crawler.engine.close_spider_async(reason="disk_full"))

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        counts = {
            name: int(stats.get_value(STAT(name), 0))
            for name in (
                "pages_fetched", "not_modified", "articles_new", "articles_changed", "articles_duplicate",
                "articles_unchanged", "errors",
            )
        }
        clean = counts["errors"] == 0 and reason == "finished"
        try:
            if self.run_id is not None:
                self.state.end_crawl(
                    self.run_id, self.source.name, self.source.start_urls, clean=clean,
                    status="ok" if clean else "errors", reason=reason, counts=counts, validators=self._validators,
                )
        except StorageFull as exc:  # the run stays "running" and is marked interrupted by the next crawl
            log.error("%s: could not record the end of the run: %s", self.source.name, exc)
        finally:
            self.state.close()


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
