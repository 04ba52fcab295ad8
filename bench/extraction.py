"""Extraction alone: our extractor vs bare trafilatura on the same pages, in one run.

    .venv/bin/python -m bench.extraction             # gold set quality + speed, simulator speed
    .venv/bin/python -m bench.extraction --repeat 3  # more timing passes

Quality: character-bigram precision/recall/F1 of the body against the human gold text
of shared/goldset (headline line dropped from the gold, since both keep the title apart).
Speed: pages per second on one core for both, over the gold set and over simulator pages.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import trafilatura

from bench.common import append_result, bigram_f1, load_goldset
from crawler.errors import ExtractionError
from crawler.extract import extract
from crawler.simulator import PORTALS, Simulator
from crawler.simulator.pages import article_path


def ours(html: str, url: str) -> str:
    try:
        return extract(html, url).body
    except ExtractionError:
        return ""


def bare(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url, deduplicate=False, include_comments=False) or ""


def timed(function, pages: list[tuple[str, str]], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for html, url in pages:
            function(html, url)
        best = min(best, time.process_time() - start)
    return len(pages) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2, help="timing passes (best one counts)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    rows = load_goldset()
    scores = {"ours": [], "trafilatura": []}
    for row in rows:
        for name, function in (("ours", ours), ("trafilatura", bare)):
            scores[name].append(bigram_f1(function(row["html"], row["page_url"]), row["gold"]))
    gold_pages = [(row["html"], row["page_url"]) for row in rows]

    sim = Simulator(articles_per_portal=40)
    sim_pages = []
    for portal in PORTALS:
        for article in sim.articles(portal):
            _, html, _, _ = sim.render(portal, article_path(portal, article))
            sim_pages.append((html, "http://sim.example" + article_path(portal, article)))

    lines = [f"Gold set: {len(rows)} pages (shared/goldset). Simulator: {len(sim_pages)} article pages.", ""]
    lines += ["| extractor | precision | recall | F1 (mean) | F1 (median) | pages with F1 < 0.5 |", "|---|---|---|---|---|---|"]
    for name, values in scores.items():
        p = statistics.mean(v[0] for v in values)
        r = statistics.mean(v[1] for v in values)
        f1s = [v[2] for v in values]
        low = sum(f < 0.5 for f in f1s)
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {statistics.mean(f1s):.3f} | {statistics.median(f1s):.3f} | {low} |")
    lines += ["", "| pages/s on one core (CPU time) | ours | trafilatura | ratio ours/trafilatura |", "|---|---|---|---|"]
    for label, pages in (("gold set", gold_pages), ("simulator", sim_pages)):
        a, b = timed(ours, pages, args.repeat), timed(bare, pages, args.repeat)
        lines.append(f"| {label} | {a:.1f} | {b:.1f} | {a / b:.2f} |")
    append_result("Extraction: ours vs bare trafilatura", lines, "bench.extraction")


if __name__ == "__main__":
    main()
