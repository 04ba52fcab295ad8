"""`crawler serve`: a read-only web view of the database on Datasette, plus Atom feeds.

Datasette gives tables, facets, sorting, JSON and CSV for free; this module adds
what a crawler database needs on top, as a Datasette plugin:

* metadata: titles, descriptions, column labels, hidden index tables;
* search that works for Chinese: Datasette's search box and the "search" canned
  query both go through :func:`storage.fts.match_query` (Datasette's own
  ``escape_fts`` would quote "营商环境" as one token and find nothing in the
  bigram index);
* article bodies shown as paragraphs, diffs as preformatted text, titles in
  query results linked to their article;
* ``/feeds/<name>.atom``: a feed per source or subscription (crawler/feeds.py).

Datasette opens the file with ``mode=ro``: it never takes the write lock, and
WAL lets the daemon write while pages are read.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import markupsafe
from datasette import hookimpl
from datasette.utils.asgi import Response

from storage.fts import match_query

NOTHING = '"\u0001"'  # an FTS5 query that matches no row, for a query with no searchable text

_CONFIG: dict[str, Any] = {}  # set by make_datasette: the database path and config dir, for the feeds


def fts_query(query: str | None) -> str:
    return match_query(query or "") or NOTHING


def metadata(db_name: str) -> dict[str, Any]:
    listing = "a.id, a.title, a.source, a.published_at, a.author, a.source_name, a.url"
    newest = "ORDER BY COALESCE(a.published_at, a.first_seen) DESC, a.id DESC"
    return {
        "title": "Crawler: collected articles",
        "description": "Articles collected by crawler-monitor, read-only. Search works on Chinese words and on "
        "Traditional or Simplified forms alike.",
        "databases": {
            db_name: {
                "tables": {
                    "articles": {
                        "title": "Articles",
                        "description": "One row per stored article page. duplicate_of points at the article first "
                        "stored with the same text; version counts changes.",
                        "label_column": "title",
                        "fts_table": "articles_fts",
                        "fts_pk": "id",
                        "sort_desc": "id",
                        "facets": ["source"],
                        "columns": {
                            "source": "Source config name",
                            "title": "Title, without the portal's suffix",
                            "body": "Article text as served (paragraphs)",
                            "published_at": "Publish time, Asia/Shanghai",
                            "source_name": "Original source (来源), not the portal",
                            "written_at": "A government notice's 成文日期 (date written), not its publish date",
                            "tables": "The data tables of the body, row by row",
                            "notice": "A government notice's 信息公开 header: 索引号, 发布机构, 发文字号, 成文日期, 发布日期, 主题分类, 有效性",
                            "first_seen": "When the crawler first stored it (UTC)",
                            "duplicate_of": "Same article as this one (stored first)",
                            "flags": "Quality flags, e.g. spam_injection",
                        },
                    },
                    "article_versions": {
                        "title": "Earlier versions",
                        "description": "The text an article had before each change, with a unified diff.",
                    },
                    "crawl_runs": {"title": "Crawl runs", "sort_desc": "id"},
                    "fetch_errors": {"title": "Fetch errors", "description": "Every failed fetch with its URL.", "sort_desc": "id"},
                    "outbox": {"title": "Alert outbox", "description": "Alerts: pending, sent or dead (dead-letter).", "sort_desc": "id"},
                    "decisions": {"title": "Decisions", "description": "new / changed / duplicate / unchanged per fetched page.", "sort_desc": "id"},
                    "lsh_bands": {"hidden": True},
                    "article_minhash": {"hidden": True},
                    "page_validators": {"hidden": True},
                    "list_progress": {"hidden": True},
                },
                "queries": {
                    "latest": {
                        "title": "Latest articles",
                        "sql": f"SELECT {listing} FROM articles a WHERE a.duplicate_of IS NULL {newest} LIMIT 100",
                    },
                    "by_source": {
                        "title": "Latest articles of one source",
                        "sql": f"SELECT {listing} FROM articles a WHERE a.source = :source {newest} LIMIT 100",
                    },
                    "search": {
                        "title": "Search articles",
                        "description": "Every word must occur; Chinese words are found inside sentences, in either script.",
                        "sql": f"SELECT {listing} FROM articles_fts f JOIN articles a ON a.id = f.rowid "
                        f"WHERE articles_fts MATCH fts_query(:q) {newest} LIMIT 100",
                    },
                    "changed": {
                        "title": "Changed articles with their diffs",
                        "sql": "SELECT a.id, a.title, a.source, v.version AS old_version, v.replaced_at, v.diff "
                        "FROM article_versions v JOIN articles a ON a.id = v.article_id ORDER BY v.replaced_at DESC LIMIT 100",
                    },
                    "alert_failures": {
                        "title": "Alert delivery failures",
                        "sql": "SELECT id, status, attempts, subscription, channel, event, article_id, last_error, "
                        "next_attempt_at FROM outbox WHERE status = 'dead' OR (status = 'pending' AND attempts > 0) "
                        "ORDER BY id DESC LIMIT 200",
                    },
                    "runs_with_errors": {
                        "title": "Crawl runs with errors",
                        "sql": "SELECT r.id AS run, r.source, r.started_at, r.status, e.kind, e.status AS http_status, "
                        "e.url, e.message FROM crawl_runs r JOIN fetch_errors e ON e.run_id = r.id "
                        "ORDER BY r.id DESC, e.id LIMIT 200",
                    },
                },
            }
        },
    }


# -- the plugin -----------------------------------------------------------------------------------------


@hookimpl(trylast=True)  # after Datasette's own, so our escape_fts is the one left registered
def prepare_connection(conn) -> None:
    conn.create_function("fts_query", 1, fts_query)
    conn.create_function("escape_fts", 1, fts_query)


def _paragraphs(text: str) -> markupsafe.Markup:
    parts = "".join(
        markupsafe.Markup("<p>{}</p>").format(line) for line in text.split("\n") if line.strip()
    )
    return markupsafe.Markup('<div class="article-body">{}</div>').format(markupsafe.Markup(parts))


def _tables(value: str) -> markupsafe.Markup | None:
    """An article's body tables (JSON rows of cells) as HTML tables."""
    try:
        tables = json.loads(value)
    except ValueError:
        return None
    html = markupsafe.Markup("")
    for rows in tables:
        body = markupsafe.Markup("").join(
            markupsafe.Markup("<tr>{}</tr>").format(markupsafe.Markup("").join(markupsafe.Markup("<td>{}</td>").format(c) for c in row))
            for row in rows)
        html += markupsafe.Markup('<table class="body-table">{}</table>').format(body)
    return html


def _notice(value: str) -> markupsafe.Markup | None:
    """A notice's 信息公开 header as a definition table."""
    from crawler.notice import Notice

    try:
        lines = Notice.from_dict(json.loads(value)).lines()
    except (ValueError, TypeError):
        return None
    rows = markupsafe.Markup("").join(
        markupsafe.Markup("<tr><th>{}</th><td>{}</td></tr>").format(*line.split("：", 1)) for line in lines)
    return markupsafe.Markup('<table class="notice">{}</table>').format(rows)


def _attachments(value: str) -> markupsafe.Markup | None:
    """An article's attachments (crawler/attachments.py) as a list of links with their state."""
    try:
        files = json.loads(value)
    except ValueError:
        return None
    if not files:
        return markupsafe.Markup("")
    items = markupsafe.Markup("").join(
        markupsafe.Markup('<li><a href="{}">{}</a> ({}, {}{})</li>').format(
            f["url"], f["name"], f["kind"], f["status"], f": {f['error']}" if f.get("error") else "")
        for f in files)
    return markupsafe.Markup('<ul class="attachments">{}</ul>').format(items)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if not isinstance(value, str):
        return None
    if column == "body" and table in ("articles", "article_versions"):
        return _paragraphs(value)
    if column == "tables" and table == "articles":
        return _tables(value)
    if column == "notice" and table == "articles":
        return _notice(value)
    if column == "attachments" and table == "articles":
        return _attachments(value)
    if column == "diff":
        return markupsafe.Markup('<pre class="diff">{}</pre>').format(value)
    if column == "title" and table is None and "id" in row.keys():  # canned query results
        href = datasette.urls.table(database, "articles") + f"/{int(row['id'])}"
        return markupsafe.Markup('<a href="{}">{}</a>').format(href, value)
    return None


_CSS = """
.article-body p { margin: 0 0 0.8em 0; line-height: 1.7; max-width: 46em; }
.crawler-article h1 { border: none; padding: 0; }
.article-meta { color: #555; }
.row.table-articles .rows-and-columns .col-body { display: none; }
pre.diff { white-space: pre-wrap; max-width: 60em; }
table.body-table, table.notice { border-collapse: collapse; margin: 0 0 0.8em 0; }
table.body-table td, table.notice th, table.notice td { border: 1px solid #ccc; padding: 2px 6px; }
"""
_CSS_LISTS = ".rows-and-columns .article-body { max-height: 5.2em; overflow: hidden; }"


@hookimpl
def extra_css_urls(view_name):
    urls = ["/-/crawler.css"]
    if view_name != "row":
        urls.append("/-/crawler-lists.css")  # long bodies cut short in tables; whole on an article's page
    return urls


async def _feed(request) -> Response:
    from crawler.alerts.config import load_alerts
    from crawler.feeds import UnknownFeed, build_feed
    from storage import Store

    name = request.url_vars["name"]

    def build() -> bytes:
        with Store(_CONFIG["db"], readonly=True) as store:
            return build_feed(store, name, load_alerts(_CONFIG["config"]), request.url)

    try:
        body = await asyncio.get_running_loop().run_in_executor(None, build)
    except UnknownFeed as exc:
        return Response.text(str(exc), status=404)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@hookimpl
def register_routes():
    return [
        (r"^/feeds/(?P<name>[^/]+)\.atom$", _feed),
        (r"^/-/crawler\.css$", lambda: Response(_CSS, content_type="text/css")),
        (r"^/-/crawler-lists\.css$", lambda: Response(_CSS_LISTS, content_type="text/css")),
    ]


# -- starting it ------------------------------------------------------------------------------------------


def make_datasette(db: Path, config_dir: Path):
    """A Datasette over ``db`` (read-only) with this module's plugin registered."""
    import sys

    from datasette.app import Datasette
    from datasette.plugins import pm

    if not pm.is_registered(sys.modules[__name__]):
        pm.register(sys.modules[__name__], name="crawler-web")
    _CONFIG.update(db=Path(db), config=Path(config_dir))
    return Datasette(
        [str(db)],
        metadata=metadata(Path(db).stem),
        settings={"sql_time_limit_ms": 3000, "truncate_cells_html": 200, "default_page_size": 50},
        template_dir=str(Path(__file__).with_name("web_templates")),
        cors=False,
    )


def serve(db: Path, config_dir: Path, host: str, port: int) -> None:
    import uvicorn

    datasette = make_datasette(db, config_dir)
    asyncio.run(datasette.invoke_startup())
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning")
