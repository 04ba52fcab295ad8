"""`crawler run` as a real subprocess against the simulator, with 2-second intervals."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crawler", "--config", str(self.config), "--db", str(self.db),
                 "run", "--reload-every", "0.5", "--grace", "10", "--max-parallel", "3"],
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
        with sqlite3.connect(self.db, timeout=10) as conn:
            return conn.execute(sql).fetchall()

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


def test_polls_new_articles_and_exits_0_on_sigterm(sim: Simulator, daemon: Daemon) -> None:
    daemon.start()
    wait_for(lambda: daemon.count() == 36, 60, "the first crawl of three portals")
    new_qilu = sim.publish("iqilu")
    new_credit = sim.publish("credit")
    published = time.monotonic()
    urls = (sim.article_url("iqilu", new_qilu), sim.article_url("credit", new_credit))
    wait_for(lambda: daemon.count("url IN (?, ?)", urls) == 2, 30, "the published articles")
    lag = time.monotonic() - published
    # Two intervals plus the crawl that may have been running when they were published.
    assert lag < 2 * INTERVAL + 6, f"stored {lag:.1f}s after publishing"
    assert daemon.count() == 38
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 12
    assert "daemon stopped" in daemon.output()
    assert daemon.query("SELECT COUNT(*) FROM crawl_runs WHERE status = 'running'") == [(0,)]


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
