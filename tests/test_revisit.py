"""Revisits (crawler/revisit.py): the schedule as a pure function with an injected clock, and against
the simulator: an edit that leaves the list page unchanged is seen with no revisit settings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from crawler.revisit import due, points
from crawler.sources import Revisit

H = timedelta(hours=1)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
DEFAULT = Revisit()


def _due(age: timedelta, fetched_age: timedelta | None, published_age: timedelta | None = None) -> bool:
    first = NOW - age
    return due(first, NOW - fetched_age if fetched_age is not None else None,
               NOW - published_age if published_age is not None else None, NOW, DEFAULT.after, DEFAULT.window)


def test_the_default_schedule_decays_and_ends_with_the_window() -> None:
    assert list(points(DEFAULT.after, DEFAULT.window)) == [H, 3 * H, 9 * H, 24 * H, 48 * H, 72 * H]
    assert not _due(30 * 60 * H / 60, fetched_age=30 * H / 60)  # 30 min old: not yet
    assert _due(61 * H / 60, fetched_age=61 * H / 60)  # 1 h 1 min old, last fetched when first seen: due
    assert not _due(61 * H / 60, fetched_age=H / 60)  # ... fetched again a minute ago: not again
    assert not _due(2 * H, fetched_age=H / 2)  # between 1 h and 3 h, fetched after the 1 h point
    assert _due(10 * H, fetched_age=8 * H)  # the 9 h point passed since the last fetch
    assert _due(49 * H, fetched_age=25 * H)  # daily after the listed points
    assert not _due(73 * H, fetched_age=49 * H)  # older than the window: never again
    assert not _due(2 * H, fetched_age=2 * H, published_age=5 * 24 * H)  # dated before the window (a backlog)


def test_a_zero_schedule_revisits_at_every_crawl() -> None:
    assert due(NOW - H, NOW, None, NOW, [timedelta(0)], DEFAULT.window)


def test_recheck_after_is_refused_with_the_new_key(tmp_path) -> None:
    from crawler.sources import load_sources

    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "a.yaml").write_text(
        "name: a\ntitle: A\nstart_urls: ['https://example.cn/']\nrequest:\n  recheck_after: 1h\n", encoding="utf-8")
    loaded, problems = load_sources(tmp_path)
    assert not loaded and len(problems) == 1
    message = str(problems[0])
    assert "a.yaml" in message and "request.recheck_after" in message and "request.revisit" in message


def _age(cli, url: str, hours: float) -> None:
    """Move an article's first and last fetch back in time (the store is the only clock revisits read)."""
    then = (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat(timespec="seconds")
    with __import__("sqlite3").connect(cli.db) as conn:
        conn.execute("UPDATE articles SET first_seen = ?, last_fetched = ? WHERE url = ?", (then, then, url))


def test_an_edit_the_list_does_not_show_is_a_changed_alert_at_the_next_revisit(sim, cli) -> None:
    (cli.config / "alerts.yaml").write_text(
        "channels:\n  log: {url: 'json://127.0.0.1:9/', allow_private_targets: true}\n"
        "subscriptions:\n  - {name: all, events: [new, changed], channels: [log]}\n", encoding="utf-8")
    fresh = sim.publish("credit")  # published now: inside the window
    cli("crawl", "sim-credit")
    url = sim.article_url("credit", fresh)
    old_url = sim.article_url("credit", sim.articles("credit")[-1])

    edited = [*fresh.paragraphs[:-1], fresh.paragraphs[-1] + "（据统计，涉及企业120家。）", "新增一段：相关名单将于近期公示。"]
    sim.edit("credit", fresh.id, paragraphs=edited)
    sim.conditional = False  # the list page too answers 200; its links are unchanged (same ids and titles)
    cli("crawl", "sim-credit")  # a minute after first seen: not due yet
    assert cli.query("SELECT version FROM articles WHERE url = ?", (url,)) == [(1,)]

    _age(cli, url, 1.02)  # now an hour and a minute old
    _age(cli, old_url, 24 * 4)  # four days old: outside the window
    sim.clear_log()
    cli("crawl", "sim-credit")
    (article_id, version), = cli.query("SELECT id, version FROM articles WHERE url = ?", (url,))
    assert version == 2
    events = cli.query("SELECT event, article_id FROM outbox WHERE event = 'changed'")
    assert events == [("changed", article_id)]
    (diff,), = cli.query("SELECT diff FROM article_versions WHERE article_id = ?", (article_id,))
    assert "+新增一段：相关名单将于近期公示。" in diff
    article_paths = [r.path for r in sim.requests("credit") if r.path.startswith("/art/")]
    assert len(article_paths) == 1  # the due article only; the four-day-old one is never fetched again

    # At the next point (3 h) the counter has moved (no 304: conditional answers are off): nothing changes.
    _age(cli, url, 3.05)
    cli("crawl", "sim-credit")
    assert cli.query("SELECT version FROM articles WHERE url = ?", (url,)) == [(2,)]
    last = cli.query("SELECT decision FROM decisions WHERE url = ? ORDER BY id DESC LIMIT 1", (url,))
    assert last == [("unchanged",)]
    assert json.loads(cli("status", "--json").stdout)[0]["source"]
