"""Injected spam: phrases that hacked or mirrored copies of portal pages splice into the text.

Gambling sites copy news pages wholesale and splice their own name into the title,
the text and the footer ("…高质高效发展-新全讯2网", "诚邀新全讯2网的合作伙伴"). An article
whose title or body carries such a phrase is flagged ``spam_injection``; the phrases are
removed from the stored title and body. Alerts skip flagged articles unless a
subscription sets ``include_flagged``. A phrase found only in the page's chrome (footer,
side column, navigation, hidden elements) does not flag the article: the crawl records it
as a ``spam_chrome`` notice and the source's health shows it (the site may be tampered with).

The built-in list is below; a source adds its own with ``cleanup.spam_patterns``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FLAG = "spam_injection"

DEFAULT_PATTERNS = (
    r"新全讯\d*网|全讯\d{3,}",
    r"(?:澳门|澳門)?(?:新葡京|葡京|威尼斯人|太阳城|太陽城|金沙|皇冠)(?:娱乐|娛樂|赌场|賭場|官网|官網|平台|体育|體育|集团|集團)",
    r"百家乐|百家樂|六合彩|时时彩|時時彩|北京赛车|北京賽車|幸运飞艇|幸運飛艇|真人荷官",
    r"(?:博彩|赌博|賭博|彩票)(?:网|網|平台|公司|官网|官網)",
)
# What each built-in pattern cannot match without (one of them is in every match): a page that has
# none is not searched with the pattern. Four regex scans of a whole page's text were 5% of its
# extraction; a substring test is a fraction of that. tests/test_extract.py checks every alternative.
DEFAULT_NEEDS = (
    ("全讯",),
    ("葡京", "威尼斯人", "太阳城", "太陽城", "金沙", "皇冠"),
    ("百家乐", "百家樂", "六合彩", "时时彩", "時時彩", "北京赛车", "北京賽車", "幸运飞艇", "幸運飛艇", "真人荷官"),
    ("博彩", "赌博", "賭博", "彩票"),
)


class Rule:
    """A pattern, and the substrings one of which every match holds (none: always searched): a text
    with none of them is not searched (crawler/dedupe.py's volatile parts use it too)."""

    def __init__(self, pattern: re.Pattern[str], needs: tuple[str, ...] = ()):
        self.pattern, self.needs = pattern, needs

    def could_match(self, text: str) -> bool:
        return not self.needs or any(need in text for need in self.needs)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text) if self.could_match(text) else None

    def finditer(self, text: str) -> Iterable[re.Match[str]]:
        return self.pattern.finditer(text) if self.could_match(text) else ()

    def sub(self, replacement: str, text: str) -> str:
        return self.pattern.sub(replacement, text) if self.could_match(text) else text


_DEFAULT = [Rule(re.compile(p), needs) for p, needs in zip(DEFAULT_PATTERNS, DEFAULT_NEEDS, strict=True)]
_LEFTOVER = re.compile(r"^[\W_]*$")


def patterns(extra: Iterable[str] = ()) -> list[Rule]:
    return [*_DEFAULT, *(Rule(re.compile(p)) for p in extra)]


def found(text: str, rules: list[Rule]) -> bool:
    return any(rule.search(text) for rule in rules)


def phrases(text: str, rules: list[Rule]) -> list[str]:
    """The distinct phrases found, in order of first appearance."""
    seen: dict[str, None] = {}
    for rule in rules:
        for match in rule.finditer(text):
            seen.setdefault(match.group(0), None)
    return list(seen)


_DANGLING = re.compile(r"\s*[-_|–—]\s*$")


def strip(text: str, rules: list[Rule]) -> str:
    """The text without the phrases (and without a separator left dangling at its end: "标题-")."""
    stripped = text
    for rule in rules:
        stripped = rule.sub("", stripped)
    return _DANGLING.sub("", stripped) if stripped != text else text


def strip_lines(lines: list[str], rules: list[Rule]) -> list[str]:
    """The lines without the phrases; a line left with nothing but punctuation goes."""
    cleaned = (" ".join(strip(line, rules).split()) for line in lines)
    return [line for line in cleaned if not _LEFTOVER.match(line)]
