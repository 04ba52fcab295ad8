"""Finding article and next-page links on a list page."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from scrapy.http import TextResponse

from crawler.normalize import canonical_url
from crawler.sources import LinkRules, Pagination

# URL shapes of article pages on Chinese portal CMSs (TRS, Hanweb, iqilu, generic).
_ARTICLE_URL = re.compile(
    r"/t(?:19|20)\d{6}_\d+\.s?html?$"
    r"|/art/(?:19|20)\d{2}/\d{1,2}/\d{1,2}/"
    r"|/(?:19|20)\d{2}[-/]?\d{2}[-/]?\d{2}/.+\.s?html?$"
    r"|/(?:19|20)\d{2}/\d{4}/\d+\.s?html?$"
    r"|(?:content|article|detail|show|news)[_/-]?\d{3,}\.s?html?$",
    re.I,
)
_NOT_ARTICLE = re.compile(r"/(?:index|list|default)(?:_\d+)?\.s?html?$|/$", re.I)
_NEXT_TEXT = {"下一页", "下页", "下一頁", "下頁", "next", "next page", "›", "»", ">"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _base_domain(host: str) -> str:
    """``zz.dzwww.com`` → ``dzwww.com``; ``www.zaozhuang.gov.cn`` → ``zaozhuang.gov.cn``."""
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-1] == "cn" and labels[-2] in {"com", "gov", "org", "net", "edu"} else 2
    return ".".join(labels[-keep:])


def _same_site(url: str, start_netlocs: set[str]) -> bool:
    """Same host and port as a start URL, or (for named hosts) the same registered domain."""
    parts = urlsplit(url)
    if parts.netloc.lower() in start_netlocs:
        return True
    host = (parts.hostname or "").lower()
    if not host or host.replace(".", "").isdigit() or ":" in host:
        return False
    return any(_base_domain(host) == _base_domain(n.split(":")[0]) for n in start_netlocs)


def article_links(response: TextResponse, rules: LinkRules, hosts: set[str]) -> list[str]:
    """Canonical URLs of the article links on a list page, in page order, once each."""
    if rules.css:
        nodes = response.css(rules.css)
    elif rules.xpath:
        nodes = response.xpath(rules.xpath)
    else:
        nodes = response.xpath("//a[@href]")
    found: dict[str, None] = {}
    for node in nodes:
        anchors = [node] if getattr(node.root, "tag", None) == "a" else node.xpath(".//a[@href]")
        for anchor in anchors:
            href = (anchor.attrib.get("href") or "").strip()
            if not href or href.startswith(("javascript:", "mailto:", "#")):
                continue
            url = canonical_url(response.urljoin(href))
            if not url.startswith(("http://", "https://")) or not _same_site(url, hosts):
                continue
            if rules.allow and not any(re.search(p, url) for p in rules.allow):
                continue
            if any(re.search(p, url) for p in rules.deny):
                continue
            if rules.automatic and not _looks_like_article(url, " ".join(anchor.xpath(".//text()").getall())):
                continue
            found[url] = None
    return list(found)


def _looks_like_article(url: str, text: str) -> bool:
    path = urlsplit(url).path
    if _ARTICLE_URL.search(path):
        return True
    return (
        len(_CJK.findall(text)) >= 10
        and re.search(r"\.s?html?$", path) is not None
        and not _NOT_ARTICLE.search(path)
    )


def next_page_url(response: TextResponse, pagination: Pagination, page: int, start_url: str) -> str | None:
    """URL of list page ``page + 1``, or None when there is none to follow."""
    if page >= pagination.max_pages:
        return None
    if pagination.pattern:
        return urljoin(start_url, pagination.pattern.format(page=pagination.first + page - 1))
    nodes = response.css(pagination.next_css) if pagination.next_css else (
        response.xpath(pagination.next_xpath) if pagination.next_xpath else None
    )
    if nodes is None:
        return _auto_next(response)
    for node in nodes:
        href = node.attrib.get("href") if getattr(node.root, "tag", None) == "a" else node.xpath(".//a/@href").get()
        if href and not href.startswith("javascript:"):
            return response.urljoin(href.strip())
    return None


def _auto_next(response: TextResponse) -> str | None:
    link = response.xpath("//a[@rel='next']/@href | //link[@rel='next']/@href").get()
    if link:
        return response.urljoin(link)
    for anchor in response.xpath("//a[@href]"):
        text = " ".join(anchor.xpath(".//text()").getall()).strip().lower()
        if text in _NEXT_TEXT:
            href = anchor.attrib["href"].strip()
            if not href.startswith("javascript:"):
                return response.urljoin(href)
    return None
