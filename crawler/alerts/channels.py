"""Where alerts go. Each channel's ``send`` returns a Result and never raises for a delivery failure.

* ``WebhookChannel``: our JSON POST, signed as the Standard Webhooks spec says
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``).
* ``EmailChannel``: ``mailto://`` / ``mailtos://`` URLs (Apprise syntax) sent with smtplib, so
  the message has our own plain-text and HTML parts and a Message-ID made from the outbox
  batch (Apprise's email plugin sets neither).
* ``AppriseChannel``: every other Apprise URL (dingtalk://, wecombot://, feishu://, tgram://,
  slack://, json://, …), sent as Markdown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from crawler import netguard
from crawler.alerts.config import Channel, Webhook
from crawler.alerts.render import Message

USER_AGENT = "crawler-monitor-alerts/0.1"


@dataclass(frozen=True)
class Result:
    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait
    permanent: bool = False  # retrying is pointless (410 Gone, bad address)


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; a ``whsec_`` secret is base64 after the prefix."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookChannel:
    kind = "webhook"

    def __init__(self, name: str, config: Webhook):
        self.name, self.config = name, config

    def describe(self) -> str:
        return f"webhook {urlsplit(self.config.url).netloc}"

    def send(self, message_id: str, message: Message, payload: dict[str, Any]) -> Result:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(self.config.secret, message_id, timestamp, body),
        }
        try:
            reply = netguard.post(self.config.url, body, headers, timeout=self.config.timeout.total_seconds(),
                                  allow_private=self.config.allow_private_targets)
        except netguard.Refused as exc:
            return Result(False, None, f"{self.describe()}: {exc}", permanent=True)
        except OSError as exc:
            return Result(False, None, f"{self.describe()}: {exc}")
        if 200 <= reply.status < 300:
            return Result(True, reply.status)
        moved = f" (redirect to {reply.headers.get('Location')} not followed)" if 300 <= reply.status < 400 else ""
        return Result(
            False, reply.status, f"HTTP {reply.status} from {self.describe()}{moved}",
            retry_after=netguard.retry_after_seconds(reply.headers.get("Retry-After")), permanent=reply.status == 410,
        )


class EmailChannel:
    kind = "email"

    def __init__(self, name: str, url: str):
        self.name = name
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.secure = parts.scheme == "mailtos"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.secure and query.get("mode") == "ssl" else (587 if self.secure else 25))
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        default_from = f"{self.user}@{self.host}" if self.user and "@" not in self.user else (self.user or f"crawler@{self.host}")
        self.sender = query.get("from", default_from)
        self.sender_name = query.get("name", "Crawler 监测")
        self.recipients = [r.strip() for r in query.get("to", self.sender).replace(";", ",").split(",") if r.strip()]
        self.timeout = float(query.get("timeout", 30))

    def describe(self) -> str:
        return f"email via {self.host}:{self.port} to {', '.join(self.recipients)}"

    def send(self, message_id: str, message: Message, payload: dict[str, Any]) -> Result:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = formataddr((self.sender_name, self.sender))
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = format_datetime(datetime.now(timezone.utc))
        mail["Message-ID"] = f"<{message_id}@crawler-monitor>"  # the same on every retry: receivers can drop repeats
        mail.set_content(message.text, charset="utf-8")
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
        try:
            if self.secure and self.port == 465:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if self.secure and self.port != 465:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                smtp.send_message(mail)
            return Result(True)
        except smtplib.SMTPRecipientsRefused as exc:
            return Result(False, None, f"{self.describe()}: recipients refused: {exc.recipients}", permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            return Result(False, getattr(exc, "smtp_code", None), f"{self.describe()}: {exc}")


class AppriseChannel:
    kind = "apprise"

    def __init__(self, name: str, url: str):
        import apprise

        self.name = name
        self.apprise = apprise.Apprise()
        if not self.apprise.add(url):
            raise ValueError(f"channel {name}: Apprise does not understand this URL")
        self.scheme = url.split("://", 1)[0]

    def describe(self) -> str:
        return f"{self.scheme}:// (Apprise)"  # the URL itself may hold a token: never logged

    def send(self, message_id: str, message: Message, payload: dict[str, Any]) -> Result:
        import apprise

        ok = bool(self.apprise.notify(body=message.chat, title=message.subject, body_format=apprise.NotifyFormat.MARKDOWN))
        return Result(ok, error=None if ok else f"{self.describe()}: delivery failed")


def make_channel(name: str, config: Channel):
    if config.webhook is not None:
        return WebhookChannel(name, config.webhook)
    if config.kind == "email":
        return EmailChannel(name, config.url)
    return AppriseChannel(name, config.url)
