"""Alerts end to end: simulator → crawl → outbox → real SMTP server and webhook receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import opencc
import pytest

from crawler.alerts.config import AlertsConfig, Keywords
from crawler.alerts.rules import keywords_match, make_router
from crawler.simulator import Simulator
from tests.alert_servers import Mailbox, WebhookReceiver, free_port
from tests.conftest import Cli
from tests.test_daemon import INTERVAL, Daemon, _fast_schedule, wait_for

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
    webhook: {{url: "{receiver.url}", secret: "${{HOOK_SECRET}}", allow_private_targets: true}}
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
    singles = [p for p in payloads if p["subscription"] == "each"]
    assert len(singles) == 12 and {p["type"] for p in singles} == {"article.new"}
    assert {p["data"]["articles"][0]["title"] for p in singles} == {a.title for a in sim.articles("dzwww")}
    article = singles[0]["data"]["articles"][0]
    assert set(article) >= {"event", "id", "url", "title", "published_at", "source", "excerpt", "diff"}
    tampered = dict(calls[0]["headers"], **{"webhook-id": "msg_other"})
    assert not _verify(SECRET, tampered, calls[0]["body"])
    # The digest: one message per window (the crawl may straddle two), holding all of that window's articles
    # (a window that caught one article sends it as article.new).
    digests = [p for p in payloads if p["subscription"] == "daily"]
    assert len(digests) == len(windows) and max(windows.values()) >= 2
    assert sorted(len(d["data"]["articles"]) for d in digests) == sorted(windows.values())
    assert {a["title"] for d in digests for a in d["data"]["articles"]} == {a.title for a in sim.articles("credit")}


def test_webhook_500_three_times_then_delivered_once(sim: Simulator, cli: Cli, receiver: WebhookReceiver) -> None:
    _alerts(cli, f"""
channels:
  hook:
    webhook: {{url: "{receiver.url}", secret: "{SECRET}", allow_private_targets: true}}
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
    _alerts(cli, "channels:\n  x: {url: 'json://127.0.0.1:9/', allow_private_targets: true}\nsubscriptions:\n  - name: a\n    channels: [y]\n")
    check = cli("alerts", "check", check=False)
    assert check.returncode == 2 and "subscription 'a' names unknown channel(s): y" in check.stderr


def _iqilu_daemon(sim: Simulator, sim_config: Path, tmp_path: Path, alerts_yaml: str) -> Daemon:
    """A daemon polling only the simulated Qilu portal every 2 s, with the given alerts.yaml."""
    for other in ("sim-credit", "sim-dzwww"):
        (sim_config / "sources" / f"{other}.yaml").unlink()
    _fast_schedule(sim_config)
    (sim_config / "alerts.yaml").write_text(alerts_yaml, encoding="utf-8")
    return Daemon(sim_config, tmp_path / "crawler.db", sim.env(), tmp_path / "daemon.log")


def test_daemon_delivers_within_one_interval_and_survives_kill_9_before_sending(
    sim: Simulator, sim_config: Path, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    daemon = _iqilu_daemon(sim, sim_config, tmp_path, f"""
channels:
  hook: {{webhook: {{url: "{receiver.url}", secret: "{SECRET}", allow_private_targets: true}}}}
subscriptions:
  - {{name: all, sources: ["*"], channels: [hook]}}
delivery: {{backoff: 0s}}
""")
    titles = lambda: [p["data"]["articles"][0]["title"] for p in receiver.delivered()]  # noqa: E731
    try:
        daemon.start()
        clean = [a for a in sim.articles("iqilu") if not a.spam]  # the spam-mirror page is flagged: no alert
        assert len(clean) == 11
        wait_for(lambda: len(receiver.delivered()) == len(clean), 60, "alerts for the first crawl")
        new = sim.publish("iqilu", title="枣庄市信用修复服务专区上线")
        published = time.monotonic()
        wait_for(lambda: new.title in titles(), 30, "the alert for a new article")
        lag = time.monotonic() - published
        assert lag <= INTERVAL + 5, f"alert arrived {lag:.1f}s after publication"

        # The receiver is down when the next article is stored; the daemon dies before it can send.
        receiver.script = [503] * 1000
        late = sim.publish("iqilu", title="枣庄市公布第三批诚信示范企业名单")
        wait_for(lambda: daemon.count("url = ?", (sim.article_url("iqilu", late),)) == 1, 30, "the late article stored")
        wait_for(lambda: daemon.query("SELECT attempts FROM outbox WHERE article_id = "
                                      "(SELECT id FROM articles WHERE url = '" + sim.article_url("iqilu", late) + "')")
                 not in ([], [(0,)]), 30, "a failed delivery attempt")
        daemon.stop(signal.SIGKILL)
        receiver.script = []
        daemon.start()
        wait_for(lambda: late.title in titles(), 30, "the alert after the restart")
        assert daemon.stop(signal.SIGTERM) == 0
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.kill()
    delivered = [c for c in receiver.calls if c["status"] == 200]
    ids = [c["headers"]["webhook-id"] for c in delivered]
    assert len(ids) == len(set(ids)) == 13  # every alert once, none twice
    assert daemon.query("SELECT COUNT(*), COUNT(DISTINCT key) FROM outbox") == [(13, 13)]
    assert daemon.query("PRAGMA integrity_check") == [("ok",)]
    assert daemon.query("SELECT status, COUNT(*) FROM outbox GROUP BY status") == [("sent", 13)]
    spam_article = next(a for a in sim.articles("iqilu") if a.spam)
    assert spam_article.title not in titles()


def test_broken_template_gives_one_ops_alert_and_one_recovery(
    sim: Simulator, sim_config: Path, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    daemon = _iqilu_daemon(sim, sim_config, tmp_path, f"""
channels:
  ops-hook: {{webhook: {{url: "{receiver.url}", secret: "{SECRET}", allow_private_targets: true}}}}
ops: {{channels: [ops-hook], failures: 50}}
""")
    ops = lambda: [p["data"] for p in receiver.delivered() if p["type"].startswith("source.")]  # noqa: E731
    runs = lambda: daemon.query("SELECT COUNT(*) FROM crawl_runs WHERE status != 'running'")[0][0] if daemon.db.exists() else 0  # noqa: E731
    try:
        daemon.start()
        wait_for(lambda: daemon.count() == 12, 60, "the first crawl")
        sim.broken_templates.add("iqilu")
        wait_for(lambda: len(ops()) == 1, 30, "the ops alert")
        broken_runs = runs()
        wait_for(lambda: runs() >= broken_runs + 2, 40, "two more crawls of the broken page")
        assert len(ops()) == 1  # no flood while the problem lasts
        sim.broken_templates.clear()
        wait_for(lambda: len(ops()) == 2, 40, "the recovery alert")
        fixed_runs = runs()
        wait_for(lambda: runs() >= fixed_runs + 2, 40, "two more good crawls")
        assert daemon.stop(signal.SIGTERM) == 0
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.kill()
    problem, recovered = ops()
    assert (problem["condition"], problem["state"]) == ("no_links", "problem")
    assert "列表页选择器没有匹配到任何文章链接" in problem["message"] and "/zzyaowen/" in problem["detail"]
    assert (recovered["condition"], recovered["state"]) == ("no_links", "recovered")
    assert len(receiver.delivered()) == 2


def test_digest_at_fixed_times_and_rule_units() -> None:
    config = AlertsConfig.model_validate({
        "channels": {"c": {"url": "json://127.0.0.1:9/", "allow_private_targets": True}},
        "subscriptions": [{"name": "am", "digest": {"at": ["18:00", "08:00"]}, "channels": ["c"]}],
    })
    decision = SimpleNamespace(outcome="new", article_id=1)
    article = {"title": "t", "body": "b", "version": 1}
    (row,) = make_router(config)("s", decision, article, [])
    due = datetime.fromisoformat(row["not_before"])
    local = due.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute) in ((8, 0), (18, 0)) and due.timestamp() > time.time()
    assert row["digest"] is True and row["key"] == "am/c/1/v1"
    assert make_router(AlertsConfig())("s", decision, article, []) == []  # no subscriptions, no alerts
    # as a store job carries it to the writer's process: the same rows, one validated config per process
    copies = [pickle.loads(pickle.dumps(make_router(config))) for _ in range(2)]
    assert copies[0] is copies[1] and copies[0].config == config
    assert [{k: v for k, v in r.items() if k != "not_before"} for r in copies[0]("s", decision, article, [])] == \
        [{k: v for k, v in row.items() if k != "not_before"}]
    assert keywords_match(Keywords(all=["信用", "修复"]), "信用修復工作", "")  # Traditional folded
    assert not keywords_match(Keywords(any=["信用"], fields=["title"]), "招商", "信用")


def test_apprise_channel_html_escaping_and_alerts_test_command(sim: Simulator, cli: Cli, receiver: WebhookReceiver, mailbox: Mailbox) -> None:
    port = receiver.server.server_address[1]
    _alerts(cli, f"""
channels:
  bot: {{url: "json://127.0.0.1:{port}/hook", allow_private_targets: true}}
  desk: {{url: "mailto://127.0.0.1:{mailbox.port}?to=desk@example.cn"}}
subscriptions:
  - name: all
    sources: [sim-dzwww]
    keywords: {{any: [脚本]}}
    channels: [bot, desk]
""")
    sim.publish("dzwww", title="<script>alert(1)</script>脚本测试 @all", paragraphs=["正文第一段，含有<b>标签</b>和脚本字样。" * 3])
    cli("crawl", "sim-dzwww")
    cli("alerts", "send")
    (apprise_call,) = receiver.calls  # Apprise's json:// plugin, for real, on loopback
    body = json.loads(apprise_call["body"])
    assert "脚本测试" in body["title"] and "脚本字样" in body["message"]
    (mail,) = mailbox.messages
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;脚本测试" in html
    result = cli("alerts", "test", "all")
    assert "bot (json:// (Apprise)): ok" in result.stdout and "desk (email via 127.0.0.1" in result.stdout
    assert len(receiver.calls) == 2 and len(mailbox.messages) == 2
    assert "【测试】" in mailbox.messages[1]["Subject"]


def test_operators_override_a_template(sim: Simulator, cli: Cli, mailbox: Mailbox) -> None:
    (cli.config / "tpl").mkdir()
    (cli.config / "tpl" / "email_subject.txt.j2").write_text("【枣庄监测】{{ article.title }}（{{ count }}）\n", encoding="utf-8")
    _alerts(cli, f"""
channels:
  desk: {{url: "mailto://127.0.0.1:{mailbox.port}?to=desk@example.cn"}}
subscriptions:
  - {{name: one, sources: [sim-iqilu], keywords: {{any: [零碳智谷]}}, channels: [desk]}}
templates: tpl
""")
    cli("crawl", "sim-iqilu")
    cli("alerts", "send")
    (mail,) = mailbox.messages
    assert mail["Subject"] == "【枣庄监测】棗莊高新區零碳智谷拔節生長（1）"
    assert "棗莊高新區零碳智谷拔節生長" in mail.get_body(("plain",)).get_content()  # the other templates are the defaults
