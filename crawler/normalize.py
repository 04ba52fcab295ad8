"""URL canonicalisation: one spelling per page, and an identity key that ignores http/https and index pages."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that never change what page is served.
TRACKING_PARAMS = re.compile(r"^(utm_\w+|from|spm|share_?\w*|isappinstalled|wxfrom|scene|clicktime|enterid|timestamp|_t|t)$", re.I)
_INDEX_PAGE = re.compile(r"/(?:index|default)\.(?:s?html?|php|aspx?|jsp)$", re.I)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)])
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def url_key(url: str) -> str:
    """Identity of a page: the canonical URL without scheme and without a trailing index page.

    ``https://a.cn/news/index.html`` and ``http://a.cn/news/`` share a key.
    """
    parts = urlsplit(canonical_url(url))
    path = _INDEX_PAGE.sub("/", parts.path)
    return urlunsplit(("", parts.netloc, path, parts.query, ""))
