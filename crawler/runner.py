"""Run one crawl pass over some sources in this process, then return their run records."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.sources import LoadedSource
from crawler.stage import IngestStage
from spiders.listing import ListingSpider
from storage import Store

QUIET_LOGGERS = ("scrapy", "twisted", "trafilatura", "htmldate", "justext", "py.warnings", "filelock", "apscheduler")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# Scrapy's own lines for a request that failed: the spider's errback (and our robots.txt
# middleware) log one line per failed request, with its URL and reason, instead.
_SAID_BY_US = {
    "scrapy.downloadermiddlewares.retry": "Gave up retrying",
    "scrapy.downloadermiddlewares.robotstxt": "Error downloading",
    "scrapy.core.downloader.handlers.http11": "Expected to receive",  # over download_maxsize (an attachment)
}


class _QuietLibraries(logging.Filter):
    """Keep only warnings and errors of the libraries; our own INFO lines are the progress output."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(QUIET_LOGGERS):
            return True
        if record.levelno < logging.WARNING:
            return False
        said = _SAID_BY_US.get(record.name)
        if said and str(record.msg).startswith(said):
            return False
        record.exc_info, record.exc_text = None, None  # one line per event; -v shows tracebacks
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and the error, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(verbose: bool = False) -> None:
    """Log to stderr; CRAWLER_LOG_FORMAT=json gives one JSON object per line (inherited by crawl children)."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("CRAWLER_LOG_FORMAT", "text") == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(LOG_FORMAT)
    handler.setFormatter(formatter)
    if not verbose:
        handler.addFilter(_QuietLibraries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def quiet_libraries(verbose: bool) -> None:
    """Scrapy sets its logger to DEBUG: every request then builds a "Crawled" record that the handler's
    filter drops. Without -v the libraries' records below WARNING are never shown, so never made."""
    if verbose:
        return
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def scrapy_settings(db_path: Path, config_dir: Path, *, verbose: bool = False) -> Settings:
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    settings.set("CRAWLER_DB", str(db_path), priority="cmdline")
    settings.set("CRAWLER_CONFIG", str(config_dir), priority="cmdline")
    settings.set("LOG_LEVEL", "DEBUG" if verbose else "INFO", priority="cmdline")
    settings.set("LOG_FORMAT", LOG_FORMAT, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # configure_logging() owns it
    # the spider classes are handed to the process: no spider loader importing every module of spiders/
    # (the Redis worker's, with redis and scrapy-redis, in every crawl)
    settings.set("SPIDER_MODULES", [], priority="cmdline")
    return settings


def preload() -> None:
    """Import what a crawl loads once it starts (Scrapy's components for our settings, the MinHash
    permutations), without installing a reactor: crawl processes forked after this share it."""
    from scrapy.utils.conf import build_component_list
    from scrapy.utils.misc import load_object

    from crawler import dedupe

    settings = scrapy_settings(Path("unused.db"), Path("unused"))
    for name in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES"):
        for path in build_component_list(settings.getwithbase(name)):
            load_object(path)
    for name in ("SCHEDULER", "DOWNLOADER", "STATS_CLASS", "DUPEFILTER_CLASS", "SCHEDULER_PRIORITY_QUEUE",
                 "SCHEDULER_MEMORY_QUEUE", "SCHEDULER_DISK_QUEUE", "LOG_FORMATTER", "DNS_RESOLVER"):
        load_object(settings[name])
    for path in settings.getwithbase("DOWNLOAD_HANDLERS").values():
        if path:
            load_object(path)
    dedupe.minhash_signature(["preload"])
    assert "twisted.internet.reactor" not in sys.modules, "preload() installed a reactor"


def crawl_sources(sources: list[LoadedSource], db_path: Path, config_dir: Path, *, verbose: bool = False,
                  workers: int | None = None, writer: Any = None) -> list[dict[str, Any]]:
    """Crawl each source once (all at the same time, each with its own politeness
    settings) in this process and return the crawl_runs rows of this pass.

    ``workers``: extraction processes (default CRAWLER_EXTRACT_WORKERS; 1: inline);
    ``writer``: another process's writer (crawler/sharedwriter.py) instead of a writer thread of
    this one."""
    Store(db_path).close()  # create and migrate before the spiders open it
    configure_logging(verbose)
    process = CrawlerProcess(scrapy_settings(db_path, config_dir, verbose=verbose))
    quiet_libraries(verbose)
    workers = max(1, workers or process.settings.getint("CRAWLER_EXTRACT_WORKERS", 1))
    stage = IngestStage(db_path, workers, writer).start()  # one extraction pool and one writer for every source of the pass
    previous: dict[int, Any] = {}
    try:
        for loaded in sources:  # the first installs the reactor
            process.crawl(process.create_crawler(ListingSpider), source=loaded, stage=stage)
        previous = _stop_on_signals(process)
        process.start(install_signal_handlers=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stage.close()
    with Store(db_path, readonly=True) as store:
        latest = [store.runs(source=loaded.source.name, limit=1) for loaded in sources]
    return [runs[0] for runs in latest if runs]


def _stop_on_signals(process: CrawlerProcess) -> dict[int, Any]:
    """SIGTERM or SIGINT: every spider closes (downloads in flight finish, what is fetched is
    stored); a second signal stops the reactor without waiting. What Scrapy's own handlers do,
    with our log line (theirs is below the libraries' WARNING level we show)."""
    from twisted.internet import reactor

    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        if stopping:
            reactor.callFromThread(_stop_now, signum)
            return
        stopping = True
        reactor.callFromThread(_stop_gracefully, process, signum)  # logging waits for the reactor thread

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}


def _stop_gracefully(process: CrawlerProcess, signum: int) -> None:
    logging.getLogger("crawler.crawl").info("received %s: stopping the crawl (send again to stop at once)",
                                            signal.Signals(signum).name)
    process.stop()


def _stop_now(signum: int) -> None:
    from twisted.internet import reactor

    logging.getLogger("crawler.crawl").warning("received %s again: stopping at once", signal.Signals(signum).name)
    if reactor.running:
        reactor.stop()


def worker_settings(redis_url: str, *, verbose: bool = False, ttl: float = 15.0) -> Settings:
    """A Redis worker: scrapy-redis's scheduler and priority queue, our claims, messages instead of SQLite."""
    from crawler.frontier import DUPEFILTER, QUEUE

    settings = scrapy_settings(Path("unused.db"), Path("unused"), verbose=verbose)
    for key, value in {
        "REDIS_URL": redis_url,
        "SCHEDULER": "spiders.worker.RedisScheduler",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": QUEUE,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",  # the name scrapy-redis reads
        "SCHEDULER_DUPEFILTER_KEY": DUPEFILTER,
        "SCHEDULER_PERSIST": True,  # never flush the shared queue when one worker stops
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor on Redis
        "ITEM_PIPELINES": {"spiders.worker.WorkerPipeline": 300},
        "CRAWLER_WORKER_TTL": ttl,
    }.items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_worker(redis_url: str, *, verbose: bool = False, ttl: float = 15.0) -> None:
    """Crawl what the shared Redis queue holds until SIGTERM/SIGINT."""
    from scrapy.core.engine import ExecutionEngine

    from spiders.worker import WorkerSpider

    configure_logging(verbose)
    # scrapy-redis 0.9.1 still passes spider= to the stats collector (harmless; one warning per request kind)
    warnings.filterwarnings("ignore", message="Passing a 'spider' argument")
    # An idle engine asks its scheduler for work on this heartbeat (5 s in Scrapy); a worker
    # polls the shared queue, so it asks more often.
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 0.5
    process = CrawlerProcess(worker_settings(redis_url, verbose=verbose, ttl=ttl))
    quiet_libraries(verbose)
    process.crawl(WorkerSpider)
    process.start()
