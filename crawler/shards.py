"""`crawler crawl` of several sources on several cores: one crawl process per group of sources.

One process's reactor thread does Scrapy's work for every page it fetches (downloads,
middlewares, callbacks: about 3 ms a page, bench.e2e's profile), whatever its extraction pool
does; that bounds one process. With several sources and cores, ``crawl --processes auto`` (the
default) crawls them in several processes forked from this one, each with its own reactor and
extraction (``cores // processes`` workers; one: inline, no pool), and this process is their one
writer (crawler/sharedwriter.py): every identity decision sees what was stored before it, and a
story found on two portals is still stored once with its copy.

Sources are grouped by the pages their last run fetched (heaviest first, onto the lightest
group). How many groups: plan() — at least one per core, more when that ends the crawl sooner
(three equal sources on two cores: three processes, not two and one). A quiet poll (few pages
last time) stays in one process. The children are forked once this process has imported what a
crawl loads (runner.preload) and frozen it for the garbage collector, so they share those pages
with it: a child costs about 60 MB of its own where a new interpreter cost 120 (bench.e2e).

A stop signal reaches every process once: the children run in sessions of their own (Ctrl-C in
a terminal reaches only this one), this one passes SIGTERM on, and a child dies with this
process if it is killed (PR_SET_PDEATHSIG, as under the daemon); what it had handed over and
not seen committed is fetched again by the next crawl.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.poolguard import die_with
from crawler.sharedwriter import RemoteWriter, serve
from crawler.sources import LoadedSource

log = logging.getLogger("crawler.crawl")


SPLIT_MIN_PAGES = 200  # fewer (the last runs' pages, every source crawled before): one process is cheaper
PER_CORE = 2  # auto: at most this many crawl processes per core (each past the first: ~60 MB, bench.e2e)
WRITER_BACKLOG = 120  # pages in the ingest stage at once, in all crawl processes (crawler/writer.py's default)
NEAR_BEST = 1.05  # auto: the fewest processes whose crawl ends within 5% of the quickest grouping


def plan(sources: list[LoadedSource], weights: dict[str, int], *, cores: int,
         processes: int | None = None) -> list[list[LoadedSource]]:
    """Groups of sources, one crawl process each, balanced by weight: the pages each source's last
    run fetched (a source never crawled weighs as the mean known one).

    ``processes``: that many (at most one per source). None (auto): from one per core up to
    PER_CORE per core, the fewest whose groups, run at once on ``cores`` cores, end within
    NEAR_BEST of the quickest: three equal sources on two cores get three processes (all end
    at 1.5 units; two processes would end at 2), four get two. A quiet poll — every source
    crawled before, fewer than SPLIT_MIN_PAGES pages in all last time — stays in one process:
    a second process's start-up would cost more than it saves."""
    known = [w for w in weights.values() if w > 0]
    default = sum(known) / len(known) if known else 1
    weight = {s.source.name: weights.get(s.source.name) or default for s in sources}
    if processes is None:
        if all(s.source.name in weights for s in sources) and sum(weights.values()) < SPLIT_MIN_PAGES:
            return [list(sources)]
        counts = range(max(1, min(cores, len(sources))), max(1, min(len(sources), PER_CORE * cores)) + 1)
        options = [_groups(sources, count, weight) for count in counts]
        ends = [finish_time([sum(weight[s.source.name] for s in g) for g in groups], cores) for groups in options]
        return next(groups for groups, end in zip(options, ends) if end <= min(ends) * NEAR_BEST)
    return _groups(sources, max(1, min(processes, len(sources))), weight)


def _groups(sources: list[LoadedSource], count: int, weight: dict[str, float]) -> list[list[LoadedSource]]:
    """Heaviest source first, onto the lightest group."""
    groups: list[list[LoadedSource]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for loaded in sorted(sources, key=lambda s: (-weight[s.source.name], s.source.name)):
        lightest = loads.index(min(loads))
        groups[lightest].append(loaded)
        loads[lightest] += weight[loaded.source.name]
    return [group for group in groups if group]


def finish_time(loads: list[float], cores: int) -> float:
    """When the last of these CPU-bound jobs ends, all started at once on ``cores`` cores shared
    fairly (each job runs on at most one core at a time)."""
    left, done, now = sorted(loads), 0.0, 0.0  # done: the work each unfinished job has had
    while left:
        now += (left[0] - done) / min(1.0, cores / len(left))
        done = left.pop(0)
    return now


def crawl_in_processes(sources: list[LoadedSource], db_path: Path, config_dir: Path, *, processes: int | None = None,
                       verbose: bool = False) -> list[dict[str, Any]]:
    """Crawl each source once, in ``processes`` processes (None: as plan() chooses); their run
    records, in the order given."""
    from crawler.runner import configure_logging, crawl_sources, preload
    from storage import Store
    from storage.clock import utcnow

    cores = os.cpu_count() or 1
    with Store(db_path) as store:  # created and migrated before any process opens it
        last = {s.source.name: store.runs(source=s.source.name, limit=1) for s in sources}
    weights = {name: runs[0]["pages_fetched"] or 0 for name, runs in last.items() if runs}
    began = utcnow()
    groups = plan(sources, weights, cores=cores, processes=processes)
    if len(groups) == 1:  # extraction workers as CRAWLER_EXTRACT_WORKERS says
        return crawl_sources(sources, db_path, config_dir, verbose=verbose)
    if threading.active_count() > 1:  # fork() copies no thread, and maybe a lock one of them holds
        raise RuntimeError("crawl_in_processes forks: call it before any thread starts")
    workers = max(1, cores // len(groups))
    backlog = WRITER_BACKLOG // len(groups)  # pages each crawl may have in the stage: one writer's worth in all
    configure_logging(verbose)
    preload()
    gc.collect()
    gc.freeze()  # what is loaded now stays shared with the children: the collector never writes to it
    pipes = [multiprocessing.Pipe() for _ in groups]  # (the writer's end, the crawl's end), before any fork
    children: list[int] = []

    def stop(*_: Any) -> None:  # each signal on to every crawl (a second one: they stop at once)
        for pid in children:
            _signal(pid, signal.SIGTERM)

    def crawl(n: int, group: list[LoadedSource]) -> None:
        for m, (writers_end, crawls_end) in enumerate(pipes):
            writers_end.close()
            if m != n:
                crawls_end.close()
        crawl_sources(group, db_path, config_dir, verbose=verbose, workers=workers, writer=RemoteWriter(pipes[n][1], backlog))

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for n, group in enumerate(groups):
            children.append(_fork(lambda n=n, group=group: crawl(n, group)))
        for _, crawls_end in pipes:
            crawls_end.close()
        log.info("crawling in %d processes: %s; this one stores what they fetch", len(groups),
                 "; ".join(", ".join(s.source.name for s in g) for g in groups))
        serve(db_path, [writers_end for writers_end, _ in pipes])  # until every crawl has closed its end
        while children:
            os.waitpid(children[0], 0)
            children.pop(0)
    finally:
        for pid in children:  # this process failed (or could not start them all): no child outlives it
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    with Store(db_path, readonly=True) as store:
        latest = [store.runs(source=loaded.source.name, limit=1) for loaded in sources]
    return [runs[0] for runs in latest if runs and runs[0]["started_at"] >= began]  # a child that never ran: missing


def _fork(crawl: Callable[[], Any]) -> int:
    """A child process that runs ``crawl()`` and exits: in a session of its own, with the default
    signal handlers (crawl_sources installs its own), killed if this process dies."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        die_with(parent)
        crawl()
        code = 0
    except BaseException:  # noqa: BLE001 - a child never returns into the parent's code
        log.exception("crawl process %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
