"""Where a crawl's CPU goes, by thread and stage: the crawl sampled with py-spy (`pip install py-spy`).

    python -m bench.spy RAW_FILE           # summarise a `py-spy record -f raw --gil --subprocesses` file

bench.e2e runs its profile this way. ``--gil`` samples only the thread holding the GIL (one per
process), so a figure is CPU time of that thread or process: work done with the GIL released
(SQLite's execution, socket I/O) is not in it. The sampled run is slower than an unsampled one.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

RATE = 250  # samples per second

# (role, bucket, marker in the stack) — the first match whose role fits the sample's process and thread wins
BUCKETS = (
    ("extraction pool", "extraction (crawler.extract)", "extract (crawler/extract.py"),
    ("extraction pool", "attachments read", "read_files (crawler/analysis.py"),
    ("extraction pool", "fingerprint (fold, MinHash)", "fingerprint (crawler/dedupe.py"),
    ("extraction pool", "search text (segmenting)", "index_text (storage/fts.py"),
    ("extraction pool", "pickling, queues (IPC)", "_process_worker (concurrent/futures/process.py"),
    ("extraction pool", "start-up (fork server, imports)", ""),
    ("writer thread", "identity decision (crawler.identity, dedupe match)", "decide (crawler/identity.py"),
    ("writer thread", "storing (SQL statements, savepoints, commit)", ""),
    # one extraction worker per crawl process (several crawl processes on few cores): extraction runs inline
    ("reactor thread", "extraction, inline (crawler.extract)", "extract (crawler/extract.py"),
    ("reactor thread", "attachments read, inline", "read_files (crawler/analysis.py"),
    ("reactor thread", "fingerprint, inline (fold, MinHash)", "fingerprint (crawler/dedupe.py"),
    ("reactor thread", "search text, inline (segmenting)", "index_text (storage/fts.py"),
    ("reactor thread", "list pages (links, paging)", "parse_list (spiders/listing.py"),
    ("reactor thread", "article pages (decode, attachment links)", "parse_article (spiders/listing.py"),
    ("reactor thread", "ingest pipeline (records, hand-over)", "(crawler/pipeline.py"),
    ("reactor thread", "Scrapy, Twisted, asyncio (downloads, middlewares, scheduling)", "run_forever (asyncio/base_events.py"),
    ("reactor thread", "start-up and shut-down (imports, settings), outside the reactor loop", ""),
    ("other threads", "pool feeder and manager, Twisted's thread pool", ""),
)


def _role(stack: str) -> str:
    frames = stack.split(";")
    processes = [f for f in frames[:4] if f.startswith("process ")]  # a child's samples: parent;child;thread;...
    process, thread = processes[-1] if processes else "", frames[len(processes)] if len(frames) > len(processes) else ""
    if "forkserver" in process:
        return "extraction pool"
    if "store-writer" in thread:
        return "writer thread"
    if "MainThread" in thread or thread.strip().startswith("thread (") and "):" not in thread:
        return "reactor thread"  # the first samples of a process carry no thread name yet
    return "other threads"


def summarise(raw: Path) -> list[tuple[str, str, float]]:
    """(role, bucket, CPU seconds) for every bucket, in BUCKETS order."""
    seconds: Counter[tuple[str, str]] = Counter()
    for line in raw.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        role = _role(stack)
        for bucket_role, bucket, marker in BUCKETS:
            if bucket_role == role and marker in stack:
                seconds[(role, bucket)] += int(count) / RATE
                break
    return [(role, bucket, seconds[(role, bucket)]) for role, bucket, _ in BUCKETS]


def table(raw: Path, tree_cpu: float | None = None) -> list[str]:
    rows = summarise(raw)
    total = sum(s for _, _, s in rows)
    lines = ["| where the CPU goes (py-spy, GIL held; every crawl process) | stage | CPU s | share |", "|---|---|---|---|"]
    for role in dict.fromkeys(r for r, _, _ in rows):
        part = [(b, s) for r, b, s in rows if r == role]
        if not sum(s for _, s in part):
            continue
        lines.append(f"| **{role}** | | **{sum(s for _, s in part):.1f}** | **{sum(s for _, s in part) / total:.0%}** |")
        lines += [f"| | {bucket} | {s:.1f} | {s / total:.0%} |" for bucket, s in part if s >= 0.05]
    if tree_cpu is not None:
        lines.append(f"| the same crawl unsampled: tree CPU | | {tree_cpu:.1f} | |")
    return lines


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print("\n".join(table(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
