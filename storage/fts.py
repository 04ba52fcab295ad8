"""Full-text search that works for Chinese: FTS5 over text cut into character bigrams.

SQLite's ``unicode61`` tokenizer takes a run of Chinese characters as one token,
so "营商环境" inside a sentence is never found; the ``trigram`` tokenizer cannot
match two-character words such as "锂电". So the index holds a segmented copy of
title and body in a table of its own (``articles_fts``, rowid = article id):

* folded: NFKC, Traditional → Simplified (OpenCC t2s), lower case, so a query in
  either script finds both;
* every run of CJK characters becomes its overlapping bigrams, and its last
  character alone ("枣庄市" → "枣庄 庄市 市"), so every substring of two or more
  characters is a phrase of consecutive bigrams and a single character is a
  prefix of some token;
* other text (Latin words, numbers) is left to ``unicode61``.

A query term becomes the phrase of its tokens as the index cuts them (a CJK run that
ends inside the term, as in "枣发改信用〔2026〕4号", ends with its last character alone,
as in the index); terms separated by spaces must all match. This is substring search (like ``LIKE '%…%'``), with an index: "商环"
finds "营商环境". docs/storage.md says why bigrams rather than a dictionary
segmenter (jieba): no dictionary to ship or tune, and no word the dictionary
splits differently from the query is ever missed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=32)
def simplified(text: str) -> str:
    """NFKC, then Traditional → Simplified. Cached: an article's body is folded for its identity
    (crawler/dedupe.py) and for the index, and OpenCC is a tenth of an article's extraction."""
    return _t2s().convert(unicodedata.normalize("NFKC", text))


def _fold(text: str) -> str:
    return simplified(text).lower()


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(text: str | None) -> str:
    """The segmented form of a text, as stored in the index."""
    if not text:
        return ""
    out: list[str] = []
    position = 0
    folded = _fold(text)
    for match in _CJK_RUN.finditer(folded):
        out.append(folded[position : match.start()])
        run = match.group()
        out.extend(_bigrams(run))
        out.append(run[-1])
        position = match.end()
    out.append(folded[position:])
    return " ".join(stripped for part in out if (stripped := part.strip()))


def _term_tokens(term: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    for match in _CJK_RUN.finditer(term):
        tokens.extend(_WORD.findall(term[position : match.start()]))
        run = match.group()
        run_tokens = _bigrams(run)
        if not run_tokens or _WORD.search(term[match.end():]):  # the run ends inside the term (枣发改信用〔2026〕):
            run_tokens.append(run[-1])  # the index has its last character alone there too
        tokens.extend(run_tokens)
        position = match.end()
    tokens.extend(_WORD.findall(term[position:]))
    return tokens


def match_query(query: str) -> str | None:
    """An FTS5 MATCH expression for a user's query; None when it has nothing to search for.

    Each whitespace-separated term must occur (as a substring, after folding);
    a single Chinese character matches any token that starts with it.
    """
    phrases = []
    for term in _fold(query).split():
        tokens = _term_tokens(term)
        if not tokens:
            continue
        phrase = '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'
        if _CJK_RUN.fullmatch(tokens[-1]) and len(tokens[-1]) == 1 and _CJK_RUN.search(term[-1]):
            phrase += "*"  # a term ending in a single Chinese character ("2026年"): any token starting with it
        phrases.append(phrase)
    return " AND ".join(phrases) or None


def fts_row(article_id: int, title: str | None, body: str | None) -> tuple[int, str, str]:
    return article_id, index_text(title), index_text(body)


UPSERT = "INSERT OR REPLACE INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)"
