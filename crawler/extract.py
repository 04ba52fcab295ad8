"""Turn one HTML page into an Article: title, body, date, author, original source.

trafilatura finds the main text; around it this module removes what Chinese
portal pages carry besides the article (see ``crawler.boilerplate``), applies
the source's own cleanup rules, drops a body served twice, and reads the
metadata from the page's header lines rather than trusting generic heuristics.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable
from functools import lru_cache

import lxml.html
import trafilatura
from lxml import etree
from lxml.cssselect import CSSSelector

from crawler import boilerplate, metadata, spam, tables
from crawler.dates import parse_chinese_datetime
from crawler.errors import ExtractionError
from crawler.families import container_lines, meta_values
from crawler.models import Article
from crawler.notice import read as read_notice
from crawler.sources import Cleanup

__all__ = ["extract", "MIN_BODY_CHARS", "strip_site_suffix", "unavailable_reason"]

strip_site_suffix = metadata.strip_site_suffix

log = logging.getLogger(__name__)

MIN_BODY_CHARS = 20  # fewer letters than this is not an article
_REPEAT_MIN = 12  # a line this long seen twice is a repeated body, not prose
_BLOCK_TAGS = {
    "p", "div", "td", "th", "tr", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "br",
    "section", "article", "header", "footer", "dd", "dt", "dl", "blockquote", "pre", "center", "form",
}
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WORD_CHARS = re.compile(r"[\w\u4e00-\u9fff]")
_NOT_WORD_CHARS = re.compile(r"[^\w\u4e00-\u9fff]+")


UNAVAILABLE_MAX_CHARS = 300  # a maintenance or "not found" notice is short; an article about maintenance is not
_MAINTENANCE = re.compile(
    r"网站维护|網站維護|系统维护|系統維護|维护中|維護中|升级维护|升級維護|系统升级|系統升級|暂停服务|暫停服務|暂停访问|"
    r"under maintenance|maintenance mode|service unavailable|temporarily unavailable", re.I)
_NOT_FOUND = re.compile(
    r"页面不存在|頁面不存在|页面未找到|頁面未找到|找不到(?:该|該|您要的|您访问的)?页面|您访问的页面|您訪問的頁面|无法找到|無法找到|"
    r"信息不存在|文章不存在|内容不存在|已被删除|已被刪除|已删除|已下线|"
    r"\b404\b|not found|page not found", re.I)


def unavailable_reason(title: str | None, text: str, letters: int | None = None) -> tuple[str, str] | None:
    """("maintenance" | "soft_404", message) for a short page that says the site is down or the page is gone.
    ``letters``: those of ``text``, when the caller counted them."""
    if (_letters(text) if letters is None else letters) >= UNAVAILABLE_MAX_CHARS:
        return None
    sample = f"{title or ''}\n{text[:200]}"  # the notice is the title or the first lines
    if match := _MAINTENANCE.search(sample):
        return "maintenance", f"the portal serves a maintenance page ({match.group(0)!r}), not an article"
    if match := _NOT_FOUND.search(sample):
        return "soft_404", f"the page says it does not exist ({match.group(0)!r}) although it answered 200"
    return None


def extract(html: str | bytes, url: str, cleanup: Cleanup | None = None) -> Article:
    """Extract the article of one page; raise ExtractionError when there is none."""
    tree = _parse(html)
    cleanup = cleanup or Cleanup()
    spam_rules = spam.patterns(cleanup.spam_patterns)
    on_page = spam.phrases(tree.text_content(), spam_rules)  # before pruning: hidden text and scripts count
    _prune(tree, cleanup.drop_selectors)
    notice = read_notice(tree)
    _unwrap_layout_tables(tree)
    extra_patterns = [re.compile(p) for p in cleanup.drop_patterns]
    page_lines = _text_lines(tree)
    _drop_forms(tree)

    title = metadata.title(tree)
    body_lines = _body_lines(tree, url, extra_patterns)
    # The flag describes the text: a phrase in the title or body flags the article (and goes); one only
    # in the page's chrome (footer, side column, navigation) is the site's problem, reported on its health.
    injected = bool(on_page) and spam.found("\n".join([title or "", *body_lines]), spam_rules)
    if injected:
        title, body_lines = metadata.strip_site_suffix(spam.strip(title, spam_rules)), spam.strip_lines(body_lines, spam_rules)
    body_lines = _strip_head(body_lines, title)
    body_lines = _cut_tail(_drop_link_lines(body_lines, _anchor_texts(tree), title))
    body = "\n".join(body_lines)
    letters = _letters(body)
    if letters < UNAVAILABLE_MAX_CHARS:
        reason = unavailable_reason(title, body, letters) if body_lines else unavailable_reason(title, "\n".join(page_lines))
        if reason:
            raise ExtractionError(reason[0], f"{url}: {reason[1]}")
    if letters < MIN_BODY_CHARS:
        raise ExtractionError("empty_body", f"{url}: no article text found ({letters} letters)")

    header, after = _split_header(page_lines, body_lines)
    published_at, date_origin = metadata.published(tree, url, header, after)
    if notice and notice.published and (published_at is None or published_at.date() != notice.published.date()):
        published_at, date_origin = notice.published, "notice"  # its 发布日期, never the 成文日期
    column = meta_values(tree, ["ColumnName"])
    return Article(
        url=url,
        canonical_url=metadata.canonical(tree, url),
        title=title or (body_lines[0][:60] if body_lines else ""),
        body=body,
        published_at=published_at,
        date_origin=date_origin,
        author=metadata.author(header, body_lines),
        source_name=metadata.source_name(tree, header),
        column=column[0] if column else None,
        flags=[spam.FLAG] if injected else [],
        chrome_spam=[] if injected else on_page,
        notice=notice,
        tables=tables.read(tree, body_lines),
    )


# -- parsing and pruning ------------------------------------------------------------------------


def _parse(html: str | bytes) -> lxml.html.HtmlElement:
    if isinstance(html, str):
        html = _CONTROL.sub("", _XML_DECL.sub("", html, count=1))  # lxml refuses text with control characters
    else:
        html = _CONTROL_BYTES.sub(b"", html)
    if not html or not html.strip():
        raise ExtractionError("empty_page", "the page is empty")
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError("unparseable", f"cannot parse HTML: {exc}") from None


@lru_cache(maxsize=256)
def _compiled(selector: str) -> CSSSelector:
    """A source's cleanup selectors, compiled once per process (not once per page)."""
    return CSSSelector(selector)


_STYLED = etree.XPath("//*[@style]")  # the few elements that have a style, not a Python loop over all


def _prune(tree: lxml.html.HtmlElement, selectors: Iterable[str]) -> None:
    doomed = list(tree.iter(*(tag for tag in boilerplate.DROP_ELEMENTS if tag != "form")))  # one walk for all tags
    doomed += [el for el in _STYLED(tree) if boilerplate.HIDDEN_STYLE.search(el.get("style"))]
    for selector in selectors:
        doomed += _compiled(selector)(tree)
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()


def _drop_forms(tree: lxml.html.HtmlElement) -> None:
    """Search boxes and the like go before extraction (after the page's lines were read for dates:
    an e-paper's issue date may sit in its search form). ASP.NET and some CMSs wrap the whole page
    in one <form>: only forms with little text are dropped."""
    for form in list(tree.iter("form")):
        if form.getparent() is not None and _letters(form.text_content()) < boilerplate.FORM_MAX_LETTERS:
            form.drop_tree()


def _unwrap_layout_tables(tree: lxml.html.HtmlElement) -> None:
    """Government CMSs lay pages out with tables; turn those into divs so the
    paragraphs inside a cell stay paragraphs. Data tables (no blocks in cells) stay."""
    for table in list(tree.iter("table")):
        if not table.xpath(".//td//p | .//td//div | .//th//p"):
            continue
        own = [el for el in table.iter("tbody", "thead", "tfoot", "tr", "td", "th")
               if next(el.iterancestors("table"), None) is table]  # a data table inside a cell stays a table
        for el in [table, *own]:
            el.tag = "div"


def _text_lines(tree: lxml.html.HtmlElement) -> list[str]:
    """The visible text of the page, one line per block element."""
    body = tree.find("body")
    root = copy.deepcopy(body if body is not None else tree)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    text = root.text_content()
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def _letters(text: str) -> int:
    return len(_NOT_WORD_CHARS.sub("", text))  # 3x faster than counting the matches of _WORD_CHARS


# -- body -----------------------------------------------------------------------------------------


def _body_lines(tree: lxml.html.HtmlElement, url: str, extra: list[re.Pattern[str]]) -> list[str]:
    contained = container_lines(tree)  # the CMS template's own content element (#zoom, .TRS_Editor, …)
    if contained is not None:
        lines = _clean_lines(contained, extra)
        if _letters("".join(lines)) >= MIN_BODY_CHARS * 3:
            return lines
    densest = _clean_lines(_densest_block(tree), extra)
    for options in ({}, {"favor_recall": True}):
        doc = trafilatura.bare_extraction(
            copy.deepcopy(tree), url=url, include_comments=False, include_tables=True,
            deduplicate=False, with_metadata=False, **options,
        )
        text = getattr(doc, "text", None) or ""
        lines = _clean_lines(text.split("\n"), extra)
        if _letters("".join(lines)) >= MIN_BODY_CHARS * 3:
            # trafilatura sometimes picks a sidebar; the densest run of paragraphs then holds far more prose.
            return densest if _prose(densest) > 2 * _prose(lines) else lines
    # Last resort: the block with the most paragraph text.
    return densest


def _prose(lines: list[str]) -> int:
    """Letters in lines long enough to be sentences (menus and headline lists count nothing)."""
    return sum(n for n in (_letters(line) for line in lines) if n >= 30)


def _clean_lines(lines: Iterable[str], extra: list[re.Pattern[str]]) -> list[str]:
    folded = (" ".join(raw.split()) for raw in lines)
    return _drop_repeats([
        line for line in folded if _WORD_CHARS.search(line) and not boilerplate.is_boilerplate(line, extra)
    ])


def _drop_repeats(lines: list[str]) -> list[str]:
    """Remove a body (or any run of lines) served a second time.

    A long line seen before marks a repeat; the run around it that mirrors the
    first copy line by line (short lines such as bylines included) goes with it.
    """
    first: dict[str, int] = {}
    kept: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        origin = first.get(line) if len(line) >= _REPEAT_MIN else None
        if origin is None:
            if len(line) >= _REPEAT_MIN:
                first[line] = i
            kept.append((i, line))
            i += 1
            continue
        back = 1
        while kept and kept[-1][0] > origin and origin - back >= 0 and kept[-1][1] == lines[origin - back]:
            kept.pop()
            back += 1
        step = 0
        while i + step < len(lines) and origin + step < i and lines[i + step] == lines[origin + step]:
            step += 1
        i += max(step, 1)
    return [line for _, line in kept]


_LINK_SHARE_SHORT = 0.6  # share of a short line covered by link texts: a headline list item, a menu entry
_LINK_SHARE_LONG = 0.8  # a longer line must be nearly all links (a navigation row) to go
_SHORT_LINE = 60
_BULLET = re.compile(r"^[-·•．.|\s]+|[|\s]+$")
_LIST_DATE = re.compile(r"[(（\[]?\d{1,4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?[)）\]]?\s*$")


def _anchor_texts(tree: lxml.html.HtmlElement) -> list[str]:
    texts = {" ".join(anchor.text_content().split()) for anchor in tree.iter("a")}
    return sorted((t for t in texts if len(t) >= 2), key=len, reverse=True)


def _linked_share(line: str, anchors: list[str]) -> float:
    """Share of the line's letters that lie inside the text of some link on the page."""
    spans = []
    for text in anchors:
        if not text or len(text) > len(line):
            continue
        start = line.find(text)
        while start != -1:
            spans.append((start, start + len(text)))
            start = line.find(text, start + len(text))
    if not spans:
        return 0.0
    total = _letters(line)
    if not total:
        return 0.0
    inside, reach = 0, 0  # letters in the union of the spans, each counted once
    for start, end in sorted(spans):
        if end <= reach:
            continue
        inside += _letters(line[max(start, reach) : end])
        reach = end
    return inside / total


def _drop_link_lines(lines: list[str], anchors: list[str], title: str) -> list[str]:
    """Remove lines that are mostly link text: related headlines, rankings, menus, navigation rows.

    trafilatura keeps such lists when they sit next to the text; an article's own
    sentences carry a link for a word or two at most.
    """
    if not anchors:
        return lines
    bares = [_LIST_DATE.sub("", _BULLET.sub("", line)).strip() for line in lines]  # "- ．headline (01/17 06:41)", "| menu | menu |"
    everything = "\n".join(bares)
    anchors = [text for text in anchors if text in everything]  # once per page, not once per line
    kept = []
    for line, bare in zip(lines, bares):
        if bare and bare != title:
            share = _linked_share(bare, anchors)
            if share >= (_LINK_SHARE_SHORT if len(bare) <= _SHORT_LINE else _LINK_SHARE_LONG):
                continue
        kept.append(line)
    return kept


def _cut_tail(lines: list[str]) -> list[str]:
    """Drop a disclaimer or a "related news" heading and everything after it, once the article has begun."""
    for index, line in enumerate(lines):
        if index and any(p.search(line) for p in boilerplate.TAIL_MARKERS) and _prose(lines[:index]):
            lines = lines[:index]
            break
    while len(lines) > 1 and re.search(r"[:：︰]$", lines[-1]) and len(lines[-1]) <= 20:
        lines = lines[:-1]  # the heading of a list that was removed ("國際最新：")
    return lines


def _is_header_line(line: str) -> bool:
    """A short line with a date and a label (来源/发布时间/作者): the article header."""
    if len(line) > 60:
        return False
    has_date = parse_chinese_datetime(line) is not None
    return has_date and (boilerplate.HEADER_LABEL.search(line) is not None or len(line) <= 25)


def _strip_head(lines: list[str], title: str) -> list[str]:
    """Drop the title and header lines that the extractor kept above the text; also a title that a
    government document repeats over two or three lines ("教育部办公厅关于举办" / "…的通知")."""
    head, rest = lines[:4], lines[4:]
    kept = [line for line in head if line != title and not _is_header_line(line)]
    squeezed = title.replace(" ", "")
    while len(kept) > 1 and len(kept[0]) >= 4 and kept[0].replace(" ", "") in squeezed and kept[0] != squeezed:
        kept = kept[1:]
    return kept + rest


def _densest_block(tree: lxml.html.HtmlElement) -> list[str]:
    """The paragraphs of the element holding the most paragraph text of its own.

    Paragraphs are its <p> children and the text it holds directly, cut at <br>
    (older CMSs write "&nbsp;&nbsp;text<br><br>text" straight into a div).
    """
    best: list[str] = []
    best_score = 0
    for el in tree.iter("div", "td", "article", "section", "font"):
        pieces = [el.text or ""]
        for child in el:
            if not isinstance(child.tag, str):
                pieces.append(child.tail or "")
                continue
            if child.tag == "br":
                pieces.append("\n")
            elif child.tag in ("p", "font", "span", "strong", "b", "a"):
                pieces.append("\n" + child.text_content() + "\n")
            pieces.append(child.tail or "")
        paragraphs = [" ".join(line.split()) for line in "".join(pieces).split("\n")]
        paragraphs = [line for line in paragraphs if line]
        score = sum(_letters(p) for p in paragraphs if _letters(p) >= 10)
        if score > best_score:
            best, best_score = paragraphs, score
    return best


def _split_header(page_lines: list[str], body_lines: list[str]) -> tuple[list[str], list[str]]:
    """Page lines before the body (the article header) and after it; ([], page) when the body is not found."""
    for line in body_lines[:5]:
        probe = line[:12]
        if len(probe) < 6:
            continue
        for index, page_line in enumerate(page_lines):
            if probe in page_line:
                return page_lines[:index], page_lines[index + 1 :]
    return [], page_lines
