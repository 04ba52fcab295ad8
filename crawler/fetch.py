"""Fetching one page outside a crawl (``crawler extract URL``, ``crawler sources try/new``).

The same boundaries as a crawl: http(s) only, at most 5 redirects, each hop's
host resolved and refused if it is loopback/private/link-local (unless allowed),
16 MiB at most, the charset repaired like the spider does.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from dataclasses import dataclass

from w3lib.encoding import html_to_unicode

from crawler.charset import better_encoding
from crawler.netguard import Allow, Refused, resolve_url
from crawler.sources import DEFAULT_USER_AGENT

MAX_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 5


def decode_html(body: bytes, content_type: str | None = None, encoding: str | None = None) -> str:
    """Decode like the spider does: BOM, HTTP header, <meta>, detection; then repair a wrong declaration."""
    if encoding:
        return body.decode(encoding, errors="replace")
    used, text = html_to_unicode(content_type, body)
    better = better_encoding(body, used, text)
    return body.decode(better, errors="replace") if better else text


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    status: int
    text: str


class _Guarded(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, allow_private: Allow):
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        resolve_url(newurl, allow_private=self.allow_private, what="redirect to")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def get(url: str, *, encoding: str | None = None, timeout: float = 30, user_agent: str = DEFAULT_USER_AGENT,
        allow_private: Allow = False, form: dict[str, str] | None = None) -> Page:
    """GET one page (POST ``form``, url-encoded, when given); raises Refused for a forbidden target,
    urllib/OS errors for the rest."""
    resolve_url(url, allow_private=allow_private, what="URL")
    opener = urllib.request.build_opener(_Guarded(allow_private))
    data = urllib.parse.urlencode(form).encode("ascii") if form is not None else None
    request = urllib.request.Request(url, data=data, headers={"User-Agent": user_agent})
    with opener.open(request, timeout=timeout) as answer:
        body = answer.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise OSError(f"page larger than {MAX_BYTES} bytes")
        return Page(answer.geturl(), answer.status, decode_html(body, answer.headers.get("Content-Type"), encoding))


def fetch_page(url: str, encoding: str | None = None, timeout: float = 30, allow_private: Allow = False) -> str:
    return get(url, encoding=encoding, timeout=timeout, allow_private=allow_private).text


__all__ = ["MAX_BYTES", "Page", "Refused", "decode_html", "fetch_page", "get"]
