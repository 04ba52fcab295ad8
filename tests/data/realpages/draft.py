"""Draft an expected file from a saved page, WITHOUT our extractor (a person then checks every line).

    python tests/data/realpages/draft.py article trs/x.html URL "CSS of the content element"
    python tests/data/realpages/draft.py list trs/x.html URL 'regex of article URLs'

article: the paragraphs of the CMS content element, one per block, as a reader sees them.
list: every <a href> outside comments and scripts whose absolute URL matches the regex.
The metadata fields are left for the person to fill from the page.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml.cssselect import CSSSelector

HERE = Path(__file__).parent
BLOCKS = {"p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "br", "section", "dd", "dt", "center"}


def paragraphs(el: lxml.html.HtmlElement) -> list[str]:
    el = copy.deepcopy(el)
    for node in list(el.iter("script", "style")):
        node.drop_tree()
    for node in el.iter():
        if isinstance(node.tag, str) and node.tag in ("td", "th"):
            node.tail = " | " + (node.tail or "")
        elif isinstance(node.tag, str) and node.tag in BLOCKS:
            node.tail = "\n" + (node.tail or "")
    lines = (" ".join(line.split()).strip(" |") for line in el.text_content().split("\n"))
    return [line for line in lines if line]


def main(kind: str, file: str, url: str, how: str) -> None:
    text = (HERE / file).read_bytes().decode("utf-8")
    if kind == "article":
        tree = lxml.html.document_fromstring(text)
        body = paragraphs(CSSSelector(how)(tree)[0])
        draft = {"file": file, "kind": "article", "url": url, "title": None, "published_at": None, "author": None,
                 "source_name": None, "body": body}
    else:
        visible = re.sub(r"<!--.*?-->|<script\b.*?</script>", "", text, flags=re.S | re.I)
        links: list[str] = []
        for href in re.findall(r"""<a\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)""", visible, re.I):
            absolute = urldefrag(urljoin(url, href.strip()))[0]
            if re.search(how, absolute) and absolute not in links:
                links.append(absolute)
        draft = {"file": file, "kind": "list", "url": url, "links": links, "next_page": None}
    print(json.dumps(draft, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:5])
