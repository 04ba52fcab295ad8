"""Search and export over a crawled simulator: Chinese words inside sentences, both scripts, every article."""

from __future__ import annotations

import csv
import io
import json
import re

import opencc
import pytest

from crawler import attachments
from crawler.notice import Notice
from storage import Store
from storage.fts import index_text, match_query

T2S = opencc.OpenCC("t2s")
S2T = opencc.OpenCC("s2t")


def _simplified(text: str) -> str:
    return T2S.convert(text).lower()


def _expected(cli, query: str, *, originals: bool = True) -> set[int]:
    """The oracle: articles whose searched text (title, body, a notice's header, attachments' names
    and texts) contains every term, by plain substring test."""
    terms = [_simplified(t) for t in query.split()]
    where = "WHERE duplicate_of IS NULL" if originals else ""
    texts = dict(cli.query("SELECT sha256, text FROM attachment_texts"))
    found = set()
    for article_id, title, body, notice, manifest in cli.query(f"SELECT id, title, body, notice, attachments FROM articles {where}"):
        extra = Notice.from_dict(json.loads(notice)).lines() if notice else []
        extra.append(attachments.text_of(json.loads(manifest or "[]"), texts))
        if all(t in _simplified("\n".join([title, body, *extra])) for t in terms):
            found.add(article_id)
    return found


def _search(cli, *args: str) -> list[dict]:
    return json.loads(cli("items", "search", *args, "--json", "--limit", "1000").stdout)


def _words(cli, size: int, count: int) -> list[str]:
    """Words of ``size`` Chinese characters taken from the middle of stored sentences."""
    found: list[str] = []
    for (body,) in cli.query("SELECT body FROM articles WHERE duplicate_of IS NULL ORDER BY id"):
        for run in re.findall(r"[\u4e00-\u9fff]{8,}", body):
            word = run[3 : 3 + size]
            if word not in found:
                found.append(word)
            break
        if len(found) == count:
            break
    return found


def test_two_character_words_inside_sentences_are_found(crawled) -> None:
    words = _words(crawled, 2, 6)
    assert len(words) == 6
    for word in words:
        ids = {row["id"] for row in _search(crawled, word)}
        assert ids == _expected(crawled, word), word
        assert ids  # the word was taken from a stored article


def test_longer_words_and_several_terms(crawled) -> None:
    four = _words(crawled, 4, 3)
    for word in four:
        assert {r["id"] for r in _search(crawled, word)} == _expected(crawled, word) != set()
    query = f"{four[0]} {four[0][:2]}"
    assert {r["id"] for r in _search(crawled, query)} == _expected(crawled, query)


def test_traditional_query_finds_simplified_article_and_back(crawled) -> None:
    simplified = next(w for w in _words(crawled, 4, 20) if S2T.convert(w) != w)
    traditional = S2T.convert(simplified)
    assert {r["id"] for r in _search(crawled, traditional)} == _expected(crawled, simplified) != set()
    # The simulator's Traditional page is found with a Simplified query; its text is stored as served.
    rows = crawled.query("SELECT id, body FROM articles WHERE body != ? AND duplicate_of IS NULL", ("",))
    trad = [(i, b) for i, b in rows if T2S.convert(b) != b]
    assert trad, "the simulator serves a Traditional article"
    article_id, body = trad[0]
    run = next(r for r in re.findall(r"[\u4e00-\u9fff]{6,}", body) if T2S.convert(r) != r)
    hits = _search(crawled, T2S.convert(run))
    assert article_id in {r["id"] for r in hits}
    assert run in next(r["body"] for r in hits if r["id"] == article_id)


def test_search_filters_by_source_and_date(crawled) -> None:
    word = _words(crawled, 2, 1)[0]
    source = crawled.query("SELECT source FROM articles LIMIT 1")[0][0]
    rows = _search(crawled, word, "--source", source)
    assert {r["source"] for r in rows} <= {source}
    assert _search(crawled, word, "--since", "2999-01-01") == []
    assert len(_search(crawled, word, "--since", "1d")) + len(_search(crawled, word, "--since", "2000-01-01")) >= 1
    bad = crawled("items", "search", word, "--since", "yesterday-ish", check=False)
    assert bad.returncode == 2 and "neither a date" in bad.stderr


def test_query_syntax_is_never_an_error(crawled) -> None:
    for query in ['"', "AND", "营商 OR", "*", "NEAR(", "-"]:
        result = crawled("items", "search", query, check=False)
        assert result.returncode == 0, (query, result.stderr)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_round_trips_every_article(crawled, fmt: str) -> None:
    result = crawled("items", "export", "--format", fmt)
    if fmt == "jsonl":
        rows = [json.loads(line) for line in result.stdout.splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
    with Store(crawled.db, readonly=True) as store:
        stored = list(store.iter_articles())
    assert len(rows) == len(stored) == crawled.query("SELECT COUNT(*) FROM articles")[0][0]
    for row, article in zip(rows, stored, strict=True):
        assert int(row["id"]) == article["id"]
        for key in ("url", "title", "body", "source", "content_hash"):
            assert row[key] == article[key], key
    assert f"{len(stored)} article(s) exported" in result.stderr
    assert "exporting articles:" in result.stderr  # plain progress lines when stderr is not a terminal


def test_export_to_file_with_filters(crawled, tmp_path) -> None:
    target = tmp_path / "out.jsonl"
    source = crawled.query("SELECT source FROM articles LIMIT 1")[0][0]
    crawled("items", "export", "--source", source, "--originals", "-o", str(target))
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    expected = crawled.query("SELECT COUNT(*) FROM articles WHERE source = ? AND duplicate_of IS NULL", (source,))[0][0]
    assert len(rows) == expected and {r["source"] for r in rows} == {source}


def test_index_and_query_forms() -> None:
    assert index_text("枣庄市 5G基站") == "枣庄 庄市 市 5g 基站 站"
    assert match_query("營商環境 5G") == '"营商 商环 环境" AND "5g"'
    assert match_query("锂") == '"锂"*'
    assert match_query(' " ') is None


def test_old_database_gains_the_index(tmp_path, crawled) -> None:
    """A database made before search existed is migrated on first use and its articles indexed."""
    import shutil
    import sqlite3

    old = tmp_path / "old.db"
    shutil.copy(crawled.db, old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE articles_fts")
        conn.execute("PRAGMA user_version = 4")
    word = _words(crawled, 2, 1)[0]
    with Store(old) as store:
        assert {r["id"] for r in store.search(word, limit=1000)} == _expected(crawled, word)
