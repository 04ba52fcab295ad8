"""The one clock of the storage layer: UTC timestamps as ISO 8601 text (sortable in SQL)."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
