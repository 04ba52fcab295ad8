"""Bodies that are not what they claim: a wrong charset, or binary data served as a page.

``better_encoding`` catches a page whose declared charset is wrong (GBK sent as
UTF-8 and the reverse); ``looks_binary`` catches an image or archive served
where a page was expected. Used by the spider and by the one-page fetches.
"""

from __future__ import annotations

from w3lib.encoding import html_body_declared_encoding, resolve_encoding

_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")
_CONTROL = bytes([*range(9), *range(14, 32)])  # control bytes that text (tab, newlines, form feed aside) never has


def looks_binary(body: bytes) -> bool:
    """An image, archive or other binary served where a page was expected."""
    head = body[:4096].lstrip()
    if head.startswith(_MAGIC):
        return True
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NULs, with a BOM
        return True
    control = len(head) - len(head.translate(None, _CONTROL))  # C speed: once per fetched page
    return control > len(head) * 0.05


def _bad(text: str) -> int:
    return text.count("\ufffd")


def better_encoding(body: bytes, declared: str, text: str | None = None) -> str | None:
    """A charset that decodes ``body`` correctly when ``declared`` does not, else None.

    Two mistakes are common on Chinese portals: GBK bytes labelled UTF-8 (many U+FFFD
    after decoding) and UTF-8 bytes labelled GBK (no U+FFFD, but mojibake; valid UTF-8
    with non-ASCII bytes is almost never GBK text). ``text``: the body already decoded with
    ``declared``, if the caller has it (saves decoding the page twice).
    """
    declared_codec = resolve_encoding(declared) or declared
    is_utf8 = declared_codec.replace("_", "-") in ("utf-8", "utf8")
    if not is_utf8 and not body.isascii():
        try:
            body.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
    if text is None:
        text = body.decode(declared_codec, errors="replace")
    bad = _bad(text)
    if bad < 4 or bad < len(text) * 0.0005:
        return None
    meta = html_body_declared_encoding(body)
    candidates = [c for c in (meta, "utf-8", "gb18030", "big5") if c and (resolve_encoding(c) or c) != declared_codec]
    best, best_bad = None, bad
    for candidate in candidates:
        count = _bad(body.decode(candidate, errors="replace"))
        if count == 0:
            return candidate
        if count < best_bad:
            best, best_bad = candidate, count
    return best if best is not None and best_bad * 4 < bad else None
