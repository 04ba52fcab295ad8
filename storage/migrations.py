"""Named, ordered schema migrations.

Each migration is applied once, inside a transaction, and bumps
``PRAGMA user_version``. Never edit a released migration: append a new one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from storage import fts


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {"name": str, "title": str, "config_file": str, "first_seen": str, "last_crawl_at": str},
        pk="name",
        if_not_exists=True,
    )
    db.table("articles").create(
        {
            "id": int,
            "source": str,
            "url": str,
            "canonical_url": str,
            "title": str,
            "body": str,
            "published_at": str,
            "author": str,
            "source_name": str,
            "content_hash": str,
            "encoding": str,
            "first_seen": str,
            "last_seen": str,
            "last_fetched": str,
            "etag": str,
            "last_modified": str,
            "flags": str,
        },
        pk="id",
        not_null={"source", "url", "title", "body", "content_hash", "first_seen", "last_seen"},
        foreign_keys=[("source", "sources", "name")],
        if_not_exists=True,
    )
    db.table("articles").create_index(["url"], unique=True, if_not_exists=True)
    db.table("articles").create_index(["canonical_url"], if_not_exists=True)
    db.table("articles").create_index(["content_hash"], if_not_exists=True)
    db.table("articles").create_index(["source", "first_seen"], if_not_exists=True)
    db.table("page_validators").create(
        {"url": str, "etag": str, "last_modified": str, "updated_at": str},
        pk="url",
        if_not_exists=True,
    )
    db.table("crawl_runs").create(
        {
            "id": int,
            "source": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "finish_reason": str,
            "pages_fetched": int,
            "not_modified": int,
            "articles_new": int,
            "articles_changed": int,
            "articles_unchanged": int,
            "errors": int,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("crawl_runs").create_index(["source", "started_at"], if_not_exists=True)
    db.table("fetch_errors").create(
        {
            "id": int,
            "run_id": int,
            "source": str,
            "url": str,
            "kind": str,
            "status": int,
            "message": str,
            "at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "crawl_runs", "id")],
        if_not_exists=True,
    )
    db.table("fetch_errors").create_index(["source", "at"], if_not_exists=True)


def _m002_schedule_state(db: sqlite_utils.Database) -> None:
    db.table("crawl_runs").add_column("pid", int)
    # complete = 0 from the start of a crawl of the start URL until it finished cleanly.
    db.table("list_progress").create(
        {"start_url": str, "source": str, "complete": int, "updated_at": str}, pk="start_url", if_not_exists=True
    )
    db.table("schedule_state").create(
        {
            "source": str,
            "last_run_at": str,
            "last_status": str,
            "next_run_at": str,
            "failures": int,
            "backoff_until": str,
            "last_error": str,
        },
        pk="source",
        if_not_exists=True,
    )


def _m003_identity(db: sqlite_utils.Database) -> None:
    db.table("crawl_runs").add_column("articles_duplicate", int)
    articles = db.table("articles")
    articles.add_column("url_key", str)
    articles.add_column("duplicate_of", int)
    articles.add_column("version", int)
    db.execute("UPDATE articles SET version = 1 WHERE version IS NULL")
    articles.create_index(["url_key"], if_not_exists=True)
    articles.create_index(["duplicate_of"], if_not_exists=True)
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_articles_original_hash ON articles(content_hash) WHERE duplicate_of IS NULL"
    )
    db.table("url_aliases").create(
        {"url": str, "url_key": str, "article_id": int, "source": str, "reason": str, "first_seen": str},
        pk="url",
        foreign_keys=[("article_id", "articles", "id")],
        if_not_exists=True,
    )
    db.table("url_aliases").create_index(["url_key"], if_not_exists=True)
    db.table("article_versions").create(
        {
            "id": int, "article_id": int, "version": int, "title": str, "body": str, "content_hash": str,
            "replaced_at": str, "diff": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
        if_not_exists=True,
    )
    db.table("article_versions").create_index(["article_id", "version"], unique=True, if_not_exists=True)
    db.table("article_minhash").create(
        {"article_id": int, "shingles": int, "minhash": bytes}, pk="article_id", if_not_exists=True
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS lsh_bands (key INTEGER NOT NULL, article_id INTEGER NOT NULL, "
        "PRIMARY KEY (key, article_id)) WITHOUT ROWID"
    )
    db.table("decisions").create(
        {"id": int, "run_id": int, "source": str, "url": str, "article_id": int, "decision": str, "detail": str, "at": str},
        pk="id",
        if_not_exists=True,
    )
    db.table("decisions").create_index(["run_id"], if_not_exists=True)
    db.table("decisions").create_index(["article_id"], if_not_exists=True)


def _m004_outbox(db: sqlite_utils.Database) -> None:
    db.table("outbox").create(
        {
            "id": int, "key": str, "subscription": str, "channel": str, "article_id": int, "version": int,
            "event": str, "digest": int, "status": str, "attempts": int, "not_before": str, "next_attempt_at": str,
            "batch_id": int, "last_error": str, "created_at": str, "sent_at": str, "payload": str,
        },
        pk="id",
        not_null={"key", "subscription", "channel", "event", "status"},
        if_not_exists=True,
    )
    db.table("outbox").create_index(["key"], unique=True, if_not_exists=True)
    db.table("outbox").create_index(["status", "next_attempt_at"], if_not_exists=True)
    db.table("outbox").create_index(["batch_id"], if_not_exists=True)
    db.table("outbox_attempts").create(
        {"id": int, "batch_id": int, "at": str, "ok": int, "status": int, "error": str},
        pk="id",
        if_not_exists=True,
    )
    db.table("outbox_attempts").create_index(["batch_id"], if_not_exists=True)
    # Source health for the operators' alerts: one row per (source, condition) that was ever seen.
    db.table("source_health").create(
        {"source": str, "condition": str, "active": int, "since": str, "detail": str, "changed_at": str},
        pk=("source", "condition"),
        if_not_exists=True,
    )


def _m005_search(db: sqlite_utils.Database) -> None:
    """Full-text search over segmented title and body (storage/fts.py says why segmented)."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(title, body, tokenize = 'unicode61')")
    rows = db.execute("SELECT id, title, body FROM articles")
    while batch := rows.fetchmany(500):
        db.conn.executemany(fts.UPSERT, [fts.fts_row(*row) for row in batch])


def _m006_newest_first(db: sqlite_utils.Database) -> None:
    """Indexes for "newest first" listings (items list, feeds, the web view): no scan and sort of every article."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_articles_newest ON articles (COALESCE(published_at, first_seen), id)")
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_articles_source_newest ON articles (source, COALESCE(published_at, first_seen), id)"
    )


def _m007_column(db: sqlite_utils.Database) -> None:
    """The portal's column of an article (Hanweb/TRS meta ColumnName), when the page names it."""
    if "column_name" not in db.table("articles").columns_dict:
        db.table("articles").add_column("column_name", str)


def _m008_stories(db: sqlite_utils.Database) -> None:
    """Stories: every copy of one article shares the id of its first copy (``story_id``); the story's
    representative is its row with ``duplicate_of IS NULL``. ``source_role``: primary or aggregator,
    as the source was configured when the copy was stored (it ranks the copies)."""
    articles = db.table("articles")
    columns = articles.columns_dict
    if "story_id" not in columns:
        articles.add_column("story_id", int)
    if "source_role" not in columns:
        articles.add_column("source_role", str)
    db.execute("UPDATE articles SET story_id = COALESCE(duplicate_of, id) WHERE story_id IS NULL")
    articles.create_index(["story_id"], if_not_exists=True)


def _m009_adaptive_interval(db: sqlite_utils.Database) -> None:
    """The poll interval adaptive polling chose after the last crawl, and why (crawler/rhythm.py)."""
    table = db.table("schedule_state")
    columns = table.columns_dict
    if "interval_seconds" not in columns:
        table.add_column("interval_seconds", float)
    if "interval_reason" not in columns:
        table.add_column("interval_reason", str)


def _m010_notices(db: sqlite_utils.Database) -> None:
    """Government notices (crawler/notice.py): the 信息公开 header as JSON, and the date the document
    was written (成文日期; ``published_at`` stays the publish date)."""
    articles = db.table("articles")
    columns = articles.columns_dict
    if "written_at" not in columns:
        articles.add_column("written_at", str)
    if "notice" not in columns:
        articles.add_column("notice", str)


def _m011_tables(db: sqlite_utils.Database) -> None:
    """The data tables of an article's body as JSON rows of cells (crawler/tables.py)."""
    if "tables" not in db.table("articles").columns_dict:
        db.table("articles").add_column("tables", str)


def _m012_attachments(db: sqlite_utils.Database) -> None:
    """Attachments (crawler/attachments.py): each article's manifest as JSON, and each file's text
    once by its content hash."""
    if "attachments" not in db.table("articles").columns_dict:
        db.table("articles").add_column("attachments", str)
    db.execute(
        "CREATE TABLE IF NOT EXISTS attachment_texts (sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL, size INTEGER NOT NULL, "
        "text TEXT NOT NULL, first_seen TEXT NOT NULL)"
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _m001_initial),
    ("002_schedule_state", _m002_schedule_state),
    ("003_identity", _m003_identity),
    ("004_outbox", _m004_outbox),
    ("005_search", _m005_search),
    ("006_newest_first", _m006_newest_first),
    ("007_column", _m007_column),
    ("008_stories", _m008_stories),
    ("009_adaptive_interval", _m009_adaptive_interval),
    ("010_notices", _m010_notices),
    ("011_tables", _m011_tables),
    ("012_attachments", _m012_attachments),
]
