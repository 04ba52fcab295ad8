"""The 信息公开 header of a government notice: 索引号, 发布机构, 发文字号, 成文日期, 发布日期, 主题分类, 有效性.

Government disclosure pages (Hanweb, TRS and most provincial platforms) open a notice with a
small table — or a definition list, or labelled lines — naming the document. It is read into
:class:`Notice`; ``published`` is the publish date (发布日期) and ``written`` the date the
document was written (成文日期), which is not the publish date and is kept apart
(``Article.written_at``). A page counts as a notice when at least three of these labels are
found (or two, one of them 索引号 or 发文字号), so a news page's lone "发布日期：" line is not one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

import lxml.html

from crawler.dates import parse_chinese_datetime

__all__ = ["Notice", "read"]

# label (whitespace removed) -> field
LABELS = {
    "索引号": "index_no", "索取号": "index_no", "信息索引号": "index_no",
    "发布机构": "issuer", "发文机关": "issuer", "发文机构": "issuer", "发文单位": "issuer", "发布单位": "issuer",
    "公开主体": "issuer", "信息来源": "issuer", "制发机关": "issuer", "所属机构": "issuer",
    "发文字号": "doc_no", "文号": "doc_no", "发文文号": "doc_no", "文件编号": "doc_no",
    "成文日期": "written", "成文时间": "written", "生成日期": "written", "印发日期": "written",
    "发布日期": "published", "公开日期": "published", "发布时间": "published", "公开时间": "published",
    "主题分类": "topic", "分类": "topic", "主题类别": "topic", "所属主题": "topic", "主题": "topic", "信息分类": "topic",
    "有效性": "validity", "效力状态": "validity", "时效": "validity", "是否有效": "validity",
}
_FIELDS = ("index_no", "issuer", "doc_no", "written", "published", "topic", "validity")
_SPACE = re.compile(r"[\s\u00a0\u3000]+")
_GAP = r"[\s\u00a0\u3000]*"
_LABEL_RE = "|".join(_GAP.join(map(re.escape, k)) for k in sorted(LABELS, key=len, reverse=True))  # "索 引 号"
# "索引号：123 发布机构：某局" on one line: a label, a colon, its value up to the next label
_PAIR = re.compile("(" + _LABEL_RE + ")" + _GAP + "[:：]" + _GAP)
_ANY_LABEL = re.compile("(" + _LABEL_RE + ")" + _GAP + "[:：]?")
_CELLS = ("td", "th", "dt", "dd", "span", "li", "p", "div", "strong", "b", "label", "em", "font")


@dataclass(frozen=True)
class Notice:
    index_no: str | None = None  # 索引号
    issuer: str | None = None  # 发布机构 / 发文机关
    doc_no: str | None = None  # 发文字号
    written: datetime | None = None  # 成文日期
    published: datetime | None = None  # 发布日期
    topic: str | None = None  # 主题分类
    validity: str | None = None  # 有效性

    def as_dict(self) -> dict[str, str | None]:
        out = asdict(self)
        for key in ("written", "published"):
            out[key] = out[key].date().isoformat() if out[key] else None
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Notice:
        values = {k: data.get(k) for k in _FIELDS}
        for key in ("written", "published"):
            values[key] = parse_chinese_datetime(values[key]) if values[key] else None
        return cls(**values)

    def lines(self) -> list[str]:
        """The header as an operator reads it (``items show``, alerts)."""
        names = {"index_no": "索引号", "issuer": "发布机构", "doc_no": "发文字号", "written": "成文日期",
                 "published": "发布日期", "topic": "主题分类", "validity": "有效性"}
        return [f"{names[k]}：{v}" for k, v in self.as_dict().items() if v]


def _label(text: str) -> str | None:
    key = _SPACE.sub("", text).rstrip(":：")
    return LABELS.get(key)


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _value_after(element: lxml.html.HtmlElement) -> str:
    """The value of a label element: its tail, else the next element's text (td → td, dt → dd)."""
    tail = _clean(element.tail or "")
    if tail:
        return tail
    following = element.getnext()
    while following is not None and not isinstance(following.tag, str):  # comments
        following = following.getnext()
    return _clean(following.text_content()) if following is not None else ""


def _enough(fields: set[str]) -> bool:
    return len(fields) >= 3 or (len(fields) == 2 and bool({"index_no", "doc_no"} & fields))


def read(tree: lxml.html.HtmlElement) -> Notice | None:
    """The page's 信息公开 header, or None when it has none."""
    labels = {LABELS[_SPACE.sub("", m.group(1))] for m in _ANY_LABEL.finditer(tree.text_content())}
    if not _enough(labels):  # most pages: not a notice, and no element is read
        return None
    found: dict[str, str] = {}
    for element in tree.iter(*_CELLS):
        text = element.text_content()
        if len(text) > 400:
            continue
        field = _label(text)
        if field is not None:
            value = _value_after(element)
            if value and _label(value) is None and not _PAIR.match(value) and field not in found:
                found[field] = value
            continue
        if len(element) > 6:  # a container of many cells: its cells are read one by one
            continue
        matches = list(_PAIR.finditer(text))
        for match, following in zip(matches, [*matches[1:], None]):
            field = _label(match.group(1))
            value = _clean(text[match.end(): following.start() if following else len(text)])
            if field and value and field not in found:
                found[field] = value
    if not _enough(set(found)):
        return None
    values: dict[str, object] = {k: found.get(k) for k in _FIELDS}
    for key in ("written", "published"):
        values[key] = parse_chinese_datetime(found[key]) if found.get(key) else None
    return Notice(**values)
