"""Progress of long commands on stderr: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType


class Reporter:
    """``with Reporter("exporting", total) as progress: progress.advance()``.

    Not a terminal (a pipe, a log file, CI): one line every ``every`` seconds and
    one at the end, so logs stay readable.
    """

    def __init__(self, label: str, total: int | None = None, *, every: float = 5.0, stream=None):
        self.label, self.total, self.every = label, total, every
        self.stream = stream or sys.stderr
        self.done = 0
        self._bar = None
        self._last = time.monotonic()

    def __enter__(self) -> Reporter:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(file=self.stream), transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, advance=count)
        elif time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self._line()

    def _line(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        print(f"{self.label}: {self.done}{of}", file=self.stream, flush=True)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
        else:
            self._line()


class CrawlProgress:
    """Scrapy extension: a progress line per source every CRAWLER_PROGRESS_INTERVAL seconds (default 10).

    A first crawl that backfills hundreds of pages says how far it got; a quick
    poll finishes before the first line and prints nothing extra.
    """

    def __init__(self, crawler, interval: float):
        self.crawler, self.interval = crawler, interval
        self._task = None

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        interval = crawler.settings.getfloat("CRAWLER_PROGRESS_INTERVAL", 10.0)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, interval)
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def opened(self, spider) -> None:
        from twisted.internet import task

        self._task = task.LoopingCall(self.report, spider)
        self._task.start(self.interval, now=False)

    def report(self, spider) -> None:
        import logging

        stats = self.crawler.stats
        get = lambda key: stats.get_value(key, 0)  # noqa: E731
        logging.getLogger("crawler.progress").info(
            "%s: in progress: %d pages fetched, %d new, %d changed, %d duplicates, %d unchanged, %d errors",
            spider.name, get("crawler/pages_fetched"), get("crawler/articles_new"), get("crawler/articles_changed"),
            get("crawler/articles_duplicate"), get("crawler/articles_unchanged"), get("crawler/errors"),
        )

    def closed(self, spider) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
