"""What went wrong with a request, in one word.

``classify_failure`` turns a Scrapy/Twisted failure into the ``kind`` stored in
``fetch_errors`` (see docs/reliability.md for the list).
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed

_KINDS = (
    ((DownloadTimeoutError, tx.TimeoutError, tx.TCPTimedOutError), "timeout"),
    ((CannotResolveHostError, tx.DNSLookupError), "dns"),
    ((DownloadConnectionRefusedError, tx.ConnectionRefusedError), "connection_refused"),
    ((ResponseDataLossError,), "truncated"),
)


def classify_failure(failure: Failure) -> tuple[str, str, int | None]:
    """(kind, message, HTTP status or None) of a failed request."""
    exc = failure.value
    message = failure.getErrorMessage() or type(exc).__name__
    if isinstance(exc, HttpError):
        status = exc.response.status
        return f"http_{status}", f"HTTP {status}", status
    kind = getattr(exc, "kind", None)  # our own Blocked refusals
    if kind:
        return kind, message, None
    for types, name in _KINDS:
        if isinstance(exc, types):
            return name, message, None
    if "max size" in message or "larger than download" in message or "DOWNLOAD_MAXSIZE" in message:
        return "too_large", message, None
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in message:
            return "robots_disallowed", message, None
        if "redirect" in message:
            return "too_many_redirects", f"{message} (a redirect loop, or more than REDIRECT_MAX_TIMES hops)", None
        return "ignored", message, None
    if isinstance(exc, (DownloadFailedError, ResponseFailed, tx.ConnectionLost, tx.ConnectionDone)):
        if "DataLoss" in message or "PotentialDataLoss" in message:
            return "truncated", message, None
        return "connection_lost", message, None
    if isinstance(exc, DownloadCancelledError):
        return "cancelled", message, None
    return type(exc).__name__, message, None
