"""Scale-out on a real redis-server: workers share the queue, one ingester stores, nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.simulator import Simulator
from crawler.simulator.files import xlsx_names
from tests.conftest import ROOT, Cli
from tests.redis_server import RedisServer

PORTALS = ("credit", "dzwww", "iqilu")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def big_sim() -> Iterator[Simulator]:
    with Simulator(articles_per_portal=100, page_size=10) as simulator:  # 300 articles, 10 list pages each
        yield simulator


class Workers:
    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = open(self.logs / f"worker{len(self.procs)}.log", "w", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "worker", "--heartbeat", "3"],
            env={**os.environ, **self.env, "CRAWLER_EXTRACT_WORKERS": "1"}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> list[str]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        return [(self.logs / f"worker{i}.log").read_text(encoding="utf-8") for i in range(len(self.procs))]


@pytest.fixture
def workers(redis_server: RedisServer, big_sim: Simulator, tmp_path: Path) -> Iterator[Workers]:
    redis_server.client.flushall()
    pool = Workers({**big_sim.env(), "CRAWLER_REDIS_URL": redis_server.url}, tmp_path)
    yield pool
    pool.stop()


def _articles(db: Path) -> dict[str, tuple]:
    """Every stored article by URL, with what an operator sees of it (duplicates by their original's URL)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT a.url, a.title, a.body, a.published_at, a.author, a.source_name, a.flags, a.version, a.source, "
            "a.attachments, o.url FROM articles a LEFT JOIN articles o ON o.id = a.duplicate_of"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _article_fetches(sim: Simulator) -> Counter:
    paths = {sim.article_url(p, a).split("/", 3)[3] for p in PORTALS for a in sim.articles(p)}
    return Counter(r.path.lstrip("/") for r in sim.requests() if r.path.lstrip("/") in paths)


def test_two_workers_and_one_ingester_store_what_one_process_stores(
    big_sim: Simulator, workers: Workers, sim_config: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    single = Cli(sim_config, tmp_path / "single.db", big_sim.env())
    single("crawl")
    expected = _articles(single.db)
    assert len(expected) == 300

    big_sim.clear_log()
    workers.start()
    workers.start()
    scaled = Cli(sim_config, tmp_path / "scaled.db", {**big_sim.env(), "CRAWLER_REDIS_URL": redis_server.url})
    result = scaled("crawl")
    assert result.stdout.count(": ok —") == 3, result.stdout + result.stderr

    assert _articles(scaled.db) == expected  # article for article, attachments too
    notice = next(a for a in big_sim.articles("credit") if a.files)
    name = xlsx_names(notice.files[0].number)[1][1]  # only inside an attached XLSX: searchable through the ingester too
    found = json.loads(scaled("items", "search", name, "--json").stdout)
    assert found and [r["url"] for r in found] == [r["url"] for r in json.loads(single("items", "search", name, "--json").stdout)]
    fetches = _article_fetches(big_sim)
    assert len(fetches) == 300 and set(fetches.values()) == {1}, fetches.most_common(3)  # once in total
    logs = workers.stop()
    shares = [int(log.rsplit("articles sent: ", 1)[1].split()[0]) for log in logs]
    assert sum(shares) == 300 and min(shares) > 0, shares  # both workers took part

    # Redis restarted empty: the ingester rebuilds the workers' mirror from SQLite, and the next poll
    # is as cheap as in one process: list pages answer 304, no article page is fetched
    redis_server.client.flushall()
    big_sim.clear_log()
    workers.start()
    scaled("crawl")
    assert not _article_fetches(big_sim)
    assert {r.status for r in big_sim.requests() if not r.path.endswith("robots.txt")} == {304}


def test_killed_ingester_and_worker_lose_nothing_and_store_nothing_twice(
    big_sim: Simulator, workers: Workers, sim_config: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    env = {**big_sim.env(), "CRAWLER_REDIS_URL": redis_server.url, "PYTHONIOENCODING": "utf-8"}
    db = tmp_path / "scaled.db"
    command = [sys.executable, "-m", "crawler", "--config", str(sim_config), "--db", str(db), "crawl"]
    victim = workers.start()
    workers.start()
    ingester = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    holder = f"{socket.gethostname()}:{victim.pid}".encode()
    # mid-run: some articles stored, most not, and the victim holding requests
    while _count(db) < 60 or holder not in redis_server.client.hvals("crawler:claims"):
        assert time.monotonic() < deadline and ingester.poll() is None, "the crawl ended before the kill"
        time.sleep(0.02)
    ingester.send_signal(signal.SIGKILL)
    victim.send_signal(signal.SIGKILL)
    ingester.wait()
    victim.wait()
    stored_at_kill = _count(db)
    assert stored_at_kill < 300

    workers.start()  # a replacement; the survivor takes over the dead worker's requests after its heartbeat
    again = Cli(sim_config, db, env)("crawl")
    assert "still open; waiting for it" in again.stderr  # the restarted ingester finishes the same runs

    stored = _articles(db)
    expected = {big_sim.article_url(p, a) for p in PORTALS for a in big_sim.articles(p)}
    assert set(stored) == expected  # nothing lost
    with sqlite3.connect(db) as conn:
        new = conn.execute("SELECT COUNT(*) FROM decisions WHERE decision = 'new'").fetchone()[0]
        versions = conn.execute("SELECT COUNT(*) FROM articles WHERE version != 1").fetchone()[0]
        runs = conn.execute("SELECT status FROM crawl_runs").fetchall()
    assert new == 300 and versions == 0  # nothing stored twice, no false "changed"
    # the three runs all ended ok; a source whose run had ended before the kill (the credit portal, with its
    # attachments, takes longest) is polled again by the restarted crawl, and that poll is ok too
    assert runs[:3] == [("ok",)] * 3 and {status for (status,) in runs} == {"ok"} and len(runs) <= 5
    # nothing read and left unacknowledged, no request held by anyone
    assert redis_server.client.xpending("crawler:items", "ingest")["pending"] == 0
    assert not redis_server.client.hlen("crawler:claims")
    logs = workers.stop()
    assert any(f"worker {holder.decode()} is gone" in log for log in logs)  # its requests were queued again


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_daemon_on_redis_queues_polls_and_stores_what_the_workers_find(
    sim: Simulator, sim_config: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    from tests.test_daemon import Daemon, _fast_schedule, wait_for

    redis_server.client.flushall()
    env = {**sim.env(), "CRAWLER_REDIS_URL": redis_server.url}
    pool = Workers(env, tmp_path)
    pool.start()
    _fast_schedule(sim_config)  # every 2 s
    daemon = Daemon(sim_config, tmp_path / "crawler.db", env, tmp_path / "daemon.log")
    daemon.start()
    try:
        wait_for(lambda: daemon.count() == 36, 60, "the first polls")
        ok_runs = "SELECT COUNT(*) FROM crawl_runs WHERE status = 'ok'"
        wait_for(lambda: daemon.query(ok_runs)[0][0] >= 6, 30, "second polls of every source")
        article = sim.publish("dzwww", title="分布式抓取新文章")
        wait_for(lambda: daemon.count("title = ?", (article.title,)) == 1, 30, "the new article")
        # revisits on Redis too: an edit its list page does not show is seen once the article is due
        sim.edit("dzwww", article.id, paragraphs=[*article.paragraphs, "新增一段：分布式抓取也能发现修改。"])
        then = (datetime.now(timezone.utc) - timedelta(hours=1, minutes=2)).isoformat(timespec="seconds")
        with sqlite3.connect(daemon.db, timeout=10) as conn:
            conn.execute("UPDATE articles SET first_seen = ?, last_fetched = ? WHERE title = ?", (then, then, article.title))
        wait_for(lambda: daemon.count("title = ? AND version = 2", (article.title,)) == 1, 30, "the edit, at a revisit")
        assert daemon.stop() == 0
    finally:
        pool.stop()
    log = daemon.output()
    assert "poll queued for the workers" in log and "Traceback" not in log, log[-3000:]
    assert "sim-dzwww: revisiting 1 stored article(s)" in log
    states = daemon.query("SELECT source, last_status, failures FROM schedule_state ORDER BY source")
    assert states == [("sim-credit", "ok", 0), ("sim-dzwww", "ok", 0), ("sim-iqilu", "ok", 0)]
    assert daemon.count() == 37
