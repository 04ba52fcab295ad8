"""End to end: the real CLI crawls the simulator over loopback HTTP into a real SQLite file."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from crawler.simulator import PORTALS, Fault, Simulator
from tests.conftest import Cli, fold

SOURCES = {"credit": "sim-credit", "dzwww": "sim-dzwww", "iqilu": "sim-iqilu"}


FILES = ("/picture/", "/module/download/")  # the credit notices' attachments (tests/test_attachments.py)


def _article_requests(sim: Simulator) -> list[str]:
    lists = ("/col/", "/module/web/jpage/", "/zzxw/index", "/zzyaowen/list_", "/robots.txt", *FILES)
    return [r.path for r in sim.requests() if not r.path.startswith(lists) and r.path != "/zzyaowen/"]


def _list_requests(sim: Simulator, portal: str) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in sim.requests(portal)
            if r.path not in _article_requests(sim) and r.path != "/robots.txt" and not r.path.startswith(FILES)]


def test_first_crawl_stores_every_article_once_with_clean_fields(sim: Simulator, cli: Cli) -> None:
    cli("crawl")
    rows = cli.query("SELECT source, url, title, body, published_at FROM articles")
    expected = {(SOURCES[p], sim.article_url(p, a)): a for p in PORTALS for a in sim.articles(p)}
    assert len(rows) == len(expected) == 36
    assert {(r[0], r[1]) for r in rows} == set(expected)
    for source, url, title, body, published_at in rows:
        article = expected[(source, url)]
        assert title == article.title, url
        assert body == fold(article.body), url
        assert published_at[:10] == article.published.date().isoformat(), url
        assert published_at.endswith("+08:00")
    # Each article page was fetched exactly once.
    fetched = _article_requests(sim)
    assert len(fetched) == len(set(fetched)) == 36
    files = [r.path for r in sim.requests("credit") if r.path.startswith(FILES)]
    linked = {f.path for a in sim.articles("credit") for f in a.files}  # the form every notice links to counts once
    assert len(files) == len(set(files)) == len(linked) > 0  # each file fetched once


def test_second_pass_fetches_no_article_and_the_cms_pagers_stop_at_a_known_page(sim_config, tmp_path) -> None:
    """Each portal's own pager is followed (Hanweb dataproxy.jsp, TRS createPageHTML, iqilu list_<catid>_<n>)
    with the shipped-style configs (no pattern); a later crawl stops at the first list page it knows."""
    with Simulator(articles_per_portal=30, page_size=5) as sim:
        cli = Cli(sim_config, tmp_path / "crawler.db", sim.env())
        cli("crawl")
        assert cli.query("SELECT COUNT(*) FROM articles")[0][0] == 90
        assert _list_requests(sim, "credit") == [
            ("GET", "/col/col2345/index.html", 200),
            ("POST", "/module/web/jpage/dataproxy.jsp?startrecord=11&endrecord=20&perpage=5", 200),
            ("POST", "/module/web/jpage/dataproxy.jsp?startrecord=21&endrecord=30&perpage=5", 200),
        ]
        assert [path for _, path, _ in _list_requests(sim, "dzwww")] == ["/zzxw/index.htm"] + [f"/zzxw/index_{n}.htm" for n in range(1, 6)]
        assert [path for _, path, _ in _list_requests(sim, "iqilu")] == ["/zzyaowen/"] + [f"/zzyaowen/list_1302_{n}.shtml" for n in range(2, 7)]

        sim.clear_log()
        cli("crawl")
        assert _article_requests(sim) == []
        list_requests = [r for r in sim.requests() if r.path != "/robots.txt"]
        assert [r.status for r in list_requests] == [304, 304, 304]
        assert all(r.if_none_match for r in list_requests)
        runs = cli.query("SELECT articles_new, not_modified FROM crawl_runs ORDER BY id DESC LIMIT 3")
        assert runs == [(0, 1)] * 3

        sim.clear_log()
        new = {portal: sim.publish(portal, title=f"枣庄市发布2026年社会信用体系建设工作要点（{portal}）") for portal in PORTALS}
        cli("crawl")
        assert sorted(_article_requests(sim)) == sorted(urlsplit(sim.article_url(p, a)).path for p, a in new.items())
        rows = cli.query("SELECT title, body FROM articles WHERE id > 90 ORDER BY title")
        assert rows == sorted((a.title, fold(a.body)) for a in new.values())
        # Page 1 held the new article, page 2 only known ones: no page after it was asked for.
        assert [path for _, path, _ in _list_requests(sim, "credit")] == [
            "/col/col2345/index.html", "/module/web/jpage/dataproxy.jsp?startrecord=11&endrecord=20&perpage=5"]
        assert [path for _, path, _ in _list_requests(sim, "dzwww")] == ["/zzxw/index.htm", "/zzxw/index_1.htm"]
        assert [path for _, path, _ in _list_requests(sim, "iqilu")] == ["/zzyaowen/", "/zzyaowen/list_1302_2.shtml"]


def test_gbk_and_traditional_pages_are_stored_as_correct_utf8(sim: Simulator, cli: Cli) -> None:
    cli("crawl", "sim-credit", "sim-iqilu")
    credit_seed = next(a for a in sim.articles("credit") if a.seed == "000")
    trad = next(a for a in sim.articles("iqilu") if a.traditional)
    body, encoding = cli.query("SELECT body, encoding FROM articles WHERE url = ?", (sim.article_url("credit", credit_seed),))[0]
    assert body == fold(credit_seed.body)
    assert "仙八色鸫" in body  # a GBK (not GB2312) character
    assert encoding in ("gb18030", "gbk", "cp936")
    title, body, source_name = cli.query(
        "SELECT title, body, source_name FROM articles WHERE url = ?", (sim.article_url("iqilu", trad),)
    )[0]
    assert title == "棗莊高新區零碳智谷拔節生長"
    assert source_name == "大眾日報"
    assert body == fold(trad.body)  # the hidden second copy of the body is not stored
    assert body.count("本報棗莊訊") == 1
    all_text = "".join(r[0] + r[1] for r in cli.query("SELECT title, body FROM articles"))
    assert "\ufffd" not in all_text
    with open(cli.db, "rb") as handle:  # stored as UTF-8 bytes
        assert "棗莊高新區".encode() in handle.read()


def test_failed_article_is_recorded_and_fetched_again_next_time(sim: Simulator, cli: Cli) -> None:
    victim = sim.articles("dzwww")[1]
    path = urlsplit(sim.article_url("dzwww", victim)).path
    sim.set_fault("dzwww", path, Fault(status=500))
    result = cli("crawl", "sim-dzwww", check=False)
    assert result.returncode == 1
    assert "errors" in result.stdout
    errors = cli.query("SELECT kind, url, status FROM fetch_errors")
    assert errors == [("http_500", sim.article_url("dzwww", victim), 500)]
    assert cli.query("SELECT COUNT(*) FROM articles")[0][0] == 11
    # 1 try + 2 retries
    assert len(sim.requests("dzwww", path)) == 3
    # One log line for the failed request, with its URL and reason (not Scrapy's retry line as well).
    said = [line for line in result.stderr.splitlines() if sim.article_url("dzwww", victim) in line]
    assert len(said) == 1 and "http_500" in said[0] and "WARNING" in said[0], said

    sim.clear_faults()
    cli("crawl", "sim-dzwww")  # validators were not saved after the failed run: the list is read again
    assert cli.query("SELECT COUNT(*) FROM articles")[0][0] == 12
    assert cli.query("SELECT title FROM articles WHERE url = ?", (sim.article_url("dzwww", victim),)) == [(victim.title,)]


def test_items_cli_shows_articles(sim: Simulator, cli: Cli) -> None:
    cli("crawl", "sim-iqilu")
    listing = cli("items", "list", "--limit", "100").stdout
    titles = [a.title for a in sim.articles("iqilu")]
    for title in titles:
        assert listing.count(title) == 1
    data = json.loads(cli("items", "list", "--json", "--source", "sim-iqilu", "--limit", "3").stdout)
    assert len(data) == 3 and data[0]["title"] == sim.articles("iqilu")[0].title
    shown = cli("items", "show", str(data[0]["id"])).stdout
    assert sim.articles("iqilu")[0].paragraphs[0] in shown
    missing = cli("items", "show", "99999", check=False)
    assert missing.returncode == 1 and "no article with id 99999" in missing.stderr


def test_long_crawl_reports_progress(cli) -> None:
    """A crawl prints a progress line per source at an interval (here 0.05 s instead of 10 s)."""
    cli.env["CRAWLER_PROGRESS_INTERVAL"] = "0.05"
    cli.env["CRAWLER_EXTRACT_WORKERS"] = "1"
    result = cli("crawl", "sim-dzwww")
    lines = [line for line in result.stderr.splitlines() if "sim-dzwww: in progress:" in line]
    assert lines, result.stderr[-2000:]
    assert re.search(r"in progress: \d+ pages fetched, \d+ new, \d+ changed", lines[-1])
