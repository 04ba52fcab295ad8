"""`crawler run` as a real subprocess against the simulator, with 2-second intervals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.simulator import Fault, Simulator
from tests.conftest import ROOT

INTERVAL = 2.0


def _fast_schedule(config: Path) -> None:
    for path in (config / "sources").glob("*.yaml"):
        text = re.sub(r"schedule:\n  every: .*\n", f"schedule:\n  every: {INTERVAL:g}s\n  jitter: 0s\n", path.read_text("utf-8"))
        path.write_text(text, encoding="utf-8")


class Daemon:
    def __init__(self, config: Path, db: Path, env: dict[str, str], log: Path):
        self.config, self.db, self.env, self.log = config, db, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crawler", "--config", str(self.config), "--db", str(self.db),
                 "run", "--reload-every", "0.5", "--grace", "10", "--max-parallel", "3", *extra],
                cwd=ROOT, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def count(self, where: str = "1", params: tuple = ()) -> int:
        if not self.db.exists():
            return 0
        with sqlite3.connect(self.db, timeout=10) as conn:
            try:
                return conn.execute(f"SELECT COUNT(*) FROM articles WHERE {where}", params).fetchone()[0]
            except sqlite3.OperationalError:  # schema not created yet
                return 0

    def query(self, sql: str) -> list[tuple]:
        """Rows of ``sql``; none while the daemon has not created the schema yet."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db, timeout=10) as conn:
            try:
                return conn.execute(sql).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def daemon(sim: Simulator, sim_config: Path, tmp_path: Path) -> Iterator[Daemon]:
    _fast_schedule(sim_config)
    d = Daemon(sim_config, tmp_path / "crawler.db", sim.env(), tmp_path / "daemon.log")
    yield d
    if d.proc and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_polls_new_articles_and_exits_0_on_sigterm(sim: Simulator, daemon: Daemon) -> None:
    port = _free_port()
    daemon.start("--http", f"127.0.0.1:{port}")
    wait_for(lambda: daemon.count() == 36, 60, "the first crawl of three portals")
    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    assert health["sources"] == ["sim-credit", "sim-dzwww", "sim-iqilu"] and health["config_errors"] == 0
    wait_for(lambda: 'crawler_items_total{decision="new",source="sim-iqilu"} 12.0' in _get(f"http://127.0.0.1:{port}/metrics")[1],
             15, "the first crawl in the metrics")
    last_run = {src: daemon.query(f"SELECT COALESCE(MAX(id), 0) FROM crawl_runs WHERE source = '{src}'")[0][0]
                for src in ("sim-iqilu", "sim-credit")}
    new_qilu = sim.publish("iqilu")
    new_credit = sim.publish("credit")
    published = time.monotonic()
    urls = {"sim-iqilu": sim.article_url("iqilu", new_qilu), "sim-credit": sim.article_url("credit", new_credit)}
    wait_for(lambda: daemon.count("url IN (?, ?)", tuple(urls.values())) == 2, 30, "the published articles")
    lag = time.monotonic() - published
    for source, url in urls.items():
        # Stored by the first or second poll of its source that began after publication: within two intervals.
        ((storing_run,),) = daemon.query(f"SELECT run_id FROM decisions WHERE url = '{url}' AND decision = 'new'")
        ((polls,),) = daemon.query(
            f"SELECT COUNT(*) FROM crawl_runs WHERE source = '{source}' AND id > {last_run[source]} AND id <= {storing_run}"
        )
        assert polls <= 2, f"{source}: stored by poll {polls} after publication ({lag:.1f}s)"
    assert daemon.count() == 38
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 12
    assert "daemon stopped" in daemon.output()
    assert daemon.query("SELECT COUNT(*) FROM crawl_runs WHERE status = 'running'") == [(0,)]


def test_ctrl_c_mid_crawl_starts_no_crawl_and_exits_within_10_s(sim: Simulator, daemon: Daemon) -> None:
    """SIGINT while crawls run: they are told to stop at once, keep what they stored, and nothing new starts."""
    for portal in ("credit", "dzwww", "iqilu"):  # slow article pages: the first crawls take ~10 s
        for article in sim.articles(portal):
            sim.set_fault(portal, urlsplit(sim.article_url(portal, article)).path, Fault(delay=0.8))
    daemon.start("--grace", "8")
    wait_for(lambda: daemon.count() >= 3, 60, "the crawls to be under way")
    signalled = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    assert daemon.stop(signal.SIGINT) == 0
    took = time.monotonic() - started
    assert took < 10, f"the daemon took {took:.1f}s to exit"
    stored = daemon.count()
    assert 3 <= stored < 36, "the crawls were not cut short"
    assert daemon.query("PRAGMA integrity_check") == [("ok",)]
    assert daemon.query(f"SELECT COUNT(*) FROM crawl_runs WHERE started_at > '{signalled}'") == [(0,)]
    assert daemon.query("SELECT COUNT(*) FROM crawl_runs WHERE status = 'running'") == [(0,)]
    log = daemon.output()
    after = log[log.index("received SIGINT"):]
    assert "first crawl of" not in after and "last crawl of" not in after, after  # no crawl began after the signal
    assert "daemon stopped" in after
    # What was stored stays, once: the next start finishes the job without a duplicate.
    sim.clear_faults()
    daemon.start()
    wait_for(lambda: daemon.count() == 36, 60, "the rest of the articles")
    assert daemon.stop(signal.SIGTERM) == 0
    assert daemon.query("SELECT COUNT(DISTINCT url), COUNT(*) FROM articles") == [(36, 36)]


def test_kill_9_mid_crawl_loses_and_duplicates_nothing(sim: Simulator, daemon: Daemon) -> None:
    # Slow article pages so that each first crawl is cut off part-way.
    for portal in ("credit", "dzwww", "iqilu"):
        for article in sim.articles(portal):
            sim.set_fault(portal, sim.article_url(portal, article).split("127.0.0.1:")[1].split("/", 1)[1].join(["/", ""]),
                          Fault(delay=0.4))
    for round_ in range(3):
        before = daemon.count()
        daemon.start()
        wait_for(lambda: daemon.count() > before or daemon.count() == 36, 60, "some progress")
        time.sleep(0.3 * round_)
        assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        time.sleep(0.5)  # the crawl child dies with the daemon (PR_SET_PDEATHSIG)
        assert daemon.query("PRAGMA integrity_check") == [("ok",)]
    assert daemon.count() < 36, "the kills came too late to cut a crawl off"
    sim.clear_faults()
    daemon.start()
    wait_for(lambda: daemon.count() == 36, 60, "every article after the restarts")
    assert daemon.stop(signal.SIGTERM) == 0
    assert daemon.query("SELECT COUNT(DISTINCT url), COUNT(*) FROM articles") == [(36, 36)]
    statuses = dict(daemon.query("SELECT status, COUNT(*) FROM crawl_runs GROUP BY status"))
    assert statuses.get("interrupted", 0) >= 1
    assert "running" not in statuses
    assert "recorded" in daemon.output() and "interrupted" in daemon.output()


def test_new_source_file_is_picked_up_and_a_broken_one_keeps_the_old_version(
    sim: Simulator, daemon: Daemon, sim_config: Path, tmp_path: Path
) -> None:
    iqilu = sim_config / "sources" / "sim-iqilu.yaml"
    parked = tmp_path / "sim-iqilu.yaml"
    iqilu.rename(parked)
    daemon.start()
    wait_for(lambda: daemon.count() == 24, 60, "the two configured portals")
    assert daemon.count("source = 'sim-iqilu'") == 0

    parked.rename(iqilu)  # a new file, no restart
    wait_for(lambda: daemon.count("source = 'sim-iqilu'") == 12, 30, "the added source")

    dzwww = sim_config / "sources" / "sim-dzwww.yaml"
    dzwww.write_text(dzwww.read_text("utf-8") + "linkz: {}\n", encoding="utf-8")
    wait_for(lambda: f"{dzwww}: linkz: unknown key" in daemon.output(), 15, "the config error")
    new = sim.publish("dzwww")
    wait_for(lambda: daemon.count("url = ?", (sim.article_url("dzwww", new),)) == 1, 30, "a crawl of the last good version")
    assert daemon.stop(signal.SIGTERM) == 0


def test_a_failing_source_backs_off_and_logs_json(sim: Simulator, daemon: Daemon, sim_config: Path) -> None:
    for other in ("sim-credit", "sim-dzwww"):
        (sim_config / "sources" / f"{other}.yaml").unlink()
    sim.set_fault("iqilu", "/zzyaowen/", Fault(status=503))
    daemon.env["CRAWLER_LOG_FORMAT"] = "json"
    daemon.start()
    streak = "SELECT failures, backoff_until, last_error FROM schedule_state WHERE source = 'sim-iqilu'"
    wait_for(lambda: (daemon.query(streak) or [(0,)])[0][0] >= 2, 60, "two failed crawls")
    failures, backoff_until, last_error = daemon.query(streak)[0]
    assert backoff_until and "exited with status 1" in last_error
    requests_at_backoff = len(sim.requests("iqilu", "/zzyaowen/"))
    time.sleep(2.5 * INTERVAL)  # back-off after two failures: 2 intervals
    assert len(sim.requests("iqilu", "/zzyaowen/")) <= requests_at_backoff + 3  # at most one more crawl (1 try + 2 retries)
    status = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(sim_config), "--db", str(daemon.db), "status", "--json"],
        cwd=ROOT, env={**os.environ, **daemon.env}, capture_output=True, text=True, check=True,
    )
    (row,) = json.loads(status.stdout)
    assert row["failures"] >= 2 and row["backoff_until"]
    assert row["result"] in ("errors", "running")  # a crawl may be under way after a short back-off
    finished = daemon.query("SELECT status FROM crawl_runs WHERE status != 'running' ORDER BY id DESC LIMIT 1")
    assert finished == [("errors",)]
    assert daemon.stop(signal.SIGTERM) == 0
    lines = [line for line in daemon.output().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert any(r["logger"] == "crawler.daemon" and "backing off" in r["message"] for r in records)
    assert any(r["logger"] == "spiders.listing" and "http_503" in r["message"] for r in records)


def test_retry_after_keeps_the_daemon_away_and_partial_errors_do_not_back_off(
    sim: Simulator, daemon: Daemon, sim_config: Path
) -> None:
    """A 429 with Retry-After: 3600 on one portal: polled once, then skipped by the daemon's schedule.
    A portal where one article page fails keeps being polled at its interval (no back-off)."""
    (sim_config / "sources" / "sim-credit.yaml").unlink()
    sim.set_fault("dzwww", "/zzxw/index.htm", Fault(status=429, headers={"Retry-After": "3600"}))
    broken = sim.articles("iqilu")[0]
    sim.set_fault("iqilu", urlsplit(sim.article_url("iqilu", broken)).path, Fault(status=500))
    daemon.start()
    runs = "SELECT COUNT(*) FROM crawl_runs WHERE source = 'sim-iqilu' AND status = 'errors'"
    wait_for(lambda: (daemon.query(runs) or [(0,)])[0][0] >= 4, 60, "four crawls of the portal with a broken article")
    assert len(sim.requests("dzwww", "/zzxw/index.htm")) == 1  # asked once; the pause holds
    (failures, backoff), = daemon.query("SELECT failures, backoff_until FROM schedule_state WHERE source = 'sim-iqilu'")
    assert failures == 0 and backoff is None
    (backoff,), = daemon.query("SELECT backoff_until FROM schedule_state WHERE source = 'sim-dzwww'")
    assert backoff > datetime.now(timezone.utc).isoformat(timespec="seconds")
    assert daemon.stop() == 0
    assert "sim-dzwww: backing off until" in daemon.output()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_crawl_leaves_no_extraction_processes(sim: Simulator, sim_config: Path, tmp_path: Path) -> None:
    """kill -9 of a crawl (what the daemon's timeout and a dying daemon do) takes its fork server and
    pool workers along; they used to stay behind as orphans, one set per killed crawl."""
    for article in sim.articles("iqilu"):
        sim.set_fault("iqilu", urlsplit(sim.article_url("iqilu", article)).path, Fault(delay=0.5))
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(sim_config), "--db", str(tmp_path / "c.db"), "crawl", "sim-iqilu"],
        cwd=ROOT, env={**os.environ, **sim.env(), "CRAWLER_EXTRACT_WORKERS": "2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        def pool() -> list[int]:
            servers = [pid for pid in _children(crawl.pid) if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            return servers + [w for s in servers for w in _children(s)]

        wait_for(lambda: len(pool()) >= 3, 60, "the fork server and two workers")
        processes = pool()
        crawl.kill()
        crawl.wait()
        wait_for(lambda: not any(_alive(pid) for pid in processes), 10, "the pool to die with its crawl")
    finally:
        if crawl.poll() is None:
            crawl.kill()


def _history(db: Path, source: str, times: list[datetime]) -> None:
    """Articles the source published before this test (its four weeks of rhythm), as stored rows."""
    from storage import Store

    fetched = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with Store(db) as store, store.write() as conn:
        conn.execute("INSERT OR IGNORE INTO sources (name, title) VALUES (?, ?)", [source, source])
        conn.conn.executemany(
            "INSERT INTO articles (source, url, title, body, content_hash, first_seen, last_seen, last_fetched, "
            "published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(source, f"http://history.invalid/{source}/{i}", f"旧文章 {i}", "正文", f"h-{source}-{i}",
              t.isoformat(timespec="seconds"), t.isoformat(timespec="seconds"), fetched, t.isoformat(timespec="seconds"))
             for i, t in enumerate(times)],  # last fetched now: no revisit is due
        )


def test_adaptive_polling_follows_each_sources_rhythm_and_a_restart_keeps_it(
    sim: Simulator, sim_config: Path, tmp_path: Path
) -> None:
    from datetime import timedelta

    (sim_config / "sources" / "sim-credit.yaml").unlink()
    for path in (sim_config / "sources").glob("*.yaml"):
        path.write_text(re.sub(r"schedule:\n  every: .*\n", "schedule:\n  every: 1h\n  jitter: 0s\n", path.read_text("utf-8")), "utf-8")
    db = tmp_path / "crawler.db"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    _history(db, "sim-dzwww", [now - timedelta(minutes=10 * i) for i in range(1, 6 * 24 * 28)])  # every 10 minutes
    quiet = [now - timedelta(days=12, hours=h) for h in range(0, 16 * 24, 3)]  # every 3 h, until 12 days ago
    _history(db, "sim-iqilu", quiet)
    d = Daemon(sim_config, db, sim.env(), tmp_path / "daemon.log")
    d.start("--startup-spread", "0")
    try:
        wait_for(lambda: len(d.query("SELECT 1 FROM schedule_state WHERE interval_reason IS NOT NULL")) == 2, 90,
                 "both sources crawled once")
        assert d.stop() == 0
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
    state = {row[0]: row[1:] for row in d.query(
        "SELECT source, interval_seconds, interval_reason, last_run_at, next_run_at FROM schedule_state")}
    busy_seconds, busy_reason, busy_last, busy_next = state["sim-dzwww"]
    assert 15 * 60 <= busy_seconds < 0.8 * 3600 and "articles per base interval" in busy_reason
    assert abs((datetime.fromisoformat(busy_next) - datetime.fromisoformat(busy_last)).total_seconds() - busy_seconds) < 5
    quiet_seconds, quiet_reason, *_ = state["sim-iqilu"]
    assert 3600 < quiet_seconds <= 4 * 3600, quiet_reason
    assert f"sim-dzwww: polling every {busy_seconds / 60:.0f}m" in d.output()

    # a restart starts from what was learned: the next poll is last run + the learned interval, not + 1h
    d.start("--startup-spread", "0")
    try:
        wait_for(lambda: d.output().count("daemon started") == 2, 30, "the restart")
        assert d.stop() == 0
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
    first = re.findall(r"sim-dzwww: scheduled .*, first run (\S+)", d.output())[-1]
    expected = datetime.fromisoformat(busy_last) + timedelta(seconds=busy_seconds)
    assert abs((datetime.fromisoformat(first) - expected).total_seconds()) < 2, (first, expected)
    status = subprocess.run([sys.executable, "-m", "crawler", "--config", str(sim_config), "--db", str(db), "status"],
                            capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60, check=True,
                            env={**os.environ, **sim.env()}).stdout
    assert f"interval: {busy_seconds / 60:.0f}m (" in status and "articles per base interval" in status
