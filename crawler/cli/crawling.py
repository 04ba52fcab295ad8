"""Commands that crawl: crawl once, the daemon, status, the simulator and the demo."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from crawler.cli import Env, _alerts, _store, cli
from crawler.errors import ConfigError
from crawler.sources import load_sources, source_files

# -- crawl ---------------------------------------------------------------------------------------


def _print_runs(runs: list[dict[str, Any]]) -> bool:
    ok = True
    for run in runs:
        ok &= run["status"] == "ok"
        click.echo(
            f"{run['source']}: {run['status']} — {run['pages_fetched']} pages fetched, "
            f"{run['not_modified']} not modified, {run['articles_new']} new, "
            f"{run['articles_changed']} changed, {run['articles_duplicate'] or 0} duplicates, {run['errors']} errors"
        )
    return ok


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--force", is_flag=True, help="Crawl sources that are backing off too (e.g. after a 429 with Retry-After).")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(1),
              help="With CRAWLER_REDIS_URL: seconds after which a poll the workers did not finish is closed as timed out.")
@click.option("--processes", default="auto", show_default=True, metavar="auto|N",
              callback=lambda _ctx, _param, value: _processes(value),
              help="Crawl processes for several sources, at most one per source. auto: from one per core "
              "up to two, the fewest that keep every core busy to the end (each process has its own "
              "Scrapy reactor; docs/architecture.md).")
@click.pass_obj
def crawl(env: Env, sources: tuple[str, ...], force: bool, timeout: float, processes: str) -> None:
    """Crawl SOURCES once (default: every enabled source), then exit.

    Only new list pages and unknown article pages are fetched; a second run
    right after the first fetches (almost) nothing. A source whose portal
    asked us to wait (429/503 with Retry-After) is skipped until then unless
    --force. Exit status 1 if a source had errors (see `crawler runs --errors`).

    With CRAWLER_REDIS_URL set, the polls are queued for `crawler worker`s and
    this command stores what they find until every poll is done.

    Example: crawler crawl iqilu-zaozhuang
    """
    from crawler.poolguard import die_with_named_parent
    from crawler.shards import crawl_in_processes

    die_with_named_parent()  # when started by `crawler run`
    chosen = env.sources(sources)
    if not chosen:
        raise click.ClickException(f"no enabled sources in {env.config}/sources")
    _alerts(env)  # a broken alerts.yaml stops here, before anything is stored without its alerts
    if not force:
        chosen = _not_backing_off(env, chosen)
        if not chosen:
            return
    click.echo(f"crawling {len(chosen)} source(s) into {env.db}: {', '.join(s.source.name for s in chosen)}", err=True)
    if env.redis_url:  # workers fetch; this process stores (docs/scaling.md)
        from crawler.cli.scaling import crawl_on_redis

        ids = crawl_on_redis(env, chosen, timeout)
        with _store(env) as store:
            runs = [row for run in ids for row in store.db.query("SELECT * FROM crawl_runs WHERE id = ?", [run])]
    else:
        count = None if processes == "auto" else int(processes)
        runs = crawl_in_processes(chosen, env.db, env.config, processes=count, verbose=env.verbose)
    if not _print_runs(runs) or len(runs) < len(chosen):
        missing = {s.source.name for s in chosen} - {r["source"] for r in runs}
        if missing:
            click.echo(f"did not run: {', '.join(sorted(missing))} (see the log above)", err=True)
        sys.exit(1)


def _processes(value: str) -> str:
    if value != "auto" and not (value.isdigit() and 1 <= int(value) <= 64):
        raise click.BadParameter(f"{value!r}: auto, or a number from 1 to 64")
    return value


def _not_backing_off(env: Env, chosen: list) -> list:
    from datetime import datetime, timezone

    if not env.db.exists():
        return chosen
    with _store(env) as store:
        states = store.schedule_state()
    now = datetime.now(timezone.utc)
    kept = []
    for loaded in chosen:
        until = (states.get(loaded.source.name) or {}).get("backoff_until")
        if until and datetime.fromisoformat(until) > now:
            click.echo(f"{loaded.source.name}: skipped, backing off until {until} (crawler status; --force to crawl anyway)", err=True)
        else:
            kept.append(loaded)
    return kept


@cli.command()
@click.option("--max-parallel", default=2, show_default=True, type=click.IntRange(1, 32), help="Crawls running at once.")
@click.option("--crawl-timeout", default=900.0, show_default=True, type=click.FloatRange(1), help="Seconds before a crawl is killed.")
@click.option("--grace", default=8.0, show_default=True, type=click.FloatRange(0),
              help="On SIGTERM/SIGINT running crawls are told to stop at once; seconds they get before they are killed.")
@click.option("--startup-spread", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds over which the first polls of overdue sources are spread at start.")
@click.option("--reload-every", default=5.0, show_default=True, type=click.FloatRange(0.5), help="Seconds between checks of the source files.")
@click.option(
    "--http", "http", metavar="HOST:PORT", envvar="CRAWLER_HTTP", show_envvar=True,
    help="Serve /metrics (Prometheus) and /healthz here, e.g. 127.0.0.1:9410. Off by default.",
)
@click.pass_obj
def run(env: Env, max_parallel: int, crawl_timeout: float, grace: float, startup_spread: float, reload_every: float,
        http: str | None) -> None:
    """Run the daemon: poll every enabled source on its schedule until stopped.

    Each crawl runs as a child process (`crawler crawl SOURCE`) killed at
    --crawl-timeout. Editing, adding or removing a file in CONFIG/sources/
    takes effect without a restart (also on SIGHUP); a broken file is reported
    and the last good version of its source keeps running. SIGTERM or Ctrl-C:
    no crawl starts any more, running crawls are told to stop at once (what they
    stored is kept) and killed after --grace seconds; exits 0 within ~10 s.

    With CRAWLER_REDIS_URL set, each poll is queued in Redis for `crawler worker`s
    instead, and this process stores what they find (docs/scaling.md).
    """
    from crawler.daemon import Daemon, DaemonOptions
    from crawler.runner import configure_logging

    configure_logging(env.verbose)
    if not source_files(env.config):
        raise click.ClickException(f"no source files in {env.config}/sources")
    address = None
    if http:
        host, _, port = http.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter(f"{http!r} is not HOST:PORT", param_hint="--http")
        address = (host, int(port))
    options = DaemonOptions(
        max_parallel=max_parallel, crawl_timeout=crawl_timeout, grace=grace, reload_every=reload_every, http=address,
        startup_spread=startup_spread,
        redis_url=env.redis_url,
    )
    sys.exit(Daemon(env.config, env.db, options).run())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(env: Env, as_json: bool) -> None:
    """Show each source: last run, result, new/changed, next run, failure streak, and the health
    conditions its last run shows (no_links, failing, empty_articles, stale, spam_chrome)."""
    from crawler.alerts.health import conditions

    loaded = env.sources(enabled_only=False)
    try:
        config = _alerts(env)
        threshold = config.ops.failures if config.ops else 3
    except ConfigError:  # status is a diagnosis: a broken alerts.yaml must not hide the sources
        threshold = 3
    with _store(env) as store:
        states = store.schedule_state()
        backlog = store.outbox_counts()
        rows = []
        for item in loaded:
            name = item.source.name
            last = store.runs(source=name, limit=1)
            run_row = last[0] if last else {}
            state = states.get(name, {})
            rows.append({
                "source": name,
                "enabled": item.source.enabled,
                "last_run": run_row.get("started_at"),
                "result": run_row.get("status"),
                "new": run_row.get("articles_new"),
                "changed": run_row.get("articles_changed"),
                "errors": run_row.get("errors"),
                "next_run": state.get("next_run_at"),
                "interval": _interval(item.source, state),
                "interval_reason": _interval_reason(item.source, state),
                "failures": state.get("failures") or 0,
                "backoff_until": state.get("backoff_until"),
                "last_error": state.get("last_error"),
                "articles": store.count_articles(name),
                "health": {k: v for k, v in conditions(store, item.source, state.get("failures") or 0, threshold).items() if v},
            })
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"alert outbox: {backlog.get('pending', 0)} pending, {backlog.get('dead', 0)} dead, {backlog.get('sent', 0)} sent")
    for row in rows:
        line = (
            f"{row['source']:<22} {'on ' if row['enabled'] else 'off'} last={row['last_run'] or '-'} "
            f"result={row['result'] or '-'} new={row['new'] or 0} changed={row['changed'] or 0} "
            f"next={row['next_run'] or '-'} failures={row['failures']} articles={row['articles']}"
        )
        line += f"\n  interval: {row['interval']} ({row['interval_reason']})"
        if row["backoff_until"]:
            line += f" backoff-until={row['backoff_until']} ({row['last_error']})"
        click.echo(line)
        for condition, detail in row["health"].items():
            click.echo(f"  {condition}: {detail}")


def _interval(source, state: dict) -> str:
    if source.schedule.cron:
        return f"cron '{source.schedule.cron}'"
    seconds = state.get("interval_seconds") if source.schedule.adaptive else None
    seconds = seconds or source.schedule.every.total_seconds()
    return f"{seconds / 60:.0f}m" if seconds >= 60 else f"{seconds:.0f}s"


def _interval_reason(source, state: dict) -> str:
    if source.schedule.cron:
        return "fixed: cron schedule"
    if not source.schedule.adaptive:
        return "fixed: schedule.adaptive is false"
    if state.get("interval_reason"):
        return state["interval_reason"]
    return "base interval: not crawled yet"


# -- simulator and demo ----------------------------------------------------------------------------------


_PORT_OPTION = click.option(
    "--port-base", default=8701, show_default=True, type=click.IntRange(0, 65533),
    help="Serve the portals on this port and the next two (0: any free ports).",
)


@cli.command()
@click.option("--articles", default=20, show_default=True, type=click.IntRange(1), help="Articles per portal.")
@_PORT_OPTION
def simulator(articles: int, port_base: int) -> None:
    """Serve the three simulated portals on loopback until Ctrl-C.

    Prints the environment variables that config/simulator/sources/*.yaml use.
    """
    from crawler.simulator import Simulator

    with Simulator(articles_per_portal=articles, port_base=port_base) as sim:
        for name, value in sim.env().items():
            click.echo(f"export {name}={value}")
        click.echo("# serving; Ctrl-C to stop", err=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@cli.command()
@click.option("--articles", default=20, show_default=True, type=click.IntRange(1), help="Articles per portal.")
@click.option("--db", "demo_db", default="data/demo.db", show_default=True, type=click.Path(path_type=Path), help="Database for the demo.")
@_PORT_OPTION
@click.pass_obj
def demo(env: Env, articles: int, demo_db: Path, port_base: int) -> None:
    """Start the portal simulator, crawl its three portals once, list what was stored.

    Uses the sources in CONFIG/simulator/sources/. Run it twice: the second
    pass fetches no article page again.
    """
    from crawler.runner import crawl_sources
    from crawler.simulator import Simulator

    sim_config = env.config / "simulator"
    with Simulator(articles_per_portal=articles, port_base=port_base) as sim:
        loaded, problems = load_sources(sim_config, environ={**os.environ, **sim.env()})  # ${SIM_…_URL}
        if problems:
            raise ConfigError(problems)
        click.echo(f"simulator up: {', '.join(sim.env().values())}; crawling into {demo_db}", err=True)
        runs = crawl_sources(loaded, demo_db, sim_config, verbose=env.verbose)
    _print_runs(runs)
    click.echo(f"\nnext: crawler --db {demo_db} items list", err=True)


