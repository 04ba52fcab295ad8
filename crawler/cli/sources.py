"""`crawler sources …` and `crawler extract`: check a source before it goes live."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crawler.cli import Env, cli
from crawler.sources import load_sources, source_files

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


