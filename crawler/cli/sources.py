"""`crawler sources …` and `crawler extract`: check a source before it goes live."""

from __future__ import annotations

import json
import re
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


@sources_group.command("try")
@click.argument("file_or_name")
@click.option("--pages", default=2, show_default=True, type=click.IntRange(1, 20), help="List pages read per start URL.")
@click.option("--articles", default=3, show_default=True, type=click.IntRange(0, 50), help="Articles fetched and extracted.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def sources_try(env: Env, file_or_name: str, pages: int, articles: int, as_json: bool) -> None:
    """Dry-run one source: list links, pagination and the first articles; store nothing.

    FILE_OR_NAME is a source file (checked first, like `sources check`) or the
    name of a source in CONFIG/sources/. Shows the links that would be followed,
    the next-page links found, and title / date / author / source / first lines
    of the first articles, then the likely mistakes (a selector that matches
    nothing, every link filtered out, dates missing). Exit status 1 when there
    is a problem.

    Example: crawler sources try config/sources/new-portal.yaml
    """
    from crawler.trial import try_source

    path = Path(file_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        loaded, problems = load_sources(env.config, [path])
        if problems:
            for problem in problems:
                click.echo(str(problem), err=True)
            sys.exit(2)
        source = loaded[0].source
    else:
        source = env.sources((file_or_name,), enabled_only=False)[0].source
    trial = try_source(source, pages=pages, articles=articles)
    if as_json:
        click.echo(json.dumps(trial.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_trial(trial)
    if trial.problems:
        sys.exit(1)


def _print_trial(trial) -> None:
    for page in trial.pages:
        state = page.error or f"HTTP {page.status}, {page.anchors} links on the page, {len(page.links)} article links"
        click.echo(f"list page {page.url}: {state}")
        for link in page.links[:10]:
            click.echo(f"    {link}")
        if len(page.links) > 10:
            click.echo(f"    … and {len(page.links) - 10} more")
        if not page.error:
            click.echo(f"  next page: {page.next_url or '(none)'}")
    for article in trial.articles:
        click.echo(f"\narticle {article.url}")
        if article.error:
            click.echo(f"  error:     {article.error}")
            continue
        click.echo(f"  title:     {article.title}")
        click.echo(f"  published: {article.published_at or '-'} (from {article.date_origin or '-'})")
        click.echo(f"  author:    {article.author or '-'}")
        click.echo(f"  source:    {article.source_name or '-'}")
        if article.flags:
            click.echo(f"  flags:     {', '.join(article.flags)}")
        click.echo(f"  text:      {article.characters} characters")
        for line in article.first_lines:
            click.echo(f"  | {line[:120]}")
        for entry in article.attachments:
            click.echo(f"  attachment: {entry}")
    click.echo("")
    for problem in trial.problems:
        click.echo(f"problem: {problem}")
    if not trial.problems:
        click.echo("no problems found", err=True)


@sources_group.command("new")
@click.argument("url")
@click.option("--name", help="Source name (default: from the host name).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here (default: CONFIG/sources/NAME.yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--allow-private", is_flag=True, help="The portal is on a loopback or private address (refused by default).")
@click.pass_obj
def sources_new(env: Env, url: str, name: str | None, output: Path | None, force: bool, allow_private: bool) -> None:
    """Write a starter source file for the list page at URL, with detected selectors.

    Reads the page once, finds the article links, the element holding them
    (links.css), a URL pattern they share (links.allow) and the pagination; the
    file says what it could not find. Then: `crawler sources try FILE`, edit, done.

    Example: crawler sources new http://zaozhuang.dzwww.com/zzxw/index.htm --name dzwww-zz
    """
    from urllib.parse import urlsplit

    from crawler.netguard import Refused
    from crawler.trial import starter_yaml

    host = urlsplit(url).hostname or ""
    if urlsplit(url).scheme not in ("http", "https") or not host:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    name = name or re.sub(r"[^a-z0-9_-]+", "-", host.lower().removeprefix("www.")).strip("-")[:60] or "new-source"
    target = output or env.config / "sources" / f"{name}.yaml"
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists (use --force to overwrite, or -o another file)")
    try:
        text, notes = starter_yaml(url, name, allow_private=allow_private)
    except Refused as exc:
        raise click.ClickException(f"{exc} (for `crawler sources new`: --allow-private)") from None
    except OSError as exc:
        raise click.ClickException(f"{url}: {getattr(exc, 'reason', exc)}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {target}; next: crawler sources try {target}", err=True)


# -- extract ---------------------------------------------------------------------------------------


@cli.command()
@click.argument("file_or_url")
@click.option("--url", help="The page's URL, for a saved file (dates and links are read from it).")
@click.option("--source", "source_name", help="Apply this source's cleanup rules, encoding and address policy.")
@click.option("--allow-private", is_flag=True, help="Allow a loopback or private address (refused by default).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def extract(env: Env, file_or_url: str, url: str | None, source_name: str | None, allow_private: bool, as_json: bool) -> None:
    """Run extraction on one saved page or URL and print the article.

    Nothing is stored. Use it to see what a page will give before a source goes live.

    Example: crawler extract saved.html --url http://zaozhuang.dzwww.com/zzxw/202308/t20230824_1.htm
    """
    from crawler.extract import extract as run_extract
    from crawler.fetch import decode_html, fetch_page
    from crawler.netguard import Refused
    from crawler.sources import Cleanup

    cleanup, encoding = Cleanup(), None
    if source_name:
        loaded = env.sources((source_name,))[0].source
        cleanup, encoding = loaded.cleanup, loaded.request.encoding
        allow_private = allow_private or loaded.request.allow_private_targets
    try:
        if file_or_url.startswith(("http://", "https://")):
            html, page_url = fetch_page(file_or_url, encoding=encoding, allow_private=allow_private), url or file_or_url
        else:
            html, page_url = decode_html(Path(file_or_url).read_bytes(), encoding=encoding), url or Path(file_or_url).resolve().as_uri()
        article = run_extract(html, page_url, cleanup)
    except Refused as exc:
        raise click.ClickException(f"{exc} (for `crawler extract`: --allow-private)") from None
    except OSError as exc:
        raise click.ClickException(f"{file_or_url}: {getattr(exc, 'reason', exc)}") from None
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


