"""What the three CMS families write into their list pages besides plain links.

* **Hanweb (大汉 JCMS)** column pages carry their article links inside a
  ``<script type="text/xml"><datastore><recordset><record><![CDATA[<li><a …>]]>``
  block, and page on through ``/module/web/jpage/dataproxy.jsp``: the jpage
  script POSTs ``?startrecord=S&endrecord=E&perpage=P`` with the parameters the
  page declares (``columnid``, ``unitid``, ``webid``, ``path``…) as form data, and
  the answer is the same ``<datastore>`` XML.
* **TRS WCM** list pages write their pager with
  ``createPageHTML(countPage, currentPage, "index", "htm")`` (or the same logic
  spelled out with ``var countPage = 2`` / ``var currentPage = 0``): page N+1 is
  ``index_N.htm``; there may be no next-page link in the HTML at all.
* **iqilu** lists page as ``list_<catid>_<n>.shtml``, linked from the page itself.

Nothing here fetches; the list spider and ``crawler sources try`` call it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

__all__ = ["JPage", "NextPage", "datastore_records", "jpage_of", "trs_next", "iqilu_next", "script_rendered"]

_RECORD = re.compile(r"<record\b[^>]*>(.*?)</record>", re.S | re.I)
_CDATA = re.compile(r"^\s*<!\[CDATA\[(.*)\]\]>\s*$", re.S)
_TOTAL = re.compile(r"<totalrecord>\s*(\d+)\s*</totalrecord>", re.I)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[(.*?)\]\]>\s*</nextgroup>", re.S | re.I)
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.I)
_PROXY = re.compile(r"""proxyUrl\s*[:=]\s*["']([^"']+)["']""", re.I)
_OPTION = "{}\\s*[:=]\\s*[\"']?(\\d+)".format
_PARAM_OBJECT = re.compile(r"(?:var\s+param_\w+|ajaxParam)\s*[:=]\s*\{([^{}]*)\}", re.I)
_PAIR = re.compile(r"""["']?(\w+)["']?\s*:\s*(?:"([^"]*)"|'([^']*)'|([\w.\-/:]+))""")
_DEFAULT_PROXY = "/module/web/jpage/dataproxy.jsp"
_PAGING_KEYS = {"startrecord", "endrecord", "perpage", "page", "pagenum", "uid"}

_CREATE_PAGE = re.compile(
    r"createPageHTML\(\s*['\"]?(\d+)['\"]?\s*,\s*['\"]?(\d+)['\"]?\s*,\s*['\"]([\w.-]+)['\"]\s*,\s*['\"](\w+)['\"]\s*\)"
)
_COUNT_PAGE = re.compile(r"\bvar\s+countPage\s*=\s*['\"]?(\d+)")
_CURRENT_PAGE = re.compile(r"\bvar\s+currentPage\s*=\s*['\"]?(\d+)")
_PAGE_EXT = re.compile(r"""["'.](s?html?)\\?["']""")  # ".html" or "."+"html" in the pager script
_IQILU_LIST = re.compile(r"/list_(\d+)_(\d+)\.s?html?$")


@dataclass(frozen=True)
class NextPage:
    """The next list page: a URL to GET, or (Hanweb) a POST with form data; ``jpage`` is carried along."""

    url: str
    method: str = "GET"
    form: dict[str, str] = field(default_factory=dict)
    jpage: JPage | None = None


@dataclass(frozen=True)
class JPage:
    """A Hanweb column's jpage pager, as its page declares it."""

    proxy_url: str  # absolute URL of dataproxy.jsp
    params: dict[str, str]
    per_page: int
    group: int  # records fetched per request: perPage x groupSize
    total: int | None  # totalRecord, when declared
    seen: int  # records read so far (the page's own, then each answer's)

    def as_dict(self) -> dict[str, object]:
        return {"proxy_url": self.proxy_url, "params": dict(self.params), "per_page": self.per_page,
                "group": self.group, "total": self.total, "seen": self.seen}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> JPage:
        return cls(**data)  # type: ignore[arg-type]

    def next(self, records: int, total: int | None = None) -> NextPage | None:
        """The request for the group after one that held ``records`` records; None when the column ends."""
        seen = self.seen + records
        total = total if total is not None else self.total
        if records == 0 or (total is not None and seen >= total):
            return None
        end = seen + self.group if total is None else min(seen + self.group, total)
        query = urlencode({"startrecord": seen + 1, "endrecord": end, "perpage": self.per_page})
        state = JPage(self.proxy_url, self.params, self.per_page, self.group, total, seen)
        return NextPage(f"{self.proxy_url}?{query}", "POST", dict(self.params), state)


def datastore_records(text: str) -> list[str]:
    """The HTML fragments of a Hanweb ``<datastore>`` (in a column page or a dataproxy.jsp answer)."""
    if "<record" not in text and "<RECORD" not in text:
        return []
    out = []
    for content in _RECORD.findall(text):
        cdata = _CDATA.match(content)
        fragment = cdata.group(1) if cdata else html.unescape(content)
        if fragment.strip():
            out.append(fragment)
    return out


def total_records(text: str) -> int | None:
    match = _TOTAL.search(text)
    return int(match.group(1)) if match else None


def jpage_of(text: str, page_url: str, records: int) -> JPage | None:
    """The jpage pager of a Hanweb column page holding ``records`` records, or None without one."""
    if not records or ("jpage" not in text.lower() and "dataproxy" not in text.lower() and "<nextgroup" not in text.lower()):
        return None
    params: dict[str, str] = {}
    proxy = None
    nextgroup = _NEXTGROUP.search(text)
    if nextgroup and (href := _HREF.search(nextgroup.group(1))):
        link = urlsplit(html.unescape(href.group(1)))
        proxy = link.path
        params.update((k, v) for k, v in parse_qsl(link.query, keep_blank_values=True) if k.lower() not in _PAGING_KEYS)
    for block in _PARAM_OBJECT.findall(text):
        for key, dq, sq, bare in _PAIR.findall(block):
            if key.lower() not in _PAGING_KEYS:
                params[key] = dq or sq or bare
    if match := _PROXY.search(text):
        proxy = match.group(1)
    if not params:  # the proxy answers only for a declared column and unit
        return None
    per_page = _int_option(text, "perPage") or _int_option(text, "perpage") or records
    group = per_page * (_int_option(text, "groupSize") or 1)
    total = _int_option(text, "totalRecord") or total_records(text)
    return JPage(urljoin(page_url, proxy or _DEFAULT_PROXY), params, per_page, group, total, 0)


def _int_option(text: str, name: str) -> int | None:
    match = re.search(_OPTION(name), text)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def trs_next(text: str, page_url: str) -> str | None:
    """Page N+1 of a TRS list written by ``createPageHTML`` (or its spelled-out form); None on the last page."""
    if match := _CREATE_PAGE.search(text):
        count, current, name, ext = int(match.group(1)), int(match.group(2)), match.group(3), match.group(4)
    else:
        count_match, current_match = _COUNT_PAGE.search(text), _CURRENT_PAGE.search(text)
        if not (count_match and current_match):
            return None
        count, current = int(count_match.group(1)), int(current_match.group(1))
        script = text[current_match.start() : current_match.start() + 6000]
        ext_match = _PAGE_EXT.search(script)
        path_ext = urlsplit(page_url).path.rsplit(".", 1)
        ext = ext_match.group(1) if ext_match else (path_ext[1] if len(path_ext) == 2 else "html")
        name = "index"
    if current + 1 >= count:
        return None
    return urljoin(page_url, f"{name}_{current + 1}.{ext}")


def iqilu_next(hrefs: list[str], page_url: str) -> str | None:
    """The page's own link to ``list_<catid>_<n+1>.shtml`` (page 1 is the channel index or ``list_<catid>_1``)."""
    current = _IQILU_LIST.search(urlsplit(page_url).path)
    number = int(current.group(2)) if current else 1
    for href in hrefs:
        url = urljoin(page_url, href.strip())
        match = _IQILU_LIST.search(urlsplit(url).path)
        if match and int(match.group(2)) == number + 1 and (current is None or match.group(1) == current.group(1)):
            return url
    return None


_XHR = re.compile(r"\$\.(?:ajax|get|post|getJSON)\s*\(|XMLHttpRequest|fetch\s*\(\s*['\"]|axios\.", re.I)
_JS_PAGER = re.compile(r"""href\s*=\s*["']javascript:[^"']*(?:page|Page|go|turn)""")


def script_rendered(text: str, anchors: int, visible_letters: int) -> str | None:
    """Why a list page with no article links is probably filled by a script we cannot run, or None."""
    lowered = text.lower()
    if "<datastore" in lowered and not datastore_records(text):
        return "its Hanweb <datastore> holds no records (the column is empty, or filled by a script from elsewhere)"
    if visible_letters < 40 and "<script" in lowered:
        return "its <body> is empty: the list is drawn in the browser by a script (XHR)"
    if _XHR.search(text):
        return "the list is loaded by a script (XHR/fetch) after the page opens"
    if _JS_PAGER.search(text) and anchors:
        return "its links and pager are javascript: calls"
    return None
