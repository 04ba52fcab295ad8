"""Attachments (#20): the files a notice links to, found, fetched, checked, read, searched, alerted and watched."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.html
import pytest

from crawler import attachments
from crawler.alerts.dispatch import payload
from crawler.alerts.render import environment, render
from crawler.errors import ConfigError
from crawler.simulator import files as simfiles
from crawler.sources import load_source_file
from storage import Store
from tests.conftest import ROOT
from tests.test_revisit import _age

REAL_TRS = ROOT / "tests" / "data" / "realpages" / "trs" / "moe-gov-xxgk-t20240613_1135415.html"
ALERTS = ("channels:\n  log: {url: 'json://127.0.0.1:9/', allow_private_targets: true}\n"
          "subscriptions:\n  - {name: all, events: [new, changed], channels: [log]}\n")


# -- pure parts -----------------------------------------------------------------------------------

def test_links_on_a_real_trs_page_and_hanweb_download_links() -> None:
    tree = lxml.html.document_fromstring(REAL_TRS.read_bytes())
    found = attachments.find_links(tree, "http://www.moe.gov.cn/srcsite/A12/moe_1407/s3020/202406/t20240613_1135415.html")
    assert [(link.name, link.kind) for link in found] == [
        ("知识竞答工作要求", "docx"), ("数字微展览、工作案例、视频微课等作品报送要求", "docx"),
        ("2024年高校“礼敬中华优秀传统文化”宣传教育活动成果征集表", "docx")]
    assert found[0].url == "http://www.moe.gov.cn/srcsite/A12/moe_1407/s3020/202406/W020240613556663716813.docx"
    hanweb = attachments.links_in([("/module/download/downfile.jsp?classid=0&filename=2611.xlsx", "附件1：名单.xlsx"),
                                   ("/art/2026/1/1/art_1_2.html", "新闻"), ("/doc.html", "说明.pdf"),
                                   ("http://x.cn/a.pdf", "a"), ("http://x.cn/a.pdf", "again")], "http://x.cn/col/")
    assert [(link.name, link.kind, link.url) for link in hanweb] == [
        ("名单.xlsx", "xlsx", "http://x.cn/module/download/downfile.jsp?classid=0&filename=2611.xlsx"),
        ("说明.pdf", "pdf", "http://x.cn/doc.html"), ("a", "pdf", "http://x.cn/a.pdf")]
    assert not attachments.mentions_files("<p>详见 www.example.net 官网</p>")


def test_a_file_link_among_the_sites_page_links_is_chrome_and_a_notices_own_files_are_not() -> None:
    footer = lxml.html.document_fromstring(
        "<div id='zoom'><p>附件：<a href='/f/名单.xlsx'>名单.xlsx</a></p></div>"
        "<div class='footer'><a href='/about.html'>关于我们</a> | <a href='/map.html'>网站地图</a> | "
        "<a href='/link.html'>友情链接</a> | <a href='/ad/2011gg.pdf'>广告刊例</a></div>")
    assert [link.name for link in attachments.find_links(footer, "http://x.cn/")] == ["名单.xlsx"]
    gold = lxml.html.document_fromstring((ROOT / "tests" / "data" / "goldset" / "e8847578-12f0-44cb-bdb7-4eec53c18ed1.html").read_bytes())
    assert [(link.kind, link.url) for link in attachments.find_links(gold, "http://xxgk.jl.gov.cn/")] == [
        ("pdf", "http://xxgk.jl.gov.cn/PDFfile/202201/8389416.pdf"), ("doc", "http://xxgk.jl.gov.cn/PDFfile/202201/8389416.doc")]


def test_the_bytes_must_be_what_the_name_says_and_a_zip_must_not_explode() -> None:
    for kind, data in (("xlsx", simfiles.xlsx([["序号", "名称"], ["1", "枣庄某公司"]])), ("pdf", simfiles.pdf(["决定书"])),
                       ("docx", simfiles.docx(["通知"]))):
        attachments.check(kind, data)
    with pytest.raises(attachments.Refused, match="not a PDF file .an HTML page"):
        attachments.check("pdf", b"<!DOCTYPE html><html><body>404</body></html>")
    with pytest.raises(attachments.Refused, match="zip bomb"):
        attachments.check("xlsx", simfiles.zip_bomb())
    with pytest.raises(attachments.Refused, match="without word/document.xml"):
        attachments.check("docx", simfiles.xlsx([["a", "b"]]))
    with pytest.raises(attachments.Refused, match="could not be read"):
        attachments.read_text("pdf", b"%PDF-1.4\n garbage")
    assert attachments.read_text("xlsx", simfiles.xlsx([["序号", "名称"], ["1", "枣庄某公司"]])) == "序号 | 名称\n1 | 枣庄某公司"


def test_a_file_that_many_pages_attach_is_read_once_per_worker_and_a_refusal_is_kept_too() -> None:
    from crawler import analysis

    analysis.forget_read_files()
    form = {"name": "申请表.docx", "url": "http://x/f.docx", "kind": "docx", "status": "fetched", "data": simfiles.docx(["信用修复申请表"])}
    bad = {"name": "决定书.pdf", "url": "http://x/d.pdf", "kind": "pdf", "status": "fetched", "data": b"<html>404</html>"}
    first = analysis.read_files([form, bad])
    assert len(analysis._read_cache) == 2
    again = analysis.read_files([dict(form), dict(bad)])
    assert again == first and len(analysis._read_cache) == 2  # answered from the cache
    assert first[0][0]["status"] == "stored" and "信用修复申请表" in first[1][first[0][0]["sha256"]]
    assert first[0][1]["status"] == "refused" and "not a PDF" in first[0][1]["error"]
    for n in range(analysis.READ_CACHE_FILES + 5):  # bounded: the oldest files go first
        analysis.read_files([{**form, "data": simfiles.docx([f"表{n}"])}])
    assert len(analysis._read_cache) == analysis.READ_CACHE_FILES
    assert ("docx", first[0][0]["sha256"]) not in analysis._read_cache


def test_a_replaced_file_is_a_change_and_a_failed_fetch_is_not() -> None:
    stored = [{"name": "决定书.pdf", "kind": "pdf", "sha256": "a" * 64, "status": "stored", "size": 10},
              {"name": "名单.xlsx", "kind": "xlsx", "sha256": "b" * 64, "status": "stored", "size": 20}]
    timeout = [stored[0], {"name": "名单.xlsx", "kind": "xlsx", "sha256": None, "status": "failed", "error": "timeout"}]
    assert attachments.merged(stored, timeout) == stored and attachments.changed_files(stored, attachments.merged(stored, timeout)) == []
    replaced = [{**stored[0], "sha256": "c" * 64}, stored[1]]
    assert attachments.changed_files(stored, replaced) == ["决定书.pdf"]
    assert attachments.changed_files(stored, stored[:1]) == ["名单.xlsx"]  # removed from the page
    assert attachments.changed_files(None, replaced) == []  # stored before attachments were read
    assert attachments.lines(stored)[0] == "附件：决定书.pdf（pdf，10 B，sha256 aaaaaaaaaaaa）"
    assert attachments.parse_size("20MB") == 20 * 2**20 and attachments.parse_size("512 KB") == 512 * 1024


def test_the_attachment_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "notices.yaml"
    path.write_text("title: t\nstart_urls: ['https://example.org/']\nattachments: {types: [pdf, doc], max_size: 2 lots}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_source_file(path)
    message = str(caught.value)
    assert "notices.yaml" in message and "attachments.types" in message and "attachments.max_size" in message
    path.write_text("title: t\nstart_urls: ['https://example.org/']\nattachments: {types: [xlsx], max_size: 5MB}\n",
                    encoding="utf-8")
    settings = load_source_file(path).source.attachments
    assert settings.fetch and settings.types == ["xlsx"] and settings.max_size == 5 * 2**20


# -- against the simulator ------------------------------------------------------------------------

def _notice(sim):
    return next(a for a in sim.articles("credit") if a.files)


def test_attachments_are_read_stored_once_searched_matched_and_listed_in_alerts(sim, cli) -> None:
    target = _notice(sim)
    name = simfiles.xlsx_names(target.files[0].number)[1][1]  # a company named only inside the XLSX
    (cli.config / "alerts.yaml").write_text(
        ALERTS + f"  - {{name: watch, events: [new], channels: [log], keywords: {{any: [{name}]}}}}\n"
        f"  - {{name: pages-only, events: [new], channels: [log], keywords: {{any: [{name}], fields: [title, body]}}}}\n",
        encoding="utf-8")
    cli("crawl", "sim-credit")
    url = sim.article_url("credit", target)
    (article_id, body, raw), = cli.query("SELECT id, body, attachments FROM articles WHERE url = ?", (url,))
    assert name not in body
    manifest = json.loads(raw)
    assert [(e["name"], e["kind"], e["status"]) for e in manifest] == [(f.name, f.kind, "stored") for f in target.files]
    texts = dict(cli.query("SELECT sha256, text FROM attachment_texts"))
    assert name in texts[manifest[0]["sha256"]] and "行政处罚决定书" in texts[manifest[1]["sha256"]]
    notices = [a for a in sim.articles("credit") if a.files]
    hashes = [e["sha256"] for r in cli.query("SELECT attachments FROM articles") for e in json.loads(r[0])]
    assert len(texts) == len(set(hashes)) < len(hashes)  # stored once per content: the form every notice attaches
    form = [r.path for r in sim.requests("credit") if r.path == simfiles.FORM.path]
    assert len(notices) > 1 and len(form) == 1  # and fetched once in the crawl

    found = json.loads(cli("items", "search", name, "--json").stdout)
    assert [row["id"] for row in found] == [article_id]
    alerted = cli.query("SELECT subscription FROM outbox WHERE article_id = ? ORDER BY subscription", (article_id,))
    assert alerted == [("all",), ("watch",)]  # not the subscription that reads titles and bodies only
    shown = cli("items", "show", str(article_id)).stdout
    assert f"attachment:    {target.files[0].name} (xlsx, stored)" in shown

    with Store(Path(cli.db)) as store:
        batch = next(b for b in store.due_batches() if b[0]["article_id"] == article_id)
    data = payload(batch, "all")["data"]["articles"][0]
    assert [f["name"] for f in data["attachments"]] == [f.name for f in target.files]
    message = render(environment(None), batch, "all")
    assert f"附件：{target.files[1].name} {manifest[1]['url']}" in message.text
    assert f'<a href="{manifest[1]["url"]}">{target.files[1].name}</a>' in message.html


def test_a_replaced_pdf_is_one_changed_alert_that_names_it(sim, cli) -> None:
    (cli.config / "alerts.yaml").write_text(ALERTS, encoding="utf-8")
    notice = sim.publish("credit", notice=True)  # published now: inside the revisit window
    cli("crawl", "sim-credit")
    url = sim.article_url("credit", notice)
    cli("crawl", "sim-credit")  # nothing new: no change
    assert cli.query("SELECT COUNT(*) FROM outbox WHERE event = 'changed'") == [(0,)]

    new_file = sim.replace_attachment("credit", notice.id, "pdf")
    _age(cli, url, 1.02)  # due for its first revisit
    sim.clear_log()
    cli("crawl", "sim-credit")
    (article_id, version), = cli.query("SELECT id, version FROM articles WHERE url = ?", (url,))
    assert version == 2
    assert cli.query("SELECT event, article_id FROM outbox WHERE event = 'changed'") == [("changed", article_id)]
    (diff,), = cli.query("SELECT diff FROM article_versions WHERE article_id = ?", (article_id,))
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 2 and all("附件：行政处罚决定书.pdf" in line for line in changed)
    (detail,), = cli.query("SELECT detail FROM decisions WHERE article_id = ? AND decision = 'changed'", (article_id,))
    assert "行政处罚决定书.pdf" in detail
    fetched = [r.path for r in sim.requests("credit") if r.path.startswith(("/picture/", "/module/download/"))]
    assert new_file.path in fetched and len(fetched) == len(notice.files)  # the notice's files, once each
    texts = [text for (text,) in cli.query("SELECT text FROM attachment_texts")]
    assert "\n".join(simfiles.decision_lines(new_file.number, 2)) in texts  # the new version's text, kept beside the old


def test_faulty_attachments_are_refused_with_a_clear_error_and_the_article_is_stored(sim, cli) -> None:
    notice = _notice(sim)
    bad = sim.add_faulty_attachments("credit", notice.id)
    crawled = cli("crawl", "sim-credit", check=False)
    assert crawled.returncode != 0 and "1 errors" in crawled.stdout  # the 404; the refusals are notices
    url = sim.article_url("credit", notice)
    (raw,), = cli.query("SELECT attachments FROM articles WHERE url = ?", (url,))
    states = {e["name"]: (e["status"], e["error"]) for e in json.loads(raw)}
    assert all(states[f.name][0] == "stored" for f in notice.files)
    assert states[bad[0].name][0] == "refused" and "max_size (20 MB)" in states[bad[0].name][1]
    assert states[bad[1].name] == ("refused", "the bytes are not a PDF file (an HTML page)")
    assert states[bad[2].name][0] == "refused" and "zip bomb" in states[bad[2].name][1]
    assert states[bad[3].name] == ("failed", "HTTP 404")
    errors = cli("runs", "--errors").stdout
    for f in bad:
        assert f.name in errors
    assert "attachment_refused" in errors and "attachment_http_404" in errors


def test_a_source_can_turn_attachment_fetching_off(sim, cli) -> None:
    source = cli.config / "sources" / "sim-credit.yaml"
    source.write_text(source.read_text(encoding="utf-8") + "attachments: {fetch: false}\n", encoding="utf-8")
    cli("crawl", "sim-credit")
    notice = _notice(sim)
    (raw,), = cli.query("SELECT attachments FROM articles WHERE url = ?", (sim.article_url("credit", notice),))
    assert [(e["name"], e["status"]) for e in json.loads(raw)] == [(f.name, "listed") for f in notice.files]
    assert not [r for r in sim.requests("credit") if r.path.startswith(("/picture/", "/module/download/"))]
    assert cli.query("SELECT COUNT(*) FROM attachment_texts") == [(0,)]


def test_the_web_view_lists_the_attachments_with_their_state() -> None:
    from crawler.web import render_cell

    cell = render_cell({}, json.dumps([{"name": "名单<1>.xlsx", "url": "http://x.cn/a.xlsx", "kind": "xlsx", "status": "refused",
                                        "error": "zip bomb?"}], ensure_ascii=False), "attachments", "articles", "crawler", None)
    assert '<a href="http://x.cn/a.xlsx">名单&lt;1&gt;.xlsx</a> (xlsx, refused: zip bomb?)' in cell


def test_sources_try_lists_an_articles_attachments(sim, cli) -> None:
    notice = sim.publish("credit", notice=True)  # the newest: among the articles the trial reads
    shown = cli("sources", "try", "sim-credit", "--pages", "1").stdout
    assert f"attachment: {notice.files[0].name} (xlsx, fetched) " in shown
