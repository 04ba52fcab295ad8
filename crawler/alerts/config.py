"""``alerts.yaml``: channels, subscriptions and the operators' own channel.

Validated like source files (pydantic, unknown keys are errors, ``${ENV}``
placeholders for secrets); problems are reported as ``FILE: field: message``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from crawler.configfile import read_mapping, validate
from crawler.netguard import Refused, check_url
from crawler.sources import Duration, PrivateTargets

Event = Literal["new", "changed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Webhook(_Strict):
    url: str = Field(description="Where the JSON is POSTed (http or https).")
    secret: str = Field(min_length=8, description="Signing secret (Standard Webhooks); use ${ENV_VAR}.")
    timeout: Duration = Field(timedelta(seconds=10), description="Give up on one delivery attempt after this long.")
    allow_private_targets: PrivateTargets = Field(
        False, description="Allow a receiver on a loopback or private address: true, or a list of addresses/CIDRs "
        "with an optional :PORT (refused by default: SSRF)."
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url

    @model_validator(mode="after")
    def _public(self) -> Webhook:
        _refuse_private(self.url, self.allow_private_targets, "url")
        return self


# Apprise schemes whose URL names a host we POST to (the others name a fixed public service).
_HOST_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms", "apprise", "apprises", "ntfy", "ntfys", "gotify", "gotifys"}


def _refuse_private(url: str, allow: bool, field: str) -> None:
    try:
        check_url(url, allow_private=allow, what="webhook")
    except Refused as exc:
        raise PydanticCustomError("refused", "{message}", {"field": field, "message": str(exc)}) from None


class Channel(_Strict):
    """One destination: an Apprise URL (mailto://, dingtalk://, wecombot://, feishu://, tgram://, slack://,
    json://…) or our signed webhook."""

    url: str | None = Field(None, description="Apprise URL; mailto:// and mailtos:// are sent by our own SMTP client.")
    webhook: Webhook | None = None
    allow_private_targets: PrivateTargets = Field(
        False, description="For json://, xml://, form:// and similar URLs: allow a loopback or private host."
    )

    @model_validator(mode="after")
    def _one(self) -> Channel:
        if (self.url is None) == (self.webhook is None):
            raise ValueError("give either url or webhook")
        if self.url is not None and "://" not in self.url:
            raise ValueError(f"{self.url!r} is not a channel URL (e.g. mailto://user:pass@smtp.example.com?to=a@b.cn)")
        scheme = (self.url or "").split("://", 1)[0].lower()
        if scheme in _HOST_SCHEMES:
            _refuse_private("http" + self.url[len(scheme):], self.allow_private_targets, "url")  # type: ignore[index]
        return self

    @property
    def kind(self) -> str:
        if self.webhook is not None:
            return "webhook"
        return "email" if self.url.split("://", 1)[0] in ("mailto", "mailtos") else "apprise"


class Keywords(_Strict):
    """Substring matching after Traditional→Simplified folding (Chinese has no spaces)."""

    any: list[str] = Field(default_factory=list, description="At least one of these words.")
    all: list[str] = Field(default_factory=list, description="Every one of these words.")
    none: list[str] = Field(default_factory=list, description="None of these words.")
    fields: list[Literal["title", "body", "attachments"]] = Field(
        default_factory=lambda: ["title", "body", "attachments"],
        description="Where to look: title, body, attachments (the names and text of the files a notice attaches).",
    )


class Digest(_Strict):
    """One message per window: every N (clock-aligned), or at fixed times of day (Asia/Shanghai)."""

    every: Duration | None = Field(None, description="Collect articles and send one message per window of this length.")
    at: list[str] = Field(default_factory=list, description='Times of day to send, e.g. ["08:00", "18:00"].')

    @field_validator("at")
    @classmethod
    def _times(cls, values: list[str]) -> list[str]:
        for value in values:
            hour, _, minute = value.partition(":")
            if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60 and len(minute) == 2):
                raise ValueError(f"{value!r} is not a time of day (HH:MM)")
        return sorted(values)

    @model_validator(mode="after")
    def _one(self) -> Digest:
        if (self.every is None) == (not self.at):
            raise ValueError("give either every or at")
        return self


class Subscription(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Identifier, part of the idempotency key.")
    sources: list[str] = Field(default_factory=lambda: ["*"], description="Source names, or * for all.")
    events: list[Event] = Field(default_factory=lambda: ["new"], description="new and/or changed.")
    keywords: Keywords | None = None
    digest: Digest | None = Field(None, description="Without it, every article is sent at once.")
    channels: list[str] = Field(min_length=1, description="Names of channels defined under channels:.")
    include_flagged: bool = Field(False, description="Also alert on articles flagged e.g. as spam.")


class Delivery(_Strict):
    max_attempts: int = Field(8, ge=1, le=100, description="Attempts before an alert goes to dead-letter.")
    backoff: Duration = Field(timedelta(seconds=30), description="First retry delay; doubled each time (with jitter).")
    max_backoff: Duration = Field(timedelta(hours=1), description="Longest retry delay.")


class Ops(_Strict):
    """The operators' channel: hears when a source goes wrong and when it recovers."""

    channels: list[str] = Field(min_length=1, description="Names of channels defined under channels:.")
    failures: int = Field(3, ge=1, le=100, description="Failed crawls in a row before an alert.")


class AlertsConfig(_Strict):
    channels: dict[str, Channel] = Field(default_factory=dict)
    subscriptions: list[Subscription] = Field(default_factory=list)
    ops: Ops | None = None
    delivery: Delivery = Field(default_factory=Delivery)
    templates: str | None = Field(None, description="Folder with template overrides (relative to the config folder).")

    @model_validator(mode="after")
    def _known_channels(self) -> AlertsConfig:
        names = [s.name for s in self.subscriptions]
        if len(names) != len(set(names)):
            raise ValueError("subscription names must be unique")
        for sub in self.subscriptions:
            unknown = [c for c in sub.channels if c not in self.channels]
            if unknown:
                raise ValueError(f"subscription {sub.name!r} names unknown channel(s): {', '.join(unknown)}")
        if self.ops is not None:
            unknown = [c for c in self.ops.channels if c not in self.channels]
            if unknown:
                raise ValueError(f"ops names unknown channel(s): {', '.join(unknown)}")
        return self


def alerts_file(config_dir: Path) -> Path:
    """``CRAWLER_ALERTS_FILE`` (set by the daemon for its crawl children), else CONFIG/alerts.yaml."""
    return Path(os.environ.get("CRAWLER_ALERTS_FILE") or Path(config_dir) / "alerts.yaml")


def literal_secrets(config_dir: Path) -> list[str]:
    """``field: advice`` for each secret written into alerts.yaml instead of taken from ``${ENV}``."""
    path = alerts_file(config_dir)
    if not path.exists():
        return []
    found = []
    for name, channel in (read_mapping(path).get("channels") or {}).items():
        if not isinstance(channel, dict):
            continue
        webhook = channel.get("webhook") if isinstance(channel.get("webhook"), dict) else {}
        secret = webhook.get("secret")
        if isinstance(secret, str) and "${" not in secret:
            found.append(f"channels.{name}.webhook.secret")
        url = channel.get("url")
        if isinstance(url, str) and "://" in url:
            userinfo = url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
            if ":" in userinfo and "${" not in userinfo.split(":", 1)[1]:
                found.append(f"channels.{name}.url")
    return [f"{field}: a secret written in the file; put it in the environment and write ${{VAR}} here" for field in found]


def load_alerts(config_dir: Path) -> AlertsConfig:
    """The alerts config; an absent file means no alerts. Raises ConfigError listing every problem."""
    path = alerts_file(config_dir)
    if not path.exists():
        return AlertsConfig()
    return validate(AlertsConfig, read_mapping(path), str(path))
