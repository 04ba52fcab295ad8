"""Downloader middlewares: network boundaries, Retry-After and robots.txt on a failing server.

* ``NetworkGuard`` refuses non-http(s) URLs and hosts that resolve to a loopback,
  private or link-local address (unless the source allows it), on every request:
  start URLs, article links, redirect hops and robots.txt. The name is resolved
  with Scrapy's caching resolver, the one the connection then uses, so the
  checked answer is the answer connected to.
* ``RetryAfter``: Scrapy retries 429/503 at once and ignores Retry-After. Here a
  429/503 that carries Retry-After pauses the whole source: the rest of this crawl
  is skipped and ``backoff_until`` is stored so the daemon skips the polls until then.
* ``Backpressure``: article downloads wait while the ingest stage (extraction pool and
  writer thread) holds its fill of pages, so a fast portal cannot pile pages up in memory.
* ``RobotsTxt``: RFC 9309 says a robots.txt that answers 5xx means "disallow all";
  Scrapy reads the error page as rules (usually "allow all").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.netguard import SCHEMES, Allow, allows, default_port, literal_address, private_message, retry_after_seconds

log = logging.getLogger(__name__)

MAX_PAUSE = timedelta(days=1)  # a Retry-After beyond this is read as a day


class Blocked(IgnoreRequest):
    """A request we refused to make; ``kind`` names the reason in fetch_errors."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _crawl(spider: Any, request: Request) -> Any:
    """The crawl a request belongs to (see ListingSpider.crawl_of), or None for another spider."""
    crawl_for = getattr(spider, "crawl_for", None)
    return crawl_for(request) if crawl_for is not None else None


class _WithCrawler:
    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        return cls(crawler)


class NetworkGuard(_WithCrawler):
    async def process_request(self, request: Request) -> None:
        crawl = _crawl(self.crawler.spider, request)
        until = getattr(crawl, "paused_until", None)
        if until is not None:
            raise Blocked("paused", f"source paused until {until.isoformat(timespec='seconds')} (the portal asked us to wait)")
        parts = urlparse_cached(request)
        if parts.scheme not in SCHEMES:
            raise Blocked("blocked_scheme", f"{request.url}: only http and https are fetched")
        allow: Allow = crawl.source.request.allow_private_targets if crawl is not None else False
        if allow is True:
            return
        host = (parts.hostname or "").rstrip(".")
        address = literal_address(host)
        if address is None:
            from twisted.internet import reactor

            try:
                address = await maybe_deferred_to_future(reactor.resolve(host))
            except Exception:  # noqa: BLE001 - the download reports the DNS error itself
                return
        if not allows(allow, address, parts.port or default_port(parts.scheme)):
            raise Blocked("blocked_address", private_message(
                "request", request.url, address, "request.allow_private_targets in the source config"))


class RetryAfter(_WithCrawler):
    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in (429, 503):
            return response
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        if seconds is None:
            return response  # Scrapy's own bounded retries
        until = datetime.now(timezone.utc) + min(timedelta(seconds=seconds), MAX_PAUSE)
        spider = self.crawler.spider
        crawl = _crawl(spider, request)
        if crawl is not None:
            spider.pause(crawl, until)
        raise Blocked(
            "rate_limited",
            f"HTTP {response.status} with Retry-After: {seconds:.0f}s; source paused until {until.isoformat(timespec='seconds')}",
        )


class Backpressure(_WithCrawler):
    """Holds article downloads back while the ingest stage has its fill of pages (crawler/writer.py).

    A held request keeps its download slot, so the source's downloads pause rather than pile
    pages up in memory; list pages are never held."""

    async def process_request(self, request: Request) -> None:
        stage = getattr(self.crawler.spider, "stage", None)
        if stage is not None and request.meta.get("kind") == "article":
            await stage.writer.room()


class RobotsTxt(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with a 5xx answer read as "disallow all" for this crawl."""

    _DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self._failed: dict[str, int] = {}

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            self._failed[netloc] = response.status
            response = response.replace(body=self._DISALLOW_ALL)
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if not isinstance(exc, IgnoreRequest):  # Scrapy's line for it is filtered (crawler/runner.py)
            log.warning("robots.txt of %s could not be fetched (%s): the host is crawled as if it allowed everything",
                        netloc, _first_reason(exc))
        super()._robots_error(exc, netloc)

    def process_request_2(self, rp: Any, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            status = self._failed.get(urlparse_cached(request).netloc)
            if status is not None:
                raise Blocked(
                    "robots_unavailable",
                    f"robots.txt answered HTTP {status}: the host is skipped this round (RFC 9309: a 5xx robots.txt disallows all)",
                ) from None
            raise


def _first_reason(exc: BaseException) -> str:
    """A download failure in a few words: ``ConnectionDone: Connection was closed cleanly.``"""
    cause = exc.__cause__ or exc  # Scrapy wraps the Twisted error in DownloadFailedError(str(error))
    reasons = getattr(cause, "reasons", None)  # ResponseNeverReceived and the like hold Failures
    value = getattr(reasons[0], "value", reasons[0]) if reasons else cause
    return f"{type(value).__name__}: {value}"
