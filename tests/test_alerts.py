"""Alerts end to end: simulator → crawl → outbox → real SMTP server and webhook receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import opencc
import pytest

from crawler.simulator import Simulator
from tests.alert_servers import Mailbox, WebhookReceiver, free_port
from tests.conftest import Cli

SECRET = "s3cret-for-tests-only"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


def _alerts(cli: Cli, text: str) -> None:
    (cli.config / "alerts.yaml").write_text(text, encoding="utf-8")


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, written from the Standard Webhooks spec (not from our code)."""
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return any(part.split(",", 1)[1] == expected for part in headers["webhook-signature"].split())


def _matching(sim: Simulator, portal: str, word: str) -> list:
    t2s = opencc.OpenCC("t2s")
    return [a for a in sim.articles(portal) if word in t2s.convert(a.title + a.body)]


def test_email_with_chinese_text_for_matching_articles_only(sim: Simulator, cli: Cli, mailbox: Mailbox) -> None:
    _alerts(cli, f"""
channels:
  desk:
    url: mailto://127.0.0.1:{mailbox.port}?to=desk@example.cn&from=crawler@example.cn
subscriptions:
  - name: lidian
    sources: [sim-iqilu]
    keywords: {{any: [零碳], none: [招聘]}}
    channels: [desk]
""")
    cli("crawl", "sim-iqilu")
    expected = _matching(sim, "iqilu", "零碳")
    assert expected and len(expected) < 12  # the filter really filters
    cli("alerts", "send")
    assert len(mailbox.messages) == len(expected)
    by_title = {m["Subject"]: m for m in mailbox.messages}
    trad = next(a for a in expected if a.traditional)  # matched through Traditional→Simplified folding
    mail = by_title[f"[齐鲁网 · 枣庄要闻（模拟）] {trad.title}"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert trad.title in text and trad.title in html
    assert sim.article_url("iqilu", trad) in text
    assert "發布時間" not in text and "发布时间：2024-12-13 14:36" in text
    assert mail["Message-ID"].startswith("<msg_") and mail["To"] == "desk@example.cn"
    cli("alerts", "send")
    assert len(mailbox.messages) == len(expected)  # nothing twice


def test_signed_webhook_and_digest(sim: Simulator, cli: Cli, receiver: WebhookReceiver) -> None:
    _alerts(cli, f"""
channels:
  hook:
    webhook: {{url: "{receiver.url}", secret: "${{HOOK_SECRET}}"}}
subscriptions:
  - name: each
    sources: [sim-dzwww]
    channels: [hook]
  - name: daily
    sources: [sim-credit]
    digest: {{every: 2s}}
    channels: [hook]
""")
    cli.env["HOOK_SECRET"] = SECRET
    cli("crawl", "sim-dzwww", "sim-credit")
    windows = dict(cli.query("SELECT not_before, COUNT(*) FROM outbox WHERE subscription = 'daily' GROUP BY not_before"))
    latest = max(cli.query("SELECT not_before FROM outbox"))[0]
    time.sleep(max(0.0, datetime.fromisoformat(latest).timestamp() - time.time()) + 0.5)
    cli("alerts", "send")
    calls = receiver.calls[:]
    for call in calls:
        assert _verify(SECRET, call["headers"], call["body"])
        assert abs(int(call["headers"]["webhook-timestamp"]) - time.time()) < 60
    payloads = [json.loads(c["body"]) for c in calls]
    singles = [p for p in payloads if p["type"] == "article.new"]
    assert len(singles) == 12 and {p["subscription"] for p in singles} == {"each"}
    assert {p["data"]["articles"][0]["title"] for p in singles} == {a.title for a in sim.articles("dzwww")}
    article = singles[0]["data"]["articles"][0]
    assert set(article) >= {"event", "id", "url", "title", "published_at", "source", "excerpt", "diff"}
    tampered = dict(calls[0]["headers"], **{"webhook-id": "msg_other"})
    assert not _verify(SECRET, tampered, calls[0]["body"])
    # The digest: one message per window (the crawl may straddle two), holding all of that window's articles.
    digests = [p for p in payloads if p["type"] == "article.digest"]
    assert len(digests) == len(windows) and max(windows.values()) >= 2
    assert sorted(len(d["data"]["articles"]) for d in digests) == sorted(windows.values())
    assert {a["title"] for d in digests for a in d["data"]["articles"]} == {a.title for a in sim.articles("credit")}


def test_webhook_500_three_times_then_delivered_once(sim: Simulator, cli: Cli, receiver: WebhookReceiver) -> None:
    _alerts(cli, f"""
channels:
  hook:
    webhook: {{url: "{receiver.url}", secret: "{SECRET}"}}
subscriptions:
  - name: one
    sources: [sim-iqilu]
    keywords: {{any: [零碳智谷]}}
    channels: [hook]
delivery: {{backoff: 0s, max_attempts: 5}}
""")
    cli("crawl", "sim-iqilu")
    receiver.script = [500, 500, 500]
    for _ in range(6):
        cli("alerts", "send")
    assert [c["status"] for c in receiver.calls] == [500, 500, 500, 200]
    assert len({c["headers"]["webhook-id"] for c in receiver.calls}) == 1  # the same id on every attempt
    rows = cli.query("SELECT status, attempts FROM outbox")
    assert rows == [("sent", 4)]
    assert [r[0] for r in cli.query("SELECT ok FROM outbox_attempts ORDER BY id")] == [0, 0, 0, 1]


def test_smtp_down_then_back(sim: Simulator, cli: Cli) -> None:
    port = free_port()
    _alerts(cli, f"""
channels:
  desk: {{url: "mailto://127.0.0.1:{port}?to=desk@example.cn"}}
subscriptions:
  - name: one
    sources: [sim-iqilu]
    keywords: {{any: [零碳智谷]}}
    channels: [desk]
delivery: {{backoff: 0s}}
""")
    cli("crawl", "sim-iqilu")
    cli("alerts", "send")
    assert cli.query("SELECT status, attempts FROM outbox") == [("pending", 1)]
    assert "Connection refused" in cli.query("SELECT last_error FROM outbox")[0][0]
    box = Mailbox(port).start()
    try:
        cli("alerts", "send")
        assert len(box.messages) == 1
    finally:
        box.stop()
    assert cli.query("SELECT status FROM outbox") == [("sent",)]


def test_broken_alerts_file_stops_the_crawl_before_storing(sim: Simulator, cli: Cli) -> None:
    _alerts(cli, "channels:\n  x: {url: nonsense}\nsubscriptions:\n  - name: a\n    channels: [y]\n")
    result = cli("crawl", "sim-iqilu", check=False)
    assert result.returncode == 2
    assert f"{cli.config / 'alerts.yaml'}: channels.x: 'nonsense' is not a channel URL" in result.stderr
    assert not cli.db.exists() and sim.requests() == []  # nothing fetched, nothing stored
    _alerts(cli, "channels:\n  x: {url: 'json://127.0.0.1:9/'}\nsubscriptions:\n  - name: a\n    channels: [y]\n")
    check = cli("alerts", "check", check=False)
    assert check.returncode == 2 and "subscription 'a' names unknown channel(s): y" in check.stderr
