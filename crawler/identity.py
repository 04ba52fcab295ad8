"""The identity decision: is a fetched page a new article, an edit, a copy, or nothing new?

A pure function of what storage hands it (the stored row, the canonical and exact-text
matches, near-duplicate candidates) and the page's fingerprint; ``storage`` carries out
the :class:`storage.records.Plan` it returns, in the same transaction.

In order:

1. the URL (or its URL key) is stored: the same text and the same attachments are
   ``unchanged``; other text, or an attachment added, removed or replaced (by content hash), is
   a new version (``changed``, with a diff that names the file), which is also a copy when the
   edit made it the text of another original; an attachment that could not be fetched this time
   keeps what was stored of it;
2. the page's canonical URL is stored: an alias of that article;
3. an original with the same text exists: from the same source an alias (a print view, a
   second URL), from another source a ``duplicate`` (its own row, pointing at the original);
4. a near duplicate (MinHash LSH candidates, checked exactly, crawler/dedupe.py): a duplicate;
5. otherwise ``new``.

A copy (3, 4) may be a better copy than its story's representative: unflagged before
flagged, a ``primary`` source before an ``aggregator``, then the earlier publication. Then
it becomes the representative (``Plan.promote`` says why): listings, search, feeds and
the web view show it, and later copies are compared with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

from crawler import attachments
from crawler.dedupe import Fingerprint, make_matcher, unified_diff
from storage.records import Copy, Known, Lookups, Plan

__all__ = ["Rank", "decide", "decider"]


def decide(
    known: Known, lookups: Lookups, *, source: str, url: str, title: str, body: str, identity: Fingerprint,
    matcher: Callable | None = None, differ: Callable[[str, str], str] | None = None, rank: Rank | None = None,
    files: str | None = None,
) -> Plan:
    """``rank``: how the page ranks as a copy (its flags, its source's role, its publication date);
    ``files``: the page's attachment manifest (JSON, crawler/attachments.py)."""
    stored = known.stored
    if stored is not None:
        before = json.loads(stored.attachments) if stored.attachments is not None else None  # None: not read then
        page = json.loads(files) if files else []
        now = attachments.merged(before, page)
        replaced = attachments.changed_files(before, now)
        if stored.content_hash == identity.content_hash and not replaced:
            return Plan("touch", stored.id, stored.duplicate_of, attachments=None if now == before else _json(now))
        copy_of = stored.duplicate_of
        if copy_of is None:  # edited into the text of another original
            copy_of = lookups.original_with_hash(identity.content_hash, excluding=stored.id)
        old_files = attachments.lines(before if before is not None else now)
        diff = (differ or (lambda old, new: unified_diff(old, new, url)))(
            "\n".join([stored.title, stored.body, *old_files]), "\n".join([title, body, *attachments.lines(now)]))
        detail = f"version {(stored.version or 1) + 1}"
        if replaced:
            detail += f"; attachment(s) {'、'.join(replaced)}"
        return Plan("revise", stored.id, copy_of, detail, diff=diff, attachments=None if now == page else _json(now))
    if known.canonical_match is not None:
        return _alias(known.canonical_match, "canonical link")
    if known.same_text is not None:
        original, original_source = known.same_text
        if original_source == source:
            return _alias(original, "same text under another URL")
        return _copy(original, f"same text as #{original}", lookups, rank)
    candidates = lookups.near_candidates(identity.band_keys)
    match = (matcher or make_matcher(identity, body=body))(candidates, lookups.body) if candidates else None
    if match is not None:
        return _copy(match[0], f"{match[1]} as #{match[0]}", lookups, rank)
    return Plan("insert")


class Rank(NamedTuple):
    """How a copy ranks for the choice of a story's best copy."""

    flags: list[str]
    role: str | None
    published_at: str | None


def _key(flags: list[str], role: str | None, published: str | None) -> tuple[bool, bool, str]:
    """Lower is better: unflagged, then a primary source, then the earlier publication."""
    return bool(flags), (role or "primary") != "primary", published or "9999"


def _copy(representative: int, detail: str, lookups: Lookups, rank: Rank | None) -> Plan:
    """A copy of the story ``representative`` stands for; promoted when it is the better copy."""
    if rank is None:
        return Plan("insert", duplicate_of=representative, detail=detail)
    current: Copy = lookups.copy(representative)
    mine = _key(*rank)
    theirs = _key(current.flags, current.source_role, current.published_at or current.first_seen)
    reason = ""
    if mine < theirs:
        if mine[0] != theirs[0]:
            reason = f"unflagged, #{representative} is flagged {', '.join(current.flags)}"
        elif mine[1] != theirs[1]:
            reason = f"a primary source, #{representative} is from the aggregator {current.source}"
        else:
            reason = f"published earlier ({rank.published_at}) than #{representative} ({theirs[2]})"
    return Plan("insert", duplicate_of=representative, detail=detail, promote=reason)


def _json(manifest: list) -> str:
    return json.dumps(manifest, ensure_ascii=False)


def _alias(article_id: int, reason: str) -> Plan:
    return Plan("alias", article_id, detail=f"alias of #{article_id}: {reason}", reason=reason)


def decider(source: str, record: dict, identity: Fingerprint, matcher: Callable | None = None,
            differ: Callable[[str, str], str] | None = None, flags: list[str] | None = None) -> Callable[[Known, Lookups], Plan]:
    """``decide`` for one page, as ``Store.ingest`` calls it."""
    rank = Rank(list(flags or []), record.get("source_role"), record.get("published_at"))

    def run(known: Known, lookups: Lookups) -> Plan:
        return decide(known, lookups, source=source, url=record["url"], title=record["title"], body=record["body"],
                      identity=identity, matcher=matcher, differ=differ, rank=rank, files=record.get("attachments"))
    return run
