"""Dedupe at scale: look-up and insert cost with 10k, 100k and 1M stored fingerprints.

    .venv/bin/python -m bench.dedupe                       # 10k, 100k, 1M
    .venv/bin/python -m bench.dedupe --sizes 10000 100000  # quicker

The index is filled with distinct random MinHash signatures (their 42 band keys and a
short article row each) through ``Store.bulk_index``; then, at each size, 200 generated
articles are fingerprinted and run through the real decision (``Store.ingest``): once
once as a bare look-up and once through the whole decision, half of them new and half
near duplicates of an article stored just before. Reported: milliseconds per article
for the look-up and for ingest, fill throughput, resident memory of this process, and
database bytes per stored article. Each size gets a fresh database. Baseline in the
same run: the look-up at the smallest size (the ratio says whether cost stays flat).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bench.common import append_result
from crawler.dedupe import NUM_PERM, Fingerprint, band_keys, fingerprint, make_matcher
from crawler.identity import decider
from crawler.simulator.content import generated_article
from storage import Store

SAMPLE = 200


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fill(store: Store, start: int, stop: int, rng: np.random.Generator) -> float:
    began = time.perf_counter()
    chunk = 20_000
    for first in range(start, stop, chunk):
        rows = []
        for n in range(first, min(stop, first + chunk)):
            sig = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64).astype(np.uint32)
            fp = Fingerprint(f"{n:064x}", sig, 800)
            rows.append((f"http://bench.example/{n}.html", fp.content_hash, fp.signature_bytes(), fp.shingles, fp.band_keys))
        store.bulk_index("bench", rows)
    return (stop - start) / (time.perf_counter() - began)


def _sample(size: int) -> list[tuple[dict, Fingerprint]]:
    out = []
    when = datetime(2026, 1, 1)
    for i in range(SAMPLE):
        a = generated_article("bench", size + i, when - timedelta(hours=i))
        paragraphs = a.paragraphs
        if i % 2:  # a near duplicate of the previous one: one paragraph less
            prev = out[-1][0]
            paragraphs = prev["body"].split("\n")[:-1] + ["（来源：枣庄日报）"]
            record = {"url": f"http://bench.example/s{size}-{i}.html", "title": prev["title"], "body": "\n".join(paragraphs)}
        else:
            record = {"url": f"http://bench.example/s{size}-{i}.html", "title": a.title, "body": "\n".join(paragraphs)}
        out.append((record, fingerprint(record["title"], record["body"])))
    return out


def _ingest(store: Store, record: dict, fp: Fingerprint):
    record = {**record, "url_key": record["url"]}
    return store.ingest("bench", record, fp, decider("bench", record, fp), band_keys_of=band_keys)


def _measure(db_path: Path, size: int, rng: np.random.Generator) -> str:
    with Store(db_path) as store:
        store.register_source("bench", "bench", "-")
        rate = _fill(store, 0, size, rng)
        sample = _sample(size)
        lookups = []
        for record, fp in sample[::2]:  # articles with nothing like them stored: the bare index cost
            began = time.perf_counter()
            candidates = store._candidates(store.db, fp.band_keys)
            make_matcher(fp)(candidates, lambda i: store.db.execute("SELECT body FROM articles WHERE id = ?", [i]).fetchone()[0])
            lookups.append(time.perf_counter() - began)
        decisions: dict[str, int] = {}
        began = time.perf_counter()
        for record, fp in sample:
            outcome = _ingest(store, record, fp).outcome
            decisions[outcome] = decisions.get(outcome, 0) + 1
        ingest_ms = 1000 * (time.perf_counter() - began) / len(sample)
        stored = store.count_articles()
    wal = Path(f"{db_path}-wal")
    size_bytes = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    lookup_ms = 1000 * sum(lookups) / len(lookups)
    return lookup_ms, (
        f"| {size:,} | {rate:,.0f} | {lookup_ms:.2f} | {ingest_ms:.2f} | "
        f"{', '.join(f'{k} {v}' for k, v in sorted(decisions.items()))} | {_rss_mb():.0f} | {size_bytes / stored:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dedupe-"))
    rng = np.random.default_rng(7)
    lines = [
        f"A fresh database per size, filled with distinct random signatures; then {SAMPLE} generated articles "
        "(half new, half a near duplicate of the one before). Look-up: the candidate query and check for an "
        "article with nothing like it stored. Ingest: the whole decision and its writes (synchronous=FULL commit).",
        "",
        "| stored | fill rate (articles/s) | look-up ms/article | ingest ms/article | decisions | RSS MB | DB bytes/article |",
        "|---|---|---|---|---|---|---|",
    ]
    costs = []
    for size in sorted(args.sizes):
        db_path = work / f"dedupe-{size}.db"
        lookup_ms, line = _measure(db_path, size, rng)
        costs.append(lookup_ms)
        lines.append(line)
        print(line, flush=True)
        for path in work.glob(f"dedupe-{size}.db*"):
            path.unlink()
    lines += ["", f"Look-up at the largest size / at the smallest: {costs[-1] / costs[0]:.2f}."]
    append_result("Dedupe at scale", lines, "bench.dedupe")
    work.rmdir()


if __name__ == "__main__":
    main()
