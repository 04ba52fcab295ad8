"""`crawler crawl` of several sources on several cores: one crawl process per group of sources.

One process's reactor thread does Scrapy's work for every page it fetches (downloads,
middlewares, callbacks: about 3 ms a page, bench.e2e's profile), whatever its extraction pool
does; that bounds one process. With several sources and cores, ``crawl --processes auto`` (the
default) crawls them in ``min(cores, sources)`` processes: this one and children, each with its
own reactor, extraction and writer, and ``cores // processes`` extraction workers (one: inline,
no pool). SQLite serialises the writers' transactions, so each identity decision sees what the
others committed, and a story found on two portals is still stored once with its copy.

Sources are grouped by the pages their last run fetched (heaviest first, onto the lightest
group); a quiet poll (few pages last time) stays in one process. A stop signal reaches every process once: the children run in sessions of their own
(Ctrl-C in a terminal reaches only this one), this one passes SIGTERM on, and a child dies with
this process if it is killed (PR_SET_PDEATHSIG, as under the daemon).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from crawler.sources import LoadedSource

log = logging.getLogger("crawler.crawl")


SPLIT_MIN_PAGES = 200  # fewer (the last runs' pages, every source crawled before): one process is cheaper


def plan(sources: list[LoadedSource], processes: int, weights: dict[str, int]) -> list[list[LoadedSource]]:
    """At most ``processes`` groups, balanced by weight: the pages each source's last run fetched
    (a source never crawled weighs as the mean known one). A quiet poll — every source crawled
    before, fewer than SPLIT_MIN_PAGES pages in all last time — stays in one process: a second
    process's start-up (about a second of CPU) would cost more than it saves."""
    if all(s.source.name in weights for s in sources) and sum(weights.values()) < SPLIT_MIN_PAGES:
        processes = 1
    count = max(1, min(processes, len(sources)))
    known = [w for w in weights.values() if w > 0]
    default = sum(known) / len(known) if known else 1
    groups: list[list[LoadedSource]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for loaded in sorted(sources, key=lambda s: (-(weights.get(s.source.name) or default), s.source.name)):
        lightest = loads.index(min(loads))
        groups[lightest].append(loaded)
        loads[lightest] += weights.get(loaded.source.name) or default
    return [group for group in groups if group]


def processes_for(setting: str, sources: int, cores: int) -> int:
    """``auto``: one per core, at most one per source; else the number given."""
    return max(1, min(sources, cores)) if setting == "auto" else max(1, int(setting))


def crawl_in_processes(sources: list[LoadedSource], db_path: Path, config_dir: Path, *, processes: int,
                       verbose: bool = False) -> list[dict[str, Any]]:
    """Crawl each source once, in up to ``processes`` processes; their run records, in the order given."""
    from crawler.poolguard import PARENT_ENV
    from crawler.runner import configure_logging, crawl_sources
    from storage import Store
    from storage.clock import utcnow

    cores = os.cpu_count() or 1
    with Store(db_path) as store:  # created and migrated before any process opens it
        last = {s.source.name: store.runs(source=s.source.name, limit=1) for s in sources}
    weights = {name: runs[0]["pages_fetched"] or 0 for name, runs in last.items() if runs}
    began = utcnow()
    groups = plan(sources, processes, weights)
    if len(groups) == 1:  # extraction workers as CRAWLER_EXTRACT_WORKERS says (a child: as its parent set it)
        return crawl_sources(sources, db_path, config_dir, verbose=verbose)
    workers = max(1, cores // len(groups))
    configure_logging(verbose)
    children: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, PARENT_ENV: str(os.getpid()), "CRAWLER_EXTRACT_WORKERS": str(workers)}
    stopped = False

    def stop(*_: Any) -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

    try:
        for group in groups[1:]:
            command = [sys.executable, "-m", "crawler", "--config", str(config_dir), "--db", str(db_path),
                       *(["-v"] if verbose else []), "crawl", "--force", "--processes", "1", *(s.source.name for s in group)]
            children.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True))
        log.info("crawling in %d processes: %s", len(groups), "; ".join(", ".join(s.source.name for s in g) for g in groups))
        crawl_sources(groups[0], db_path, config_dir, verbose=verbose, workers=workers, on_shutdown=stop)
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in children:
                child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        for child in children:  # this process failed (or could not start them all): no child outlives it
            if child.poll() is None:
                child.kill()
                child.wait()
    with Store(db_path, readonly=True) as store:
        latest = [store.runs(source=loaded.source.name, limit=1) for loaded in sources]
    return [runs[0] for runs in latest if runs and runs[0]["started_at"] >= began]  # a child that never ran: missing
