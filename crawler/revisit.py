"""Revisits: stored articles fetched again (conditionally) on a decaying schedule, to see edits.

An edit rarely changes the list page, so waiting for the list to change misses it. Each crawl
of a source also asks again for its stored articles that are due: at the points of
``request.revisit.after`` since the article was first seen (1 h, 3 h, 9 h, 1 d by default), then
every ``max(after)`` (1 d), while the article is younger than ``request.revisit.window`` (3 d). A
request is a conditional GET (ETag / Last-Modified), so an unedited page costs a 304.

Not revisited: articles first seen before the window, and articles the portal dated before it
(a first crawl's backlog of old notices). ``revisit: off`` turns it off for a source. On Redis
workers the daemon queues the due revisits with each poll (spiders/worker.py ``open_poll``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any


def points(after: list[timedelta], window: timedelta) -> Iterator[timedelta]:
    """The ages (since first seen) at which an article is due: ``after``, then every ``max(after)``, up to ``window``."""
    last = timedelta(0)
    for point in sorted(after):
        if point > window:
            return
        last = point
        yield point
    step = max(after)
    while step > timedelta(0) and last + step <= window:
        last += step
        yield last


def due(first_seen: datetime, last_fetched: datetime | None, published: datetime | None, now: datetime,
        after: list[timedelta], window: timedelta) -> bool:
    """Is the article due for a revisit at ``now``?"""
    if now - first_seen > window or (published is not None and now - published > window):
        return False
    age = now - first_seen
    reached = [p for p in points(after, window) if p <= age]
    if not reached:
        return False
    if reached[-1] == timedelta(0):  # an "after: [0s]" schedule: every crawl
        return True
    return last_fetched is None or last_fetched < first_seen + reached[-1]


def due_urls(store: Any, source: Any, now: datetime | None = None) -> list[str]:
    """The URLs of ``source``'s stored articles due for a revisit at ``now``, read from ``store``
    (a local crawl's start, and the daemon when it queues a poll for the Redis workers)."""
    rule = source.request.revisit
    if rule is False:
        return []
    now = now or datetime.now(timezone.utc)
    since = (now - rule.window).isoformat(timespec="seconds")
    return [
        url for url, first_seen, last_fetched, published in store.recent_articles(source.name, since)
        if due(_time(first_seen), _time(last_fetched) if last_fetched else None,
               _time(published) if published else None, now, rule.after, rule.window)
    ]


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
