"""The daemon's periodic jobs besides polling: alert delivery and housekeeping."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from crawler.metrics import Metrics
from crawler.watcher import ConfigWatcher
from storage import Store

log = logging.getLogger("crawler.daemon")


class Delivery:
    def __init__(self, db_path: Path, config: ConfigWatcher, metrics: Metrics):
        self.db_path, self.config, self.metrics = db_path, config, metrics

    def deliver(self) -> None:
        """Send due alerts (a job of its own, and after every crawl)."""
        dispatcher = self.config.dispatcher
        if dispatcher is None:
            return
        with Store(self.db_path) as store:
            for outcome, count in dispatcher.deliver_due(store).items():
                self.metrics.alerts_sent.labels(outcome).inc(count)
            counts = store.outbox_counts()
        for status in ("pending", "sent", "dead"):
            self.metrics.outbox.labels(status).set(counts.get(status, 0))

    def housekeeping(self) -> None:
        """Prune fetch errors older than 30 days and crawl runs older than 90."""
        now = datetime.now(timezone.utc)
        with Store(self.db_path) as store:
            errors, runs = store.prune(
                errors_before=(now - timedelta(days=30)).isoformat(timespec="seconds"),
                runs_before=(now - timedelta(days=90)).isoformat(timespec="seconds"),
            )
        if errors or runs:
            log.info("housekeeping: pruned %d fetch errors and %d crawl runs", errors, runs)
