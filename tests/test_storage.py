"""The SQLite layer on a real file: schema, migrations, WAL, read-only opening, article outcomes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crawler.dedupe import band_keys, fingerprint
from crawler.identity import decider
from storage import SCHEMA_VERSION, StorageError, Store

BODY = "枣庄市召开社会信用体系建设推进会，部署下一阶段重点任务。\n会议要求各部门加强协调配合，形成工作合力，确保各项任务按期完成。"


def _record(**overrides: str) -> dict[str, str]:
    record = {"url": "http://a.example/1.html", "title": "标题", "body": BODY}
    record.update(overrides)
    return record


def _ingest(store: Store, source: str = "s", **overrides: str):
    record = _record(**overrides)
    identity = fingerprint(record["title"], record["body"])
    return store.ingest(source, record, identity, decider(source, record, identity), band_keys_of=band_keys)


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
        first = _ingest(store)
        assert first.outcome == "new"
        assert _ingest(store).outcome == "unchanged"
        changed = _ingest(store, body=BODY + "\n新增一段内容，说明会议的后续安排和具体要求。")
        assert changed.outcome == "changed" and changed.article_id == first.article_id
        assert "+新增一段内容" in changed.diff
        assert [v["version"] for v in store.versions(first.article_id)] == [1]
        assert store.article(first.article_id)["version"] == 2
        # The index holds the new text's bands only.
        indexed = {row[0] for row in store.db.execute("SELECT key FROM lsh_bands WHERE article_id = ?", [first.article_id])}
        assert indexed == set(fingerprint("标题", BODY + "\n新增一段内容，说明会议的后续安排和具体要求。").band_keys)
        # The same text under another URL of the same source is an alias, not an article.
        alias = _ingest(store, url="http://a.example/print/1.html", body=BODY + "\n新增一段内容，说明会议的后续安排和具体要求。")
        assert alias.outcome == "duplicate" and alias.article_id == first.article_id
        assert store.count_articles() == 1
        assert store.fresh_urls(["http://a.example/1.html", "http://a.example/print/1.html", "http://a.example/3.html"]) == {
            "http://a.example/1.html", "http://a.example/print/1.html",
        }
        # With a re-check horizon in the future every stored article is due again (aliases never are).
        assert store.fresh_urls(["http://a.example/1.html"], recheck_before="9999") == set()
        outcomes = [d["decision"] for d in store.decisions()]
        assert outcomes == ["duplicate", "changed", "unchanged", "new"]


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        store.register_source("s", "源", "s.yaml")
        with pytest.raises(ValueError, match="lacks"):
            _ingest(store, body="")
        with pytest.raises(sqlite3.IntegrityError):
            _ingest(store, source="no-such-source")
        assert store.count_articles() == 0
        assert store.decisions() == []  # the decision row went with the rollback
        _ingest(store)  # the connection is still usable
        assert store.count_articles() == 1
