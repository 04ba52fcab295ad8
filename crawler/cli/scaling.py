"""Scale-out commands: `crawler worker`, `crawler ingest`, and `crawler crawl` on Redis."""

from __future__ import annotations

import sys
import time

import click

from crawler.cli import Env, cli


def _redis(env: Env) -> str:
    if not env.redis_url:
        raise click.ClickException("set CRAWLER_REDIS_URL (or --redis URL): this command works on the shared Redis")
    return env.redis_url


@cli.command()
@click.option("--heartbeat", default=15.0, show_default=True, type=click.FloatRange(1),
              help="Seconds after which the requests of a worker that stopped answering are given to others.")
@click.pass_obj
def worker(env: Env, heartbeat: float) -> None:
    """Fetch and extract what the shared Redis queue holds, until stopped.

    Needs CRAWLER_REDIS_URL; no database and no config folder (the scheduler
    publishes each source with its polls). Start as many as you like, on any
    machine that reaches Redis and the portals; `crawler run` (or `crawler
    ingest`) stores what they find. A worker killed mid-request loses nothing:
    after --heartbeat seconds another worker queues its requests again.
    CRAWLER_EXTRACT_WORKERS sets its extraction processes (default: one per core).
    """
    from crawler.runner import run_worker

    run_worker(_redis(env), verbose=env.verbose, ttl=heartbeat)


@cli.command()
@click.option("--until-idle", is_flag=True, help="Exit once no run is open and the stream is empty.")
@click.option("--crawl-timeout", default=900.0, show_default=True, type=click.FloatRange(1),
              help="Seconds after which an open run is closed as timed out.")
@click.pass_obj
def ingest(env: Env, until_idle: bool, crawl_timeout: float) -> None:
    """Store what the workers found: the single SQLite writer when crawling on Redis.

    `crawler run` ingests by itself; run this one alone when the scheduler
    runs elsewhere, or with --until-idle to drain what is waiting in Redis.
    Only one ingester runs at a time (a lock in Redis).
    """
    from crawler.frontier import STREAM, Frontier
    from crawler.ingest import Ingester, IngestLocked
    from crawler.runner import configure_logging

    configure_logging(env.verbose)
    frontier = Frontier(_redis(env))
    ingester = Ingester(frontier, env.db, env.config, crawl_timeout=crawl_timeout)
    stop = _stop_on_signals()
    idle = {"since": None}

    def should_stop() -> bool:
        if stop():
            return True
        if not until_idle:
            return False
        busy = bool(frontier.open_runs()) or frontier.redis.xlen(STREAM) > 0
        idle["since"] = None if busy else (idle["since"] or time.monotonic())
        return idle["since"] is not None and time.monotonic() - idle["since"] > 1.0

    try:
        ingester.run(should_stop)
    except IngestLocked as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ingester.close()
    click.echo(f"ingested {ingester.applied} message(s)", err=True)


def _stop_on_signals():
    import signal

    flag = {"stop": False}

    def on_signal(signum: int, _frame: object) -> None:
        flag["stop"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return lambda: flag["stop"]


def crawl_on_redis(env: Env, chosen: list, timeout: float) -> list[int]:
    """`crawler crawl` with Redis: queue one poll per source (or wait for the one open), ingest until done."""
    from crawler.frontier import Frontier, worker_key
    from crawler.ingest import Ingester, IngestLocked
    from crawler.runner import configure_logging
    from spiders.worker import open_poll
    from storage import Store

    configure_logging(env.verbose)
    frontier = Frontier(_redis(env))
    ingester = Ingester(frontier, env.db, env.config, crawl_timeout=timeout)
    try:
        ingester.prepare()
        open_runs = frontier.open_runs()
        runs = []
        with Store(env.db) as store:
            for loaded in chosen:
                name = loaded.source.name
                waiting = [run for run, info in open_runs.items() if info["source"] == name]
                if waiting:
                    click.echo(f"{name}: run {waiting[0]} is still open; waiting for it", err=True)
                    runs.append(waiting[0])
                else:
                    runs.append(open_poll(frontier, store, loaded.source, str(loaded.file)))
        if not any(True for _ in frontier.redis.scan_iter(match=worker_key("*"), count=1000)):
            click.echo("no worker is running: start `crawler worker` (same CRAWLER_REDIS_URL) to fetch these polls", err=True)
        click.echo(f"queued {len(runs)} poll(s) in {frontier.url}; storing into {env.db}", err=True)
        stop = _stop_on_signals()
        last = {"at": time.monotonic()}

        def should_stop() -> bool:
            if time.monotonic() - last["at"] > 10:
                last["at"] = time.monotonic()
                click.echo(f"… {ingester.applied} message(s) stored so far", err=True)
            return stop() or not (set(runs) & set(frontier.open_runs()))

        ingester.run(should_stop)
        if stop():
            sys.exit(130)
        return runs
    except IngestLocked as exc:
        raise click.ClickException(f"{exc}; stop it, or let it store the crawl") from None
    finally:
        ingester.close()
