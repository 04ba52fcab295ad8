"""Extraction against the simulator's ground truth: every field, and none of the page chrome."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.errors import ExtractionError
from crawler.extract import extract, strip_site_suffix
from crawler.simulator import PORTALS, Simulator
from crawler.simulator.content import SimArticle
from crawler.simulator.pages import article_path
from crawler.sources import Cleanup
from tests.conftest import ROOT, fold

BASE = {"credit": "http://credit.example", "dzwww": "http://zz.dzwww.example", "iqilu": "https://zaozhuang.iqilu.example"}
CHROME = [
    "欢迎访问", "今天是", "访问次数", "您的位置", "当前位置", "(资料图)", "关键词", "文章关键字", "相关阅读", "想爆料",
    "想爆料", "责任编辑", "責任編輯", "网友评论", "網友評論", "分享到", "版权所有", "all rights reserved", "ICP备",
    "原標題", "热点推荐", "打印本页",
]


def _pages() -> list[tuple[str, SimArticle, str]]:
    sim = Simulator(articles_per_portal=8)  # rendering needs no running server
    out = []
    for portal in PORTALS:
        for article in sim.articles(portal):
            status, html, _, _ = sim.render(portal, article_path(portal, article))
            assert status == 200
            out.append((portal, article, html))
    return out


PAGES = _pages()


@pytest.mark.parametrize(("portal", "article", "html"), PAGES, ids=[f"{p}-{a.id}" for p, a, _ in PAGES])
def test_simulated_article_pages(portal: str, article: SimArticle, html: str) -> None:
    url = BASE[portal] + article_path(portal, article)
    got = extract(html, url)
    assert got.title == article.title
    assert got.body == fold(article.body)
    for marker in CHROME:
        assert marker not in got.body, marker
    assert got.published_at is not None and got.published_at.utcoffset().total_seconds() == 8 * 3600
    if portal == "credit":
        assert got.published_at.replace(tzinfo=None) == article.published.replace(second=0)
        assert got.author is None
        assert got.source_name == article.source_name  # meta ContentSource (empty when the page names none)
        assert got.column == "信用动态"  # meta ColumnName
    elif article.date_in_header:
        assert got.published_at.replace(tzinfo=None) == article.published
        assert got.date_origin == "header"
    else:
        assert got.published_at.date() == article.published.date() and got.date_origin == "url"
    if portal == "dzwww":
        assert got.source_name == (article.source_name or "大众网")
    if portal == "iqilu":
        assert got.source_name == (article.source_name or ("齊魯網" if article.traditional else "齐鲁网"))
    if portal != "credit":
        expected_author = article.author or {"004": "马俊龙"}.get(article.seed or "")
        assert got.author == expected_author
    assert got.flags == (["spam_injection"] if article.spam else [])


def test_spam_mirror_page_is_flagged_and_cleaned() -> None:
    """The Qilu seed as scraped from a spam mirror: "新全讯2网" in title, text and footer."""
    portal, article, html = next(p for p in PAGES if p[1].spam)
    assert html.count("新全讯2网") >= 3 and article.seed == "003"
    got = extract(html, BASE[portal] + article_path(portal, article))
    assert got.flags == ["spam_injection"]
    assert "新全讯" not in got.title + got.body and "全讯" not in got.body
    assert got.title == article.title and got.body == fold(article.body)


def test_spam_patterns_of_a_source_add_to_the_built_in_list() -> None:
    html = ("<html><head><title>枣庄召开信用体系建设推进会</title></head><body><h1>枣庄召开信用体系建设推进会</h1>"
            "<div><p>11月20日，枣庄市召开社会信用体系建设推进会，部署下一阶段重点工作，要求各部门加强协调配合。</p>"
            "<p>会议指出，要把信用体系建设摆在更加突出的位置，压紧压实各级责任，确保各项任务按期完成。好运来彩票站</p></div></body></html>")
    assert extract(html, "http://example.cn/a.html").flags == []
    got = extract(html, "http://example.cn/a.html", Cleanup(spam_patterns=["好运来彩票站"]))
    assert got.flags == ["spam_injection"] and "好运来" not in got.body and got.body.endswith("确保各项任务按期完成。")


def test_visit_counter_and_date_banner_never_give_the_date() -> None:
    portal, article, html = next(p for p in PAGES if p[1].seed == "000")
    html = re.sub(r'<meta name="PubDate"[^>]*>', "", html)
    got = extract(html, "http://credit.example/some/page.html")  # no date in this URL
    assert got.published_at.date().isoformat() == "2023-08-31"
    assert got.date_origin == "header"


def test_body_repeated_in_markup_is_kept_once() -> None:
    _, article, html = next(p for p in PAGES if p[1].traditional)
    assert html.count("本報棗莊訊") == 2  # the simulator really serves it twice
    got = extract(html.replace('style="display:none"', ""), "https://zaozhuang.iqilu.example/a.shtml")
    assert got.body.count("本報棗莊訊") == 1
    assert got.body == fold(article.body)


def test_source_cleanup_rules_apply() -> None:
    _, article, html = next(p for p in PAGES if p[1].seed == "001")
    cleanup = Cleanup(drop_patterns=[r"^大众网记者"], drop_selectors=["#xl-headline"])
    got = extract(html, "http://zz.dzwww.example/zzxw/202308/t20230824_17231001.htm", cleanup)
    assert not got.body.startswith("大众网记者")
    assert got.body == fold("\n".join(article.paragraphs[1:]))
    assert got.date_origin == "url"  # the header with the timestamp was dropped


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("山亭经济开发区厚植绿色低碳循环底色_枣庄新闻_大众网", "山亭经济开发区厚植绿色低碳循环底色"),
        ("枣庄高新区产业铸就发展“强引擎” - 齐鲁网", "枣庄高新区产业铸就发展“强引擎”"),
        ("枣庄高新区产业铸就发展“强引擎”-新全讯2网", "枣庄高新区产业铸就发展“强引擎”"),
        ("2023-2025年发展规划解读", "2023-2025年发展规划解读"),
        ("信用动态 信用枣庄", "信用动态 信用枣庄"),
    ],
)
def test_site_suffix_is_stripped_from_titles(raw: str, clean: str) -> None:
    assert strip_site_suffix(raw) == clean


@pytest.mark.parametrize(
    ("html", "kind"),
    [
        ("", "empty_page"),
        ("<html><body><div>网站维护中</div></body></html>", "maintenance"),
        ("<html><head><title>页面不存在</title></head><body><p>您访问的页面不存在或已被删除。</p><a href='/'>返回首页</a></body></html>", "soft_404"),
        ("<html><body><div>" + "<div>" * 5000 + "</div></body></html>", "empty_body"),
        ("<html><body><p>枣庄\x00市\x1e信用体系建设工作会议召开，会议部署了全年的重点任务和分工安排。</p>"
         "<p>会议要求各部门加强协作，完善守信激励和失信惩戒机制，推动信用修复工作落到实处。</p>"
         "<p>会议还通报了上半年全市信用信息归集共享情况，并对下一步工作提出了明确要求。</p></body></html>", None),
    ],
)
def test_pages_without_an_article_raise(html: str, kind: str | None) -> None:
    """Empty, maintenance, soft-404 and deeply nested pages raise with their kind; control characters are dropped."""
    if kind is None:
        assert extract(html, "http://example.invalid/x.html").body.startswith("枣庄市信用体系建设")
        return
    with pytest.raises(ExtractionError) as caught:
        extract(html, "http://example.invalid/x.html")
    assert caught.value.kind == kind


def test_cli_extract_reads_a_saved_gbk_page(tmp_path: Path) -> None:
    _, article, html = next(p for p in PAGES if p[1].seed == "000")
    saved = tmp_path / "page.html"
    saved.write_bytes(html.encode("gbk", errors="xmlcharrefreplace"))  # charset only in <meta>
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "extract", str(saved), "--url", "http://credit.example/art/2023/8/31/art_2345_1001.html", "--json"],
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60, check=True,
    )
    data = json.loads(result.stdout)
    assert data["title"] == article.title
    assert data["body"] == fold(article.body)
    assert data["published_at"].startswith("2023-08-31")


def test_the_spam_patterns_pre_checks_never_skip_a_match() -> None:
    import itertools
    import random

    from crawler import spam

    rules = spam.patterns()
    groups = [re.findall(r"\(\?:([^)]*)\)", p) for p in spam.DEFAULT_PATTERNS]
    samples = ["新全讯2网", "新全讯网", "全讯123", "全讯4567"]
    samples += ["".join(parts) for parts in itertools.product(["", "澳门", "澳門"], *(g.split("|") for g in groups[1][1:]))]
    samples += spam.DEFAULT_PATTERNS[2].split("|")
    samples += ["".join(parts) for parts in itertools.product(*(g.split("|") for g in groups[3]))]
    for sample in samples:
        text = f"正文{sample}结尾"
        assert any(rule.pattern.search(text) for rule in rules), sample
        assert spam.phrases(text, rules) and spam.found(text, rules), sample
    alphabet = "".join({c for p in spam.DEFAULT_PATTERNS for c in p if "\u4e00" <= c <= "\u9fff"}) + "0123456789"
    rng = random.Random(5)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 12)))
        for rule in rules:
            assert bool(rule.search(text)) == bool(rule.pattern.search(text)), text
