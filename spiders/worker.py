"""`crawler worker`: one long-running spider that crawls whatever the shared Redis frontier holds.

The callbacks are the list spider's (spiders/listing.py), run for many crawls at once:
each request names its run, its source and its field in the run's in-flight hash
(crawler/frontier.py). Instead of SQLite, a worker reads the Redis mirror (stored URLs,
validators) and writes messages for the ingester. The request queue is scrapy-redis's
scheduler and priority queue; its RFPDupeFilter is not used (every request is
``dont_filter``): it remembers a URL for ever, and a monitor must fetch a list page
every poll and an article again when it is due for a revisit. The per-run seen set does
that job instead (``Frontier.expand``).
"""

from __future__ import annotations

import logging
import pickle
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import redis
import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from crawler import revisit
from crawler.analysis import searched_text
from crawler.frontier import QUEUE, Frontier, encode_signature, worker_key
from crawler.models import FetchedPage
from crawler.normalize import url_key
from crawler.pipeline import IngestPipeline, article_record
from crawler.sources import Source
from spiders.files import FileCache
from spiders.listing import ListingSpider

log = logging.getLogger(__name__)


class RunContext:
    """One crawl (run) of one source, as the callbacks see it (see ListingSpider.crawl_of)."""

    def __init__(self, source: Source, state: Any, run_id: int, frontier: Frontier | None = None):
        self.source = source
        self.state = state
        self.run_id = run_id
        self.start_netlocs = {urlsplit(u).netloc.lower() for u in source.start_urls}
        self._frontier = frontier
        self.files = FileCache()  # attachments fetched in this run (ListingSpider._attachments)

    @property
    def paused_until(self) -> datetime | None:
        """Shared by all workers: one 429 with Retry-After pauses the source everywhere."""
        return self._frontier.paused_until(self.source.name) if self._frontier else None

    @paused_until.setter
    def paused_until(self, until: datetime | None) -> None:
        pass  # set through state.save_schedule_state (RedisState), which every worker reads


class RedisState:
    """The crawl's state (crawler/crawlstate.py) in Redis: reads from the mirror; writes become messages."""

    def __init__(self, frontier: Frontier, run: int):
        self.frontier = frontier
        self.run = run

    def page_validator(self, url: str) -> tuple[str | None, str | None]:
        return self.frontier.validator(url)

    article_validator = page_validator

    def fresh_urls(self, urls: dict[str, str]) -> set[str]:
        return self.frontier.fresh(urls)

    def due_revisits(self, source: Any, now: datetime | None = None) -> list[str]:
        """None from a worker: the daemon queues a poll's due revisits with its list requests (open_poll)."""
        return []

    def touch_article(self, url: str) -> None:
        self.frontier.push_message("touch", {"run": self.run, "url": url})

    def record_error(self, *, run_id: int | None, source: str, url: str, kind: str, message: str, status: int | None = None) -> None:
        self.frontier.push_message(
            "error", {"run": run_id, "source": source, "url": url, "kind": kind, "message": message, "status": status}
        )

    def save_schedule_state(self, source: str, *, backoff_until: str) -> None:
        self.frontier.pause(source, datetime.fromisoformat(backoff_until))


def field_of(kind: str, url: str) -> str:
    """A request's name in its run's in-flight hash."""
    return f"l:{url}" if kind == "list" else f"a:{url_key(url)}"


class WorkerSpider(ListingSpider):
    name = "crawler-worker"

    def __init__(self, **kwargs: Any):
        scrapy.Spider.__init__(self, **kwargs)
        self.frontier: Frontier | None = None
        self._runs: dict[int, RunContext] = {}
        self._unheld: dict[tuple[int, str], float] = {}  # in-flight requests no worker held, since when
        self._loop: LoopingCall | None = None
        self._ticks = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WorkerSpider:
        if not crawler.settings.get("REDIS_URL"):
            raise ValueError("the Redis worker runs as `crawler worker` with CRAWLER_REDIS_URL set (docs/scaling.md)")
        spider = super(ListingSpider, cls).from_crawler(crawler, *args, **kwargs)
        spider.frontier = Frontier(crawler.settings.get("REDIS_URL"))
        spider.ttl = crawler.settings.getfloat("CRAWLER_WORKER_TTL", 15.0)
        crawler.signals.connect(spider.on_idle, signals.spider_idle)
        crawler.signals.connect(spider.on_opened, signals.spider_opened)
        return spider

    async def start(self):
        return
        yield  # pragma: no cover - requests come from the shared queue

    def on_opened(self) -> None:
        log.info("worker %s: waiting for requests in %s (%s)", self.frontier.worker, QUEUE, self.frontier.url)
        self._loop = LoopingCall(self._tick)
        self._loop.start(max(0.5, self.ttl / 3), now=True)

    def on_idle(self) -> None:
        raise DontCloseSpider  # a worker waits for the next poll

    def _tick(self) -> None:
        """Heartbeat; now and then, queue again the requests of workers that died."""
        try:
            self.frontier.heartbeat(self.ttl)
            self._ticks += 1
            if self._ticks % 3 == 1:
                for run, field, blob in [*self.frontier.orphans(), *self._lost()]:
                    request = request_from_dict(pickle.loads(blob), spider=self)
                    log.info("queued again: %s (run %d, %s)", request.url, run, field)
                    self.crawler.engine.crawl(request)
                open_runs = self.frontier.open_runs()
                for run in [r for r in self._runs if r not in open_runs]:
                    del self._runs[run]
        except redis.RedisError as exc:
            log.error("worker %s: Redis unreachable (%s); retrying", self.frontier.worker, exc)

    def _lost(self) -> list[tuple[int, str, bytes]]:
        """Requests no worker holds and the queue lacks, seen so at two ticks at least ``ttl`` apart
        (a worker killed between popping and claiming them); queued again (a second copy is harmless)."""
        now, seen = time.monotonic(), self.frontier.unheld()
        lost = [(run, field, blob) for (run, field), blob in seen.items()
                if now - self._unheld.get((run, field), now) >= self.ttl]
        self._unheld = {key: self._unheld.get(key, now) for key in seen if key not in {(r, f) for r, f, _ in lost}}
        if lost:
            log.warning("%d request(s) held by no worker (one was killed while taking them) are queued again", len(lost))
        return lost

    def closed(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        stats = self.crawler.stats
        log.info("worker %s stopped (%s): pages fetched: %d, articles sent: %d", self.frontier.worker, reason,
                 stats.get_value("crawler/pages_fetched", 0), stats.get_value("crawler/articles_sent", 0))
        try:  # what this worker still held goes back to the queue at once
            self.frontier.redis.delete(worker_key(self.frontier.worker))
        except redis.RedisError:
            pass

    # -- the crawl each request belongs to ------------------------------------------------------
    def crawl_of(self, meta: dict[str, Any]) -> RunContext:
        run = meta["run"]
        context = self._runs.get(run)
        if context is None:
            text = self.frontier.source_json(meta["source"])
            if text is None:
                raise LookupError(f"source {meta['source']!r} is not published in Redis")
            source = Source.model_validate_json(text)
            context = self._runs[run] = RunContext(source, RedisState(self.frontier, run), run, self.frontier)
            req = source.request  # politeness per source, like the per-crawl settings of the list spider
            self.crawler.engine.downloader.per_slot_settings[_slot(source)] = {
                "concurrency": req.concurrency, "delay": req.delay.total_seconds(), "jitter": 0.5,  # Scrapy's default ±50%
            }
        return context

    def crawl_for(self, request: scrapy.Request) -> RunContext | None:
        if "run" in request.meta:
            return self.crawl_of(request.meta)
        # robots.txt: Scrapy's request names no crawl; a crawl of the same host decides
        netloc = urlsplit(request.url).netloc.lower()
        return next((c for c in reversed(self._runs.values()) if netloc in c.start_netlocs), None)

    def _request(
        self, crawl: Any, url: str, callback: Any, validators: tuple, meta: dict[str, Any],
        form: dict[str, str] | None = None,
    ) -> scrapy.Request:
        request = super()._request(crawl, url, callback, validators, meta, form)
        source = crawl.source
        request.headers["User-Agent"] = source.request.user_agent
        request.meta.update(
            run=crawl.run_id, source=source.name, field=field_of(meta["kind"], url), download_slot=_slot(source),
            download_timeout=source.request.timeout.total_seconds(), max_retry_times=source.request.retries,
            dont_obey_robotstxt=not source.request.obey_robots,
        )
        return request

    def _requested_now(self, crawl: Any, urls: list[str]) -> list[str]:
        return urls  # the run's seen set in Redis decides (expand)

    def _list_validators(self, crawl: Any, url: str, validators: tuple[str | None, str | None]) -> None:
        self.frontier.save_list_validators(crawl.run_id, url, validators)

    def serialize(self, request: scrapy.Request) -> bytes:
        return pickle.dumps(request.to_dict(spider=self), protocol=pickle.HIGHEST_PROTOCOL)

    # -- callbacks: the list spider's, with the request retired when its messages are out -----
    def _count(self, crawl: RunContext, response: Response) -> None:
        self.frontier.bump(crawl.run_id, "not_modified" if response.status == 304 else "pages_fetched")

    def parse_list(self, response: Response):
        crawl = self.crawl_of(response.meta)
        self._count(crawl, response)
        try:
            out = list(super().parse_list(response))
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the run waiting for ever
            return self._failed(crawl, response, exc)
        children = [(r.meta["field"], self.serialize(r), r.meta["kind"] == "article") for r in out]
        taken = self.frontier.expand(crawl.run_id, response.meta["field"], children)
        return [r for r in out if r.meta["field"] in taken]

    async def parse_article(self, response: Response):
        crawl = self.crawl_of(response.meta)
        self._count(crawl, response)
        try:
            out = [item async for item in super().parse_article(response)]
        except Exception as exc:  # noqa: BLE001
            self._failed(crawl, response, exc)
            return
        if not any(isinstance(item, FetchedPage) for item in out):
            self.frontier.complete(crawl.run_id, response.meta["field"])  # a 304 or an error, already sent
        for item in out:  # the pipeline retires the request with the article
            yield item

    def on_error(self, failure: Failure) -> None:
        meta = failure.request.meta
        try:
            super().on_error(failure)
        finally:  # even when the error cannot be recorded, the run must not wait for this request
            self.frontier.complete(meta["run"], meta["field"])

    def _failed(self, crawl: RunContext, response: Response, exc: Exception) -> list:
        log.exception("%s: could not handle %s", crawl.source.name, response.url)
        self.record_error(crawl, response.url, "spider_error", f"{type(exc).__name__}: {exc}", response.status)
        self.frontier.complete(crawl.run_id, response.meta["field"])
        return []


def _slot(source: Source) -> str:
    return f"source:{source.name}"


class WorkerPipeline(IngestPipeline):
    """Extract in the worker; the article goes to the ingester as a message (no SQLite here)."""

    def _router(self) -> None:
        return None  # the ingester routes alerts

    def _writer_of(self, spider: Any) -> None:
        return None  # no SQLite here: the ingester writes

    def _done(self, crawl: Any, item: FetchedPage) -> None:
        self.crawler.spider.frontier.complete(item.crawl["run"], item.crawl["field"])

    async def _keep(self, spider: Any, crawl: Any, item: FetchedPage, article: Any, identity: Any, index: Any) -> None:
        # the ingester segments for search what the pool's index was made of (body, notice header, attachments)
        record = {**article_record(article, item, crawl.source.role), "search_text": searched_text(article)}
        message = {
            "run": crawl.run_id, "source": item.source, "record": record, "flags": article.flags,
            "hash": identity.content_hash, "signature": encode_signature(identity.signature_bytes()),
            "shingles": identity.shingles,
        }
        spider.frontier.complete(crawl.run_id, item.crawl["field"], ("article", message))
        self.crawler.stats.inc_value("crawler/articles_sent")


class RedisScheduler(Scheduler):
    """scrapy-redis's scheduler, keeping the claims: a popped request is claimed, a queued one released."""

    def enqueue_request(self, request: scrapy.Request) -> bool:
        try:
            pushed = super().enqueue_request(request)
            if "run" in request.meta:
                self.spider.frontier.release(request.meta["run"], request.meta["field"])
        except redis.RedisError as exc:  # the claim stays: the request is queued again by another worker
            log.error("could not queue %s in Redis: %s", request.url, exc)
            return False
        return pushed

    def next_request(self) -> scrapy.Request | None:
        while True:
            try:
                request = super().next_request()
                if request is None or "run" not in request.meta:
                    return request
                if self.spider.frontier.claim(request.meta["run"], request.meta["field"]):
                    return request
            except redis.RedisError as exc:
                log.error("could not read the request queue in Redis: %s", exc)
                time.sleep(1)
                return None


def open_poll(frontier: Frontier, store: Any, source: Source, config_file: str) -> int:
    """Open a run of ``source`` in SQLite and queue its start requests in Redis; return the run id."""
    spider = WorkerSpider()  # only to build and serialize the requests as the workers will
    urls = source.start_urls
    run, progress = store.begin_crawl(source.name, source.title, config_file, urls)
    context = RunContext(source, store, run)  # the first pages' validators come from SQLite
    requests = [spider._list_request(context, url, 1, url, resume=not progress.get(url)) for url in urls]
    due = revisit.due_urls(store, source)  # the mirror knows when a URL was fetched, SQLite when first seen
    if due:
        log.info("%s: revisiting %d stored article(s) to see edits (request.revisit)", source.name, len(due))
    requests += [spider._request(context, url, spider.parse_article, store.article_validator(url),
                                 {"list_url": None, "kind": "article", "link": url, "revisit": True}) for url in due]
    try:
        frontier.open_run(run, source.name, source.model_dump_json(), [(r.meta["field"], spider.serialize(r)) for r in requests])
        queue = PriorityQueue(frontier.redis, spider, QUEUE)
        for request in requests:
            queue.push(request)
    except redis.RedisError:
        store.finish_run(run, status="interrupted", finish_reason="redis_unavailable", counts={})
        raise
    return run
