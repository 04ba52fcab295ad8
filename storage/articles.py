"""Articles: the identity decision (new / changed / duplicate / unchanged) and look-ups.

``ingest`` decides and writes in one ``BEGIN IMMEDIATE`` transaction, so two
crawls running at once can never both store the same article as new. The
similarity arithmetic lives in ``crawler.dedupe``; this module only asks the
index for candidates and hands them to the caller's matcher.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from storage import fts
from storage.clock import utcnow

Outcome = Literal["new", "changed", "duplicate", "unchanged"]

ARTICLE_FIELDS = (
    "url", "url_key", "canonical_url", "title", "body", "published_at", "author", "source_name", "content_hash",
    "encoding", "etag", "last_modified", "column_name",
)


class Identity(Protocol):
    content_hash: str
    shingles: int

    @property
    def band_keys(self) -> list[int]: ...

    def signature_bytes(self) -> bytes: ...


# A matcher gets [(article_id, signature bytes, shingles)] and a body loader; returns (article_id, detail) or None.
Matcher = Callable[[list[tuple[int, bytes, int]], Callable[[int], str]], "tuple[int, str] | None"]
Differ = Callable[[str, str], str]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    article_id: int
    detail: str = ""
    duplicate_of: int | None = None
    diff: str | None = None



def _chunks(items: list[str], size: int = 400) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ArticleQueries:
    """Mixed into :class:`storage.Store`; relies on its ``db`` and ``write``."""

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

    def article_validator(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM articles WHERE url = ?", [url]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    # -- the identity decision ---------------------------------------------------------------
    def ingest(
        self,
        source: str,
        record: dict[str, Any],
        identity: Identity,
        matcher: Matcher,
        differ: Differ,
        *,
        run_id: int | None = None,
        flags: list[str] | None = None,
        band_keys_of: Callable[[bytes], list[int]] | None = None,
        router: Callable[[str, Decision, dict[str, Any], list[str]], list[dict[str, Any]]] | None = None,
        index: tuple[str, str] | None = None,
    ) -> Decision:
        """Decide what a fetched article is and store it accordingly, in one transaction.

        ``band_keys_of`` turns a stored signature back into its band keys, so that
        a changed article's old index entries can be removed by key. ``router``
        turns the decision into outbox rows, written in the same transaction:
        an article is never stored without its alerts, nor alerted twice.
        ``index``: the title and body as segmented for search (``fts.index_text``),
        when the caller computed them already (the crawl does, in its extraction pool).
        """
        missing = [name for name in ("url", "title", "body") if not record.get(name)]
        if missing:
            raise ValueError(f"article record lacks {', '.join(missing)}")
        values = {name: record.get(name) for name in ARTICLE_FIELDS}
        values["content_hash"] = identity.content_hash
        values["url_key"] = values["url_key"] or values["url"]
        values["flags"] = json.dumps(sorted(flags or []), ensure_ascii=False)
        now = utcnow()
        with self.write() as db:
            row = db.execute(
                "SELECT id, content_hash, title, body, version, duplicate_of FROM articles WHERE url = ? OR url_key = ? "
                "ORDER BY url = ? DESC LIMIT 1",
                [values["url"], values["url_key"], values["url"]],
            ).fetchone()
            if row is not None:
                decision = self._update(db, row, values, identity, differ, now, band_keys_of, index)
            else:
                decision = self._insert(db, source, values, identity, matcher, now, index)
            db.execute(
                "INSERT INTO decisions (run_id, source, url, article_id, decision, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, source, values["url"], decision.article_id, decision.outcome, decision.detail, now],
            )
            if router is not None and decision.outcome in ("new", "changed"):
                version = db.execute("SELECT version FROM articles WHERE id = ?", [decision.article_id]).fetchone()[0]
                self._enqueue(db, router(source, decision, {**values, "version": version}, flags or []))
        return decision

    def _update(self, db, row, values, identity, differ, now, band_keys_of, index=None) -> Decision:
        article_id, old_hash, old_title, old_body, version, duplicate_of = row
        if old_hash == values["content_hash"]:
            db.execute(
                "UPDATE articles SET last_seen = ?, last_fetched = ?, etag = ?, last_modified = ? WHERE id = ?",
                [now, now, values["etag"], values["last_modified"], article_id],
            )
            return Decision("unchanged", article_id, duplicate_of=duplicate_of)
        diff = differ(f"{old_title}\n{old_body}", f"{values['title']}\n{values['body']}")
        db.execute(
            "INSERT INTO article_versions (article_id, version, title, body, content_hash, replaced_at, diff) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [article_id, version or 1, old_title, old_body, old_hash, now, diff],
        )
        if duplicate_of is None:
            clash = db.execute(
                "SELECT id FROM articles WHERE content_hash = ? AND duplicate_of IS NULL AND id != ?",
                [values["content_hash"], article_id],
            ).fetchone()
            if clash:  # edited into a copy of another stored article
                duplicate_of = clash[0]
        assignments = ", ".join(f"{name} = ?" for name in values)
        db.execute(
            f"UPDATE articles SET {assignments}, duplicate_of = ?, version = ?, last_seen = ?, last_fetched = ? WHERE id = ?",
            [*values.values(), duplicate_of, (version or 1) + 1, now, now, article_id],
        )
        db.execute(fts.UPSERT, (article_id, *index) if index else fts.fts_row(article_id, values["title"], values["body"]))
        self._index(db, article_id, identity if duplicate_of is None else None, band_keys_of)
        return Decision("changed", article_id, f"version {(version or 1) + 1}", duplicate_of, diff)

    def _insert(self, db, source, values, identity, matcher, now, index=None) -> Decision:
        canonical = values.get("canonical_url")
        if canonical and canonical != values["url"]:
            hit = db.execute(
                "SELECT id FROM articles WHERE url = ? OR canonical_url = ? LIMIT 1", [canonical, canonical]
            ).fetchone()
            if hit:
                return self._alias(db, source, values, hit[0], "canonical link", now)
        exact = db.execute(
            "SELECT id, source FROM articles WHERE content_hash = ? AND duplicate_of IS NULL", [values["content_hash"]]
        ).fetchone()
        if exact and exact[1] == source:
            return self._alias(db, source, values, exact[0], "same text under another URL", now)
        original, detail = (exact[0], "same text") if exact else (None, "")
        if original is None:
            candidates = self._candidates(db, identity.band_keys)
            load_body = lambda article_id: db.execute("SELECT body FROM articles WHERE id = ?", [article_id]).fetchone()[0]  # noqa: E731
            match = matcher(candidates, load_body) if candidates else None
            if match is not None:
                original, detail = match
        columns = ["source", *values, "duplicate_of", "version", "first_seen", "last_seen", "last_fetched"]
        cur = db.execute(
            f"INSERT INTO articles ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [source, *values.values(), original, 1, now, now, now],
        )
        article_id = int(cur.lastrowid)
        db.execute(fts.UPSERT, (article_id, *index) if index else fts.fts_row(article_id, values["title"], values["body"]))
        if original is None:
            self._index(db, article_id, identity)
            return Decision("new", article_id)
        return Decision("duplicate", article_id, f"{detail} as #{original}", original)

    @staticmethod
    def _alias(db, source, values, article_id, reason, now) -> Decision:
        db.execute(
            "INSERT OR IGNORE INTO url_aliases (url, url_key, article_id, source, reason, first_seen) VALUES (?, ?, ?, ?, ?, ?)",
            [values["url"], values["url_key"], article_id, source, reason, now],
        )
        return Decision("duplicate", article_id, f"alias of #{article_id}: {reason}", article_id)

    @staticmethod
    def _candidates(db, keys: list[int]) -> list[tuple[int, bytes, int]]:
        marks = ",".join("?" * len(keys))
        return db.execute(
            f"SELECT m.article_id, m.minhash, m.shingles FROM article_minhash m WHERE m.article_id IN "
            f"(SELECT DISTINCT article_id FROM lsh_bands WHERE key IN ({marks}))",
            keys,
        ).fetchall()

    @staticmethod
    def _index(db, article_id: int, identity: Identity | None, band_keys_of=None) -> None:
        """(Re)place the article in the near-duplicate index; None takes it out."""
        old = db.execute("SELECT minhash FROM article_minhash WHERE article_id = ?", [article_id]).fetchone()
        if old is not None:
            if band_keys_of is None:
                raise ValueError("band_keys_of is needed to re-index a changed article")
            db.conn.executemany(
                "DELETE FROM lsh_bands WHERE key = ? AND article_id = ?", [(k, article_id) for k in band_keys_of(old[0])]
            )
            db.execute("DELETE FROM article_minhash WHERE article_id = ?", [article_id])
        if identity is None:
            return
        db.execute(
            "INSERT INTO article_minhash (article_id, shingles, minhash) VALUES (?, ?, ?)",
            [article_id, identity.shingles, identity.signature_bytes()],
        )
        db.conn.executemany(
            "INSERT OR IGNORE INTO lsh_bands (key, article_id) VALUES (?, ?)",
            [(key, article_id) for key in identity.band_keys],
        )

    def bulk_index(self, source: str, rows: list[tuple[str, str, bytes, int, list[int]]]) -> None:
        """Load many original articles at once: (url, content_hash, signature, shingles, band keys).

        For benchmarks and imports: no decision is taken, bodies are left short.
        """
        now = utcnow()
        with self.write() as db:
            for url, content_hash, signature, shingles, keys in rows:
                cur = db.execute(
                    "INSERT INTO articles (source, url, url_key, title, body, content_hash, version, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
                    [source, url, url, url, "-", content_hash, now, now],
                )
                article_id = cur.lastrowid
                db.execute(fts.UPSERT, fts.fts_row(article_id, url, "-"))
                db.execute(
                    "INSERT INTO article_minhash (article_id, shingles, minhash) VALUES (?, ?, ?)",
                    [article_id, shingles, signature],
                )
                db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (key, article_id) VALUES (?, ?)", [(k, article_id) for k in keys])

    def touch_article(self, url: str) -> None:
        """Record that a stored article was confirmed unchanged (e.g. a 304)."""
        now = utcnow()
        with self.write() as db:
            db.execute("UPDATE articles SET last_seen = ?, last_fetched = ? WHERE url = ?", [now, now, url])

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
        return row
