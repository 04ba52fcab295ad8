"""The SQLite layer on a real file: schema, migrations, WAL, read-only opening, article outcomes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import SCHEMA_VERSION, Store, StorageError


def _record(**overrides: str) -> dict[str, str]:
    record = {"url": "http://a.example/1.html", "title": "标题", "body": "正文第一段\n正文第二段", "content_hash": "h1"}
    record.update(overrides)
    return record


def test_new_database_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "crawler.db"
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.migrate() == []  # idempotent
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sources", "articles", "crawl_runs", "fetch_errors", "page_validators"} <= tables


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crawler.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer"):
        Store(path)


def test_readonly_store_never_writes(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        Store(tmp_path / "missing.db", readonly=True)
    Store(tmp_path / "c.db").close()
    with Store(tmp_path / "c.db", readonly=True) as store, pytest.raises(StorageError, match="read-only"):
        store.register_source("x", "X", "x.yaml")


def test_article_outcomes_and_lookups(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        store.register_source("s", "源", "s.yaml")
        assert store.save_article("s", _record())[0] == "new"
        assert store.save_article("s", _record())[0] == "unchanged"
        outcome, article_id = store.save_article("s", _record(body="改过的正文", content_hash="h2"))
        assert outcome == "changed"
        assert store.article(article_id)["body"] == "改过的正文"
        assert store.count_articles() == 1
        # Known by URL or canonical URL; unknown URLs are not.
        store.save_article("s", _record(url="http://a.example/2.html?from=x", canonical_url="http://a.example/2.html", content_hash="h3"))
        assert store.fresh_urls(["http://a.example/1.html", "http://a.example/2.html", "http://a.example/3.html"]) == {
            "http://a.example/1.html", "http://a.example/2.html",
        }
        # With a re-check horizon in the future every stored article is due again.
        assert store.fresh_urls(["http://a.example/1.html"], recheck_before="9999") == set()


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        store.register_source("s", "源", "s.yaml")
        with pytest.raises(ValueError, match="lacks"):
            store.save_article("s", _record(body=""))
        with pytest.raises(sqlite3.IntegrityError):
            store.save_article("no-such-source", _record())
        assert store.count_articles() == 0
        store.save_article("s", _record())  # the connection is still usable
        assert store.count_articles() == 1
