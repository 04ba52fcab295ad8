"""What the portal CMS families write into article pages, read before any heuristic.

* metas: Hanweb and TRS pages name their article in ``<meta name="ArticleTitle">``,
  ``PubDate`` / ``publishdate``, ``ContentSource`` (the original source),
  ``ColumnName`` and ``Url``, in any attribute order and letter case;
* content containers: the element the CMS template puts the article text in
  (Hanweb ``#zoom`` between ``ContentStart``/``ContentEnd``, TRS ``.TRS_Editor`` /
  ``#downloadContent``, iqilu ``div.article-main``, …). When one holds the text, it
  bounds the body, so a 信息公开 table, a related-reading list or a share bar
  beside it cannot end up in it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

import lxml.html
from lxml.cssselect import CSSSelector

__all__ = ["CONTAINERS", "container_lines", "meta_values"]

# In order of trust: the first selector that holds enough text wins.
CONTAINERS = [
    CSSSelector(selector)
    for selector in (
        "#zoom", "#Zoom", "div.article_zoom", "div.zoom",  # Hanweb
        "div.TRS_Editor", "#downloadContent", "div.TRS_UEDITOR", "div.trs_editor_view",  # TRS
        "div.article-main", "#context",  # iqilu (older pages: #context)
        "#news-con", "#js_content", "div.article-content", "div.pages_content",  # TRS templates, WeChat imports
    )
]
MIN_CONTAINER_LETTERS = 60
_BLOCKS = {
    "p", "div", "tr", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "br", "section", "article",
    "dd", "dt", "dl", "blockquote", "pre", "center",
}
_NOT_WORD = re.compile(r"[^\w\u4e00-\u9fff]+")  # what is left of a text is its letters and digits


def meta_values(tree: lxml.html.HtmlElement, names: Iterable[str]) -> list[str]:
    """Contents of the metas named (by name, property or itemprop, any case), in page order."""
    wanted = {name.lower() for name in names}
    found = []
    for el in tree.iter("meta"):
        attrs = {k.lower(): v for k, v in el.attrib.items()}
        key = (attrs.get("name") or attrs.get("property") or attrs.get("itemprop") or "").strip().lower()
        value = (attrs.get("content") or "").strip()
        if key in wanted and value:
            found.append(value)
    return found


def container_lines(tree: lxml.html.HtmlElement) -> list[str] | None:
    """The text lines of the family's content container, or None when the page has none holding text."""
    for select in CONTAINERS:
        best, best_letters = None, 0
        for el in select(tree):
            letters = len(_NOT_WORD.sub("", el.text_content()))  # not findall: a list of every letter
            if letters > best_letters:
                best, best_letters = el, letters
        if best is not None and best_letters >= MIN_CONTAINER_LETTERS:
            return _lines(best)
    return None


def _lines(el: lxml.html.HtmlElement) -> list[str]:
    """One line per block; a table row's cells joined with `` | `` (as trafilatura renders tables)."""
    el = copy.deepcopy(el)
    for node in el.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag in ("td", "th"):
            node.tail = " | " + (node.tail or "")
        elif node.tag in _BLOCKS:
            node.tail = "\n" + (node.tail or "")
            if node.tag not in ("br",):
                node.text = "\n" + (node.text or "")
    lines = []
    for raw in el.text_content().split("\n"):
        line = " ".join(raw.split()).strip(" |")
        if line:
            lines.append(line)
    return lines
