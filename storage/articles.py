"""Articles: insert, update on a real change, look-ups for the spider and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Literal

Outcome = Literal["new", "changed", "unchanged"]

ARTICLE_FIELDS = (
    "url",
    "canonical_url",
    "title",
    "body",
    "published_at",
    "author",
    "source_name",
    "content_hash",
    "encoding",
    "etag",
    "last_modified",
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ArticleQueries:
    """Mixed into :class:`storage.Store`; relies on its ``db`` and ``write``."""

    def fresh_urls(self, urls: Iterable[str], recheck_before: str | None = None) -> set[str]:
        """The subset of ``urls`` already stored (by URL or canonical URL) that need no re-fetch.

        With ``recheck_before`` (an ISO timestamp), an article last fetched
        before it is due again and therefore not in the result.
        """
        wanted = list(dict.fromkeys(urls))
        fresh: set[str] = set()
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT url, canonical_url, last_fetched FROM articles "
                f"WHERE url IN ({marks}) OR canonical_url IN ({marks})"
            )
            for url, canonical, last_fetched in self.db.execute(sql, [*chunk, *chunk]):
                if recheck_before is not None and (last_fetched or "") < recheck_before:
                    continue
                fresh.add(url)
                if canonical:
                    fresh.add(canonical)
        return fresh & set(wanted)

    def article_validator(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM articles WHERE url = ?", [url]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_article(self, source: str, record: dict[str, Any], flags: list[str] | None = None) -> tuple[Outcome, int]:
        """Insert a new article or update the stored one; return the outcome and the row id.

        Unchanged content only moves ``last_seen``/``last_fetched``; a changed
        content hash replaces the stored text (versions come with the dedupe work).
        """
        missing = [name for name in ("url", "title", "body", "content_hash") if not record.get(name)]
        if missing:
            raise ValueError(f"article record lacks {', '.join(missing)}")
        now = _now()
        values = {name: record.get(name) for name in ARTICLE_FIELDS}
        values["flags"] = json.dumps(sorted(flags or []), ensure_ascii=False)
        with self.write() as db:
            row = db.execute("SELECT id, content_hash FROM articles WHERE url = ?", [values["url"]]).fetchone()
            if row is None:
                columns = ["source", *values, "first_seen", "last_seen", "last_fetched"]
                cur = db.execute(
                    f"INSERT INTO articles ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    [source, *values.values(), now, now, now],
                )
                return "new", int(cur.lastrowid)
            article_id, old_hash = row
            if old_hash == values["content_hash"]:
                db.execute(
                    "UPDATE articles SET last_seen = ?, last_fetched = ?, etag = ?, last_modified = ? WHERE id = ?",
                    [now, now, values["etag"], values["last_modified"], article_id],
                )
                return "unchanged", int(article_id)
            assignments = ", ".join(f"{name} = ?" for name in values)
            db.execute(
                f"UPDATE articles SET {assignments}, last_seen = ?, last_fetched = ? WHERE id = ?",
                [*values.values(), now, now, article_id],
            )
            return "changed", int(article_id)

    def touch_article(self, url: str) -> None:
        """Record that a stored article was confirmed unchanged (e.g. a 304)."""
        now = _now()
        with self.write() as db:
            db.execute("UPDATE articles SET last_seen = ?, last_fetched = ? WHERE url = ?", [now, now, url])

    def articles(self, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        sql = (
            f"SELECT * FROM articles {where} "
            "ORDER BY COALESCE(published_at, first_seen) DESC, id DESC LIMIT ?"
        )
        return [self._decode(row) for row in self.db.query(sql, [*params, limit])]

    def article(self, article_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return self._decode(rows[0]) if rows else None

    def count_articles(self, source: str | None = None) -> int:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return int(self.db.execute(f"SELECT COUNT(*) FROM articles {where}", params).fetchone()[0])

    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        row["flags"] = json.loads(row["flags"]) if row.get("flags") else []
        return row
