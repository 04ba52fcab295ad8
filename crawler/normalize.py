"""Normalisation used for identity (never for the stored text): URLs and content hashes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import opencc

# Query parameters that never change what page is served.
TRACKING_PARAMS = re.compile(r"^(utm_\w+|from|spm|share_?\w*|isappinstalled|wxfrom|scene|clicktime|enterid|timestamp|_t|t)$", re.I)
_WS = re.compile(r"\s+")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)])
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def fingerprint_text(text: str) -> str:
    """NFKC, Traditional → Simplified, whitespace folded: the form hashed for identity."""
    folded = unicodedata.normalize("NFKC", text)
    folded = _t2s().convert(folded)
    return _WS.sub(" ", folded).strip()


def content_hash(title: str, body: str) -> str:
    data = fingerprint_text(title) + "\n" + fingerprint_text(body)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
