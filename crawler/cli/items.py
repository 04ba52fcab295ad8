"""Commands that read what was collected: items, decisions, runs."""

from __future__ import annotations

import json

import click

from crawler.cli import Env, _store, cli

# -- items and runs ----------------------------------------------------------------------------------




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


