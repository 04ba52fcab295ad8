"""Soak: the real daemon polls the simulator for hundreds of cycles while faults are injected at random.

    python -m bench.soak [--cycles 200] [--minutes 30] [--articles 30] [--seed 7]

The daemon (`crawler run`, every source every second) crawls three simulated portals and sends
every new or changed article to a webhook receiver on loopback. Meanwhile a driver, at random:
publishes articles, edits articles near the top of the lists, injects one of the faults of
docs/reliability.md on a list page, an article page or robots.txt for one to three requests
(500, 503, reset, truncated body, trickle past the timeout, maintenance page, soft-404, empty and
binary bodies, wrong charset, 429 with Retry-After, robots.txt 503, redirect loop), and makes
the webhook answer 500. Then the faults stop, each portal publishes once more so every list is
read again, and the daemon is given time to settle and deliver.

At the end it checks, against what the simulator holds:
- lost articles: a simulated article missing from the database, or stored with another text;
- duplicate articles: two rows for one article;
- duplicate alerts: an article version delivered (HTTP 200) more than once;
- false "changed" events: a change alert for an article the driver never edited;
- `PRAGMA integrity_check`;
- the daemon's resident memory over the run (after 10 cycles vs at the end).
Exit status 1 if any check fails. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import ROOT, append_result
from crawler.simulator import PORTALS, Fault, Simulator
from tests.alert_servers import WebhookReceiver

SOURCES = {"credit": "sim-credit", "dzwww": "sim-dzwww", "iqilu": "sim-iqilu"}
MAINTENANCE = "<html><head><title>网站维护中</title></head><body><p>网站维护中，请稍后访问。</p></body></html>".encode()
SOFT_404 = "<html><head><title>页面不存在</title></head><body><p>您访问的页面不存在或已被删除。</p></body></html>".encode()


def fold(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


def _config(target: Path, receiver: WebhookReceiver) -> Path:
    shutil.copytree(ROOT / "config" / "simulator", target)
    for path in (target / "sources").glob("*.yaml"):
        text = path.read_text("utf-8")
        text = re.sub(r"schedule:\n  every: .*\n", "schedule:\n  every: 1s\n  jitter: 0s\n", text)
        text = text.replace("request:\n", "request:\n  timeout: 3s\n  retries: 1\n  revisit: {after: [5s]}\n")
        path.write_text(text, encoding="utf-8")
    (target / "alerts.yaml").write_text(
        "channels:\n"
        f"  hook: {{webhook: {{url: '{receiver.url}', secret: soak-secret-1, allow_private_targets: true}}}}\n"
        "subscriptions:\n  - {name: all, events: [new, changed], channels: [hook]}\n"
        "delivery: {backoff: 1s, max_backoff: 4s, max_attempts: 50}\n",
        encoding="utf-8",
    )
    return target


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, params).fetchall()


def _cycles(db: Path) -> float:
    if not db.exists():
        return 0.0
    try:
        return _query(db, "SELECT COUNT(*) FROM crawl_runs WHERE status != 'running'")[0][0] / len(SOURCES)
    except sqlite3.OperationalError:
        return 0.0


class Driver:
    """Random publishing, editing and fault injection on the simulator and the webhook receiver."""

    FAULTS = ("500", "503", "reset", "truncate", "trickle", "maintenance", "soft404", "empty", "binary", "charset",
              "429", "robots503", "loop")

    def __init__(self, sim: Simulator, receiver: WebhookReceiver, rng: random.Random):
        self.sim, self.receiver, self.rng = sim, receiver, rng
        self.edited: Counter[tuple[str, int]] = Counter()
        self.faults: Counter[str] = Counter()
        self.published = 0
        self.webhook_500s = 0

    def step(self) -> None:
        roll = self.rng.random()
        portal = self.rng.choice(PORTALS)
        if roll < 0.15:
            self.sim.publish(portal)
            self.published += 1
        elif roll < 0.23:
            article = self.rng.choice(self.sim.articles(portal)[:5])
            paragraphs = [*article.paragraphs[:-1], f"（更新）{self.rng.randint(1000, 9999)}：此前报道有误，现予更正。"]
            self.sim.edit(portal, article.id, paragraphs=paragraphs)
            self.edited[(portal, article.id)] += 1
        elif roll < 0.60:
            self.inject(portal)
        elif roll < 0.66:
            self.receiver.script.append(500)
            self.webhook_500s += 1

    def inject(self, portal: str) -> None:
        kind = self.rng.choice(self.FAULTS)
        times = self.rng.randint(1, 3)
        articles = self.sim.articles(portal)
        article_path = urlsplit(self.sim.article_url(portal, self.rng.choice(articles[:12]))).path
        list_path = urlsplit(self.sim.list_url(portal, self.rng.choice([1, 1, 2]))).path
        path = self.rng.choice([article_path, list_path]) if kind in ("500", "503", "reset", "truncate", "429", "charset") else article_path
        fault = {
            "500": Fault(status=500, times=times),
            "503": Fault(status=503, times=times),
            "reset": Fault(reset=True, times=times),
            "truncate": Fault(truncate=True, times=times),
            "trickle": Fault(trickle=0.2, times=times),
            "maintenance": Fault(status=200, body=MAINTENANCE, times=times),
            "soft404": Fault(status=200, body=SOFT_404, times=times),
            "empty": Fault(status=200, body=b"", times=times),
            "binary": Fault(status=200, body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, times=times),
            "charset": Fault(charset="utf-8" if portal == "credit" else "gbk", times=times),
            "429": Fault(status=429, headers={"Retry-After": "2"}, times=1),
            "robots503": Fault(status=503, times=times),
            "loop": Fault(status=302, headers={"Location": article_path}, times=times * 6),
        }[kind]
        self.sim.set_fault(portal, "/robots.txt" if kind == "robots503" else path, fault)
        self.faults[kind] += 1


def _check(sim: Simulator, db: Path, receiver: WebhookReceiver, driver: Driver) -> dict[str, object]:
    rows = _query(db, "SELECT id, url, body FROM articles WHERE source IN (?, ?, ?)", tuple(SOURCES.values()))
    by_url: dict[str, list[tuple[int, str]]] = {}
    for article_id, url, body in rows:
        by_url.setdefault(url, []).append((article_id, body))
    lost, stale, doubled = [], [], []
    id_to_sim: dict[int, tuple[str, int]] = {}
    for portal in PORTALS:
        for article in sim.articles(portal):
            url = sim.article_url(portal, article)
            found = by_url.get(url, [])
            if not found:
                lost.append(url)
                continue
            if len(found) > 1:
                doubled.append(url)
            article_id, body = found[0]
            id_to_sim[article_id] = (portal, article.id)
            if body != fold(article.body):
                stale.append(url)
    # Alerts actually delivered (HTTP 200), article by article.
    delivered: Counter[tuple[int, int, str]] = Counter()
    ids: Counter[str] = Counter()
    for call in receiver.calls:
        if call["status"] != 200:
            continue
        ids[call["headers"]["webhook-id"]] += 1
        for item in json.loads(call["body"])["data"]["articles"]:
            delivered[(item["id"], item["version"], item["event"])] += 1
    duplicate_alerts = sum(n - 1 for n in delivered.values() if n > 1)
    false_changed = [key for key in delivered if key[2] == "changed" and id_to_sim.get(key[0]) not in driver.edited]
    pending = _query(db, "SELECT status, COUNT(*) FROM outbox GROUP BY status")
    return {
        "articles on the simulator": sum(len(sim.articles(p)) for p in PORTALS),
        "articles stored": len(rows),
        "lost": lost,
        "stored with another text": stale,
        "stored twice": doubled,
        "duplicate alerts": duplicate_alerts,
        "webhook ids delivered twice": sum(1 for n in ids.values() if n > 1),
        "false changed": false_changed,
        "changed alerts": sum(1 for key in delivered if key[2] == "changed"),
        "new alerts": sum(1 for key in delivered if key[2] == "new"),
        "outbox": dict(pending),
        "integrity": _query(db, "PRAGMA integrity_check")[0][0],
        "errors by kind": dict(_query(db, "SELECT kind, COUNT(*) FROM fetch_errors GROUP BY kind ORDER BY 2 DESC")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=200, help="poll cycles (every source crawled once) with faults")
    parser.add_argument("--minutes", type=float, default=30, help="stop injecting after this long even if fewer cycles ran")
    parser.add_argument("--articles", type=int, default=30, help="articles per simulated portal at the start")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    receiver = WebhookReceiver()
    try:
        with Simulator(articles_per_portal=args.articles, page_size=10) as sim:
            config = _config(work / "config", receiver)
            db = work / "crawler.db"
            driver = Driver(sim, receiver, rng)
            log_path = work / "daemon.log"
            with open(log_path, "wb") as out:
                daemon = subprocess.Popen(
                    [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "run",
                     "--max-parallel", "3", "--crawl-timeout", "120"],
                    cwd=ROOT, env={**os.environ, **sim.env()}, stdout=out, stderr=subprocess.STDOUT,
                )
            rss: dict[int, int] = {}
            started = time.monotonic()
            deadline = started + args.minutes * 60
            marks = sorted({10, *range(50, args.cycles + 1, 50), args.cycles})
            try:
                while _cycles(db) < args.cycles and time.monotonic() < deadline:
                    if daemon.poll() is not None:
                        raise SystemExit(f"daemon exited early ({daemon.returncode}); see {log_path}")
                    driver.step()
                    done = _cycles(db)
                    for mark in marks:
                        if done >= mark and mark not in rss:
                            rss[mark] = _rss_kb(daemon.pid)
                            print(f"cycle {mark}: daemon RSS {rss[mark] / 1024:.1f} MB, {dict(driver.faults)}", file=sys.stderr)
                    time.sleep(rng.uniform(0.2, 1.0))
                fault_cycles = _cycles(db)
                rss.setdefault(int(fault_cycles), _rss_kb(daemon.pid))
                # Settle: no more faults; every list changes twice, more than the 5 s revisit apart, and each
                # source must finish a clean crawl after each change (a source may still be backing off).
                sim.clear_faults()
                receiver.script.clear()
                settle_deadline = time.monotonic() + 600
                for _ in range(2):
                    time.sleep(6)
                    since = _query(db, "SELECT strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')")[0][0]
                    for portal in PORTALS:
                        sim.publish(portal)
                    while time.monotonic() < settle_deadline:
                        clean = _query(db, "SELECT COUNT(DISTINCT source) FROM crawl_runs WHERE status = 'ok' AND started_at > ?", (since,))
                        if clean[0][0] == len(SOURCES):
                            break
                        time.sleep(1)
                while time.monotonic() < settle_deadline:
                    if _query(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0] == 0:
                        break
                    time.sleep(1)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=120)
            elapsed = time.monotonic() - started
            result = _check(sim, db, receiver, driver)
    finally:
        receiver.stop()
    first, last = rss.get(10) or min(rss.values()), rss[max(rss)]
    failed = (result["lost"] or result["stored with another text"] or result["stored twice"] or result["duplicate alerts"]
              or result["false changed"] or result["integrity"] != "ok" or last > first * 1.25)
    lines = [
        f"Daemon (`crawler run`, every source every 1 s, timeout 3 s, 1 retry, revisit after 5 s) against 3 simulated portals "
        f"({args.articles} articles each at the start), seed {args.seed}: {fault_cycles:.0f} poll cycles with faults in "
        f"{elapsed / 60:.1f} min (settling included).",
        "",
        f"Injected: {sum(driver.faults.values())} faults ({', '.join(f'{k} {v}' for k, v in driver.faults.most_common())}); "
        f"{driver.published} articles published, {sum(driver.edited.values())} edits of {len(driver.edited)} articles, "
        f"{driver.webhook_500s} webhook 500s.",
        f"Recorded fetch errors by kind: {', '.join(f'{k} {v}' for k, v in result['errors by kind'].items())}.",
        "",
        "| check | result |",
        "|---|---|",
        f"| articles on the simulator / stored | {result['articles on the simulator']} / {result['articles stored']} |",
        f"| lost articles | {len(result['lost'])} |",
        f"| stored with a text other than the simulator's latest | {len(result['stored with another text'])} |",
        f"| stored twice | {len(result['stored twice'])} |",
        f"| alerts delivered: new / changed | {result['new alerts']} / {result['changed alerts']} |",
        f"| duplicate alerts (an article version delivered twice) | {result['duplicate alerts']} |",
        f"| false `changed` alerts (article never edited) | {len(result['false changed'])} |",
        f"| outbox at the end | {result['outbox']} |",
        f"| `PRAGMA integrity_check` | {result['integrity']} |",
        f"| daemon RSS after 10 cycles → end | {first / 1024:.1f} MB → {last / 1024:.1f} MB (ratio {last / first:.3f}) |",
        "",
        "RSS samples (cycle: MB): " + ", ".join(f"{k}: {v / 1024:.1f}" for k, v in sorted(rss.items())),
    ]
    for name in ("lost", "stored with another text", "stored twice", "false changed"):
        if result[name]:
            lines.append(f"{name}: {result[name][:10]}")
    append_result("Soak: random faults under the daemon", lines, "bench.soak")
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work} for a look", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
