"""Command-line interface. Each command opens what it needs and calls one library function.

    crawler sources check            # validate config/sources/*.yaml
    crawler demo                     # start the portal simulator and crawl it
    crawler items list               # what was collected
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from crawler import __version__
from crawler.errors import ConfigError
from crawler.settings import BY_NAME
from crawler.sources import LoadedSource, load_sources, source_files

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Env:
    def __init__(self, config: Path, db: Path, verbose: bool):
        self.config, self.db, self.verbose = config, db, verbose

    def sources(self, names: tuple[str, ...] = (), *, enabled_only: bool = True) -> list[LoadedSource]:
        """Load sources, print config problems; the named ones (or all enabled)."""
        loaded, problems = load_sources(self.config)
        for problem in problems:
            click.echo(f"config error: {problem}", err=True)
        if not names:
            return [s for s in loaded if s.source.enabled or not enabled_only]
        by_name = {s.source.name: s for s in loaded}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(sorted(by_name)) or "none"
            raise click.ClickException(f"unknown source(s): {', '.join(unknown)} (known: {known})")
        return [by_name[n] for n in names]


def _setting_option(name: str, **kwargs: Any):
    setting = BY_NAME[name]
    return click.option(
        f"--{name}", envvar=setting.env, default=setting.default, show_default=True, show_envvar=True,
        type=click.Path(path_type=Path), help=setting.help, **kwargs,
    )


@click.group(context_settings=CONTEXT)
@_setting_option("config")
@_setting_option("db")
@click.option("-v", "--verbose", is_flag=True, help="Log Scrapy's own messages too.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    envvar="CRAWLER_LOG_FORMAT", show_envvar=True, help="Log lines as text or as one JSON object per line.",
)
@click.version_option(__version__, prog_name="crawler")
@click.pass_context
def cli(ctx: click.Context, config: Path, db: Path, verbose: bool, log_format: str) -> None:
    """Monitor news and government portals: crawl, extract, store, alert.

    Sources are YAML files in CONFIG/sources/ (see docs/sources.md); collected
    articles go to the SQLite database DB.
    """
    os.environ["CRAWLER_LOG_FORMAT"] = log_format  # crawl children of the daemon inherit it
    ctx.obj = Env(config, db, verbose)


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
@click.pass_obj
def crawl(env: Env, sources: tuple[str, ...]) -> None:
    """Crawl SOURCES once (default: every enabled source), then exit.

    Only new list pages and unknown article pages are fetched; a second run
    right after the first fetches (almost) nothing. Exit status 1 if a source
    had errors (see `crawler runs --errors`).

    Example: crawler crawl iqilu-zaozhuang
    """
    from crawler.daemon import die_with_parent
    from crawler.runner import crawl_sources

    die_with_parent()  # when started by `crawler run`
    chosen = env.sources(sources)
    if not chosen:
        raise click.ClickException(f"no enabled sources in {env.config}/sources")
    _alerts(env)  # a broken alerts.yaml stops here, before anything is stored without its alerts
    click.echo(f"crawling {len(chosen)} source(s) into {env.db}: {', '.join(s.source.name for s in chosen)}", err=True)
    runs = crawl_sources(chosen, env.db, env.config, verbose=env.verbose)
    if not _print_runs(runs) or len(runs) < len(chosen):
        missing = {s.source.name for s in chosen} - {r["source"] for r in runs}
        if missing:
            click.echo(f"did not run: {', '.join(sorted(missing))} (see the log above)", err=True)
        sys.exit(1)


@cli.command()
@click.option("--max-parallel", default=2, show_default=True, type=click.IntRange(1, 32), help="Crawls running at once.")
@click.option("--crawl-timeout", default=900.0, show_default=True, type=click.FloatRange(1), help="Seconds before a crawl is killed.")
@click.option("--grace", default=30.0, show_default=True, type=click.FloatRange(0), help="Seconds running crawls get to finish on SIGTERM.")
@click.option("--reload-every", default=5.0, show_default=True, type=click.FloatRange(0.5), help="Seconds between checks of the source files.")
@click.option(
    "--http", "http", metavar="HOST:PORT", envvar="CRAWLER_HTTP", show_envvar=True,
    help="Serve /metrics (Prometheus) and /healthz here, e.g. 127.0.0.1:9410. Off by default.",
)
@click.pass_obj
def run(env: Env, max_parallel: int, crawl_timeout: float, grace: float, reload_every: float, http: str | None) -> None:
    """Run the daemon: poll every enabled source on its schedule until stopped.

    Each crawl runs as a child process (`crawler crawl SOURCE`) killed at
    --crawl-timeout. Editing, adding or removing a file in CONFIG/sources/
    takes effect without a restart (also on SIGHUP); a broken file is reported
    and the last good version of its source keeps running. SIGTERM or Ctrl-C
    stops scheduling, lets running crawls finish for --grace seconds, exits 0.
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
        max_parallel=max_parallel, crawl_timeout=crawl_timeout, grace=grace, reload_every=reload_every, http=address
    )
    sys.exit(Daemon(env.config, env.db, options).run())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(env: Env, as_json: bool) -> None:
    """Show each source: last run, result, new/changed, next run, failure streak."""
    loaded = env.sources(enabled_only=False)
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
                "failures": state.get("failures") or 0,
                "backoff_until": state.get("backoff_until"),
                "last_error": state.get("last_error"),
                "articles": store.count_articles(name),
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
        if row["backoff_until"]:
            line += f" backoff-until={row['backoff_until']} ({row['last_error']})"
        click.echo(line)


# -- sources -------------------------------------------------------------------------------------


@cli.group("sources")
def sources_group() -> None:
    """List and validate source configs."""


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def sources_list(env: Env, as_json: bool) -> None:
    """List the sources in CONFIG/sources/ with their schedule and start URLs."""
    loaded = env.sources(enabled_only=False)
    rows = [
        {
            "name": s.source.name,
            "title": s.source.title,
            "enabled": s.source.enabled,
            "schedule": s.source.schedule.cron or f"every {s.source.schedule.every}",
            "start_urls": s.source.start_urls,
            "file": str(s.file),
        }
        for s in loaded
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = "enabled " if row["enabled"] else "disabled"
        click.echo(f"{row['name']:<24} {state} {row['schedule']:<18} {row['title']}  {row['start_urls'][0]}")


@sources_group.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def sources_check(env: Env, files: tuple[Path, ...]) -> None:
    """Validate source files (default: all of CONFIG/sources/).

    Prints every problem as FILE: field: message and exits 1 if there is any.
    Unknown keys are errors, so a typo never passes silently.

    Example: crawler sources check config/sources/new-portal.yaml
    """
    paths = list(files) or source_files(env.config)
    if not paths:
        raise click.ClickException(f"no source files in {env.config}/sources")
    loaded, problems = load_sources(env.config, paths)
    for problem in problems:
        click.echo(str(problem))
    for item in loaded:
        click.echo(f"{item.file}: ok ({item.source.name})", err=True)
    if problems:
        sys.exit(1)


# -- extract ---------------------------------------------------------------------------------------


@cli.command()
@click.argument("file_or_url")
@click.option("--url", help="The page's URL, for a saved file (dates and links are read from it).")
@click.option("--source", "source_name", help="Apply this source's cleanup rules and encoding.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def extract(env: Env, file_or_url: str, url: str | None, source_name: str | None, as_json: bool) -> None:
    """Run extraction on one saved page or URL and print the article.

    Nothing is stored. Use it to see what a page will give before a source goes live.

    Example: crawler extract saved.html --url http://zz.dzwww.com/zzxw/202308/t20230824_1.htm
    """
    from crawler.extract import extract as run_extract
    from crawler.fetch import decode_html, fetch_page
    from crawler.sources import Cleanup

    cleanup, encoding = Cleanup(), None
    if source_name:
        loaded = env.sources((source_name,))[0].source
        cleanup, encoding = loaded.cleanup, loaded.request.encoding
    try:
        if file_or_url.startswith(("http://", "https://")):
            html, page_url = fetch_page(file_or_url, encoding=encoding), url or file_or_url
        else:
            html, page_url = decode_html(Path(file_or_url).read_bytes(), encoding=encoding), url or Path(file_or_url).resolve().as_uri()
        article = run_extract(html, page_url, cleanup)
    except OSError as exc:
        raise click.ClickException(f"{file_or_url}: {exc}") from None
    except Exception as exc:  # ExtractionError and friends: say it plainly
        raise click.ClickException(f"{file_or_url}: {exc}") from None
    if as_json:
        click.echo(json.dumps(article.as_dict(), ensure_ascii=False, indent=2))
        return
    published = article.published_at.isoformat() if article.published_at else "-"
    click.echo(f"title:     {article.title}")
    click.echo(f"published: {published} (from {article.date_origin or '-'})")
    click.echo(f"author:    {article.author or '-'}")
    click.echo(f"source:    {article.source_name or '-'}")
    click.echo(f"url:       {article.url}")
    click.echo("")
    click.echo(article.body)


# -- items and runs ----------------------------------------------------------------------------------


def _store(env: Env):
    from storage import Store, StorageError

    try:
        return Store(env.db, readonly=True)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


@cli.group("items")
def items_group() -> None:
    """Look at collected articles."""


@items_group.command("list")
@click.option("--source", help="Only this source.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="How many, newest first.")
@click.option("--all", "with_duplicates", is_flag=True, help="Also list copies found on other portals (duplicates).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array).")
@click.pass_obj
def items_list(env: Env, source: str | None, limit: int, with_duplicates: bool, as_json: bool) -> None:
    """List stored articles, newest publish date first; each article once.

    An article also found on another portal (or reposted with other
    boilerplate, or in Traditional characters) is listed once; --all shows
    the copies too, marked "dup of #ID".

    Example: crawler items list --source iqilu-zaozhuang --limit 10
    """
    with _store(env) as store:
        rows = store.articles(source=source, limit=limit, duplicates=with_duplicates)
        total = store.count_articles(source)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        date = (row["published_at"] or "")[:16].replace("T", " ") or "-"
        dup = f"  (dup of #{row['duplicate_of']})" if row.get("duplicate_of") else ""
        click.echo(f"{row['id']:>6}  {date:<16}  {row['source']:<20}  {row['title']}{dup}")
    click.echo(f"({len(rows)} shown; {total} stored including duplicates)", err=True)


@items_group.command("show")
@click.argument("item_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def items_show(env: Env, item_id: int, as_json: bool) -> None:
    """Show one stored article with its full text."""
    with _store(env) as store:
        row = store.article(item_id)
        if row is None:
            raise click.ClickException(f"no article with id {item_id}")
        row["versions"] = store.versions(item_id)
        row["aliases"] = [a["url"] for a in store.aliases(item_id)]
        row["copies"] = store.copies(item_id)
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False, indent=2))
        return
    for key in ("id", "source", "title", "published_at", "author", "source_name", "url", "canonical_url",
                "first_seen", "last_seen", "version", "duplicate_of"):
        click.echo(f"{key + ':':<15}{row[key] if row[key] is not None else '-'}")
    if row["flags"]:
        click.echo(f"{'flags:':<15}{', '.join(row['flags'])}")
    for alias in row["aliases"]:
        click.echo(f"{'alias:':<15}{alias}")
    for copy in row["copies"]:
        click.echo(f"{'copy:':<15}#{copy['id']} {copy['source']} {copy['url']}")
    click.echo("")
    click.echo(row["body"])
    for version in row["versions"]:
        click.echo(f"\n--- version {version['version']}, replaced {version['replaced_at']}:")
        click.echo(version["diff"] or "(no textual difference)")


@cli.command()
@click.option("--run", "run_id", type=int, help="Only this crawl run (see `crawler runs`).")
@click.option("--url", help="Only this article URL.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="How many, newest first.")
@click.pass_obj
def decisions(env: Env, run_id: int | None, url: str | None, limit: int) -> None:
    """Why an article did or did not count as news: new, changed, duplicate or unchanged.

    Every fetched article page gets exactly one decision per crawl.

    Example: crawler decisions --run 12
    """
    with _store(env) as store:
        rows = store.decisions(run_id=run_id, limit=limit if url is None else 100_000)
    if url:
        rows = [r for r in rows if r["url"] == url][:limit]
    for row in rows:
        detail = f"  {row['detail']}" if row["detail"] else ""
        click.echo(f"{row['at']}  run {row['run_id'] or '-':<5} {row['decision']:<9} #{row['article_id']:<6} {row['url']}{detail}")


@cli.command()
@click.option("--source", help="Only this source.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many runs.")
@click.option("--errors", "show_errors", is_flag=True, help="Also list each run's fetch errors.")
@click.pass_obj
def runs(env: Env, source: str | None, limit: int, show_errors: bool) -> None:
    """Show recent crawl runs (and their errors, with URLs)."""
    with _store(env) as store:
        for run in store.runs(source=source, limit=limit):
            click.echo(
                f"#{run['id']:<5} {run['started_at']}  {run['source']:<20} {run['status']:<8} "
                f"pages={run['pages_fetched']} 304={run['not_modified']} new={run['articles_new']} "
                f"changed={run['articles_changed']} dup={run['articles_duplicate'] or 0} errors={run['errors']}"
            )
            if show_errors:
                for err in store.errors(run_id=run["id"]):
                    click.echo(f"         {err['kind']:<18} {err['url']}  {err['message']}")


# -- alerts -----------------------------------------------------------------------------------------------


@cli.group("alerts")
def alerts_group() -> None:
    """Subscriptions, channels and the alert outbox (CONFIG/alerts.yaml, docs/alerts.md)."""


def _alerts(env: Env):
    from crawler.alerts.config import load_alerts

    return load_alerts(env.config)  # ConfigError is printed as FILE: field: message by main()


@alerts_group.command("check")
@click.pass_obj
def alerts_check(env: Env) -> None:
    """Validate CONFIG/alerts.yaml (FILE: field: message; exit 2 on problems)."""
    from crawler.alerts.config import alerts_file
    from crawler.alerts.dispatch import Dispatcher

    config = _alerts(env)
    try:
        Dispatcher(config, env.config)
    except ValueError as exc:
        raise click.ClickException(f"{alerts_file(env.config)}: {exc}") from None
    click.echo(f"{alerts_file(env.config)}: ok ({len(config.subscriptions)} subscriptions, {len(config.channels)} channels)")


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]), help="Only alerts in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="How many, newest first.")
@click.pass_obj
def alerts_list(env: Env, status: str | None, limit: int) -> None:
    """List alerts in the outbox with their state, attempts and last error."""
    with _store(env) as store:
        rows = store.outbox(status=status, limit=limit)
        counts = store.outbox_counts()
    for row in rows:
        error = f"  last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"#{row['id']:<6} {row['status']:<8} attempts={row['attempts']:<3} {row['key']}  {row['event']}{error}")
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "outbox empty", err=True)


@alerts_group.command("retry")
@click.argument("alert_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Requeue every alert in dead-letter.")
@click.pass_obj
def alerts_retry(env: Env, alert_id: int | None, all_failed: bool) -> None:
    """Put a dead-letter alert (or all of them) back in the queue for a fresh series of attempts."""
    from storage import Store

    if not alert_id and not all_failed:
        raise click.UsageError("give an alert ID or --all-failed")
    with Store(env.db) as store:
        count = store.requeue(None if all_failed else alert_id)
    click.echo(f"{count} alert(s) requeued")


@alerts_group.command("send")
@click.pass_obj
def alerts_send(env: Env) -> None:
    """Deliver the alerts that are due now, once (the daemon does this every few seconds)."""
    from crawler.alerts.dispatch import Dispatcher
    from crawler.runner import configure_logging
    from storage import Store

    configure_logging(env.verbose)
    dispatcher = Dispatcher(_alerts(env), env.config)
    with Store(env.db) as store:
        counts = dispatcher.deliver_due(store)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@alerts_group.command("test")
@click.argument("name")
@click.pass_obj
def alerts_test(env: Env, name: str) -> None:
    """Send a sample alert to channel NAME, or to every channel of subscription NAME."""
    from crawler.alerts.dispatch import Dispatcher, payload
    from crawler.alerts.render import render

    config = _alerts(env)
    dispatcher = Dispatcher(config, env.config)
    subs = {s.name: s for s in config.subscriptions}
    targets = subs[name].channels if name in subs else [name]
    unknown = [t for t in targets if t not in dispatcher.channels]
    if unknown:
        raise click.ClickException(f"no channel or subscription named {name!r} (channels: {', '.join(dispatcher.channels)})")
    sample = [{
        "article_id": 0, "event": "new", "version": 1, "title": "【测试】枣庄高新区召开信用体系建设推进会",
        "url": "http://example.invalid/test.html", "source": "test", "source_title": "测试来源", "source_name": "测试",
        "author": None, "published_at": "2026-01-01T09:00:00+08:00", "body": "这是一条测试提醒，用于检查通道配置。", "diff": None,
    }]
    failed = False
    for target in targets:
        channel = dispatcher.channels[target]
        result = channel.send(f"msg_test_{int(time.time())}", render(dispatcher.env, sample, name), payload(sample, name))
        click.echo(f"{target} ({channel.describe()}): {'ok' if result.ok else result.error}")
        failed |= not result.ok
    if failed:
        sys.exit(1)


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
        os.environ.update(sim.env())
        loaded, problems = load_sources(sim_config)
        if problems:
            raise ConfigError(problems)
        click.echo(f"simulator up: {', '.join(sim.env().values())}; crawling into {demo_db}", err=True)
        runs = crawl_sources(loaded, demo_db, sim_config, verbose=env.verbose)
    _print_runs(runs)
    click.echo(f"\nnext: crawler --db {demo_db} items list", err=True)


def main() -> None:
    try:
        cli(prog_name="crawler")
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
