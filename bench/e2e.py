"""End-to-end first crawl: ours against a naive Scrapy + trafilatura baseline, in one run.

    .venv/bin/python -m bench.e2e                      # 5,000 articles over three simulated portals
    .venv/bin/python -m bench.e2e --articles 600       # quicker

Both crawl the same simulator (20 articles per list page, no download delay) from an
empty database, each as its own process:

* ours: `crawler crawl` of the three simulator sources as shipped: as many crawl processes as
  crawler/shards.py's plan() picks (three equal sources on two cores: three), each with its own
  reactor and writer and cores // processes extraction workers (one: inline), dedupe, search
  index, alert outbox;
* naive: one plain Scrapy spider (written below) that follows the same list pages,
  calls `trafilatura.extract` in its callback and inserts each item into SQLite in
  its own transaction — what a user would write first.

Reported: article pages stored per second and the ratio, CPU seconds (the whole
process tree), peak memory of the process tree (sum of
PSS, sampled every 50 ms), and where our crawl's CPU goes, by thread and stage (one more run of
ours, attachments off, sampled by py-spy: bench/spy.py; skipped when py-spy is not installed).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import spy as spy_table
from bench.common import ROOT, append_result
from bench.polling import _config
from crawler.simulator import Simulator

PORTALS = {"credit": "sim-credit", "dzwww": "sim-dzwww", "iqilu": "sim-iqilu"}
# How the naive spider finds article links: a CSS selector, or ("re:") a regex over the text for the
# Hanweb column and dataproxy.jsp answers, whose links sit in CDATA records, not in <a> elements.
LINKS = {"credit": "re:/art/\\d+/\\d+/\\d+/art_\\d+_\\d+\\.html", "dzwww": "div.news-list h3 a", "iqilu": "ul.list-news li a"}


# -- the naive baseline (runs in a child: python -m bench.e2e --naive DB URLS_FILE) -------------------------


def naive_crawl(db: str, urls_file: str) -> None:
    import scrapy
    import trafilatura
    from scrapy.crawler import CrawlerProcess

    lists = [line.rsplit(" ", 1) for line in Path(urls_file).read_text().splitlines() if line.strip()]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS items (url TEXT PRIMARY KEY, title TEXT, date TEXT, body TEXT)")

    class Naive(scrapy.Spider):
        name = "naive"

        async def start(self):
            for css, url in lists:
                yield scrapy.Request(url, cb_kwargs={"css": css})

        def parse(self, response, css):
            hrefs = re.findall(css[3:], response.text) if css.startswith("re:") else response.css(f"{css}::attr(href)").getall()
            for href in hrefs:
                yield response.follow(href, self.parse_article)

        def parse_article(self, response):
            result = trafilatura.bare_extraction(response.text, url=response.url, with_metadata=True)
            if not result or not result.text:
                return
            conn.execute("BEGIN")
            conn.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)", (response.url, result.title, result.date, result.text)
            )
            conn.execute("COMMIT")

    process = CrawlerProcess({
        "LOG_LEVEL": os.environ.get("NAIVE_LOG", "WARNING"), "ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0, "COOKIES_ENABLED": False,
        "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 12, "TELNETCONSOLE_ENABLED": False,
    })
    process.crawl(Naive)
    process.start()


# -- measuring a child process tree ---------------------------------------------------------------------------


def _tree_rss_kb(root: int) -> int:
    """Memory of a process and all its descendants (PSS, from /proc), in KB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    total = 0
    for pid in tree:  # proportional set size: pages shared by the pool's forked workers count once
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _become_subreaper() -> None:
    """Orphaned descendants (the extraction pool's fork server and workers, once the crawl exits) are
    reparented to this process, so waiting for them adds their CPU time to RUSAGE_CHILDREN. Without it
    the pool's CPU was not counted at all (the figures before 2026-12-02 17:00 undercount ours)."""
    ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER (Linux)


def _reap_orphans(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child left
        if pid == 0:
            time.sleep(0.02)  # a fork server still shutting down


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds of the whole tree (every descendant, waited for), peak tree PSS (KB), stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.monotonic() - start
    stop.set()
    sampler.join()
    _reap_orphans()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err.decode()[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), peak, err.decode(errors="replace")


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _cpu_per(results: dict, name: str) -> float:
    return results[name][1] / results[name][3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=5000, help="articles over the three portals")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile run (py-spy)")
    parser.add_argument("--naive", nargs=2, metavar=("DB", "URLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        return naive_crawl(*args.naive)

    _become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    per_portal = args.articles // 3
    cores = os.cpu_count() or 1
    with Simulator(articles_per_portal=per_portal, page_size=20) as sim:
        config = _config(work / "config", "1h")
        for path in (config / "sources").glob("*.yaml"):  # the naive spider's politeness: 12 requests per portal
            path.write_text(re.sub(r"concurrency: \d+", "concurrency: 12", path.read_text("utf-8")), encoding="utf-8")
        pages = {p: sim.list_pages(p) for p in PORTALS}
        total = sum(len(sim.articles(p)) for p in PORTALS)
        files = sum(len(a.files) for a in sim.articles("credit"))
        urls = work / "lists.txt"
        urls.write_text("".join(f"{LINKS[p]} {sim.list_get_url(p, n)}\n" for p in PORTALS for n in range(1, pages[p] + 1)))
        env = {**sim.env(), "CRAWLER_EXTRACT_WORKERS": str(cores), "CRAWLER_PROGRESS_INTERVAL": "0"}
        # like for like: the naive spider fetches no attachments, so ours runs once without them too
        bare = work / "config-no-attachments"
        shutil.copytree(config, bare)
        for path in (bare / "sources").glob("*.yaml"):
            path.write_text(path.read_text("utf-8") + "attachments: {fetch: false}\n", encoding="utf-8")
        results = {}
        for name in ("naive", "ours, attachments off", "ours"):  # naive first: any warm-up (page cache, simulator) favours it
            db = work / f"{name.replace(' ', '_').replace(',', '')}.db"
            if name == "naive":
                cmd = [sys.executable, "-m", "bench.e2e", "--naive", str(db), str(urls)]
            else:
                cmd = [sys.executable, "-m", "crawler", "--config", str(config if name == "ours" else bare), "--db", str(db), "crawl"]
            wall, cpu, peak, err = _run(cmd, env)
            if name == "ours, attachments off":
                split = re.search(r"crawling in (\d+) processes", err)
                processes = int(split.group(1)) if split else 1
            stored = _count(db, "items" if name == "naive" else "articles")
            results[name] = (wall, cpu, peak, stored)
            print(f"{name}: {stored} articles in {wall:.1f}s, {cpu:.1f} CPU-s, peak {peak / 1024:.0f} MB", file=sys.stderr)
        profile_lines: list[str] = []
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if not args.no_profile and spy is None:
            print("py-spy is not installed (pip install py-spy): no profile", file=sys.stderr)
        elif not args.no_profile:
            raw, db = work / "ours.spy.txt", work / "profiled.db"
            cmd = [sys.executable, "-m", "crawler", "--config", str(bare), "--db", str(db), "crawl"]
            wall, cpu, _, _ = _run([spy, "record", "--rate", str(spy_table.RATE), "--gil", "--subprocesses", "--threads",
                                 "--format", "raw", "--output", str(raw), "--", *cmd], env)
            profile_lines = ["", *spy_table.table(raw, results["ours, attachments off"][1]),
                             f"\nProfiled run (ours, attachments off, sampled {spy_table.RATE}/s): {_count(db, 'articles')} "
                             f"articles in {wall:.1f}s wall, {cpu:.1f} CPU-s with the sampler's overhead."]

    rate = {name: r[3] / r[0] for name, r in results.items()}
    lines = [
        f"Simulator: {total} articles over 3 portals ({per_portal} each incl. seeds), 20 per list page, no delay; "
        f"{cores} cores; ours as `crawler crawl` runs it ({processes} crawl process(es), "
        f"{max(1, cores // processes) if processes > 1 else cores} extraction worker(s) each; one: inline).",
        "",
        "| crawler | articles stored | wall s | articles/s | CPU s (tree) | peak PSS (tree, MB) |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {r[3]} | {r[0]:.1f} | {rate[name]:.1f} | {r[1]:.1f} | {r[2] / 1024:.0f} |"
            for name, r in results.items()
        ],
        "",
        f"Ratio ours/naive articles per second, like for like (attachments off): "
        f"{rate['ours, attachments off'] / rate['naive']:.2f}; CPU per article ours/naive: "
        f"{_cpu_per(results, 'ours, attachments off') / _cpu_per(results, 'naive'):.2f}. As shipped (reading the credit "
        f"notices' {files} attachments, which the naive spider does not fetch): {rate['ours'] / rate['naive']:.2f} and "
        f"{_cpu_per(results, 'ours') / _cpu_per(results, 'naive'):.2f}.",
        *profile_lines,
    ]
    append_result("End-to-end first crawl (bench.e2e)", lines, "bench.e2e")


if __name__ == "__main__":
    main()
