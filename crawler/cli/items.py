"""Commands that read what was collected: items (list, show, search, export), feeds, decisions, runs."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from dateutil import parser as date_parser

from crawler.cli import Env, _store, cli
from crawler.dates import SHANGHAI
from crawler.notice import Notice


class Since(click.ParamType):
    """A date or datetime (Asia/Shanghai unless it says otherwise), or an age such as 7d, 12h, 30m."""

    name = "WHEN"
    _AGE = re.compile(r"^(\d+)\s*([dhm])$")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        age = self._AGE.match(str(value).strip().lower())
        if age:
            unit = {"d": "days", "h": "hours", "m": "minutes"}[age.group(2)]
            when = datetime.now(timezone.utc) - timedelta(**{unit: int(age.group(1))})
        else:
            try:
                when = date_parser.isoparse(str(value))
            except ValueError:
                self.fail(f"{value!r} is neither a date (2026-11-01, 2026-11-01T08:00) nor an age (7d, 12h, 30m)", param, ctx)
            if when.tzinfo is None:
                when = when.replace(tzinfo=SHANGHAI)
        return when.isoformat(timespec="seconds")


SINCE_OPTION = click.option(
    "--since", type=Since(), help="Only articles published (or, without a date, first seen) since: 2026-11-01 or 7d."
)


def _echo_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        date = (row["published_at"] or "")[:16].replace("T", " ") or "-"
        dup = f"  (dup of #{row['duplicate_of']})" if row.get("duplicate_of") else ""
        flags = f"  [{', '.join(row['flags'])}]" if row.get("flags") else ""
        click.echo(f"{row['id']:>6}  {date:<16}  {row['source']:<20}  {row['title']}{dup}{flags}")


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
    _echo_rows(rows)
    click.echo(f"({len(rows)} shown; {total} stored including duplicates)", err=True)


@items_group.command("search")
@click.argument("query")
@click.option("--source", help="Only this source.")
@SINCE_OPTION
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many results.")
@click.option("--rank", "by_rank", is_flag=True, help="Best match first (default: newest first).")
@click.option("--all", "with_duplicates", is_flag=True, help="Also list copies found on other portals.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array, bodies included).")
@click.pass_obj
def items_search(
    env: Env, query: str, source: str | None, since: str | None, limit: int, by_rank: bool, with_duplicates: bool,
    as_json: bool,
) -> None:
    """Full-text search of titles and bodies; every word of QUERY must occur.

    Works for Chinese without spaces: a word is found inside a sentence, two-
    character words too, and Traditional and Simplified forms find each other
    ("營商環境" finds "营商环境"). Separate words with spaces to require all.

    Example: crawler items search "营商环境 枣庄" --since 30d
    """
    with _store(env) as store:
        rows = store.search(query, source=source, since=since, limit=limit, duplicates=with_duplicates, by_rank=by_rank)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    _echo_rows(rows)
    click.echo(f"({len(rows)} found)", err=True)


EXPORT_FIELDS = (
    "id", "source", "url", "canonical_url", "title", "published_at", "author", "source_name", "column_name",
    "written_at", "notice", "tables", "attachments", "first_seen", "last_seen", "version", "duplicate_of", "flags", "content_hash", "body",
)


@items_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--source", help="Only this source.")
@SINCE_OPTION
@click.option("--originals", is_flag=True, help="Leave out copies of articles stored from another portal.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-", help="File to write (default: stdout).")
@click.pass_obj
def items_export(env: Env, fmt: str, source: str | None, since: str | None, originals: bool, output) -> None:
    """Write stored articles, oldest first, as JSON lines or CSV (UTF-8, with header).

    Rows are streamed: any number of articles in constant memory. Progress goes
    to stderr.

    Example: crawler items export --format csv --since 2026-11-01 -o articles.csv
    """
    from crawler.progress import Reporter

    with _store(env) as store:
        total = None if since or originals else store.count_articles(source)
        writer = csv.DictWriter(output, EXPORT_FIELDS, extrasaction="ignore") if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        with Reporter("exporting articles", total) as progress:
            for row in store.iter_articles(source=source, since=since, duplicates=not originals):
                if writer is not None:
                    notice = row.get("notice")
                    writer.writerow({**row, "flags": ",".join(row["flags"]),
                                     "notice": json.dumps(notice, ensure_ascii=False) if notice else None,
                                     "tables": json.dumps(row["tables"], ensure_ascii=False) if row.get("tables") else None,
                                     "attachments": json.dumps(row["attachments"], ensure_ascii=False) if row.get("attachments") else None})
                else:
                    output.write(json.dumps({k: row.get(k) for k in EXPORT_FIELDS}, ensure_ascii=False) + "\n")
                progress.advance()
        exported = progress.done
    output.flush()
    if output is not sys.stdout:
        output.close()
    click.echo(f"{exported} article(s) exported", err=True)


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
    for key in ("id", "source", "title", "published_at", "author", "source_name", "column_name", "url",
                "canonical_url", "first_seen", "last_seen", "version", "duplicate_of"):
        click.echo(f"{key + ':':<15}{row[key] if row[key] is not None else '-'}")
    if row["flags"]:
        click.echo(f"{'flags:':<15}{', '.join(row['flags'])}")
    if row.get("notice"):  # a government notice's 信息公开 header
        for line in Notice.from_dict(row["notice"]).lines():
            click.echo(line)
    for entry in row.get("attachments") or []:
        state = f"{entry['kind']}, {entry['status']}" + (f": {entry['error']}" if entry.get("error") else "")
        click.echo(f"{'attachment:':<15}{entry['name']} ({state}) {entry['url']}")
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

    Every fetched article page gets exactly one decision per crawl; a copy that became its
    story's best copy (the one listings show) gets a second, ``representative``, saying why.

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


