"""Network boundaries: which addresses the crawler and the alert channels may talk to.

A portal that is hacked, or a page we follow, must not make the daemon reach
into the machine or the network it runs in (server-side request forgery):
loopback, private, link-local (169.254.169.254, the cloud metadata service),
carrier-grade NAT, multicast and reserved addresses are refused unless the
source or channel config says ``allow_private_targets: true`` (tests, the demo,
an intranet portal). Only http and https are fetched.

The check is made on the address the connection will use: crawl requests are
checked after DNS resolution by the same caching resolver Scrapy connects with
(``spiders.middlewares.NetworkGuard``); webhooks connect to the very address
that was checked (``post``).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
SETTING = "allow_private_targets"  # the config key named in refusals
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class Refused(ValueError):
    """A URL that the network boundaries do not allow; the message says why and what to do."""


# ``allow_private_targets`` in a config: False (the default), True (anything), or a list of
# "ADDRESS", "ADDRESS:PORT", "CIDR" or "CIDR:PORT" entries ("[::1]:8080" for IPv6 with a port).
Allow = bool | list[str] | tuple[str, ...]


def _entry(entry: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]:
    text, port = entry.strip(), None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        text, port = inside, int(rest[1:]) if rest.startswith(":") else None
    elif text.count(":") == 1:
        text, port_text = text.split(":")
        port = int(port_text)
    return ipaddress.ip_network(text, strict=False), port


def check_allow(entries: list[str]) -> list[str]:
    """Validate a list of allow entries (raise ValueError naming the bad one)."""
    for entry in entries:
        try:
            _entry(entry)
        except ValueError:
            raise ValueError(f"{entry!r} is not an address, CIDR network or either with :PORT (e.g. 10.0.0.0/8, 127.0.0.1:8080)") from None
    return entries


def allows(allow: Allow, address: str, port: int | None) -> bool:
    """True if ``allow`` lets a connection to ``address``:``port`` through (public addresses always pass)."""
    if allow is True or is_public(address):
        return True
    if not allow:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    for entry in allow:
        network, entry_port = _entry(entry)
        if ip.version == network.version and ip in network and (entry_port is None or entry_port == port):
            return True
    return False


def default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The IP address a host name is written as (``127.0.0.1``, ``[::1]``, ``2130706433``), else None."""
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:  # inet_aton accepts the shorthand forms browsers and libc accept: 127.1, 0x7f.1, 2130706433
        return socket.inet_ntoa(socket.inet_aton(host)) if host and host[-1].isalnum() else None
    except OSError:
        return None


def check_url(url: str, *, allow_private: Allow = False, what: str = "URL", setting: str = SETTING) -> None:
    """Refuse a URL by its scheme or by a host that is written as (or named as) a non-public address.

    Host names are not resolved here (that happens when connecting); ``localhost`` is.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise Refused(f"{what} {url!r}: only http and https are allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Refused(f"{what} {url!r} has no host")
    if allow_private is True:
        return
    address = literal_address(host)
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        address = "127.0.0.1"
    if address is not None and not allows(allow_private, address, parts.port or default_port(parts.scheme)):
        raise Refused(private_message(what, url, address, setting))


def private_message(what: str, url: str, address: str, setting: str = SETTING) -> str:
    return (
        f"{what} {url!r} points at {address}, a loopback, private or link-local address; "
        f"set {setting} (true, or a list of addresses) if this target is meant to be internal"
    )


def resolve_url(url: str, *, allow_private: Allow, what: str) -> tuple[str, int, str]:
    """Check ``url``, resolve its host once and return (host, port, address to connect to).

    Raises Refused for a forbidden scheme or a non-public address (any of the host's addresses).
    """
    check_url(url, allow_private=allow_private, what=what)
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or default_port(parts.scheme)
    addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not addresses:
        raise OSError(f"{host}: no address")
    for address in addresses:
        if not allows(allow_private, address, port):
            raise Refused(private_message(what, url, address))
    return host, port, addresses[0]


def retry_after_seconds(value: str | bytes | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, (parsedate_to_datetime(text) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


# -- outgoing POSTs (webhooks) -------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)  # default context: certificates verified
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: Allow = False) -> Reply:
    """POST to ``url`` over a connection to the address that passed the check; redirects are not followed.

    Raises Refused for a forbidden target and OSError for network failures.
    """
    host, port, address = resolve_url(url, allow_private=allow_private, what="webhook")
    parts = urlsplit(url)
    connection = (_PinnedHTTPS if parts.scheme.lower() == "https" else _PinnedHTTP)(host, port, address, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read(64 * 1024))
    finally:
        connection.close()
