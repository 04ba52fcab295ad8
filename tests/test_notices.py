"""Government notices (#20): the 信息公开 header read into fields, stored, shown, searched and alerted."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.html

from crawler.alerts.dispatch import payload
from crawler.alerts.render import environment, render
from crawler.notice import read
from storage import Store
from tests.conftest import ROOT

GOLD = ROOT / "tests" / "data" / "goldset" / "e8847578-12f0-44cb-bdb7-4eec53c18ed1.html"  # see its README.md
REAL = ROOT / "tests" / "data" / "realpages"


def _tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html)


def test_a_header_table_of_label_and_value_cells() -> None:
    notice = read(_tree(
        "<table><tr><td>索 &nbsp;引 号：</td><td>11220000013544357T/2022-00426</td></tr>"
        "<tr><td>发文机关：</td><td>吉林省人民政府</td></tr><tr><td>成文日期：</td><td>2022年01月27日</td></tr>"
        "<tr><td>发文字号：</td><td>吉政明电〔2022〕1号</td></tr><tr><td>发布日期：</td><td>2022年01月28日</td></tr>"
        "</table><p>正文</p>"))
    assert notice is not None
    assert (notice.index_no, notice.issuer, notice.doc_no) == ("11220000013544357T/2022-00426", "吉林省人民政府", "吉政明电〔2022〕1号")
    assert notice.as_dict()["written"] == "2022-01-27" and notice.as_dict()["published"] == "2022-01-28"


def test_labelled_lines_and_definition_lists() -> None:
    inline = read(_tree("<table><tr><td>索引号: 002482082/2024-00332</td><td>文件编号: </td><td>发布机构: 省教育厅</td></tr>"
                        "<tr><td>生成日期: 2024-10-21</td><td>主题分类: 教育</td></tr></table>"))
    assert inline is not None and inline.issuer == "省教育厅" and inline.doc_no is None and inline.topic == "教育"
    assert inline.as_dict()["written"] == "2024-10-21"
    listed = read(_tree("<dl><dt>发文字号</dt><dd>鲁政办字〔2024〕3号</dd><dt>成文日期</dt><dd>2024-01-02</dd>"
                        "<dt>有效性</dt><dd>有效</dd></dl>"))
    assert listed is not None and listed.doc_no == "鲁政办字〔2024〕3号" and listed.validity == "有效"
    one_line = read(_tree("<p>索引号：113704/2024-0001 发布机构：枣庄市人民政府 发文字号：枣政发〔2024〕2号</p>"))
    assert one_line is not None and one_line.issuer == "枣庄市人民政府" and one_line.doc_no == "枣政发〔2024〕2号"


def test_a_news_page_with_a_publish_date_line_is_not_a_notice() -> None:
    assert read(_tree("<div>发布日期：2024-05-01 来源：大众网</div><p>记者从市政府获悉……</p>")) is None


def test_the_gold_notice_has_its_written_and_published_dates() -> None:
    from crawler.extract import extract

    article = extract(GOLD.read_bytes(), "http://xxgk.jl.gov.cn/szf/gkml/202201/t20220128_8383226.html")
    assert article.published_at.date().isoformat() == "2022-01-28"
    assert article.written_at.date().isoformat() == "2022-01-27"
    assert article.notice.doc_no == "吉政明电〔2022〕1号"


def test_real_hanweb_and_trs_disclosure_pages() -> None:
    pages = {path.name: path for path in REAL.rglob("*.htm*")}
    hanweb = read(_tree(pages["zj-jyt-xxgk-art_1543973_58942886.html"].read_bytes()))
    assert hanweb is not None and hanweb.index_no == "002482082/2024-00332" and hanweb.issuer == "省教育厅"
    trs = read(_tree(pages["moe-gov-xxgk-t20240613_1135415.html"].read_bytes()))
    assert trs is not None and trs.doc_no == "教思政厅函〔2024〕10号" and trs.as_dict()["written"] == "2024-06-04"


def test_the_credit_portals_notices_are_stored_shown_searched_and_alerted(sim, cli) -> None:
    (cli.config / "alerts.yaml").write_text(
        "channels:\n  log: {url: 'json://127.0.0.1:9/', allow_private_targets: true}\n"
        "subscriptions:\n  - {name: all, events: [new], channels: [log]}\n", encoding="utf-8")
    cli("crawl", "sim-credit")
    notices = [a for a in sim.articles("credit") if a.notice]
    assert notices
    for sim_article in notices:
        (written, raw, published), = cli.query(
            "SELECT written_at, notice, published_at FROM articles WHERE url = ?", (sim.article_url("credit", sim_article),))
        stored = json.loads(raw)
        assert {k: stored[k] for k in sim_article.notice} == sim_article.notice
        assert written == sim_article.notice["written"] and published.startswith(sim_article.notice["published"])
    plain = [a for a in sim.articles("credit") if not a.notice]
    assert cli.query("SELECT COUNT(*) FROM articles WHERE notice IS NOT NULL") == [(len(notices),)]
    assert plain

    target = notices[0]
    (article_id,), = cli.query("SELECT id FROM articles WHERE url = ?", (sim.article_url("credit", target),))
    shown = cli("items", "show", str(article_id)).stdout
    assert f"发文字号：{target.notice['doc_no']}\n" in shown and f"成文日期：{target.notice['written']}\n" in shown
    found = cli("items", "search", target.notice["doc_no"], "--json").stdout
    assert [row["id"] for row in json.loads(found)] == [article_id]
    exported = [json.loads(line) for line in cli("items", "export").stdout.splitlines()]
    assert next(row for row in exported if row["id"] == article_id)["notice"]["doc_no"] == target.notice["doc_no"]

    with Store(Path(cli.db)) as store:
        batches = [b for b in store.due_batches() if b[0]["article_id"] == article_id]
    data = payload(batches[0], "all")["data"]["articles"][0]
    assert data["notice"]["doc_no"] == target.notice["doc_no"] and data["written_at"] == target.notice["written"]
    message = render(environment(None), batches[0], "all")
    assert f"发文字号：{target.notice['doc_no']}" in message.text and "成文日期" in message.html


def test_a_body_table_is_kept_as_rows_and_cells_and_its_text_is_searched(sim, cli) -> None:
    cli("crawl", "sim-credit")
    notice = next(a for a in sim.articles("credit") if a.table)
    (article_id, raw, body), = cli.query("SELECT id, tables, body FROM articles WHERE url = ?",
                                        (sim.article_url("credit", notice),))
    assert json.loads(raw) == [notice.table]
    assert " | ".join(notice.table[1]) in body.split("\n")  # one line per row, cells separated
    company = notice.table[1][1]
    found = json.loads(cli("items", "search", company, "--json").stdout)
    assert article_id in [row["id"] for row in found]
    assert cli.query("SELECT COUNT(*) FROM articles WHERE tables IS NOT NULL") == [
        (sum(1 for a in sim.articles("credit") if a.table),)]


def test_the_web_view_renders_tables_and_the_notice_header() -> None:
    from crawler.web import render_cell

    cells = render_cell({}, json.dumps([[["序号", "企业名称"], ["1", "<b>鑫源</b>"]]], ensure_ascii=False),
                        "tables", "articles", "crawler", None)
    assert "<td>企业名称</td>" in cells and "&lt;b&gt;鑫源&lt;/b&gt;" in cells
    header = render_cell({}, json.dumps({"doc_no": "枣发改信用〔2026〕4号", "written": "2026-11-18"}, ensure_ascii=False),
                         "notice", "articles", "crawler", None)
    assert "<th>发文字号</th><td>枣发改信用〔2026〕4号</td>" in header and "<th>成文日期</th>" in header
