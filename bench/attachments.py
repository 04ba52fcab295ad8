"""Attachment cost: reading each type's text (ms per MB), and the attachments' share of a crawl.

    .venv/bin/python -m bench.attachments                 # sizes ~0.1, 1 and 5 MB per type; a 400-article crawl
    .venv/bin/python -m bench.attachments --articles 200 --repeat 2

1. Reading: the extraction pool's work for one file (crawler.analysis.read_files: the type and
   zip-bomb check, the text, the hash), on files of about 0.1 and 1 MB made with the simulator's
   generators: an XLSX list of names (openpyxl), a PDF of many pages of Chinese text (reportlab),
   a DOCX of many paragraphs (python-docx). CPU ms reading the whole text (and per MB), and as the
   crawl reads it (it stops at 200,000 characters a file); best of ``--repeat``; plus the
   simulator's own small notice files.
2. Share of a crawl: ``crawler crawl sim-credit`` against a simulator whose credit portal holds
   ``--articles`` articles (every fourth a notice with three attachments), once as shipped and
   once with ``attachments: {fetch: false}``, the same run; wall time and CPU time of the crawl
   process tree (the extraction pool included), and what the attachments add.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import append_result
from bench.e2e import _become_subreaper
from bench.e2e import _run as run_tree
from crawler import attachments
from crawler.analysis import forget_read_files, read_files
from crawler.simulator import Simulator
from crawler.simulator import files as simfiles

ROOT = Path(__file__).resolve().parents[1]
LINE = "经查，当事人未按规定履行信用承诺，违反了《山东省社会信用条例》的规定，依据有关规定决定给予行政处罚。"


def make(kind: str, scale: int) -> bytes:
    if kind == "xlsx":
        rows = [["序号", "主体名称", "统一社会信用代码", "列入日期"]]
        rows += [[str(i), f"枣庄市第{i}号商贸有限公司", f"91370400{i:010d}", "2026-11-18"] for i in range(scale * 40)]
        return simfiles.xlsx(rows)
    if kind == "pdf":
        return _pdf_pages(scale)
    return simfiles.docx([f"{n}. {LINE}" for n in range(scale * 30)])


def _pdf_pages(count: int) -> bytes:
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    doc = canvas.Canvas(out, invariant=True)
    for page in range(count):
        doc.setFont("STSong-Light", 10)
        for i in range(60):
            doc.drawString(40, 800 - 13 * i, f"{page}-{i} {LINE[:40]}")
        doc.showPage()
    doc.save()
    return out.getvalue()


SCALES = {"xlsx": (100, 1000), "pdf": (150, 1500), "docx": (600, 3000)}  # files of about 0.1 and 1 MB (DOCX 0.4 MB: python-docx is slow to write more)


def reading(repeat: int, scales: dict[str, tuple[int, ...]] = SCALES) -> list[str]:
    lines = ["| type | file size | text chars | CPU ms, whole text | CPU ms per MB | CPU ms, as the crawl reads it (first 200,000 chars) |",
             "|---|---|---|---|---|---|"]
    for kind, sizes in scales.items():
        for scale in sizes:
            data = make(kind, scale)
            cap = attachments.MAX_TEXT
            try:
                attachments.MAX_TEXT = 10**9  # the rate per MB: every byte read
                whole, chars = _best(kind, data, repeat)
            finally:
                attachments.MAX_TEXT = cap
            capped, _ = _best(kind, data, repeat)
            mb = len(data) / 2**20
            lines.append(f"| {kind} | {mb:.2f} MB | {chars:,} | {whole * 1000:,.0f} | {whole * 1000 / mb:,.0f} | {capped * 1000:,.0f} |")
            print(lines[-1], flush=True)
    return lines


def _best(kind: str, data: bytes, repeat: int) -> tuple[float, int]:
    best, chars = float("inf"), 0
    for _ in range(repeat):
        forget_read_files()  # the worker's cache would answer a file read before
        start = time.process_time()
        manifest, texts = read_files([{"name": f"x.{kind}", "url": "http://x/", "kind": kind, "status": "fetched", "data": data}])
        best = min(best, time.process_time() - start)
        assert manifest[0]["status"] == "stored", manifest
        chars = len(next(iter(texts.values())))
    return best, chars


def crawl_share(articles: int) -> list[str]:
    results = {}
    with Simulator(articles_per_portal=articles, page_size=20) as sim, tempfile.TemporaryDirectory() as tmp:
        notices = sum(1 for a in sim.articles("credit") if a.files)
        for article in sim.articles("credit"):  # the simulator makes each file once, before the clock starts
            for f in article.files:
                simfiles.content(f)
        for mode in ("off", "on"):
            config = Path(tmp) / mode
            shutil.copytree(ROOT / "config" / "simulator", config)
            source = config / "sources" / "sim-credit.yaml"
            text = source.read_text(encoding="utf-8").replace("max_pages: 20", "max_pages: 1000")
            if mode == "off":
                text += "attachments: {fetch: false}\n"
            source.write_text(text, encoding="utf-8")
            for other in ("sim-dzwww.yaml", "sim-iqilu.yaml"):
                (config / "sources" / other).unlink()
            wall, cpu, _, _ = run_tree([sys.executable, "-m", "crawler", "--config", str(config), "--db",
                                     str(Path(tmp) / f"{mode}.db"), "crawl", "sim-credit"], sim.env())
            results[mode] = (wall, cpu)
            files = [r for r in sim.requests("credit") if r.path.startswith(("/picture/", "/module/download/"))]
            results[mode] += (len(files),)
            sim.clear_log()
    (off_wall, off_cpu, _), (on_wall, on_cpu, fetched) = results["off"], results["on"]
    return [
        f"Crawl of the simulated credit portal, {articles} articles of which {notices} notices with 4 attachments each "
        f"(XLSX ~5 KB, PDF ~3 KB, DOCX ~37 KB, and one DOCX form all link to), `crawler crawl sim-credit`, request.delay 0s:",
        "",
        "| attachments | files fetched | wall s | CPU s (process tree) |",
        "|---|---|---|---|",
        f"| off (`fetch: false`) | 0 | {off_wall:.1f} | {off_cpu:.1f} |",
        f"| on (shipped default) | {fetched} | {on_wall:.1f} | {on_cpu:.1f} |",
        "",
        f"Attachments' share of the crawl: {100 * (on_wall - off_wall) / on_wall:.0f}% of its wall time, "
        f"{100 * (on_cpu - off_cpu) / on_cpu:.0f}% of its CPU time "
        f"({(on_cpu - off_cpu) * 1000 / max(1, fetched):.1f} ms CPU per file, fetch and read).",
        f"Per notice page: +{(on_wall - off_wall) * 1000 / max(1, notices):.0f} ms wall, "
        f"+{(on_cpu - off_cpu) * 1000 / max(1, notices):.0f} ms CPU.",
    ]


def simulator_files(repeat: int) -> list[str]:
    """The cost of the simulator's own notice files (small, as most real notices' are)."""
    lines = ["| the simulator's notice files | size | CPU ms per file |", "|---|---|---|"]
    for f in simfiles.notice_files(4, "20261118000000"):
        data = simfiles.content(f)
        best = min(_timed(f.kind, data) for _ in range(repeat))
        lines.append(f"| {f.kind} ({f.name}) | {len(data) / 1024:.1f} KB | {best * 1000:.1f} |")
    return lines


def _timed(kind: str, data: bytes) -> float:
    forget_read_files()
    start = time.process_time()
    read_files([{"name": "x", "url": "http://x/", "kind": kind, "status": "fetched", "data": data}])
    return time.process_time() - start


def main() -> None:
    _become_subreaper()  # the extraction pool's CPU counts in the crawl's (bench/e2e.py says why)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=400, help="articles of the simulated credit portal")
    parser.add_argument("--repeat", type=int, default=3, help="timing passes per file (best is kept)")
    args = parser.parse_args()
    lines = ["Reading one file in the extraction pool (check, text, hash), one core, best of "
             f"{args.repeat}:", "", *reading(args.repeat), "", *simulator_files(args.repeat), ""]
    lines += crawl_share(args.articles)
    append_result("Attachments: reading cost and share of a crawl (bench.attachments)", lines, "bench.attachments")


if __name__ == "__main__":
    main()
