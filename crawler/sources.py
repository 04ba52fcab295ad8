"""Source configs: one YAML file per portal under ``<config>/sources/``.

Files are read with ``yaml.safe_load``, ``${ENV_VAR}`` placeholders are
resolved, and the result is validated by pydantic with unknown keys
forbidden. Every problem is reported as ``FILE: field: message``. The format
is documented in ``docs/sources.md``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from lxml import etree
from parsel.csstranslator import HTMLTranslator
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from crawler.attachments import parse_size
from crawler.configfile import read_mapping, validate
from crawler.errors import ConfigError, ConfigProblem
from crawler.netguard import Refused, check_allow, check_url

DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; crawler-monitor/0.1; +https://example.invalid/bot)"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> Any:
    """``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` → timedelta."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 30m, 2h, 1d)")
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    return value


# In JSON as seconds, which parse_duration reads back (Redis workers get sources as JSON).
Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(lambda d: d.total_seconds(), when_used="json")]


def _check_css(selector: str) -> str:
    try:
        HTMLTranslator().css_to_xpath(selector)
    except Exception as exc:  # cssselect raises several types
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from None
    return selector


def _check_xpath(expression: str) -> str:
    try:
        etree.XPath(expression)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"invalid XPath {expression!r}: {exc}") from None
    return expression


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


PrivateTargets = Annotated[bool | list[str], AfterValidator(lambda v: check_allow(v) if isinstance(v, list) else v)]
CssSelector = Annotated[str, BeforeValidator(lambda v: _check_css(v) if isinstance(v, str) else v)]
XPathExpr = Annotated[str, BeforeValidator(lambda v: _check_xpath(v) if isinstance(v, str) else v)]
Regex = Annotated[str, BeforeValidator(lambda v: _check_regex(v) if isinstance(v, str) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkRules(_Strict):
    """How to find article links on a list page. With none set, links are detected automatically."""

    css: CssSelector | None = Field(None, description="CSS selector of the article links (the <a> elements or their containers).")
    xpath: XPathExpr | None = Field(None, description="XPath of the article links, instead of css.")
    allow: list[Regex] = Field(default_factory=list, description="Keep only links whose absolute URL matches one of these regexes.")
    deny: list[Regex] = Field(default_factory=list, description="Drop links whose absolute URL matches one of these regexes.")

    @property
    def automatic(self) -> bool:
        return not (self.css or self.xpath or self.allow)


class Pagination(_Strict):
    """How to reach the next list page."""

    next_css: CssSelector | None = Field(None, description="CSS selector of the 'next page' link.")
    next_xpath: XPathExpr | None = Field(None, description="XPath of the 'next page' link.")
    pattern: str | None = Field(
        None, description="URL of page N, relative to the start URL, with {page} (e.g. index_{page}.html)."
    )
    first: int = Field(2, ge=0, description="Number that {page} takes for the second list page.")
    max_pages: int = Field(5, ge=1, le=1000, description="Most list pages read per start URL in one crawl.")

    @model_validator(mode="after")
    def _one_way(self) -> Pagination:
        ways = [w for w in (self.next_css, self.next_xpath, self.pattern) if w]
        if len(ways) > 1:
            raise ValueError("give only one of next_css, next_xpath, pattern")
        if self.pattern is not None and "{page}" not in self.pattern:
            raise ValueError("pattern must contain {page}")
        return self


class Cleanup(_Strict):
    """Per-site noise removal, on top of the built-in Chinese portal boilerplate rules."""

    drop_selectors: list[CssSelector] = Field(default_factory=list, description="CSS selectors of elements removed before extraction.")
    drop_patterns: list[Regex] = Field(default_factory=list, description="Regexes; body lines matching one are removed.")
    spam_patterns: list[Regex] = Field(
        default_factory=list,
        description="Regexes of injected spam phrases, added to the built-in list: the article is flagged spam_injection and the phrases removed.",
    )


class Schedule(_Strict):
    """When the daemon polls the source: every (an interval) or cron (five fields), not both."""

    every: Duration | None = Field(None, description="Interval between polls, e.g. 30m.")
    cron: str | None = Field(None, description="Crontab expression, e.g. '*/20 7-22 * * *'.")
    jitter: Duration = Field(timedelta(seconds=60), description="Random delay added to each poll.")
    adaptive: bool = Field(
        True,
        description="With every: follow the source's publishing rhythm within every/4 .. every*4 "
        "(closer in its busy hours, sparser in its quiet ones); false: poll exactly every. Cron is always fixed.",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger  # here: a crawl process of `every` sources never needs it

            try:
                CronTrigger.from_crontab(value, timezone="Asia/Shanghai")
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        if self.every is None and self.cron is None:
            object.__setattr__(self, "every", timedelta(minutes=30))
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("every must be at least 1s")
        return self


class Revisit(_Strict):
    """When stored articles are fetched again to see edits (crawler/revisit.py)."""

    window: Duration = Field(timedelta(days=3), description="Revisit articles younger than this (first seen and dated).")
    after: list[Duration] = Field(
        [timedelta(hours=1), timedelta(hours=3), timedelta(hours=9), timedelta(days=1)], min_length=1,
        description="Ages since first seen at which an article is fetched again (then every largest one).",
    )


class AttachmentSettings(_Strict):
    """Files linked from an article page (附件: PDF, DOCX, XLSX…), crawler/attachments.py."""

    fetch: bool = Field(True, description="Fetch the attachments whose text is read (types) and keep their text; false: only record their links.")
    types: list[Literal["pdf", "docx", "xlsx"]] = Field(
        ["pdf", "docx", "xlsx"],
        description="Types fetched and read (of pdf, docx, xlsx); other links (doc, xls, wps, ofd, zip, rar) are recorded, not fetched.",
    )
    max_size: Annotated[int, BeforeValidator(parse_size)] = Field(
        20 * 2**20, ge=1024, description="Largest file fetched, e.g. 20MB; a larger one is refused (recorded, not read).",
    )


class RequestSettings(_Strict):
    """How politely and how the portal is fetched."""

    delay: Duration = Field(timedelta(seconds=1), description="Pause between two requests to the portal.")
    concurrency: int = Field(2, ge=1, le=16, description="Requests in flight at once to the portal.")
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=1, description="User-Agent header.")
    encoding: str | None = Field(None, description="Force this charset (e.g. gbk) instead of what the page declares.")
    timeout: Duration = Field(timedelta(seconds=30), description="Give up on one request after this long.")
    retries: int = Field(2, ge=0, le=10, description="Retries of a request that failed with a timeout or 5xx.")
    revisit: Revisit | Literal[False] = Field(
        default_factory=Revisit,
        description="Fetch stored articles again (conditional GET) on a decaying schedule to see edits; off: never.",
    )
    obey_robots: bool = Field(True, description="Obey robots.txt.")
    allow_private_targets: PrivateTargets = Field(
        False,
        description="Allow loopback, private and link-local addresses (an intranet portal, the simulator): true, or a list "
        "of addresses/CIDRs with an optional :PORT; refused by default, for start URLs, links and redirects alike.",
    )

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "recheck_after" in data:
            raise PydanticCustomError(
                "replaced", "{message}",
                {"field": "recheck_after", "message": "request.recheck_after was replaced by request.revisit: stored articles "
                 "younger than 3d are fetched again 1h, 3h, 9h and 1d after first seen by default; remove the key, or write "
                 "e.g. `revisit: {window: 3d, after: [1h, 6h, 1d]}`, or `revisit: off`"},
            )
        return data

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, gbk, gb18030, big5)") from None
        return value


class Source(_Strict):
    """One portal (or one channel of a portal) to monitor."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Identifier: lower-case letters, digits, - and _.")
    title: str = Field(min_length=1, description="Human title shown in alerts and listings.")
    enabled: bool = Field(True, description="Crawled by `crawler crawl` (no names) and the daemon.")
    role: Literal["primary", "aggregator"] = Field(
        "primary",
        description="primary: the portal that publishes its articles; aggregator: a site that reposts others' "
        "(a mirror, a digest). A story is shown from its best copy: unflagged, then primary, then earliest.",
    )
    start_urls: list[str] = Field(min_length=1, description="List pages to poll.")
    links: LinkRules = Field(default_factory=LinkRules)
    pagination: Pagination | None = None
    cleanup: Cleanup = Field(default_factory=Cleanup)
    schedule: Schedule = Field(default_factory=Schedule)
    request: RequestSettings = Field(default_factory=RequestSettings)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    expected_update_period: Duration | None = Field(
        None, description="Tell the operators when no new article came for this long (e.g. 3d)."
    )

    @field_validator("start_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL")
        return urls

    @model_validator(mode="after")
    def _public_targets(self) -> Source:
        for index, url in enumerate(self.start_urls):
            try:
                check_url(url, allow_private=self.request.allow_private_targets, what="start URL",
                          setting="request.allow_private_targets")
            except Refused as exc:
                raise PydanticCustomError("refused", "{message}", {"field": f"start_urls.{index}", "message": str(exc)}) from None
        return self


class LoadedSource(BaseModel):
    """A validated source and the file it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    source: Source
    file: Path


# -- loading -------------------------------------------------------------------------------


def load_source_file(path: Path, environ: Mapping[str, str] | None = None) -> LoadedSource:
    """Read and validate one source file (``${ENV}`` from ``environ``, default the process
    environment); raise ConfigError listing every problem."""
    raw = read_mapping(path)
    raw.setdefault("name", path.stem)
    return LoadedSource(source=validate(Source, raw, str(path), environ), file=path)


def source_files(config_dir: Path) -> list[Path]:
    folder = Path(config_dir) / "sources"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_sources(config_dir: Path, files: list[Path] | None = None, environ: Mapping[str, str] | None = None,
                 ) -> tuple[list[LoadedSource], list[ConfigProblem]]:
    """Load every source file; return the valid sources and all problems found.

    A broken file never hides the others: its problems are returned and the
    remaining sources still load.
    """
    paths = files if files is not None else source_files(config_dir)
    loaded: list[LoadedSource] = []
    problems: list[ConfigProblem] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            item = load_source_file(Path(path), environ)
        except ConfigError as exc:
            problems += exc.problems
            continue
        other = seen.get(item.source.name)
        if other is not None:
            problems.append(ConfigProblem(str(path), "name", f"{item.source.name!r} is already used by {other}"))
            continue
        seen[item.source.name] = item.file
        loaded.append(item)
    return loaded, problems
