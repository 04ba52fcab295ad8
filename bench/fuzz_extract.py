"""Fuzz the extractor with hostile HTML for a few minutes: no crash, bounded time per page.

    python -m bench.fuzz_extract [--seconds 180] [--max-ms 2000]

Hypothesis generates documents from a small grammar of what real and broken portal pages hold:
unbalanced and misnested tags, deep nesting (up to 30 000 levels), huge attributes, entities and
character references (valid, out of range, surrogates), NUL and control bytes, XML declarations,
conditional comments, CDATA, mixed charsets declared in <meta>, Chinese text (Simplified and
Traditional) and the boilerplate lines the extractor removes. Each document goes through
``crawler.analysis.analyse`` (extract + fingerprint), exactly what the crawl runs.

A crash is any exception other than ExtractionError (which means "no article here" and is the
expected answer for most garbage). The slowest pages are reported with their size; pages whose
time exceeds --max-ms are counted as failures. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import append_result
from crawler.analysis import analyse
from crawler.errors import ExtractionError
from crawler.sources import Cleanup

TAGS = ["div", "p", "span", "table", "tr", "td", "ul", "li", "a", "b", "font", "center", "form", "script", "style",
        "h1", "h2", "br", "iframe", "noscript", "article", "section", "body", "html", "head", "title", "meta", "svg"]
CHINESE = ["枣庄市", "信用体系建设", "營商環境", "新全讯2网", "访问次数：123", "您的位置：首页 > 新闻", "发布时间：2023-08-31",
           "想爆料？请登录《阳光连线》", "责任编辑：张三", "（资料图）", "今天是2026年11月23日 星期一", "来源：大众日报",
           "网站维护中", "页面不存在", "记者 马俊龙", "關鍵詞：信用"]
JUNK = ["&#0;", "&#xD800;", "&#99999999;", "&nbsp;", "&amp", "<!--", "-->", "<![CDATA[", "]]>", "<?xml version='1.0'?>",
        "<!--[if IE]>", "<![endif]-->", "\x00", "\x0b", "\ufeff", "\u202e", "</", "<", ">", "\"", "'", "=", "<meta charset=gbk>",
        "<meta http-equiv='Content-Type' content='text/html; charset=big5'>", "<base href='javascript:alert(1)'>"]

text = st.one_of(st.sampled_from(CHINESE), st.text(min_size=0, max_size=80), st.sampled_from(JUNK))


@st.composite
def element(draw, depth: int = 0):
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(st.lists(st.tuples(st.sampled_from(["class", "id", "style", "href", "onclick", "x"]),
                                    st.one_of(st.text(max_size=30), st.just("display:none"), st.just("a" * 5000))),
                          max_size=3))
    attr_text = "".join(f' {name}="{value}"' for name, value in attrs)
    if depth > 4:
        return f"<{tag}{attr_text}>{draw(text)}"
    children = draw(st.lists(st.one_of(text, element(depth + 1)), max_size=5))
    close = draw(st.sampled_from([f"</{tag}>", "", f"</{draw(st.sampled_from(TAGS))}>"]))  # balanced, open or misnested
    return f"<{tag}{attr_text}>{''.join(children)}{close}"


@st.composite
def document(draw):
    parts = draw(st.lists(st.one_of(element(), text), min_size=0, max_size=12))
    html = "".join(parts)
    nesting = draw(st.sampled_from([0, 0, 0, 300, 3000, 30000]))
    if nesting:
        tag = draw(st.sampled_from(["div", "span", "table", "b"]))
        html = f"<{tag}>" * nesting + html + draw(st.sampled_from([f"</{tag}>" * nesting, ""]))
    if draw(st.booleans()):
        html = f"<html><head><title>{draw(text)}</title></head><body>{html}</body></html>"
    return html


class Tally:
    def __init__(self) -> None:
        self.pages = self.extracted = self.no_article = 0
        self.crashes: list[tuple[str, str]] = []
        self.slowest: list[tuple[float, int]] = []

    def run(self, html: str, max_ms: float) -> None:
        self.pages += 1
        started = time.perf_counter()
        try:
            analyse(html, "http://fuzz.example/2023/0831/1.html", Cleanup())
            self.extracted += 1
        except ExtractionError:
            self.no_article += 1
        except Exception:  # noqa: BLE001 - any other exception is a finding
            self.crashes.append((html[:300], traceback.format_exc(limit=4)))
        ms = (time.perf_counter() - started) * 1000
        self.slowest = sorted([*self.slowest, (ms, len(html))], reverse=True)[:5]
        if ms > max_ms:
            self.crashes.append((html[:300], f"took {ms:.0f} ms (limit {max_ms:.0f})"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--max-ms", type=float, default=2000, help="slowest acceptable page")
    args = parser.parse_args(argv)
    tally = Tally()
    deadline = time.monotonic() + args.seconds

    @settings(max_examples=10**9, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(document())
    def fuzz(html: str) -> None:
        if time.monotonic() > deadline:
            raise _Done
        tally.run(html, args.max_ms)

    started = time.monotonic()
    try:
        fuzz()
    except _Done:
        pass
    elapsed = time.monotonic() - started
    lines = [
        f"Fuzzed {tally.pages} generated documents in {elapsed:.0f} s through `crawler.analysis.analyse`: "
        f"{tally.extracted} gave an article, {tally.no_article} raised ExtractionError (no article), "
        f"**{len(tally.crashes)} failures** (crashes, or pages over {args.max_ms:.0f} ms).",
        "",
        "Slowest pages: " + ", ".join(f"{ms:.0f} ms ({size / 1024:.0f} KB)" for ms, size in tally.slowest) + ".",
    ]
    for sample, error in tally.crashes[:5]:
        lines += ["", f"Failure on `{sample[:120]!r}`:", "", "```", error.strip(), "```"]
    append_result("Extractor fuzzing (bench.fuzz_extract)", lines, "bench.fuzz_extract")
    return 1 if tally.crashes else 0


class _Done(Exception):
    pass


if __name__ == "__main__":
    sys.exit(main())
