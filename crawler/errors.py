"""Exceptions of the crawler package.

    CrawlerError
     ├── ConfigError       a config file is broken; carries every problem found
     └── ExtractionError   a page yields no article (empty, too short, not an article)
"""

from __future__ import annotations

from dataclasses import dataclass


class CrawlerError(Exception):
    """Root of the crawler's own errors."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in one config file, printed as ``FILE: field: message``."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ConfigError(CrawlerError):
    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ExtractionError(CrawlerError):
    """The page holds no usable article; ``kind`` names why (e.g. ``empty_body``)."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)

    def __reduce__(self):  # picklable across the extraction process pool
        return (type(self), (self.kind, str(self)))
