"""The typed records that pass between storage and the identity decision (crawler/identity.py).

Storage hands the decision what it holds about a page (:class:`Known`, :class:`Lookups`); the
decision returns a :class:`Plan`; storing it gives a :class:`Decision`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Outcome = Literal["new", "changed", "duplicate", "unchanged"]


class Identity(Protocol):
    content_hash: str
    shingles: int

    @property
    def band_keys(self) -> list[int]: ...

    def signature_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    article_id: int
    detail: str = ""
    duplicate_of: int | None = None
    diff: str | None = None
    story_id: int | None = None  # the id of the story's first copy (alerts are keyed by it)
    promoted: bool = False  # the page became its story's representative
    version: int = 1  # the article's version after this decision
    attachments: str | None = None  # the attachment manifest stored with it (JSON)


@dataclass(frozen=True)
class Copy:
    """How a stored copy ranks as its story's representative (crawler/identity.py ranks)."""

    id: int
    source: str
    source_role: str | None
    flags: list[str]
    published_at: str | None
    first_seen: str


@dataclass(frozen=True)
class StoredArticle:
    """The stored row of a page's URL (or of its URL key)."""

    id: int
    content_hash: str
    title: str
    body: str
    version: int | None
    duplicate_of: int | None
    attachments: str | None = None  # the manifest of its attachments (JSON), None before they were read


@dataclass(frozen=True)
class Known:
    """What the database holds about a fetched page, for the identity decision."""

    stored: StoredArticle | None  # the page's URL is stored
    canonical_match: int | None  # not stored, but its canonical URL is (article id)
    same_text: tuple[int, str] | None  # an original article with the same content hash: (id, source)


class Lookups:
    """Further questions the decision may ask, inside the same transaction."""

    def __init__(self, db: Any, candidates: Callable[[Any, list[int]], list[tuple[int, bytes, int]]]):
        self._db, self._candidates = db, candidates

    def near_candidates(self, band_keys: list[int]) -> list[tuple[int, bytes, int]]:
        """(article id, MinHash signature bytes, shingle count) of originals sharing an LSH band."""
        return self._candidates(self._db, band_keys)

    def body(self, article_id: int) -> str:
        return self._db.execute("SELECT body FROM articles WHERE id = ?", [article_id]).fetchone()[0]

    def copy(self, article_id: int) -> Copy:
        row = self._db.execute(
            "SELECT id, source, source_role, flags, published_at, first_seen FROM articles WHERE id = ?", [article_id]
        ).fetchone()
        return Copy(row[0], row[1], row[2], json.loads(row[3] or "[]"), row[4], row[5])

    def original_with_hash(self, content_hash: str, excluding: int) -> int | None:
        row = self._db.execute(
            "SELECT id FROM articles WHERE content_hash = ? AND duplicate_of IS NULL AND id != ?", [content_hash, excluding]
        ).fetchone()
        return row[0] if row else None


@dataclass(frozen=True)
class Plan:
    """What to store for a page, as the identity decision (crawler/identity.py) chose.

    ``touch``: the stored article, unchanged; ``revise``: a new version of it (``diff``);
    ``alias``: the URL is another name of ``article_id``; ``insert``: a new row, an original
    or (``duplicate_of``) a copy of another article.
    """

    action: Literal["touch", "revise", "alias", "insert"]
    article_id: int | None = None
    duplicate_of: int | None = None
    detail: str = ""
    reason: str = ""  # alias: why, as recorded in url_aliases
    diff: str | None = None
    promote: str = ""  # insert: the new copy becomes its story's representative, for this reason
    attachments: str | None = None  # touch, revise: the attachment manifest to keep (JSON), when not the page's own
