"""Helpers shared by the bench scripts: results file, commit id, gold set loading."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDSET = ROOT.parent / "shared" / "goldset"
RESULTS = ROOT / "bench" / "RESULTS.md"


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def append_result(title: str, lines: list[str], module: str) -> None:
    """Append a dated block (commit, exact command, figures) to bench/RESULTS.md and print it."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python -m", module, *sys.argv[1:]])
    block = [f"## {title} — {stamp}, commit {commit()}", "", f"`{command}`", "", *lines, ""]
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(block) + "\n")
    print("\n".join(block))


def load_goldset() -> list[dict]:
    manifest = GOLDSET / "manifest.jsonl"
    if not manifest.exists():
        raise SystemExit(f"gold set not found at {manifest} (it lives in shared/goldset beside the checkout)")
    rows = [json.loads(line) for line in manifest.read_text("utf-8").splitlines() if line.strip()]
    for row in rows:
        raw = (GOLDSET / row["html_file"]).read_bytes()
        row["html"] = raw.decode(row["encoding"], errors="replace")
        gold = row["gold_body"].split("\n")
        if row.get("gold_body_starts_with_headline"):
            gold = gold[1:]
        row["gold"] = "\n".join(gold)
        row["page_url"] = row.get("url") or f"http://{row['site']}/article.html"
    return rows


def bigram_f1(predicted: str, gold: str) -> tuple[float, float, float]:
    """Precision, recall, F1 over the multiset of character bigrams (whitespace removed)."""

    def grams(text: str) -> Counter:
        chars = "".join(text.split())
        return Counter(chars[i : i + 2] for i in range(len(chars) - 1))

    p, g = grams(predicted), grams(gold)
    overlap = sum((p & g).values())
    precision = overlap / sum(p.values()) if p else 0.0
    recall = overlap / sum(g.values()) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
