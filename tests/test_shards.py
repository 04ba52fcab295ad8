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

from crawler.shards import finish_time, plan
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
    assert _names(plan(loaded, {}, cores=2, processes=2)) == [["sim-credit", "sim-iqilu"], ["sim-dzwww"]]
    # the heaviest source alone, the lighter two together
    weights = {"sim-credit": 10, "sim-dzwww": 400, "sim-iqilu": 30}
    assert _names(plan(loaded, weights, cores=2, processes=2)) == [["sim-dzwww"], ["sim-iqilu", "sim-credit"]]
    assert _names(plan(loaded, weights, cores=2)) == [["sim-dzwww"], ["sim-iqilu", "sim-credit"]]  # a third would not help
    # a source not crawled yet weighs as the mean of the others
    assert _names(plan(loaded, {"sim-credit": 100, "sim-dzwww": 100}, cores=2, processes=2)) == [["sim-credit", "sim-iqilu"], ["sim-dzwww"]]
    # auto: three equal sources on two cores end sooner in three processes than in two (1.5 units, not 2)
    assert _names(plan(loaded, {}, cores=2)) == [["sim-credit"], ["sim-dzwww"], ["sim-iqilu"]]
    assert len(plan(loaded, {}, cores=1)) == 1  # one core: a second process only shares it
    # a quiet poll (every source crawled before, few pages last time) stays in one process
    quiet = _names(plan(loaded, {"sim-credit": 1, "sim-dzwww": 3, "sim-iqilu": 0}, cores=2))
    assert len(quiet) == 1 and sorted(quiet[0]) == ["sim-credit", "sim-dzwww", "sim-iqilu"]
    assert len(plan(loaded, {"sim-credit": 1, "sim-dzwww": 3}, cores=2)) == 2  # sim-iqilu never crawled: maybe a backlog
    assert _names(plan(loaded, {}, cores=2, processes=8)) == [["sim-credit"], ["sim-dzwww"], ["sim-iqilu"]]  # never more than the sources
    assert _names(plan(loaded[:1], {}, cores=2)) == [["sim-credit"]]


def test_finish_time_shares_the_cores_fairly() -> None:
    assert finish_time([1, 1, 1], 2) == 1.5  # three jobs on two cores: each at 2/3 speed
    assert finish_time([2, 1], 2) == 2  # the second core idles once the short job ends
    assert finish_time([2, 2, 1], 2) == 2.5  # 1.5 until the short one ends, then one each
    assert finish_time([3], 4) == 3  # one job uses one core
    assert finish_time([1, 1], 1) == 2
    assert finish_time([], 2) == 0


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


def _crawling_everywhere(sim: Simulator, sim_config: Path, db: Path) -> subprocess.Popen[str]:
    """`crawler crawl --processes 3` of three slow sources, once every portal is being crawled."""
    for path in (sim_config / "sources").glob("*.yaml"):  # a slow crawl, to be stopped half-way
        path.write_text(path.read_text("utf-8").replace("delay: 0s", "delay: 0.2s"), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(sim_config), "--db", str(db), "crawl", "--processes", "3"],
        cwd=ROOT, env={**os.environ, **sim.env()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and min(Counter(r.portal for r in sim.requests()).get(p, 0) for p in PORTALS) < 5:
        time.sleep(0.1)  # every portal is being crawled, each by its own process
    assert proc.poll() is None
    return proc


def _no_more_requests(sim: Simulator) -> None:
    time.sleep(0.5)
    asked = len(sim.requests())
    time.sleep(1.0)
    assert len(sim.requests()) == asked, "a crawl process went on after the stop"


def test_a_stop_signal_stops_every_crawl_process(sim_config: Path, tmp_path: Path) -> None:
    with Simulator(articles_per_portal=300, page_size=10) as sim:
        proc = _crawling_everywhere(sim, sim_config, tmp_path / "c.db")
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - stopped < 10, err[-2000:]
        _no_more_requests(sim)
    assert "crawling in 3 processes" in err


def test_the_crawl_processes_die_with_a_killed_parent(sim_config: Path, tmp_path: Path) -> None:
    with Simulator(articles_per_portal=300, page_size=10) as sim:
        proc = _crawling_everywhere(sim, sim_config, tmp_path / "c.db")
        proc.kill()  # kill -9: no handler runs; the forked children get SIGKILL from the kernel
        proc.wait(timeout=10)
        _no_more_requests(sim)
