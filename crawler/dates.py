"""Publish dates of Chinese portal pages, normalised to Asia/Shanghai.

dateutil cannot read ``2023年8月31日`` (and with ``fuzzy=True`` it silently
invents the current year), so header lines are parsed with explicit patterns;
dateutil only reads machine-made values from meta tags.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

SHANGHAI = ZoneInfo("Asia/Shanghai")

# 2023-08-31, 2023/8/31, 2023.08.31, 2023年8月31日, optionally followed by 07:49[:29]
_DATE_TIME = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*(\d{1,2})[:：时](\d{2})(?:[:：分](\d{2}))?)?"
)
_URL_PATTERNS = (
    re.compile(r"/t((?:19|20)\d{2})(\d{2})(\d{2})_\d+"),  # TRS: t20230824_123.htm
    re.compile(r"/art/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/"),  # Hanweb
    re.compile(r"/((?:19|20)\d{2})/(\d{2})(\d{2})/"),  # iqilu: /2022/1201/
    re.compile(r"/((?:19|20)\d{2})[-_/]?(\d{2})[-_/]?(\d{2})/"),  # /2023-08-31/ or /20230831/
)
# Lines that carry a date which is not the article's: banners, page furniture.
VOLATILE_DATE_LINE = re.compile(r"今天是|今日是|星期[一二三四五六日天]|禮拜|Copyright|版权所有|版權所有")


def _build(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime | None:
    try:
        value = datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)
    except ValueError:
        return None
    if not 1990 <= value.year <= datetime.now(SHANGHAI).year + 1:
        return None
    return value


def has_time(text: str) -> bool:
    """Whether the date in ``text`` comes with a time of day (a strong sign of a publish line)."""
    match = _DATE_TIME.search(unicodedata.normalize("NFKC", text))
    return bool(match and match.group(4))


def parse_chinese_datetime(text: str) -> datetime | None:
    """The first date (with its time, if any) written in ``text`` (full-width digits too)."""
    for match in _DATE_TIME.finditer(unicodedata.normalize("NFKC", text)):
        parts = [int(p) if p else 0 for p in match.groups()]
        value = _build(*parts)
        if value is not None:
            return value
    return None


def parse_machine_datetime(value: str) -> datetime | None:
    """A date from a meta tag or a JSON-LD value; naive times are Shanghai time."""
    value = value.strip()
    if not value:
        return None
    chinese = parse_chinese_datetime(value)
    try:
        parsed = dateutil_parser.isoparse(value)
    except ValueError:
        try:
            parsed = dateutil_parser.parse(value, fuzzy=False)
        except (ValueError, OverflowError):
            return chinese
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    if not 1990 <= parsed.year <= datetime.now(SHANGHAI).year + 1:
        return chinese
    return parsed.astimezone(SHANGHAI)


def date_from_url(url: str) -> datetime | None:
    for pattern in _URL_PATTERNS:
        match = pattern.search(url)
        if match:
            value = _build(*(int(g) for g in match.groups()))
            if value is not None:
                return value
    return None
