"""Articles: storing what the identity decision chose (new / changed / duplicate / unchanged).

``ingest`` asks the decision and writes in one ``BEGIN IMMEDIATE`` transaction, so
two crawls running at once can never both store the same article as new. The policy
(what counts as the same article, a copy, an edit) lives in ``crawler.identity``
and the similarity arithmetic in ``crawler.dedupe``; this module hands them what is
stored and carries out their :class:`Plan`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from storage import fts
from storage.clock import utcnow
from storage.records import Decision, Identity, Known, Lookups, Plan, StoredArticle

__all__ = ["ARTICLE_FIELDS", "ArticleWrites", "Decision", "Known", "Lookups", "Plan", "StoredArticle"]

MAX_CANDIDATES = 64  # near-duplicate candidates read per article (the matcher checks 20 exactly)

ARTICLE_FIELDS = (
    "url", "url_key", "canonical_url", "title", "body", "published_at", "author", "source_name", "content_hash",
    "encoding", "etag", "last_modified", "column_name", "source_role", "written_at", "notice", "tables",
    "attachments",
)


class ArticleWrites:
    """Mixed into :class:`storage.Store`; relies on its ``db`` and ``write``."""

    # -- the identity decision ---------------------------------------------------------------
    def ingest(
        self,
        source: str,
        record: dict[str, Any],
        identity: Identity,
        decide: Callable[[Known, Lookups], Plan],
        *,
        run_id: int | None = None,
        flags: list[str] | None = None,
        band_keys_of: Callable[[bytes], list[int]] | None = None,
        index: tuple[str, str] | None = None,
    ) -> Decision:
        """Store a fetched article as ``decide`` says, in one transaction (a savepoint inside a batch).

        ``decide`` (crawler/identity.py: the policy) gets what is stored about the page
        (:class:`Known`) and look-ups for the rest (:class:`Lookups`) and returns a
        :class:`Plan`; this method only carries it out. ``band_keys_of`` turns a stored
        signature back into its band keys, so that a changed article's old index entries
        can be removed by key. ``index``: the title and body as segmented for search (``fts.index_text``),
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
            known = self._known(db, values)
            plan = decide(known, Lookups(db, self._candidates))
            if plan.attachments is not None:
                values["attachments"] = plan.attachments
            decision = self._carry_out(db, source, values, identity, plan, known, now, band_keys_of, index,
                                       record.get("search_text"))
            texts = record.get("attachment_texts") or {}
            if texts and (plan.action in ("insert", "revise") or plan.attachments is not None):
                kinds = {e["sha256"]: (e["kind"], e["size"]) for e in json.loads(values["attachments"] or "[]") if e.get("sha256")}
                db.conn.executemany(
                    "INSERT OR IGNORE INTO attachment_texts (sha256, kind, size, text, first_seen) VALUES (?, ?, ?, ?, ?)",
                    [(sha, *kinds[sha], text, now) for sha, text in texts.items() if sha in kinds],
                )
            rows = [(decision.outcome, decision.detail)]
            if decision.promoted:
                rows.append(("representative", f"now the best copy of story #{decision.story_id} "
                                               f"(was #{decision.duplicate_of}): {plan.promote}"))
            db.conn.executemany(
                "INSERT INTO decisions (run_id, source, url, article_id, decision, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, source, values["url"], decision.article_id, outcome, detail, now) for outcome, detail in rows],
            )
        return replace(decision, attachments=values["attachments"])

    @staticmethod
    def _known(db, values: dict[str, Any]) -> Known:
        row = db.execute(
            "SELECT id, content_hash, title, body, version, duplicate_of, attachments FROM articles WHERE url = ? OR url_key = ? "
            "ORDER BY url = ? DESC LIMIT 1",
            [values["url"], values["url_key"], values["url"]],
        ).fetchone()
        if row is not None:
            return Known(StoredArticle(*row), None, None)
        canonical, hit = values.get("canonical_url"), None
        if canonical and canonical != values["url"]:
            found = db.execute(
                "SELECT id FROM articles WHERE url = ? OR canonical_url = ? LIMIT 1", [canonical, canonical]
            ).fetchone()
            hit = found[0] if found else None
        exact = db.execute(
            "SELECT id, source FROM articles WHERE content_hash = ? AND duplicate_of IS NULL", [values["content_hash"]]
        ).fetchone()
        return Known(None, hit, (exact[0], exact[1]) if exact else None)

    def _carry_out(self, db, source, values, identity, plan: Plan, known: Known, now, band_keys_of, index,
                   search_text: str | None = None) -> Decision:
        if plan.action == "touch":
            db.execute(
                "UPDATE articles SET last_seen = ?, last_fetched = ?, etag = ?, last_modified = ?, "
                "attachments = COALESCE(?, attachments) WHERE id = ?",
                [now, now, values["etag"], values["last_modified"], plan.attachments, plan.article_id],
            )
            return Decision("unchanged", plan.article_id, duplicate_of=plan.duplicate_of)
        if plan.action == "alias":
            db.execute(
                "INSERT OR IGNORE INTO url_aliases (url, url_key, article_id, source, reason, first_seen) VALUES (?, ?, ?, ?, ?, ?)",
                [values["url"], values["url_key"], plan.article_id, source, plan.reason, now],
            )
            return Decision("duplicate", plan.article_id, plan.detail, plan.article_id)
        fts_row = (lambda article_id: (article_id, *index)) if index else (
            lambda article_id: fts.fts_row(article_id, values["title"], search_text or values["body"]))
        if plan.action == "revise":
            old = known.stored  # the row a revision replaces (read in this transaction)
            assert old is not None and old.id == plan.article_id
            version = old.version or 1
            db.execute(
                "INSERT INTO article_versions (article_id, version, title, body, content_hash, replaced_at, diff) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [plan.article_id, version, old.title, old.body, old.content_hash, now, plan.diff],
            )
            assignments = ", ".join(f"{name} = ?" for name in values)
            db.execute(
                f"UPDATE articles SET {assignments}, duplicate_of = ?, version = ?, last_seen = ?, last_fetched = ? WHERE id = ?",
                [*values.values(), plan.duplicate_of, version + 1, now, now, plan.article_id],
            )
            db.execute(fts.UPSERT, fts_row(plan.article_id))
            self._index(db, plan.article_id, identity if plan.duplicate_of is None else None, band_keys_of)
            return Decision("changed", plan.article_id, plan.detail, plan.duplicate_of, plan.diff, version=version + 1)
        # the row's id is the one SQLite would choose (max + 1; this transaction holds the write lock),
        # taken first so that an original's story id (its own) is written with the row
        article_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM articles").fetchone()[0]
        story = article_id
        if plan.duplicate_of is not None:
            story = db.execute("SELECT COALESCE(story_id, id) FROM articles WHERE id = ?", [plan.duplicate_of]).fetchone()[0]
        columns = ["id", "source", *values, "duplicate_of", "story_id", "version", "first_seen", "last_seen", "last_fetched"]
        db.execute(
            f"INSERT INTO articles ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [article_id, source, *values.values(), plan.duplicate_of, story, 1, now, now, now],
        )
        db.execute(fts.UPSERT, fts_row(article_id))
        if plan.duplicate_of is None:
            self._index(db, article_id, identity)
            return Decision("new", article_id, story_id=article_id)
        if plan.promote:
            self._promote(db, article_id, plan.duplicate_of, identity, band_keys_of)
        return Decision("duplicate", article_id, plan.detail, plan.duplicate_of, story_id=story, promoted=bool(plan.promote))

    def _promote(self, db, article_id: int, replaced: int, identity: Identity, band_keys_of) -> None:
        """The new copy becomes the story's representative: the other copies point at it, and it takes
        the old representative's place in the near-duplicate index (which holds representatives only)."""
        db.execute("UPDATE articles SET duplicate_of = ? WHERE duplicate_of = ? OR id = ?", [article_id, replaced, replaced])
        db.execute("UPDATE articles SET duplicate_of = NULL WHERE id = ?", [article_id])
        self._index(db, replaced, None, band_keys_of)
        self._index(db, article_id, identity)

    @staticmethod
    def _candidates(db, keys: list[int]) -> list[tuple[int, bytes, int]]:
        marks = ",".join("?" * len(keys))
        # Most shared bands first, and a bound: band keys that boilerplate sentences share can
        # name hundreds of unrelated originals; the matcher checks the most similar ones only.
        return db.execute(
            f"SELECT m.article_id, m.minhash, m.shingles FROM article_minhash m JOIN "
            f"(SELECT article_id, count(*) AS shared FROM lsh_bands WHERE key IN ({marks}) GROUP BY article_id "
            f"ORDER BY shared DESC, article_id LIMIT {MAX_CANDIDATES}) c ON c.article_id = m.article_id",
            keys,
        ).fetchall()

    @staticmethod
    def _index(db, article_id: int, identity: Identity | None, band_keys_of=None) -> None:
        """(Re)place the article in the near-duplicate index; None takes it out."""
        old = db.execute("SELECT minhash FROM article_minhash WHERE article_id = ?", [article_id]).fetchone()
        if old is not None:
            if band_keys_of is None:
                raise ValueError("band_keys_of is needed to re-index a changed article")
            old_keys = band_keys_of(old[0])
            db.execute(
                f"DELETE FROM lsh_bands WHERE article_id = ? AND key IN ({','.join('?' * len(old_keys))})",
                [article_id, *old_keys],
            )
            db.execute("DELETE FROM article_minhash WHERE article_id = ?", [article_id])
        if identity is None:
            return
        db.execute(
            "INSERT INTO article_minhash (article_id, shingles, minhash) VALUES (?, ?, ?)",
            [article_id, identity.shingles, identity.signature_bytes()],
        )
        keys = identity.band_keys  # one statement, not one per band: each statement hands the GIL over twice
        db.execute(
            "INSERT OR IGNORE INTO lsh_bands (key, article_id) VALUES " + ",".join(["(?, ?)"] * len(keys)),
            [value for key in keys for value in (key, article_id)],
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
