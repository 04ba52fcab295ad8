"""Steady-state polling cost, and the daemon's memory over many poll cycles.

    .venv/bin/python -m bench.polling                    # 1,000 articles per portal, 500 daemon cycles
    .venv/bin/python -m bench.polling --articles 200 --cycles 50   # quicker
    .venv/bin/python -m bench.polling --trace [--every 20]          # adaptive vs fixed polling on simulated time

Part 1 — one poll cycle of the three simulated portals (`crawler crawl`, one process):
  * naive: the same crawl into an empty database (what a crawler without memory pays),
  * ours, nothing new: list pages answer 304, no article page is fetched,
  * ours, one new article on one portal.
  Requests and bytes come from the simulator's log, CPU seconds from the child's rusage.
Part 2 — `crawler run` with 1-second intervals: resident memory of the daemon process
  (VmRSS, children excluded) after 10 poll cycles and after --cycles cycles.
--trace — the trace-driven comparison of adaptive and fixed polling over simulated weeks of
  publishing, and the cost of revisits (bench/trace.py, also `python -m bench.trace`).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, append_result
from crawler.simulator import Simulator


def _config(target: Path, every: str) -> Path:
    shutil.copytree(ROOT / "config" / "simulator", target)
    for path in (target / "sources").glob("*.yaml"):
        text = path.read_text("utf-8")
        text = re.sub(r"max_pages: \d+", "max_pages: 100", text)
        text = re.sub(r"schedule:\n  every: .*\n", f"schedule:\n  every: {every}\n  jitter: 0s\n", text)
        path.write_text(text, encoding="utf-8")
    return target


def _crawl(config: Path, db: Path, env: dict[str, str]) -> float:
    """One `crawler crawl` of all sources; returns the child's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "crawl"],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cycle(sim: Simulator, config: Path, db: Path) -> tuple[int, int, int, float]:
    sim.clear_log()
    cpu = _crawl(config, db, sim.env())
    log = [r for r in sim.requests() if r.path != "/robots.txt"]
    articles = [r for r in log if re.search(r"/(art|t\d{8}_|\d{4}/\d{4})", r.path)]
    return len(log), len(articles), sum(1 for r in log if r.status == 304), cpu


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _runs(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT COUNT(*) FROM crawl_runs WHERE status != 'running'").fetchone()[0]


def main() -> None:
    if "--trace" in sys.argv[1:]:  # the other options are bench.trace's
        from bench import trace

        sys.argv.remove("--trace")
        return trace.main()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000, help="articles per simulated portal")
    parser.add_argument("--cycles", type=int, default=500, help="daemon poll cycles for the memory figure")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-polling-"))
    lines = []
    with Simulator(articles_per_portal=args.articles, page_size=20) as sim:
        config = _config(work / "config", "1s")
        db = work / "crawler.db"
        start = time.monotonic()
        first = _cycle(sim, config, db)
        first_wall = time.monotonic() - start
        naive = _cycle(sim, config, work / "naive.db")
        quiet = [_cycle(sim, config, db) for _ in range(5)]
        sim.publish("iqilu")
        one_new = _cycle(sim, config, db)
        quiet_req = sum(q[0] for q in quiet) / len(quiet)
        quiet_cpu = sum(q[3] for q in quiet) / len(quiet)
        lines += [
            f"Three simulated portals, {args.articles} articles each, 20 per list page.",
            f"First crawl: {first[0]} requests ({first[1]} article pages) in {first_wall:.1f}s wall, {first[3]:.1f} CPU-s.",
            "",
            "| poll cycle | requests | article pages | 304 answers | CPU seconds |",
            "|---|---|---|---|---|",
            f"| naive (empty database) | {naive[0]} | {naive[1]} | {naive[2]} | {naive[3]:.2f} |",
            f"| ours, nothing new (mean of 5) | {quiet_req:.1f} | {sum(q[1] for q in quiet) / 5:.1f} | "
            f"{sum(q[2] for q in quiet) / 5:.1f} | {quiet_cpu:.2f} |",
            f"| ours, one new article | {one_new[0]} | {one_new[1]} | {one_new[2]} | {one_new[3]:.2f} |",
            "",
            f"Ratio ours/naive, nothing new: requests {quiet_req / naive[0]:.4f}, CPU {quiet_cpu / naive[3]:.2f}. "
            "CPU of a quiet cycle is mostly the child's start-up (Python, Scrapy, trafilatura imports).",
        ]

        log_path = work / "daemon.log"
        with open(log_path, "wb") as out:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "run", "--max-parallel", "3"],
                cwd=ROOT, env={**os.environ, **sim.env()}, stdout=out, stderr=subprocess.STDOUT,
            )
        base_runs = _runs(db)
        samples: dict[int, int] = {}
        started = time.monotonic()
        try:
            for target in sorted({10, args.cycles}):
                while (_runs(db) - base_runs) / 3 < target:
                    if daemon.poll() is not None:
                        raise SystemExit(f"daemon exited early; see {log_path}")
                    time.sleep(0.5)
                samples[target] = _rss_kb(daemon.pid)
                print(f"cycle {target}: daemon RSS {samples[target] / 1024:.1f} MB", file=sys.stderr)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
        elapsed = time.monotonic() - started
        lines += [
            "",
            f"Daemon (`crawler run`, every 1s, 3 sources): {args.cycles} poll cycles in {elapsed:.0f}s.",
            "",
            "| after cycles | daemon RSS (MB) |",
            "|---|---|",
            *[f"| {cycles} | {kb / 1024:.1f} |" for cycles, kb in samples.items()],
            "",
            f"Ratio RSS after {args.cycles} / after 10: {samples[args.cycles] / samples[10]:.3f}",
        ]
    shutil.rmtree(work, ignore_errors=True)
    append_result("Polling cost and daemon memory", lines, "bench.polling")


if __name__ == "__main__":
    main()
