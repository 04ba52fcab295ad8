"""The simulator's HTTP side: one threaded server per portal, a handler that answers from
:meth:`Simulator.render`, faults on the way out, and the log of what the crawler asked."""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from crawler.simulator import files, pages

if TYPE_CHECKING:
    from crawler.simulator.server import Simulator


@dataclass
class Fault:
    """What to do wrong on one path. ``times``: how many requests it hits (None: until cleared)."""

    status: int | None = None
    delay: float = 0.0
    truncate: bool = False  # announce the full Content-Length, send half, close
    charset: str | None = None  # declare this charset in the header whatever the bytes are
    body: bytes | None = None  # serve these bytes instead (e.g. a maintenance page)
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close the connection (RST) without an answer
    trickle: float = 0.0  # seconds between 64-byte pieces of the body
    times: int | None = None


@dataclass(frozen=True)
class LoggedRequest:
    portal: str
    method: str
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    at: float
    cookie: str | None = None
    authorization: str | None = None


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a crawler opening connections in a burst overflows it,
    # and each dropped SYN is resent a second later (the 1 s stalls bench.attachments showed)
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler killed mid-request (the tests do it on purpose) is not an error here.
        pass


class Handler(BaseHTTPRequestHandler):
    simulator: Simulator
    portal: str
    protocol_version = "HTTP/1.1"
    server_version = "SimPortal/1.0"
    # headers and body go out in two writes: with Nagle's algorithm the body of a kept-alive connection
    # waits for the client's delayed ACK (~40 ms a response)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass

    def do_POST(self) -> None:  # noqa: N802 - Hanweb's jpage POSTs to dataproxy.jsp
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True))
        self.do_GET(form)

    def do_GET(self, form: dict[str, str] | None = None) -> None:  # noqa: N802
        path, _, query = self.path.split("#", 1)[0].partition("?")
        params = {**dict(parse_qsl(query, keep_blank_values=True)), **(form or {})}
        fault = self.simulator._take_fault(self.portal, path)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.reset:
            self._log(0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        status, html, etag, modified = self.simulator.render(self.portal, path, params)
        encoding = self.simulator._portals[self.portal].encoding
        headers: dict[str, str] = {}
        if html is None:
            body = "<html><body><h1>404 Not Found</h1></body></html>".encode()
            content_type = "text/html; charset=utf-8"
        elif isinstance(html, bytes):  # an attachment
            body, content_type = html, files.content_type_of(path)
            headers["ETag"] = etag or ""
        else:
            # Hanweb sites send no charset in the header: it is only in <meta>; dataproxy.jsp answers UTF-8 XML.
            if path == pages.DATAPROXY:
                body, content_type = html.encode("utf-8"), "text/xml;charset=UTF-8"
            elif path == "/robots.txt":
                body, content_type = html.encode("utf-8"), "text/plain; charset=utf-8"
            else:
                body = html.encode(encoding, errors="xmlcharrefreplace")
                content_type = {"credit": "text/html", "dzwww": "text/html; charset=gb2312"}.get(
                    self.portal, f"text/html; charset={encoding}")
            if etag:
                headers["ETag"] = etag
            if modified:
                headers["Last-Modified"] = format_datetime(modified, usegmt=True)
            if status == 200 and self.simulator.conditional and self._not_modified(etag, modified):
                status, body = 304, b""
        if fault:
            if fault.status:
                status = fault.status
            if fault.body is not None:
                body = fault.body
            if fault.charset:
                content_type = f"text/html; charset={fault.charset}"
            headers.update(fault.headers)
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if fault and fault.truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if status == 304:
            return
        if fault and fault.trickle:
            for start in range(0, len(body), 64):
                self.wfile.write(body[start : start + 64])
                self.wfile.flush()
                time.sleep(fault.trickle)
            return
        self.wfile.write(body)

    def _not_modified(self, etag: str | None, modified: datetime | None) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag is not None and etag in [t.strip() for t in inm.split(",")]
        ims = self.headers.get("If-Modified-Since")
        if ims and modified:
            try:
                return modified <= parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
        return False

    def _log(self, status: int) -> None:
        self.simulator._record(
            LoggedRequest(
                portal=self.portal,
                method=self.command,
                path=self.path,
                status=status,
                if_none_match=self.headers.get("If-None-Match"),
                if_modified_since=self.headers.get("If-Modified-Since"),
                user_agent=self.headers.get("User-Agent"),
                at=time.time(),
                cookie=self.headers.get("Cookie"),
                authorization=self.headers.get("Authorization"),
            )
        )
