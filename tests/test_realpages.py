"""Golden tests on real pages of the three CMS families (tests/data/realpages/, provenance in its MANIFEST.md).

The expected files in tests/data/realpages/expected/ were drafted by draft.py (the CMS
content element's paragraphs, or a regex over the visible <a href>s; never our extractor)
and checked by reading each page; each file's "checked" field says how.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from bench.common import bigram_f1
from crawler.extract import extract
from crawler.sources import LinkRules, Pagination
from spiders.links import article_links, next_page

DATA = Path(__file__).parent / "data" / "realpages"
EXPECTED = sorted((DATA / "expected").glob("*.json"))
ARTICLES = [p for p in EXPECTED if json.loads(p.read_text(encoding="utf-8"))["kind"] == "article"]
LISTS = [p for p in EXPECTED if p not in ARTICLES]


def _load(path: Path) -> tuple[dict, str]:
    expected = json.loads(path.read_text(encoding="utf-8"))
    # Every file is UTF-8 as saved, even the two that declare gb2312 (see MANIFEST.md).
    return expected, (DATA / expected["file"]).read_bytes().decode("utf-8")


def test_every_saved_page_has_an_expected_file() -> None:
    pages = {str(p.relative_to(DATA)) for p in DATA.glob("*/*.html")}
    assert pages == {json.loads(p.read_text(encoding="utf-8"))["file"] for p in EXPECTED}


@pytest.mark.parametrize("path", LISTS, ids=lambda p: p.stem)
def test_list_page_links_and_next_page(path: Path) -> None:
    expected, html = _load(path)
    response = HtmlResponse(expected["url"], body=html.encode("utf-8"), encoding="utf-8")
    hosts = {expected["url"].split("/")[2]}
    assert article_links(response, LinkRules(), hosts) == expected["links"]
    following = next_page(response, Pagination(max_pages=5), 1, expected["url"])
    assert (following.url if following else None) == expected["next_page"]


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_article_page_fields_and_body(path: Path) -> None:
    expected, html = _load(path)
    article = extract(html, expected["url"])
    assert article.title == expected["title"]
    assert article.published_at == datetime.fromisoformat(expected["published_at"])
    assert article.author == expected["author"]
    assert article.source_name == expected["source_name"]
    lines = article.body.split("\n")
    assert lines[0] == expected["first_paragraph"]
    assert lines[-1] == expected["last_paragraph"]
    f1 = bigram_f1(article.body, "\n".join(expected["body"]))[2]
    assert f1 >= 0.97, f"body F1 {f1:.3f}"
