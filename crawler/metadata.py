"""The metadata of an article page: title, publish time, author, original source, canonical URL.

The CMS metas come first where the page has them (crawler/families.py), then the
article's own header lines (``2023-08-24 07:49:29 来源:大众网 作者:…``) rather than
generic heuristics; a date banner or a visit counter is never a publish date.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import lxml.html

from crawler import boilerplate
from crawler.dates import VOLATILE_DATE_LINE, date_from_url, has_time, parse_chinese_datetime, parse_machine_datetime
from crawler.families import meta_values

__all__ = ["author", "canonical", "published", "source_name", "strip_site_suffix", "title"]

_SITE_WORDS = re.compile(r"网|網|频道|頻道|新闻|新聞|首页|首頁|政府|门户|門戶|信用|日报|日報|在线|在線|[a-z0-9-]+\.(?:com|cn|net|org)", re.I)
_TITLE_SUFFIX = re.compile(r"\s*(?:\s[-–—|｜]\s|[_|｜]|-(?=[^-]{1,24}$))\s*([^_|｜]{1,24})$")
_AUTHOR_LABEL = re.compile(r"(?:作者|作\s+者|撰稿)\s*[:：]\s*([\u4e00-\u9fff·]{2,10}(?:[ 、，,][\u4e00-\u9fff·]{2,4}){0,3})")
_REPORTER = re.compile(r"(?:记者|記者)(?:\s+|\s*[:：]\s*)([\u4e00-\u9fff]{2,3})(?=\s|$|报道|報道|摄|攝)")
_SOURCE_LABEL = re.compile(r"(?:来源|來源|稿源)\s*[:：]\s*([^\s|｜:：]{2,20}?)(?=\s|作者|作\s|编辑|編輯|发布|發布|$|[|｜])")
_META_DATE_NAMES = (
    "article:published_time", "pubdate", "publishdate", "publish_date", "publishtime", "og:published_time",
    "datepublished", "date", "dc.date", "dc.date.issued", "firstpublishedtime",
)
_META_TITLE_NAMES = ("articletitle", "og:title", "twitter:title")


def strip_site_suffix(title: str) -> str:
    """``标题_枣庄新闻_大众网`` → ``标题``; ``标题 - 齐鲁网`` → ``标题``."""
    title = " ".join(title.split())
    while True:
        match = _TITLE_SUFFIX.search(title)
        if not match or not _SITE_WORDS.search(match.group(1)) or len(title[: match.start()]) < 4:
            return title
        title = title[: match.start()].rstrip()


def title(tree: lxml.html.HtmlElement) -> str:
    declared = meta_values(tree, ["ArticleTitle"])  # Hanweb/TRS name their article: trust it
    if declared and len(declared[0]) >= 4:
        return " ".join(declared[0].split())
    page_title = strip_site_suffix(tree.findtext(".//title") or "")
    candidates = meta_values(tree, _META_TITLE_NAMES)
    for xpath in ("//h1", "//h2", "//*[contains(@class, 'title')]"):
        candidates += [" ".join(el.text_content().split()) for el in tree.xpath(xpath)]
    candidates = [strip_site_suffix(c) for c in candidates if len(c.strip()) >= 4]
    for candidate in candidates:
        if page_title and (candidate == page_title or candidate in page_title):
            return candidate
    return page_title or (candidates[0] if candidates else "")


def canonical(tree: lxml.html.HtmlElement, url: str) -> str | None:
    for el in tree.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and el.get("href"):
            return urljoin(url, el.get("href").strip())
    declared = meta_values(tree, ["Url"])  # Hanweb: <meta name="Url" content="http://…/art_…html">
    if declared and declared[0].startswith(("http://", "https://")):
        return declared[0]
    return None


def published(tree: lxml.html.HtmlElement, url: str, header: list[str], after: list[str]):
    near = header[-15:]  # the lines just above the text; menus and banners sit higher up
    declared = [d for d in (parse_machine_datetime(v) for v in meta_values(tree, _META_DATE_NAMES)) if d]
    if declared:
        timed = [d for d in declared if (d.hour, d.minute, d.second) != (0, 0, 0)]
        if timed:  # TRS pages carry publishdate (a day) and PubDate (with the time)
            return timed[0], "meta"
        day = declared[0]
        for line in near + after[:40]:  # the header line often has the time the meta leaves out
            if len(line) <= 80 and has_time(line) and not VOLATILE_DATE_LINE.search(line):
                parsed = parse_chinese_datetime(line)
                if parsed and parsed.date() == day.date():
                    return parsed, "meta"
        return day, "meta"
    labelled = [line for line in near if boilerplate.HEADER_LABEL.search(line) or has_time(line)]
    for line in labelled + [line for line in near if len(line) <= 25]:
        if not VOLATILE_DATE_LINE.search(line):
            parsed = parse_chinese_datetime(line)
            if parsed:
                return parsed, "header"
    from_url = date_from_url(url)
    if from_url:
        return from_url, "url"
    for line in after:  # government pages often put 发布日期 below the text; forums put 时间 under the post
        if len(line) <= 80 and (_FOOTER_DATE_LABEL.search(line) or has_time(line)) and not VOLATILE_DATE_LINE.search(line):
            parsed = parse_chinese_datetime(line)
            if parsed:
                return parsed, "footer"
    for line in header[:-15]:  # a labelled or timed line further up, before giving up
        if len(line) <= 80 and (_FOOTER_DATE_LABEL.search(line) or has_time(line)) and not VOLATILE_DATE_LINE.search(line):
            parsed = parse_chinese_datetime(line)
            if parsed:
                return parsed, "header"
    return None, None


_FOOTER_DATE_LABEL = re.compile(r"发布|發布|發佈|发表|發表|日期|时间|時間")


def author(header: list[str], body_lines: list[str]) -> str | None:
    for line in header:
        match = _AUTHOR_LABEL.search(line)
        if match:
            return match.group(1).strip()
    for line in [*body_lines[:3], *body_lines[-3:]]:
        match = _REPORTER.search(line)
        if match:
            return match.group(1)
    return None


def source_name(tree: lxml.html.HtmlElement, header: list[str]) -> str | None:
    declared = meta_values(tree, ["ContentSource"])  # Hanweb/TRS: the original source
    if declared and len(declared[0]) <= 30:
        return declared[0]
    for index, line in enumerate(header):
        match = _SOURCE_LABEL.search(line)
        if match:
            return match.group(1)
        if _BARE_SOURCE_LABEL.search(line) and index + 1 < len(header) and 2 <= len(header[index + 1]) <= 20:
            return header[index + 1]  # "来源：" then the source as a link on the next line
    named = meta_values(tree, ["source"])  # TRS news templates
    return named[0] if named and len(named[0]) <= 30 else None


_BARE_SOURCE_LABEL = re.compile(r"(?:^|\s)(?:来源|來源|稿源)\s*[:：]$")
