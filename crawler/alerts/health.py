"""Source health for the operators: conditions read from the last crawl, alerts on change only.

| condition | holds when |
|---|---|
| ``no_links`` | the last crawl found no article link on a list page (the selector matches nothing) |
| ``failing`` | this many crawls in a row failed (``ops.failures``) |
| ``empty_articles`` | the last crawl fetched article pages but none gave an article (empty body) |
| ``stale`` | no new article for longer than the source's ``expected_update_period`` |
| ``spam_chrome`` | the last crawl found spam phrases in the pages' chrome (footer, side column), not in articles |
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from crawler.alerts.config import AlertsConfig
from crawler.sources import Source
from storage import Store

MESSAGES = {
    "no_links": "列表页选择器没有匹配到任何文章链接（页面模板可能已改）",
    "failing": "连续抓取失败",
    "empty_articles": "文章页没有提取到正文（页面模板可能已改）",
    "stale": "超过预期时间没有新文章",
    "spam_chrome": "页面框架（页脚、侧栏等）出现垃圾/博彩词语，文章正文未受影响（站点模板可能被篡改）",
}


def conditions(store: Store, source: Source, failures: int, threshold: int) -> dict[str, str | None]:
    runs = [r for r in store.runs(source=source.name, limit=5) if r["status"] != "running"]
    if not runs:
        return {}
    last = runs[0]
    errors = store.errors(run_id=last["id"], limit=10_000)
    kinds = [e["kind"] for e in errors]
    no_links = [e["url"] for e in errors if e["kind"] == "no_links"]
    chrome = [e for e in errors if e["kind"] == "spam_chrome"]
    stored = (last["articles_new"] or 0) + (last["articles_changed"] or 0) + (last["articles_unchanged"] or 0) + (
        last["articles_duplicate"] or 0
    )
    found = {
        "no_links": f"{len(no_links)} list page(s), e.g. {no_links[0]}" if no_links else None,
        "failing": f"{failures} failed crawls in a row" if failures >= threshold else None,
        "spam_chrome": (
            f"{len(chrome)} page(s), e.g. {chrome[0]['url']}: {chrome[0]['message']}" if chrome else None
        ),
        "empty_articles": (
            f"{kinds.count('empty_body')} article page(s) without text" if kinds.count("empty_body") and not stored else None
        ),
    }
    if source.expected_update_period is not None:
        newest = store.db.execute("SELECT MAX(first_seen) FROM articles WHERE source = ?", [source.name]).fetchone()[0]
        if newest:
            age = datetime.now(timezone.utc) - datetime.fromisoformat(newest)
            found["stale"] = f"newest article is {age.days}d {age.seconds // 3600}h old" if age > source.expected_update_period else None
    return found


def ops_rows(config: AlertsConfig, source: Source):
    """Outbox rows for one start or end of a condition, one per ops channel."""

    def rows(condition: str, started: bool, detail: str, since: str) -> list[dict[str, Any]]:
        if config.ops is None:
            return []
        state = "problem" if started else "recovered"
        payload = json.dumps({
            "source": source.name, "source_title": source.title, "condition": condition, "state": state,
            "message": MESSAGES.get(condition, condition), "detail": detail, "since": since,
        }, ensure_ascii=False)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return [
            {"key": f"ops/{channel}/{source.name}/{condition}/{since}/{state}", "subscription": "ops", "channel": channel,
             "event": "ops", "not_before": now, "payload": payload}
            for channel in config.ops.channels
        ]

    return rows
