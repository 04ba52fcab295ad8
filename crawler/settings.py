"""Global settings: where the config and the database live.

Each setting is declared once as (name, env var, default, help); the CLI
options and the docs are derived from this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str


SETTINGS = (
    Setting("config", "CRAWLER_CONFIG", "config", "Folder holding sources/ (one YAML file per portal)."),
    Setting("db", "CRAWLER_DB", "data/crawler.db", "SQLite database file (created on first use)."),
)

BY_NAME = {s.name: s for s in SETTINGS}
