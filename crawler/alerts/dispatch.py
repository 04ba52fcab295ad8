"""The delivery job: send due outbox batches, record every attempt, back off, dead-letter."""

from __future__ import annotations

import json
import logging
import random
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from crawler.alerts.channels import Result, make_channel
from crawler.alerts.config import AlertsConfig
from crawler.alerts.render import article_view, environment, render, render_ops
from storage import Store

log = logging.getLogger(__name__)


def payload(rows: list[dict[str, Any]], subscription: str) -> dict[str, Any]:
    """The webhook JSON (documented in docs/alerts.md)."""
    articles = []
    for row in rows:
        view = article_view(row)
        articles.append({k: view[k] for k in (
            "event", "id", "version", "url", "title", "published_at", "source", "source_title", "source_name",
            "author", "excerpt", "diff", "notice", "written_at", "attachments",
        )})
    kind = f"article.{rows[0]['event']}" if len(rows) == 1 else "article.digest"
    return {
        "type": kind,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "subscription": subscription,
        "data": {"articles": articles},
    }


class Dispatcher:
    def __init__(self, config: AlertsConfig, config_dir: Path):
        self.config = config
        override = (Path(config_dir) / config.templates) if config.templates else None
        self.env = environment(override)
        self.channels = {name: make_channel(name, channel) for name, channel in config.channels.items()}
        self._lock = threading.Lock()  # the daemon calls deliver_due from several threads

    def _retry_at(self, attempts: int, result: Result) -> str:
        delivery = self.config.delivery
        delay = min(delivery.backoff.total_seconds() * 2 ** (attempts - 1), delivery.max_backoff.total_seconds())
        delay *= random.uniform(0.8, 1.2)
        if result.retry_after is not None:
            delay = max(delay, result.retry_after)
        return (datetime.now(timezone.utc) + timedelta(seconds=delay)).isoformat(timespec="seconds")

    def deliver_due(self, store: Store) -> dict[str, int]:
        counts = {"sent": 0, "failed": 0, "dead": 0}
        with self._lock:
            for batch in store.due_batches():
                first = batch[0]
                batch_id, subscription, name = first["batch_id"], first["subscription"], first["channel"]
                channel = self.channels.get(name)
                if channel is None:
                    store.record_attempt(batch_id, ok=False, error=f"channel {name!r} is no longer configured", dead=True)
                    counts["dead"] += 1
                    continue
                if first["event"] == "ops":
                    ops = json.loads(first["payload"])
                    message = render_ops(self.env, ops)
                    body = {"type": f"source.{ops['state']}", "timestamp": first["created_at"], "data": ops}
                else:
                    message = render(self.env, batch, subscription)
                    body = payload(batch, subscription)
                result = channel.send(f"msg_{batch_id}", message, body)
                if result.ok:
                    store.record_attempt(batch_id, ok=True, status=result.status)
                    counts["sent"] += 1
                    log.info("alert %s: %d article(s) sent to %s (%s)", subscription, len(batch), name, channel.describe())
                    continue
                attempts = first["attempts"] + 1
                dead = result.permanent or attempts >= self.config.delivery.max_attempts
                retry_at = None if dead else self._retry_at(attempts, result)
                store.record_attempt(batch_id, ok=False, status=result.status, error=result.error, retry_at=retry_at, dead=dead)
                counts["dead" if dead else "failed"] += 1
                log.warning(
                    "alert %s to %s failed (attempt %d): %s; %s", subscription, name, attempts, result.error,
                    "moved to dead-letter (crawler alerts retry)" if dead else f"next try at {retry_at}",
                )
        return counts
