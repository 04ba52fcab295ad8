"""`crawler crawl` in several processes (crawler/shards.py): the grouping, and that it stores what one process stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import opencc

from crawler.shards import plan, processes_for
from crawler.simulator import PORTALS, Simulator
from crawler.sources import load_sources
from tests.conftest import ROOT, Cli


def _names(groups) -> list[list[str]]:
    return [[s.source.name for s in group] for group in groups]


def test_sources_are_grouped_by_their_last_runs_pages(sim_config: Path, monkeypatch) -> None:
    for name in ("SIM_CREDIT_URL", "SIM_DZWWW_URL", "SIM_IQILU_URL"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    loaded, problems = load_sources(sim_config)
    assert not problems and len(loaded) == 3
    # a first crawl: nothing known, equal shares, by name
    assert _names(plan(loaded, 2, {})) == [["sim-credit", "sim-iqilu"], ["sim-dzwww"]]
    # the heaviest source alone, the lighter two together
    assert _names(plan(loaded, 2, {"sim-credit": 10, "sim-dzwww": 400, "sim-iqilu": 30})) == [["sim-dzwww"], ["sim-iqilu", "sim-credit"]]
    # a source not crawled yet weighs as the mean of the others
    assert _names(plan(loaded, 2, {"sim-credit": 100, "sim-dzwww": 100})) == [["sim-credit", "sim-iqilu"], ["sim-dzwww"]]
    # a quiet poll (every source crawled before, few pages last time) stays in one process
    quiet = _names(plan(loaded, 2, {"sim-credit": 1, "sim-dzwww": 3, "sim-iqilu": 0}))
    assert len(quiet) == 1 and sorted(quiet[0]) == ["sim-credit", "sim-dzwww", "sim-iqilu"]
    assert len(plan(loaded, 2, {"sim-credit": 1, "sim-dzwww": 3})) == 2  # sim-iqilu never crawled: maybe a backlog
    assert _names(plan(loaded, 8, {})) == [["sim-credit"], ["sim-dzwww"], ["sim-iqilu"]]  # never more than the sources
    assert _names(plan(loaded[:1], 2, {})) == [["sim-credit"]]
    assert processes_for("auto", 3, 2) == 2 and processes_for("auto", 1, 8) == 1 and processes_for("3", 5, 2) == 3


def test_two_processes_store_what_one_stores_and_a_story_on_two_portals_once(
    sim: Simulator, sim_config: Path, tmp_path: Path
) -> None:
    trad = next(a for a in sim.articles("iqilu") if a.traditional)
    t2s = opencc.OpenCC("t2s")
    sim.publish("dzwww", title=t2s.convert(trad.title), paragraphs=[t2s.convert(p) for p in trad.paragraphs])
    one = Cli(sim_config, tmp_path / "one.db", sim.env())
    two = Cli(sim_config, tmp_path / "two.db", sim.env())
    one("crawl", "--processes", "1")
    result = two("crawl", "--processes", "2")
    assert "crawling in 2 processes" in result.stderr
    assert result.stdout.count(": ok —") == 3, result.stdout  # every source's run, from both processes
    stored = "SELECT url, title, body, published_at, source FROM articles ORDER BY url"
    assert two.query(stored) == one.query(stored)
    # the copy on the other portal is one story with one original, whichever process stored it first
    stories = "SELECT COUNT(*), COUNT(duplicate_of), COUNT(DISTINCT story_id) FROM articles"
    assert two.query(stories) == one.query(stories) == [(25 + 12, 1, 36)]
    again = two("crawl", "--processes", "2")
    assert "0 new" in again.stdout and again.stdout.count(": ok —") == 3


def test_a_stop_signal_stops_every_crawl_process(sim_config: Path, tmp_path: Path) -> None:
    with Simulator(articles_per_portal=300, page_size=10) as sim:
        for path in (sim_config / "sources").glob("*.yaml"):  # a slow crawl, to be stopped half-way
            path.write_text(path.read_text("utf-8").replace("delay: 0s", "delay: 0.2s"), encoding="utf-8")
        env = {**os.environ, **sim.env()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(sim_config), "--db", str(tmp_path / "c.db"), "crawl",
             "--processes", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and min(Counter(r.portal for r in sim.requests()).get(p, 0) for p in PORTALS) < 5:
            time.sleep(0.1)  # every portal is being crawled (by one process or the other)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - stopped < 10, err[-2000:]
        time.sleep(0.5)
        asked = len(sim.requests())
        time.sleep(1.0)
        assert len(sim.requests()) == asked, "a crawl process went on after the stop"
    assert "crawling in 2 processes" in err
