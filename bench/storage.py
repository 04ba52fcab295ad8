"""Storage: bytes per stored article and the common read queries at 100k articles.

    .venv/bin/python -m bench.storage                     # 100,000 articles
    .venv/bin/python -m bench.storage --articles 20000    # quicker

A database is filled with generated articles (the simulator's text generator: 4-7
paragraphs of Chinese government news each, three sources, one article every ~7 hours)
through the storage schema, full-text index included. Then each query runs 20 times
(median reported): the latest 50 articles, the latest 50 of one source (what
`crawler items list` and the web view's front page ask), and full-text searches
(`crawler items search`) for a common two-character word, a four-character word, a rare
phrase, and a common word within the last 30 days. Baseline in the same run: the same
searches as `LIKE '%word%'` scans over title and body (what a database without a
full-text index does); both must return the same articles.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.common import append_result
from crawler.dedupe import content_hash
from crawler.simulator.content import generated_article
from storage import Store
from storage.fts import UPSERT, fts_row

SOURCES = ["credit-zz", "dzwww-zz", "iqilu-zz"]
RUNS = 20


def _fill(store: Store, count: int) -> float:
    for name in SOURCES:
        store.register_source(name, name, "bench")
    began = time.perf_counter()
    start = datetime(2026, 11, 1, 9, 0)
    chunk = 5000
    for first in range(0, count, chunk):
        articles, fts = [], []
        for n in range(first, min(count, first + chunk)):
            when = start - timedelta(hours=7 * n // 3)
            a = generated_article(SOURCES[n % 3], n + 1, when)
            published = when.replace(tzinfo=timezone(timedelta(hours=8))).isoformat()
            seen = (when - timedelta(hours=8) + timedelta(minutes=20)).isoformat() + "+00:00"
            url = f"http://{SOURCES[n % 3]}.example/{n}.html"
            articles.append((n + 1, SOURCES[n % 3], url, url, url, a.title, a.body, published, a.author, a.source_name,
                             content_hash(a.title, a.body) + f"{n}", seen, seen, seen, "[]", 1))
            fts.append(fts_row(n + 1, a.title, a.body))
        with store.write() as db:
            db.conn.executemany(
                "INSERT INTO articles (id, source, url, url_key, canonical_url, title, body, published_at, author, "
                "source_name, content_hash, first_seen, last_seen, last_fetched, flags, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                articles,
            )
            db.conn.executemany(UPSERT, fts)
    return count / (time.perf_counter() - began)


def _median_ms(fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(RUNS):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


def _like(conn: sqlite3.Connection, words: list[str], since: str | None) -> set[int]:
    where = " AND ".join("(title || char(10) || body) LIKE ?" for _ in words)
    params = [f"%{w}%" for w in words]
    if since:
        where += " AND julianday(COALESCE(published_at, first_seen)) >= julianday(?)"
        params.append(since)
    return {row[0] for row in conn.execute(f"SELECT id FROM articles WHERE {where} AND duplicate_of IS NULL", params)}


def _sizes(conn: sqlite3.Connection) -> dict[str, int] | None:
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        return None
    return dict(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="bench-storage-")) / "crawler.db"
    with Store(path) as store:
        rate = _fill(store, args.articles)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.db.execute("ANALYZE")
    size = path.stat().st_size
    lines = [f"{args.articles} generated articles ({rate:.0f} articles/s to fill, index included); "
             f"database {size / 1e6:.1f} MB = {size / args.articles:.0f} bytes per article."]
    with sqlite3.connect(path) as conn:
        sizes = _sizes(conn)
        body_bytes = conn.execute("SELECT SUM(LENGTH(CAST(title AS BLOB)) + LENGTH(CAST(body AS BLOB))) FROM articles").fetchone()[0]
    if sizes:
        fts = sum(v for k, v in sizes.items() if k.startswith("articles_fts"))
        articles = sum(v for k, v in sizes.items() if k == "articles" or k.startswith("sqlite_autoindex_articles") or k.startswith("idx_articles"))
        lines.append(
            f"Of which: articles table and its indexes {articles / args.articles:.0f} B/article, full-text index "
            f"{fts / args.articles:.0f} B/article; UTF-8 title+body {body_bytes / args.articles:.0f} B/article "
            f"(index/text = {fts / body_bytes:.2f})."
        )
    since = (datetime(2026, 11, 1, tzinfo=timezone.utc) - timedelta(days=30)).isoformat()
    searches = [
        ("common 2-character word", "信用", None),
        ("4-character word", "营商环境", None),
        ("rare phrase", f"第{args.articles // 2}期", None),
        ("common word, last 30 days", "信用", since),
    ]
    lines += ["", "| query | result rows | ours ms (median of 20) | LIKE scan ms | ratio LIKE/ours |", "|---|---|---|---|---|"]
    with Store(path, readonly=True) as store:
        ms, rows = _median_ms(lambda: store.articles(limit=50, duplicates=False))
        lines.append(f"| latest 50 | {len(rows)} | {ms:.2f} | | |")
        ms, rows = _median_ms(lambda: store.articles(source=SOURCES[1], limit=50, duplicates=False))
        lines.append(f"| latest 50 of one source | {len(rows)} | {ms:.2f} | | |")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        for label, query, when in searches:
            ms, rows = _median_ms(lambda: store.search(query, since=when, limit=50))
            everything = {r["id"] for r in store.search(query, since=when, limit=10**9)}
            like_ms, like_ids = _median_ms(lambda: _like(conn, query.split(), when))
            assert everything == like_ids, (label, len(everything), len(like_ids))
            lines.append(
                f"| search {label} (\"{query}\", newest 50) | {len(rows)} of {len(everything)} | {ms:.2f} | {like_ms:.1f} | "
                f"{like_ms / ms:.0f} |"
            )
    lines.append("")
    lines.append("Every search returned exactly the articles the LIKE scan found.")
    append_result(f"Storage at {args.articles} articles (bench.storage)", lines, "bench.storage")


if __name__ == "__main__":
    main()
