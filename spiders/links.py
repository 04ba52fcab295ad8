"""Finding article and next-page links on a list page."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from scrapy.http import HtmlResponse, TextResponse

from crawler.normalize import canonical_url
from crawler.sources import LinkRules, Pagination
from spiders.cms import JPage, NextPage, datastore_records, iqilu_next, jpage_of, total_records, trs_next

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


def link_document(response: TextResponse) -> TextResponse:
    """Where a list page's links are: the page itself, or the records of its Hanweb ``<datastore>``
    (a column page, where the links sit inside a script block, or a dataproxy.jsp answer)."""
    records = datastore_records(response.text)
    if not records:
        return response
    body = "<html><body>\n" + "\n".join(records) + "\n</body></html>"
    return HtmlResponse(response.url, body=body.encode("utf-8"), encoding="utf-8")


def article_links(response: TextResponse, rules: LinkRules, hosts: set[str]) -> list[str]:
    """Canonical URLs of the article links on a list page, in page order, once each."""
    response = link_document(response)
    if rules.css:
        nodes = response.css(rules.css)
    elif rules.xpath:
        nodes = response.xpath(rules.xpath)
    else:
        nodes = response.xpath("//a[@href]")
    found: dict[str, bool] = {}  # URL -> has a dated CMS article shape
    for node in nodes:
        anchors = [node] if getattr(node.root, "tag", None) == "a" else node.xpath(".//a[@href]")
        for anchor in anchors:
            href = (anchor.attrib.get("href") or "").strip()
            if not href or href.startswith(("javascript:", "mailto:", "#")):
                continue
            url = canonical_url(response.urljoin(href))
            if url in found or not url.startswith(("http://", "https://")) or not _same_site(url, hosts):
                continue
            if rules.allow and not any(re.search(p, url) for p in rules.allow):
                continue
            if any(re.search(p, url) for p in rules.deny):
                continue
            if rules.automatic:
                shaped = _ARTICLE_URL.search(urlsplit(url).path) is not None
                if not shaped and not _looks_like_article(url, " ".join(anchor.xpath(".//text()").getall())):
                    continue
                found[url] = shaped
            else:
                found[url] = True
    if rules.automatic and sum(found.values()) >= _SHAPED_ENOUGH:
        # The site names its articles by dated URLs: undated pages with long link texts are
        # forum threads, topic pages and the like.
        return [url for url, shaped in found.items() if shaped]
    return list(found)


_SHAPED_ENOUGH = 5


def _looks_like_article(url: str, text: str) -> bool:
    """An undated URL that may still be an article: a long headline linking to a page."""
    path = urlsplit(url).path
    return (
        len(_CJK.findall(text)) >= 10
        and re.search(r"\.s?html?$", path) is not None
        and not _NOT_ARTICLE.search(path)
    )


def next_page(
    response: TextResponse, pagination: Pagination, page: int, start_url: str, jpage: JPage | None = None
) -> NextPage | None:
    """List page ``page + 1``, or None when there is none to follow.

    With no pagination rule in the config, the page's own pager decides: a Hanweb
    jpage (``jpage``: the state carried from the column page), a TRS
    ``createPageHTML`` script, a next-page link, an iqilu ``list_<catid>_<n>`` link.
    """
    if page >= pagination.max_pages:
        return None
    if pagination.pattern:
        return NextPage(urljoin(start_url, pagination.pattern.format(page=pagination.first + page - 1)))
    nodes = response.css(pagination.next_css) if pagination.next_css else (
        response.xpath(pagination.next_xpath) if pagination.next_xpath else None
    )
    if nodes is None:
        return _auto_next(response, jpage)
    for node in nodes:
        href = node.attrib.get("href") if getattr(node.root, "tag", None) == "a" else node.xpath(".//a/@href").get()
        if href and not href.startswith("javascript:"):
            return NextPage(response.urljoin(href.strip()))
    return None


def _auto_next(response: TextResponse, jpage: JPage | None) -> NextPage | None:
    return _own_pager(response, jpage)[0]


def own_pager(response: TextResponse) -> str | None:
    """The CMS pager that automatic pagination follows on this page, by name (None: none, or a plain next link)."""
    return _own_pager(response, None)[1]


def _own_pager(response: TextResponse, jpage: JPage | None) -> tuple[NextPage | None, str | None]:
    """The page's own pager: (its next page, the pager's name) in the order automatic pagination tries them."""
    text = response.text
    records = len(datastore_records(text))
    if jpage is not None:  # a dataproxy.jsp answer: the next group, until the column ends
        return jpage.next(records, total_records(text)), _JPAGE
    if records and (declared := jpage_of(text, response.url, records)) is not None:
        return declared.next(records), _JPAGE
    if trs := trs_next(text, response.url):
        return NextPage(trs), "TRS createPageHTML"
    if link := _next_link(response):
        return NextPage(link), None
    if (listed := iqilu_next(response.xpath("//a/@href").getall(), response.url)) is not None:
        return NextPage(listed), "iqilu list_<catid>_<n>"
    return None, None


_JPAGE = "Hanweb jpage (dataproxy.jsp)"


def _next_link(response: TextResponse) -> str | None:
    link = response.xpath("//a[@rel='next']/@href | //link[@rel='next']/@href").get()
    if link:
        return response.urljoin(link)
    for anchor in response.selector.root.iter("a"):  # lxml's own walk: a Selector per link cost a list page ~1 ms
        if anchor.get("href") is None:
            continue
        text = " ".join(anchor.itertext()).strip().lower()  # what ".//text()" joins
        if text in _NEXT_TEXT:
            href = anchor.get("href").strip()
            if not href.startswith("javascript:"):
                return response.urljoin(href)
    return None
