"""Scale-out: article pages per second with 1, 2 and 4 Redis workers, beside a crawl without Redis.

    .venv/bin/python -m bench.distributed                    # 1,500 articles over three simulated portals
    .venv/bin/python -m bench.distributed --articles 600 --workers 1,2

Every mode crawls the same simulator (20 articles per list page, no download delay)
into an empty database and an empty Redis (a real redis-server on loopback):

* no Redis: `crawler crawl` as shipped (as many crawl processes as crawler/shards.py's plan()
  picks: three equal sources on two cores, three);
* redis N: N `crawler worker` processes (one extraction process each: inline) and
  `crawler crawl` with CRAWLER_REDIS_URL as the one ingester; timed from the queued
  polls to the last article stored.

Then the single writer's ceiling: polls queued with no ingester running, two workers
fill the stream, and `crawler ingest --until-idle` is timed alone.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, append_result
from bench.polling import _config
from crawler.simulator import Simulator
from tests.redis_server import RedisServer


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]


def _start_workers(n: int, env: dict[str, str], server: RedisServer, logs: Path) -> list[subprocess.Popen]:
    procs = [
        subprocess.Popen([sys.executable, "-m", "crawler", "worker"], cwd=ROOT, env={**env, "CRAWLER_EXTRACT_WORKERS": "1"},
                         stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        for i in range(n)
    ]
    deadline = time.monotonic() + 60
    while len(list(server.client.scan_iter(match="crawler:worker:*"))) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.1)
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=60)


def _crawl(config: Path, db: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "crawl"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def _ingest_ceiling(config: Path, work: Path, env: dict[str, str], server: RedisServer) -> tuple[int, float, float]:
    """Workers fill the stream with no ingester; then the ingester alone. Returns (articles, fill s, ingest s)."""
    from crawler.frontier import Frontier, inflight_key
    from crawler.sources import load_sources
    from spiders.worker import open_poll
    from storage import Store

    server.client.flushall()
    db = work / "ingest.db"
    os.environ.update(env)  # the simulator's URLs, for the source files
    sources, _ = load_sources(config)
    frontier = Frontier(server.url)
    procs = _start_workers(2, env, server, work)
    started = time.monotonic()
    with Store(db) as store:
        runs = [open_poll(frontier, store, s.source, str(s.file)) for s in sources]
    while any(server.client.exists(inflight_key(run)) for run in runs):
        time.sleep(0.05)
    filled = time.monotonic() - started
    _stop(procs)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "ingest", "--until-idle"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return _count(db), filled, time.monotonic() - started - 1.0  # --until-idle waits 1 s of quiet before exiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1500, help="articles over the three portals")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    server = RedisServer(work)
    rows = []
    try:
        with Simulator(articles_per_portal=args.articles // 3, page_size=20) as sim:
            config = _config(work / "config", "1h")
            base = {**os.environ, **sim.env(), "CRAWLER_PROGRESS_INTERVAL": "0"}
            wall = _crawl(config, work / "single.db", {**base, "CRAWLER_EXTRACT_WORKERS": str(cores)})
            total = _count(work / "single.db")
            rows.append(("no Redis (`crawler crawl`)", total, wall))
            print(f"single: {total} articles in {wall:.1f}s", file=sys.stderr)
            for n in counts:
                server.client.flushall()
                env = {**base, "CRAWLER_REDIS_URL": server.url}
                procs = _start_workers(n, env, server, work)
                db = work / f"redis{n}.db"
                try:
                    wall = _crawl(config, db, env)
                finally:
                    _stop(procs)
                rows.append((f"redis, {n} worker{'s' if n > 1 else ''}", _count(db), wall))
                print(f"redis {n}: {rows[-1][1]} articles in {wall:.1f}s", file=sys.stderr)
            ingested, filled, ingest_wall = _ingest_ceiling(config, work, {**base, "CRAWLER_REDIS_URL": server.url}, server)
    finally:
        server.stop()
    single_rate = rows[0][1] / rows[0][2]
    lines = [
        f"Simulator: {total} articles over 3 portals, 20 per list page, no delay; {cores} cores. No Redis: `crawler crawl` "
        f"(crawl processes as crawler/shards.py plans them). Workers: one process each, extraction inline; the ingester is `crawler crawl`.",
        "",
        "| mode | articles stored | wall s | article pages/s | ratio to no Redis |",
        "|---|---|---|---|---|",
        *[f"| {name} | {stored} | {wall:.1f} | {stored / wall:.1f} | {stored / wall / single_rate:.2f} |"
          for name, stored, wall in rows],
        "",
        f"The single SQLite writer alone: {ingested} articles ingested from a full stream in {ingest_wall:.1f}s = "
        f"**{ingested / ingest_wall:.0f} articles/s** (dedupe decision, FTS, outbox, mirror). Two workers filled "
        f"that stream (fetch + extract, no ingest) in {filled:.1f}s = {ingested / filled:.0f} articles/s.",
    ]
    append_result("Scale-out on Redis (bench.distributed)", lines, "bench.distributed")


if __name__ == "__main__":
    main()
