"""The identity decision (crawler/identity.py) as a pure function: no crawl, no database."""

from __future__ import annotations

from crawler.dedupe import fingerprint
from crawler.identity import decide
from storage.records import Known, StoredArticle

BODY = "枣庄市召开社会信用体系建设推进会，部署下一阶段重点任务。\n会议要求各部门加强协调配合，形成工作合力，确保各项任务按期完成。"
EDITED = BODY + "\n新增一段内容，说明会议的后续安排和具体要求。"
URL = "http://a.example/1.html"


class FakeLookups:
    """Answers as a database would; records what was asked."""

    def __init__(self, candidates=(), bodies=None, originals=None):
        self.candidates, self.bodies, self.originals = list(candidates), bodies or {}, originals or {}
        self.asked: list[str] = []

    def near_candidates(self, band_keys):
        self.asked.append("candidates")
        return self.candidates

    def body(self, article_id):
        return self.bodies[article_id]

    def original_with_hash(self, content_hash, excluding):
        self.asked.append("original")
        return self.originals.get(content_hash)


def _decide(known, lookups=None, *, source="s", body=BODY):
    identity = fingerprint("标题", body)
    return decide(known, lookups or FakeLookups(), source=source, url=URL, title="标题", body=body, identity=identity)


def _stored(body=BODY, duplicate_of=None, version=1):
    return StoredArticle(7, fingerprint("标题", body).content_hash, "标题", body, version, duplicate_of)


def test_the_same_text_at_a_stored_url_is_unchanged_and_asks_nothing_more() -> None:
    lookups = FakeLookups()
    plan = _decide(Known(_stored(duplicate_of=3), None, None), lookups)
    assert (plan.action, plan.article_id, plan.duplicate_of) == ("touch", 7, 3)
    assert lookups.asked == []


def test_other_text_at_a_stored_url_is_a_new_version_with_a_diff() -> None:
    plan = _decide(Known(_stored(version=2), None, None), body=EDITED)
    assert (plan.action, plan.article_id, plan.duplicate_of, plan.detail) == ("revise", 7, None, "version 3")
    assert "+新增一段内容，说明会议的后续安排和具体要求。" in plan.diff


def test_an_edit_into_another_originals_text_makes_a_copy() -> None:
    edited_hash = fingerprint("标题", EDITED).content_hash
    plan = _decide(Known(_stored(), None, None), FakeLookups(originals={edited_hash: 11}), body=EDITED)
    assert (plan.action, plan.duplicate_of) == ("revise", 11)


def test_canonical_and_same_source_same_text_are_aliases() -> None:
    canonical = _decide(Known(None, 5, None))
    assert (canonical.action, canonical.article_id, canonical.reason) == ("alias", 5, "canonical link")
    print_view = _decide(Known(None, None, (9, "s")))
    assert (print_view.action, print_view.article_id, print_view.detail) == (
        "alias", 9, "alias of #9: same text under another URL")


def test_the_same_text_on_another_portal_is_a_duplicate_row() -> None:
    plan = _decide(Known(None, None, (9, "other-portal")))
    assert (plan.action, plan.duplicate_of, plan.detail) == ("insert", 9, "same text as #9")


def test_a_near_duplicate_candidate_is_checked_exactly() -> None:
    stored = fingerprint("标题", BODY)
    near = FakeLookups(candidates=[(4, stored.signature_bytes(), stored.shingles)], bodies={4: BODY})
    plan = _decide(Known(None, None, None), near, body=EDITED)  # one paragraph more than #4
    assert (plan.action, plan.duplicate_of) == ("insert", 4) and "near duplicate (Jaccard" in plan.detail
    unrelated = "今年以来，薛城区围绕乡村振兴累计推出多项改革举措，推动农业农村现代化各项工作落地见效。" * 2
    other = FakeLookups(candidates=[(4, stored.signature_bytes(), stored.shingles)], bodies={4: BODY})
    assert _decide(Known(None, None, None), other, body=unrelated) == _decide(Known(None, None, None), body=unrelated)
    assert _decide(Known(None, None, None), body=unrelated).action == "insert"
    assert _decide(Known(None, None, None), body=unrelated).duplicate_of is None


class CopyLookups(FakeLookups):
    def __init__(self, representative):
        super().__init__()
        self.representative = representative

    def copy(self, article_id):
        assert article_id == self.representative.id
        return self.representative


def _copy_of(rep, rank):
    identity = fingerprint("标题", BODY)
    return decide(Known(None, None, (rep.id, rep.source)), CopyLookups(rep), source="portal", url=URL, title="标题",
                  body=BODY, identity=identity, rank=rank)


def test_a_clean_copy_replaces_a_flagged_representative_and_a_worse_copy_does_not() -> None:
    from crawler.identity import Rank
    from storage.records import Copy

    flagged_mirror = Copy(5, "mirror", "aggregator", ["spam_injection"], "2026-01-02T09:00:00+08:00", "2026-01-02T01:00:00")
    plan = _copy_of(flagged_mirror, Rank([], "primary", "2026-01-02T10:00:00+08:00"))
    assert (plan.action, plan.duplicate_of) == ("insert", 5)
    assert plan.promote.startswith("unflagged")  # unflagged wins although published later

    clean_mirror = Copy(5, "mirror", "aggregator", [], "2026-01-02T09:00:00+08:00", "2026-01-02T01:00:00")
    assert "primary source" in _copy_of(clean_mirror, Rank([], "primary", "2026-01-02T10:00:00+08:00")).promote

    portal = Copy(5, "another-portal", "primary", [], "2026-01-02T09:00:00+08:00", "2026-01-02T01:00:00")
    assert "earlier" in _copy_of(portal, Rank([], "primary", "2026-01-01T09:00:00+08:00")).promote
    assert _copy_of(portal, Rank([], "primary", "2026-01-03T09:00:00+08:00")).promote == ""  # later: stays a copy
    assert _copy_of(portal, Rank([], "aggregator", "2026-01-01T09:00:00+08:00")).promote == ""  # a repost never wins
    assert _copy_of(portal, Rank(["spam_injection"], "primary", None)).promote == ""
