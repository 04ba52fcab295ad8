"""Fetching and decoding one page outside a crawl (for `crawler extract`)."""

from __future__ import annotations

import urllib.request

from w3lib.encoding import html_to_unicode

from crawler.sources import DEFAULT_USER_AGENT

MAX_BYTES = 16 * 1024 * 1024


def decode_html(body: bytes, content_type: str | None = None, encoding: str | None = None) -> str:
    """Decode like Scrapy does: BOM, HTTP header, <meta>, then detection (GB18030 for GB2312/GBK)."""
    if encoding:
        return body.decode(encoding, errors="replace")
    _, text = html_to_unicode(content_type, body)
    return text


def fetch_page(url: str, encoding: str | None = None, timeout: float = 30) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": DEFAULT_USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked by caller
        body = response.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise OSError(f"page larger than {MAX_BYTES} bytes")
        return decode_html(body, response.headers.get("Content-Type"), encoding)
