"""Attachments of an article page: the files a notice links to (附件), found, checked and read.

A credit portal's 红黑名单, 信用修复 and 行政处罚 notices often say "详见附件": the names are in an
attached spreadsheet, the decision in a PDF. Here:

* ``find_links(tree, url)``: the links to files on the page (PDF, DOC/DOCX, XLS/XLSX, WPS/ET,
  OFD, ZIP/RAR/7Z), with their name (the link text, as the page shows it), URL and type;
* ``check(kind, data)``: are the bytes what the name says (a PDF is ``%PDF-``, a DOCX a zip with
  ``word/document.xml``…), and does a zip expand within bounds (no zip bomb)?
* ``read_text(kind, data)``: the text, with well-kept libraries (pypdf, python-docx, openpyxl);
* ``changed_files(stored, new)`` and ``lines(manifest)``: what change detection compares and
  the lines its diff shows (a replaced file is named).

The spider fetches the files (spiders/listing.py), the extraction pool checks and reads them
(crawler/analysis.py); an article stores its manifest (``articles.attachments``) and each file's
text once by content hash (``attachment_texts``).
"""

from __future__ import annotations

import io
import itertools
import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import lxml.html

# every type recorded; the text of the first three can be read (and only those are fetched)
KINDS = ("pdf", "docx", "xlsx", "doc", "xls", "wps", "et", "ofd", "zip", "rar", "7z")
MAX_EXPANDED = 100 * 1024 * 1024  # a DOCX/XLSX expanding beyond this is refused (a zip bomb)
MAX_TEXT = 200_000  # characters of text kept per file
MAX_LINKS = 20  # attachments recorded per page

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # DOC, XLS, WPS, ET (compound file)
_MAGIC = {"pdf": (b"%PDF-",), "docx": (b"PK\x03\x04",), "xlsx": (b"PK\x03\x04",), "ofd": (b"PK\x03\x04",),
          "zip": (b"PK\x03\x04", b"PK\x05\x06"), "doc": (_OLE,), "xls": (_OLE,), "wps": (_OLE,), "et": (_OLE,),
          "rar": (b"Rar!\x1a\x07",), "7z": (b"7z\xbc\xaf\x27\x1c",)}
_MEMBER = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "ofd": "OFD.xml"}
_LABEL = re.compile(r"^\s*(?:附件\s*\d*\s*[：:、.．]?\s*|\d+\s*[.．、]\s*)")


class Refused(ValueError):
    """The bytes are not a file we read (wrong type, a zip bomb, unreadable)."""


@dataclass
class Link:
    name: str
    url: str
    kind: str


@dataclass
class Attachment:
    """One attachment of a stored article (its manifest entry).

    ``status``: ``stored`` (fetched and read), ``listed`` (recorded, not fetched: a type whose
    text is not read, or fetching turned off), ``refused`` (too large, not what its name says,
    a zip bomb, unreadable), ``failed`` (the fetch failed: 404, timeout…).
    """

    name: str
    url: str
    kind: str
    status: str
    sha256: str | None = None
    size: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kind_of(url: str, text: str = "") -> str | None:
    """The file type a link names: by its path, a ``filename=`` in its query (Hanweb's downfile.jsp), or its text."""
    parts = urlsplit(url)
    candidates = [unquote(parts.path)]
    candidates += [unquote(v) for k, v in parse_qsl(parts.query) if k.lower() in ("filename", "file", "name", "fn")]
    candidates.append(text.strip())
    for candidate in candidates:
        ext = posixpath.splitext(candidate.lower())[1].lstrip(".")
        if ext in KINDS:
            return ext
    return None


_MENTION = re.compile(r"\.(?:%s)\b" % "|".join(KINDS), re.IGNORECASE)


def mentions_files(html: str) -> bool:
    """Whether a page may link to a file at all (one scan; most news pages do not)."""
    return _MENTION.search(html) is not None


_BLOCKS = {"p", "li", "td", "th", "dd", "dt", "div", "section", "ul", "ol", "table", "footer", "nav", "header", "body"}
CHROME_LINKS = 3  # a file link beside this many links to pages (a footer's "广告刊例.pdf") is site chrome


def find_links(tree: lxml.html.HtmlElement, base_url: str) -> list[Link]:
    """The links to files on a parsed page, less those in a block of page links (footer, menu: the
    site's template, on every page), see links_in."""
    anchors = []
    for a in tree.iter("a"):
        href, text = a.get("href") or "", a.text_content()
        if kind_of(href.strip(), text) is not None and _in_link_list(a):
            continue
        anchors.append((href, text))
    return links_in(anchors, base_url)


def _in_link_list(a: lxml.html.HtmlElement) -> bool:
    block = next((e for e in a.iterancestors() if isinstance(e.tag, str) and e.tag in _BLOCKS), None)
    if block is None:
        return False
    pages = 0
    for other in block.iter("a"):
        href = (other.get("href") or "").strip()
        if href and not href.startswith(("javascript:", "#", "mailto:")) and kind_of(href, other.text_content()) is None:
            pages += 1
            if pages >= CHROME_LINKS:
                return True
    return False


def links_in(anchors: Iterable[tuple[str, str]], base_url: str) -> list[Link]:
    """The links to files among (href, link text) pairs, in page order, one per URL (at most MAX_LINKS)."""
    found: dict[str, Link] = {}
    for href, text in anchors:
        href = href.strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        text = " ".join(text.split())
        kind = kind_of(href, text)
        if kind is None:
            continue
        url = urljoin(base_url, href)
        if url in found or urlsplit(url).scheme not in ("http", "https"):
            continue
        name = _LABEL.sub("", text) or unquote(posixpath.basename(urlsplit(url).path))
        found[url] = Link(name, url, kind)
        if len(found) >= MAX_LINKS:
            break
    return list(found.values())


def check(kind: str, data: bytes) -> None:
    """Raise Refused when ``data`` is not a ``kind`` file, or a zip that expands beyond MAX_EXPANDED."""
    head = data[:16]
    if not any(head.startswith(magic) for magic in _MAGIC.get(kind, ())):
        raise Refused(f"the bytes are not a {kind.upper()} file ({_looks_like(data)})")
    if kind in _MEMBER or kind == "zip":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.infolist()
        except zipfile.BadZipFile as exc:
            raise Refused(f"a broken {kind.upper()} file: {exc}") from None
        expanded = sum(m.file_size for m in members)
        if expanded > MAX_EXPANDED:
            raise Refused(f"the {kind.upper()} file expands to {expanded / 2**20:,.0f} MB from {len(data) / 2**20:.1f} MB "
                          f"(more than {MAX_EXPANDED // 2**20} MB: a zip bomb?)")
        member = _MEMBER.get(kind)
        if member and member not in {m.filename for m in members}:
            raise Refused(f"a zip file without {member}, not a {kind.upper()} file")


def _looks_like(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head:
        return "an HTML page"
    if not data:
        return "empty"
    for kind, magics in _MAGIC.items():
        if any(data.startswith(m) for m in magics):
            return f"a {kind.upper()} file" if kind not in ("docx", "xlsx", "ofd") else "a zip file"
    return f"starts with {data[:8]!r}"


def read_text(kind: str, data: bytes) -> str:
    """The text of a checked file: PDF pages, DOCX paragraphs and tables, XLSX rows (cells joined with ``' | '``);
    reading stops once MAX_TEXT characters are read (a 5 MB list costs no more than its first 200,000)."""
    try:
        text = _READERS[kind](data)
    except Refused:
        raise
    except Exception as exc:  # noqa: BLE001 - every library has its own errors for a broken file
        raise Refused(f"the {kind.upper()} file could not be read: {type(exc).__name__}: {exc}") from None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)[:MAX_TEXT]


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return _until_full(page.extract_text() or "" for page in reader.pages)


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    rows = (" | ".join(cell.text.strip() for cell in row.cells if cell.text.strip())
            for table in document.tables for row in table.rows)
    return _until_full(itertools.chain((p.text for p in document.paragraphs), rows))


def _xlsx(data: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows = (" | ".join(str(v).strip() for v in row if v is not None and str(v).strip())
                for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))
        return _until_full(rows)
    finally:
        book.close()


def _until_full(parts: Iterable[str]) -> str:
    """Join parts with newlines until MAX_TEXT characters are read; the rest is not read at all."""
    out, size = [], 0
    for part in parts:
        out.append(part)
        size += len(part) + 1
        if size >= MAX_TEXT:
            break
    return "\n".join(out)


_READERS = {"pdf": _pdf, "docx": _docx, "xlsx": _xlsx}


def text_of(manifest: list[dict[str, Any]], texts: dict[str, str]) -> str:
    """The names and texts of an article's attachments (``texts``: SHA-256 -> text), as search and
    subscription keywords read them."""
    parts = []
    for entry in manifest:
        parts.append(entry["name"])
        if entry.get("sha256") in texts:
            parts.append(texts[entry["sha256"]])
    return "\n".join(parts)


# -- change detection ---------------------------------------------------------------------------

def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return entry.get("name") or entry.get("url") or "", entry.get("kind") or ""


def merged(stored: list[dict[str, Any]] | None, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The new manifest, where a file that could not be fetched this time keeps what was stored of it
    (a timeout is not a change of the file)."""
    before = {_key(e): e for e in stored or [] if e.get("sha256")}
    return [before[_key(e)] if not e.get("sha256") and e.get("status") == "failed" and _key(e) in before else e
            for e in new]


def changed_files(stored: list[dict[str, Any]] | None, new: list[dict[str, Any]]) -> list[str]:
    """Names of the files added, removed or replaced from ``stored`` to ``new`` (both manifests, ``new``
    merged). A page stored before attachments were read (``stored`` None) has no change of files."""
    if stored is None:
        return []
    before = {_key(e): e.get("sha256") for e in stored}
    after = {_key(e): e.get("sha256") for e in new}
    names = [k[0] for k in after if k not in before and after[k]]  # added (and read)
    names += [k[0] for k in before if k not in after]  # removed from the page
    names += [k[0] for k in after if k in before and after[k] and before[k] and after[k] != before[k]]  # replaced
    names += [k[0] for k in after if k in before and after[k] and not before[k]]  # read at last
    return names


def lines(manifest: list[dict[str, Any]] | None) -> list[str]:
    """The manifest as lines of text, as a diff shows them: ``附件：名单（xlsx，12.3 KB，sha256 3f2a9c0d1e2b）``."""
    out = []
    for e in manifest or []:
        if e.get("sha256"):
            out.append(f"附件：{e['name']}（{e['kind']}，{_size(e.get('size'))}，sha256 {e['sha256'][:12]}）")
        else:
            out.append(f"附件：{e['name']}（{e['kind']}，{e.get('status')}）")
    return out


def _size(size: int | None) -> str:
    if not size:
        return "0 B"
    if size < 1024:
        return f"{size} B"
    if size < 2**20:
        return f"{size / 1024:.1f} KB"
    return f"{size / 2**20:.1f} MB"


def parse_size(value: Any) -> Any:
    """``20MB``, ``512KB``, ``1.5 MB``, ``1048576`` → bytes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*", value.lower())
        if not match:
            raise ValueError(f"{value!r} is not a size (use e.g. 20MB, 512KB)")
        return int(float(match.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[match.group(2)])
    return value
