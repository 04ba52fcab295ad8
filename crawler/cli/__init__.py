"""Command-line interface. Each command opens what it needs and calls one library function.

The commands live in the modules of this package, by topic; this module holds the
group, the shared options and helpers, and ``main``.

    crawler sources check            # validate config/sources/*.yaml
    crawler demo                     # start the portal simulator and crawl it
    crawler items list               # what was collected
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from crawler import __version__
from crawler.errors import ConfigError
from crawler.settings import BY_NAME
from crawler.sources import LoadedSource, load_sources

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Env:
    def __init__(self, config: Path, db: Path, verbose: bool, redis_url: str | None = None):
        self.config, self.db, self.verbose, self.redis_url = config, db, verbose, redis_url

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
@click.option(
    "--redis", "redis_url", metavar="URL", envvar="CRAWLER_REDIS_URL", show_envvar=True,
    help="Scale out on Redis (e.g. redis://127.0.0.1:6379/0): `crawler worker`s fetch, this process stores. "
    "Unset: everything in one process (the default). See docs/scaling.md.",
)
@click.version_option(__version__, prog_name="crawler")
@click.pass_context
def cli(ctx: click.Context, config: Path, db: Path, verbose: bool, log_format: str, redis_url: str | None) -> None:
    """Monitor news and government portals: crawl, extract, store, alert.

    Sources are YAML files in CONFIG/sources/ (see docs/sources.md); collected
    articles go to the SQLite database DB.
    """
    os.environ["CRAWLER_LOG_FORMAT"] = log_format  # crawl children of the daemon inherit it
    ctx.obj = Env(config, db, verbose, redis_url)


def _store(env: Env):
    """The database, read-only; brought up to the current schema first if it is older."""
    from storage import SCHEMA_VERSION, StorageError, Store

    try:
        store = Store(env.db, readonly=True)
        if store.schema_version() < SCHEMA_VERSION:
            store.close()
            Store(env.db).close()  # applies the pending migrations
            store = Store(env.db, readonly=True)
        return store
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


def _alerts(env: Env):
    from crawler.alerts.config import load_alerts

    return load_alerts(env.config)  # ConfigError is printed as FILE: field: message by main()


# The command modules register themselves on `cli` (imported for that effect).
from crawler.cli import alerts, crawling, items, scaling, sources, web  # noqa: E402,F401


def main() -> None:
    try:
        cli(prog_name="crawler")
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
