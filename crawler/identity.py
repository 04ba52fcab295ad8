"""The identity decision: is a fetched page a new article, an edit, a copy, or nothing new?

A pure function of what storage hands it (the stored row, the canonical and exact-text
matches, near-duplicate candidates) and the page's fingerprint; ``storage`` carries out
the :class:`storage.articles.Plan` it returns, in the same transaction.

In order:

1. the URL (or its URL key) is stored: the same text is ``unchanged``; other text is a new
   version (``changed``, with a diff), which is also a copy when the edit made it the text of
   another original;
2. the page's canonical URL is stored: an alias of that article;
3. an original with the same text exists: from the same source an alias (a print view, a
   second URL), from another source a ``duplicate`` (its own row, pointing at the original);
4. a near duplicate (MinHash LSH candidates, checked exactly, crawler/dedupe.py): a duplicate;
5. otherwise ``new``.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.dedupe import Fingerprint, make_matcher, unified_diff
from storage.articles import Known, Lookups, Plan

__all__ = ["decide", "decider"]


def decide(
    known: Known, lookups: Lookups, *, source: str, url: str, title: str, body: str, identity: Fingerprint,
    matcher: Callable | None = None, differ: Callable[[str, str], str] | None = None,
) -> Plan:
    stored = known.stored
    if stored is not None:
        if stored.content_hash == identity.content_hash:
            return Plan("touch", stored.id, stored.duplicate_of)
        copy_of = stored.duplicate_of
        if copy_of is None:  # edited into the text of another original
            copy_of = lookups.original_with_hash(identity.content_hash, excluding=stored.id)
        diff = (differ or (lambda old, new: unified_diff(old, new, url)))(f"{stored.title}\n{stored.body}", f"{title}\n{body}")
        return Plan("revise", stored.id, copy_of, f"version {(stored.version or 1) + 1}", diff=diff)
    if known.canonical_match is not None:
        return _alias(known.canonical_match, "canonical link")
    if known.same_text is not None:
        original, original_source = known.same_text
        if original_source == source:
            return _alias(original, "same text under another URL")
        return Plan("insert", duplicate_of=original, detail=f"same text as #{original}")
    candidates = lookups.near_candidates(identity.band_keys)
    match = (matcher or make_matcher(identity))(candidates, lookups.body) if candidates else None
    if match is not None:
        return Plan("insert", duplicate_of=match[0], detail=f"{match[1]} as #{match[0]}")
    return Plan("insert")


def _alias(article_id: int, reason: str) -> Plan:
    return Plan("alias", article_id, detail=f"alias of #{article_id}: {reason}", reason=reason)


def decider(source: str, record: dict, identity: Fingerprint, matcher: Callable | None = None,
            differ: Callable[[str, str], str] | None = None) -> Callable[[Known, Lookups], Plan]:
    """``decide`` for one page, as ``Store.ingest`` calls it."""
    def run(known: Known, lookups: Lookups) -> Plan:
        return decide(known, lookups, source=source, url=record["url"], title=record["title"], body=record["body"],
                      identity=identity, matcher=matcher, differ=differ)
    return run
