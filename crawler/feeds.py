"""Atom feeds: one per source and one per subscription of alerts.yaml.

A feed reader is another kind of recipient: a source's feed lists what was
stored from that portal; a subscription's feed lists what the subscription
would alert on (its sources, keywords and flag rule; copies of an article
already stored from another portal are left out, as in alerts).
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

from feedgen.feed import FeedGenerator

from crawler import __version__
from crawler.alerts.config import AlertsConfig, Subscription
from crawler.alerts.rules import keywords_match

ENTRIES = 50
SCAN = 2000  # newest articles looked at when a subscription's keywords filter them


class UnknownFeed(LookupError):
    pass


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _matches(sub: Subscription, article: dict[str, Any]) -> bool:
    if article["flags"] and not sub.include_flagged:
        return False
    if "new" not in sub.events and (article.get("version") or 1) < 2:
        return False
    return not sub.keywords or keywords_match(sub.keywords, article["title"], article["body"])


def feed_articles(store: Any, name: str, alerts: AlertsConfig) -> tuple[str, list[dict[str, Any]]]:
    """The feed's title and its newest articles. A source name wins over a subscription of the same name."""
    titles = store.source_titles()
    if name in titles:
        return f"{titles[name] or name} ({name})", store.articles(source=name, limit=ENTRIES)
    sub = next((s for s in alerts.subscriptions if s.name == name), None)
    if sub is None:
        raise UnknownFeed(f"no source or subscription named {name!r}")
    sources = None if "*" in sub.sources else list(sub.sources)
    candidates = store.articles(source=sources, limit=SCAN, duplicates=False)
    return f"Subscription {name}", [a for a in candidates if _matches(sub, a)][:ENTRIES]


def _content(body: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in body.split("\n") if line.strip())


def atom(name: str, title: str, articles: list[dict[str, Any]], self_url: str, updated_of=None) -> bytes:
    """The Atom document. ``updated_of(article)`` gives an article's last change (default: first seen)."""
    feed = FeedGenerator()
    feed.id(f"tag:crawler-monitor,2026:feed/{name}")
    feed.title(title)
    feed.link(href=self_url, rel="self")
    feed.author({"name": "crawler-monitor"})
    feed.generator("crawler-monitor", version=__version__)
    feed.language("zh-CN")
    newest = datetime(2000, 1, 1, tzinfo=timezone.utc)
    for article in articles:
        updated = _when(updated_of(article) if updated_of else None) or _when(article["first_seen"])
        newest = max(newest, updated)
        entry = feed.add_entry(order="append")
        entry.id(article["url"])
        entry.title(article["title"])
        entry.link(href=article["url"], rel="alternate")
        entry.updated(updated)
        published = _when(article.get("published_at"))
        if published:
            entry.published(published)
        if article.get("author") or article.get("source_name"):
            entry.author({"name": article.get("author") or article["source_name"]})
        entry.content(_content(article["body"]), type="html")
    feed.updated(newest)
    return feed.atom_str(pretty=True)


def build_feed(store: Any, name: str, alerts: AlertsConfig, self_url: str) -> bytes:
    title, articles = feed_articles(store, name, alerts)
    return atom(name, title, articles, self_url, updated_of=store.last_change)
