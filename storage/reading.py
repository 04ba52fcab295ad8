"""Reading articles: what the spider asks before fetching, and what the CLI, the web view and
exports list, search and show."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from storage import fts


def _chunks(items: list[str], size: int = 400) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ArticleReads:
    """Mixed into :class:`storage.Store`; relies on its ``db``."""

    # -- look-ups for the spider ---------------------------------------------------------------
    def fresh_urls(self, urls: dict[str, str] | Iterable[str], recheck_before: str | None = None) -> set[str]:
        """The URLs already stored or known as aliases that need no fetch.

        ``urls`` maps each URL to its identity key (see crawler.normalize.url_key);
        a plain iterable uses the URLs as keys. With ``recheck_before`` (an ISO
        timestamp), an article last fetched before it is due again.
        """
        keys = dict(urls) if isinstance(urls, dict) else {u: u for u in urls}
        by_key: dict[str, list[str]] = {}
        for url, key in keys.items():
            by_key.setdefault(key, []).append(url)
        fresh: set[str] = set()
        wanted = list(by_key)
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT url_key, last_fetched FROM articles WHERE url_key IN ({marks}) "
                f"UNION ALL SELECT url_key, NULL FROM url_aliases WHERE url_key IN ({marks})",
                [*chunk, *chunk],
            ).fetchall()
            rows += self.db.execute(
                f"SELECT url, last_fetched FROM articles WHERE url IN ({marks})", chunk
            ).fetchall()
            for key, last_fetched in rows:
                if recheck_before is not None and last_fetched is not None and last_fetched < recheck_before:
                    continue
                fresh.update(by_key.get(key, []))
        return fresh

    def recent_articles(self, source: str, first_seen_after: str) -> list[tuple[str, str, str | None, str | None]]:
        """(url, first_seen, last_fetched, published_at) of the source's articles first seen after the time."""
        return self.db.execute(
            "SELECT url, first_seen, last_fetched, published_at FROM articles WHERE source = ? AND first_seen > ? "
            "ORDER BY first_seen",
            [source, first_seen_after],
        ).fetchall()

    def article_validator(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM articles WHERE url = ?", [url]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    # -- reading -------------------------------------------------------------------------------
    def articles(
        self, source: str | list[str] | None = None, limit: int = 50, *, duplicates: bool = True
    ) -> list[dict[str, Any]]:
        """The newest articles (by publish date, else first seen), of one source or several."""
        where, params = self._filters(source, None, duplicates)
        sql = (
            f"SELECT a.* FROM articles a {'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY COALESCE(a.published_at, a.first_seen) DESC, a.id DESC LIMIT ?"
        )
        return [self._decode(row) for row in self.db.query(sql, [*params, limit])]

    def search(
        self, query: str, *, source: str | None = None, since: str | None = None, limit: int = 50,
        duplicates: bool = False, by_rank: bool = False,
    ) -> list[dict[str, Any]]:
        """Articles whose title or body contains every term of ``query`` (storage/fts.py).

        ``since`` is an ISO date or datetime: published (or, without a date, first
        seen) at or after it. Newest first, or best match first with ``by_rank``.
        """
        match = fts.match_query(query)
        if match is None:
            return []
        where, params = self._filters(source, since, duplicates)
        order = "f.rank" if by_rank else "COALESCE(a.published_at, a.first_seen) DESC, a.id DESC"
        sql = (
            f"SELECT a.* FROM articles_fts f JOIN articles a ON a.id = f.rowid WHERE articles_fts MATCH ? "
            f"{''.join(' AND ' + c for c in where)} ORDER BY {order} LIMIT ?"
        )
        return [self._decode(row) for row in self.db.query(sql, [match, *params, limit])]

    def iter_articles(
        self, *, source: str | None = None, since: str | None = None, duplicates: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Every matching article in id order, one row at a time (for exports of any size)."""
        where, params = self._filters(source, since, duplicates)
        sql = f"SELECT a.* FROM articles a {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY a.id"
        for row in self.db.query(sql, params):
            yield self._decode(row)

    @staticmethod
    def _filters(source: str | list[str] | None, since: str | None, duplicates: bool) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if isinstance(source, list):
            clauses.append(f"a.source IN ({','.join('?' * len(source))})")
            params.extend(source)
        elif source:
            clauses.append("a.source = ?")
            params.append(source)
        if since:
            # julianday() reads the offsets (+08:00, +00:00), so local and UTC times compare correctly.
            clauses.append("julianday(COALESCE(a.published_at, a.first_seen)) >= julianday(?)")
            params.append(since)
        if not duplicates:
            clauses.append("+a.duplicate_of IS NULL")  # unary +: never the duplicate_of index (NULL for most rows)
        return clauses, params

    def article(self, article_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return self._decode(rows[0]) if rows else None

    def last_change(self, article: dict[str, Any]) -> str:
        """When the article's current text appeared: first seen, or when its last version was replaced."""
        row = self.db.execute(
            "SELECT MAX(replaced_at) FROM article_versions WHERE article_id = ?", [article["id"]]
        ).fetchone()
        return row[0] or article["first_seen"]

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM article_versions WHERE article_id = ? ORDER BY version", [article_id]))

    def copies(self, article_id: int) -> list[dict[str, Any]]:
        """Articles stored as duplicates of this one (other portals, reposts)."""
        return list(self.db.query("SELECT id, source, url FROM articles WHERE duplicate_of = ? ORDER BY id", [article_id]))

    def aliases(self, article_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM url_aliases WHERE article_id = ? ORDER BY first_seen", [article_id]))

    def decisions(self, run_id: int | None = None, article_id: int | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        clauses, params = [], []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if article_id is not None:
            clauses.append("article_id = ?")
            params.append(article_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return list(self.db.query(f"SELECT * FROM decisions {where} ORDER BY id DESC LIMIT ?", [*params, limit]))

    def count_articles(self, source: str | None = None) -> int:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return int(self.db.execute(f"SELECT COUNT(*) FROM articles {where}", params).fetchone()[0])

    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        row["flags"] = json.loads(row["flags"]) if row.get("flags") else []
        for key in ("notice", "tables", "attachments"):
            if key in row:
                row[key] = json.loads(row[key]) if row[key] else None
        return row
