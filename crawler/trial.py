"""`crawler sources try` and `crawler sources new`: see what a source config will do, before it runs.

Nothing is stored. The list pages are read with the same link and pagination
code as the spider (spiders/links.py) and the articles go through the same
extraction, so what the operator sees is what the crawl will get.
"""

from __future__ import annotations

import re
import urllib.error
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import HtmlResponse

from crawler import attachments
from crawler.errors import ExtractionError
from crawler.extract import extract
from crawler.fetch import Refused, get
from crawler.netguard import check_url
from crawler.sources import LinkRules, Pagination, Source
from spiders.cms import NextPage, datastore_records, script_rendered
from spiders.links import article_links, next_page, own_pager


@dataclass
class ListPage:
    url: str
    status: int | None = None
    error: str | None = None
    anchors: int = 0  # <a href> elements on the page
    selected: int | None = None  # nodes the links selector matched (None: automatic detection)
    links: list[str] = field(default_factory=list)
    next_url: str | None = None
    script_note: str | None = None  # why the links are likely drawn by a script we cannot follow


@dataclass
class TriedArticle:
    url: str
    title: str | None = None
    published_at: str | None = None
    date_origin: str | None = None
    author: str | None = None
    source_name: str | None = None
    flags: list[str] = field(default_factory=list)
    first_lines: list[str] = field(default_factory=list)
    characters: int = 0
    attachments: list[str] = field(default_factory=list)  # "name (kind, fetched | recorded only) URL"
    error: str | None = None


@dataclass
class Trial:
    source: str
    pages: list[ListPage] = field(default_factory=list)
    articles: list[TriedArticle] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(url: str, source: Source, form: dict[str, str] | None = None) -> HtmlResponse:
    """One GET (or POST of ``form``) with the source's user agent, timeout and encoding; HTTP errors raise."""
    req = source.request
    page = get(url, encoding=req.encoding, timeout=req.timeout.total_seconds(), user_agent=req.user_agent,
               allow_private=req.allow_private_targets, form=form)
    return HtmlResponse(page.url, status=page.status, body=page.text.encode("utf-8"), encoding="utf-8")


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"refused: {exc.reason}" if isinstance(exc.reason, Refused) else f"cannot connect: {exc.reason}"
    if isinstance(exc, Refused):
        return f"refused: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _selected(response: HtmlResponse, rules: LinkRules) -> int | None:
    if rules.css:
        return len(response.css(rules.css))
    if rules.xpath:
        return len(response.xpath(rules.xpath))
    return None


def try_source(source: Source, *, pages: int = 2, articles: int = 3) -> Trial:
    """Read up to ``pages`` list pages per start URL and extract the first ``articles`` articles."""
    trial = Trial(source.name)
    hosts = {urlsplit(u).netloc.lower() for u in source.start_urls}
    pagination = source.pagination or Pagination()
    found: list[str] = []
    for start_url in source.start_urls:
        via: NextPage | None = NextPage(start_url)
        for number in range(1, pages + 1):
            if via is None:
                break
            url = via.url
            page = ListPage(url)
            trial.pages.append(page)
            try:
                response = _get(url, source, via.form if via.method == "POST" else None)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the trial
                page.error = _describe(exc)
                trial.problems.append(f"list page {url}: {page.error}")
                break
            page.status = response.status
            page.anchors = len(response.xpath("//a[@href]"))
            page.selected = _selected(response, source.links)
            page.links = article_links(response, source.links, hosts)
            following = next_page(response, pagination, number, start_url, via.jpage)
            page.next_url = following.url if following else None
            if not page.links:
                visible = response.xpath("//body//text()[not(ancestor::script or ancestor::style)]").getall()
                page.script_note = script_rendered(response.text, page.anchors, len("".join(visible).strip()))
            found += [link for link in page.links if link not in found]
            if not (page.links == [] and via.jpage is not None):  # a pager group past the end is no problem
                _page_problems(trial, source, page, number)
            via = following
    for link in found[:articles]:
        trial.articles.append(_try_article(link, source))
    _article_problems(trial, found)
    return trial


def _page_problems(trial: Trial, source: Source, page: ListPage, number: int) -> None:
    rules = source.links
    selector = f"links.css {rules.css!r}" if rules.css else (f"links.xpath {rules.xpath!r}" if rules.xpath else None)
    if selector and page.selected == 0:
        trial.problems.append(f"{page.url}: {selector} matched nothing (the page has {page.anchors} links)")
    elif not page.links and (rules.allow or rules.deny):
        trial.problems.append(f"{page.url}: every link was filtered out by links.allow / links.deny")
    elif not page.links and page.script_note:
        trial.problems.append(
            f"{page.url}: no article links: {page.script_note}; this crawler does not run scripts: set links.allow "
            "to the article URLs if they are in the page source, start from another list URL, or use the site's API/feed URL"
        )
    elif not page.links:
        how = "automatic detection" if rules.automatic else selector
        trial.problems.append(f"{page.url}: no article links found ({how}); set links.css to the list's links")
    pagination = source.pagination
    if number == 1 and pagination and (pagination.next_css or pagination.next_xpath) and page.next_url is None:
        which = f"pagination.next_css {pagination.next_css!r}" if pagination.next_css else f"pagination.next_xpath {pagination.next_xpath!r}"
        trial.problems.append(f"{page.url}: {which} matched no link")


def _try_article(url: str, source: Source) -> TriedArticle:
    tried = TriedArticle(url)
    try:
        response = _get(url, source)
        article = extract(response.text, response.url, source.cleanup)
    except ExtractionError as exc:
        tried.error = f"{exc.kind}: {exc}"
        return tried
    except Exception as exc:  # noqa: BLE001
        tried.error = _describe(exc)
        return tried
    tried.title = article.title
    tried.published_at = article.published_at.isoformat() if article.published_at else None
    tried.date_origin = article.date_origin
    tried.author, tried.source_name, tried.flags = article.author, article.source_name, list(article.flags)
    lines = [line for line in article.body.split("\n") if line.strip()]
    tried.first_lines, tried.characters = lines[:3], len(article.body)
    links = attachments.find_links(response.selector.root, response.url) if attachments.mentions_files(response.text) else []
    settings = source.attachments
    tried.attachments = [f"{link.name} ({link.kind}, {'fetched' if settings.fetch and link.kind in settings.types else 'recorded only'}) "
                         f"{link.url}" for link in links]
    return tried


def _article_problems(trial: Trial, found: list[str]) -> None:
    tried = trial.articles
    for article in tried:
        if article.error:
            trial.problems.append(f"{article.url}: {article.error}")
    ok = [a for a in tried if not a.error]
    undated = [a for a in ok if not a.published_at]
    if undated:
        trial.problems.append(
            f"no publish date on {len(undated)} of {len(ok)} articles tried (e.g. {undated[0].url}); "
            "the list's links may not be articles, or the pages carry no date"
        )
    short = [a for a in ok if a.characters < 80]
    if short:
        trial.problems.append(
            f"{len(short)} of {len(ok)} articles have under 80 characters of text (e.g. {short[0].url}): "
            "links.css may pick navigation links, or cleanup.drop_selectors removes too much"
        )
    hosts = Counter(urlsplit(u).netloc for u in found)
    if len(hosts) > 1:
        trial.problems.append(f"article links point at {len(hosts)} hosts: {', '.join(sorted(hosts))}")


# -- sources new ------------------------------------------------------------------------------------------------


def _container_selector(response: HtmlResponse, links: list[str]) -> str | None:
    """A CSS selector of the element holding most article links: ``div.news-list``, ``ul#list``…"""
    wanted = set(links)
    anchors = [a for a in response.xpath("//a[@href]") if response.urljoin(a.attrib["href"].strip()) in wanted]
    if not anchors:
        anchors = response.xpath("//a[@href]")
    counts: Counter[str] = Counter()
    for anchor in anchors:
        for ancestor in anchor.xpath("ancestor::*[@id or @class]"):
            tag = ancestor.root.tag
            if tag in ("html", "body"):
                continue
            ident = (ancestor.attrib.get("id") or "").strip()
            classes = (ancestor.attrib.get("class") or "").split()
            if ident and re.fullmatch(r"[A-Za-z][\w-]*", ident):
                counts[f"{tag}#{ident}"] += 1
            elif classes and re.fullmatch(r"[A-Za-z][\w-]*", classes[0]):
                counts[f"{tag}.{classes[0]}"] += 1
    if not counts:
        return None
    best = max(counts.values())
    # The innermost container among those holding (nearly) all the links: the one matching fewest nodes.
    candidates = [sel for sel, n in counts.items() if n >= 0.8 * best]
    candidates.sort(key=lambda sel: (len(response.css(f"{sel} a[href]")), sel))
    return candidates[0]


def _pattern_of(next_url: str, start_url: str) -> tuple[str, int] | None:
    """``…/index_1.htm`` after ``…/index.htm`` → (``index_{page}.htm``, 1)."""
    name = next_url.rsplit("/", 1)[-1]
    match = re.fullmatch(r"(.*?)(\d+)(\.s?html?)", name)
    if not match or next_url.rsplit("/", 1)[0] != start_url.rsplit("/", 1)[0]:
        return None
    return f"{match.group(1)}{{page}}{match.group(3)}", int(match.group(2))


def _allow_pattern(links: list[str]) -> str | None:
    """A regex for the shared path prefix of the article links, digits generalised."""
    paths = [urlsplit(u).path for u in links]
    if len(paths) < 2:
        return None
    shapes = [re.sub(r"\d+", "0", p) for p in paths]
    prefix = shapes[0]
    for shape in shapes[1:]:
        while not shape.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix[: prefix.rfind("/") + 1]
    if len(prefix) <= 1:
        return None
    return re.escape(prefix).replace("0", r"\d+").replace("\\/", "/")


def starter_yaml(url: str, name: str, *, user_agent: str | None = None, allow_private: bool = False) -> tuple[str, list[str]]:
    """A source file for the list page at ``url``, with what could be detected; and notes for the operator."""
    check_url(url, allow_private=allow_private, what="URL")
    request: dict[str, Any] = {"allow_private_targets": allow_private, **({"user_agent": user_agent} if user_agent else {})}
    probe = Source(name=name, title=name, start_urls=[url], request=request)
    response = _get(url, probe)
    links = article_links(response, LinkRules(), {urlsplit(url).netloc.lower()})
    notes: list[str] = []
    title = (response.xpath("//title/text()").get() or name).strip()
    title = re.split(r"\s*[-_|–—]\s*", title)[0] or name
    in_datastore = bool(datastore_records(response.text))
    container = _container_selector(response, links) if links and not in_datastore else None
    allow = _allow_pattern(links)
    following = next_page(response, Pagination(), 1, url)
    next_url = following.url if following else None
    pager = own_pager(response)
    lines = [
        f"# Starter config written by `crawler sources new` from {url}",
        "# Check it with `crawler sources try` and edit before it goes live (docs/sources.md).",
        f"name: {name}",
        f"title: {title}",
        "start_urls:",
        f"  - {url}",
        "links:",
    ]
    if container:
        lines.append(f'  css: "{container}"')
    elif in_datastore:
        lines.append("  # the links are in the page's Hanweb <datastore> script block: found automatically")
    else:
        lines.append("  # css: \"div.list\"   # could not find a container of the article links: set one")
        notes.append("no container of article links found; links are detected automatically")
    if allow:
        lines += ["  allow:", f"    - '{allow}'"]
    lines.append("pagination:")
    if next_url is None and not pager:  # numbered page links only ("1 2 3"): take the link to page 2
        second = response.xpath("//a[normalize-space()='2']/@href").get()
        next_url = response.urljoin(second.strip()) if second else None
    pattern = _pattern_of(next_url, url) if next_url and not pager else None
    if pager:
        lines.append(f"  # automatic: the page's own {pager} pager is followed (no pattern needed)")
    elif pattern:
        lines += [f"  pattern: {pattern[0]}", f"  first: {pattern[1]}"]
    elif next_url:
        anchor_text = response.xpath(f"//a[@href and contains(@href, '{next_url.rsplit('/', 1)[-1]}')]/text()").get()
        if anchor_text and anchor_text.strip():
            lines.append(f"  next_xpath: \"//a[normalize-space()='{anchor_text.strip()}']\"")
        else:
            lines.append("  # next_css: \"a.next\"   # a next-page link was found but not its selector")
    else:
        lines.append("  # pattern: index_{page}.htm   # no next-page link found on the first page")
        notes.append("no pagination found: only the first list page will be read")
    lines += ["  max_pages: 5", "schedule:", "  every: 30m", "request:", "  delay: 2s", "  concurrency: 2"]
    if allow_private:
        lines.append("  allow_private_targets: true  # the portal is on a loopback or private address")
    notes.insert(0, f"{len(links)} article links found on the page")
    return "\n".join(lines) + "\n", notes
