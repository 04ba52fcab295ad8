"""Which subscriptions an article decision goes to: sources, events, keywords, flags, digest windows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from crawler.alerts.config import AlertsConfig, Keywords, Subscription
from crawler.attachments import text_of
from crawler.dates import SHANGHAI
from crawler.dedupe import fold


def keywords_match(rule: Keywords, title: str, body: str, attachments: str = "") -> bool:
    """Substring matching on the folded text (Simplified, no spaces or punctuation, lower case).

    ``attachments``: the names and text of the article's attachments (crawler.attachments.text_of)."""
    parts = (("title", title), ("body", body), ("attachments", attachments))
    text = "".join(fold(part) for name, part in parts if name in rule.fields and part)
    words = lambda items: [fold(w) for w in items if fold(w)]  # noqa: E731
    if rule.any and not any(w in text for w in words(rule.any)):
        return False
    if rule.all and not all(w in text for w in words(rule.all)):
        return False
    return not any(w in text for w in words(rule.none))


def _attachments_text(article: dict[str, Any]) -> str:
    manifest = article.get("attachments")
    return text_of(json.loads(manifest), article.get("attachment_texts") or {}) if manifest else ""


def _not_before(sub: Subscription, now: datetime) -> str:
    """Immediate alerts are due now; digest alerts at the end of their window (all share it)."""
    if sub.digest is None:
        return now.isoformat(timespec="seconds")
    if sub.digest.every is not None:
        window = sub.digest.every.total_seconds()
        end = (int(now.timestamp() // window) + 1) * window
        return datetime.fromtimestamp(end, timezone.utc).isoformat(timespec="seconds")
    local = now.astimezone(SHANGHAI)
    for day in (0, 1):
        for value in sub.digest.at:
            hour, minute = (int(x) for x in value.split(":"))
            due = (local + timedelta(days=day)).replace(hour=hour, minute=minute, second=0, microsecond=0)
            if due > local:
                return due.astimezone(timezone.utc).isoformat(timespec="seconds")
    raise AssertionError("unreachable: a time of day recurs within two days")


@lru_cache(maxsize=8)
def _router_of(config_json: str) -> Router:
    return Router(AlertsConfig.model_validate_json(config_json), config_json)


def make_router(config: AlertsConfig) -> Router:
    return Router(config)


class Router:
    """Subscriptions → outbox rows. An object, not a closure: a store job that carries it can be
    handed to the writer of another process (crawler/sharedwriter.py)."""

    def __init__(self, config: AlertsConfig, config_json: str | None = None):
        self.config = config
        self._json = config_json  # made at the first pickling when not given

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickled as its config's JSON, and each process validates a given JSON once: every store
        job carries its router, and pickling the pydantic models took ~35 us a job each way."""
        if self._json is None:
            self._json = self.config.model_dump_json()
        return _router_of, (self._json,)

    def __call__(self, source: str, decision: Any, article: dict[str, Any], flags: list[str]) -> list[dict[str, Any]]:
        """Outbox rows for a stored page. A ``new`` alert is once per story and subscription: keyed by the
        story, so the first copy a subscription matches alerts (a portal's clean copy after a flagged
        mirror's, say) and no later copy does; a copy (``duplicate``) counts as the story's ``new``."""
        rows = []
        now = datetime.now(timezone.utc)
        event = "new" if decision.outcome == "duplicate" else decision.outcome
        story = article.get("story_id") or decision.article_id
        for sub in self.config.subscriptions:
            if event not in sub.events:
                continue
            if "*" not in sub.sources and source not in sub.sources:
                continue
            if flags and not sub.include_flagged:
                continue
            if sub.keywords and not keywords_match(sub.keywords, article["title"], article["body"], _attachments_text(article)):
                continue
            for channel in sub.channels:
                # an original's story id is its own id: the key of a "new" alert is what it always was
                key = f"{story}/v1" if event == "new" else f"{decision.article_id}/v{article['version']}"
                rows.append({
                    "key": f"{sub.name}/{channel}/{key}",
                    "subscription": sub.name,
                    "channel": channel,
                    "article_id": decision.article_id,
                    "version": article["version"],
                    "event": event,
                    "digest": sub.digest is not None,
                    "not_before": _not_before(sub, now),
                })
        return rows
