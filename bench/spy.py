"""Where a crawl's CPU goes, by thread and stage: the crawl sampled with py-spy (`pip install py-spy`).

    python -m bench.spy RAW_FILE           # summarise a `py-spy record -f raw --gil --subprocesses` file

bench.e2e runs its profile this way. ``--gil`` samples only the thread holding the GIL, so a
figure is Python CPU time of that thread (or process): work done with the GIL released (SQLite's
own execution, socket I/O) is not in it; the crawl's tree CPU minus the sampled total bounds that.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

RATE = 250  # samples per second

# (role, bucket, test on the joined stack) — the first match wins
_POOL = "_process_worker (concurrent/futures/process.py"
BUCKETS = (
    ("extraction pool", "extraction (crawler.extract)", "extract (crawler/extract.py"),
    ("extraction pool", "attachments read", "read_files (crawler/analysis.py"),
    ("extraction pool", "fingerprint (fold, MinHash)", "fingerprint (crawler/dedupe.py"),
    ("extraction pool", "search text (segmenting)", "index_text (storage/fts.py"),
    ("extraction pool", "pickling, queues (IPC)", _POOL),
    ("writer thread", "identity decision (crawler.identity, dedupe match)", "decide (crawler/identity.py"),
    ("writer thread", "storing (SQL statements, savepoints, commit)", "store-writer"),
    ("reactor thread", "list pages (links, paging)", "parse_list (spiders/listing.py"),
    ("reactor thread", "article pages (decode, attachment links)", "parse_article (spiders/listing.py"),
    ("reactor thread", "ingest pipeline (records, hand-over)", "(crawler/pipeline.py"),
    ("reactor thread", "Scrapy, Twisted, asyncio (downloads, middlewares, scheduling)", "run_forever (asyncio/base_events.py"),
    ("reactor thread", "start-up and shut-down (imports, settings), outside the reactor loop", "MainThread"),
    ("other threads", "pool feeder and manager, fork server, Twisted's thread pool", ""),
)


def summarise(raw: Path) -> list[tuple[str, str, float]]:
    """(role, bucket, CPU seconds) for every bucket, in BUCKETS order."""
    seconds: Counter[tuple[str, str]] = Counter()
    for line in raw.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        for role, bucket, marker in BUCKETS:
            if marker in stack and (role != "writer thread" or "store-writer" in stack) \
                    and (role != "extraction pool" or _POOL in stack) \
                    and (role != "reactor thread" or "MainThread" in stack.split(";", 2)[1] and _POOL not in stack):
                seconds[(role, bucket)] += int(count) / RATE
                break
    return [(role, bucket, seconds[(role, bucket)]) for role, bucket, _ in BUCKETS]


def table(raw: Path, tree_cpu: float | None = None) -> list[str]:
    rows = summarise(raw)
    total = sum(s for _, _, s in rows)
    lines = ["| where the CPU goes (py-spy, GIL held) | stage | CPU s | share |", "|---|---|---|---|"]
    for role in dict.fromkeys(r for r, _, _ in rows):
        part = [(b, s) for r, b, s in rows if r == role]
        lines.append(f"| **{role}** | | **{sum(s for _, s in part):.1f}** | **{sum(s for _, s in part) / total:.0%}** |")
        lines += [f"| | {bucket} | {s:.1f} | {s / total:.0%} |" for bucket, s in part if s >= 0.05]
    if tree_cpu is not None:
        lines.append(f"| GIL released (SQLite's execution, I/O), and sampling overhead: tree CPU {tree_cpu:.1f} s − sampled {total:.1f} s | | {max(0.0, tree_cpu - total):.1f} | |")
    return lines


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print("\n".join(table(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
