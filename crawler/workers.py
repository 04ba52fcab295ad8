"""The daemon's side of scaling out on Redis (docs/scaling.md): polls are queued for the
``crawler worker`` processes, and one ingest thread applies what they fetched to SQLite."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from storage import Store

log = logging.getLogger("crawler.daemon")


class RedisPolls:
    def __init__(self, redis_url: str, db_path: Path, config_dir: Path, snapshot_dir: Path, *, crawl_timeout: float,
                 on_end: Callable[[str, datetime, str | None], None]):
        from crawler.frontier import Frontier

        self.frontier = Frontier(redis_url)
        self.db_path, self.config_dir, self.snapshot_dir = db_path, config_dir, snapshot_dir
        self.crawl_timeout, self.on_end = crawl_timeout, on_end
        self.polls: dict[int, datetime] = {}  # open run on the workers -> when it was queued
        self._thread: threading.Thread | None = None

    def open_runs(self) -> set[int]:
        """Runs the workers are still at (the ingester finishes them): not interrupted by a restart."""
        return set(self.frontier.open_runs())

    def queue(self, source: Any, started: datetime) -> None:
        """Queue a poll for the workers; it is recorded when the ingester sees it finish (or time out)."""
        from spiders.worker import open_poll

        name = source.name
        try:
            if any(info["source"] == name for info in self.frontier.open_runs().values()):
                log.info("%s: the last poll is still running on the workers; this one is skipped", name)
                return
            with Store(self.db_path) as store:
                run = open_poll(self.frontier, store, source, str(self.snapshot_dir / f"{name}.yaml"))
        except Exception as exc:  # noqa: BLE001 - Redis down: a failed poll, retried with back-off
            log.error("%s: could not queue the poll in Redis: %s", name, exc)
            self.on_end(name, started, f"could not queue the poll in Redis: {exc}")
            return
        self.polls[run] = started
        log.info("%s: poll queued for the workers (run %d)", name, run)

    def start(self, should_stop: Callable[[], bool], on_failure: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=self._ingest, args=(should_stop, on_failure), name="ingest", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _ingest(self, should_stop: Callable[[], bool], on_failure: Callable[[], None]) -> None:
        from crawler.ingest import Ingester

        ingester = Ingester(self.frontier, self.db_path, self.config_dir, crawl_timeout=self.crawl_timeout,
                            on_run_end=self._run_ended)
        try:
            ingester.run(should_stop)
        except Exception:  # noqa: BLE001
            log.exception("the ingester stopped; stopping the daemon")
            on_failure()
        finally:
            ingester.close()

    def _run_ended(self, name: str, run: int, error: str | None) -> None:
        self.on_end(name, self.polls.pop(run, datetime.now(timezone.utc)), error)
