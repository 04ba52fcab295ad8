"""The CMS families' list-page scripts, read without a crawl (spiders/cms.py, spiders/links.py)."""

from __future__ import annotations

import re

from scrapy.http import HtmlResponse, XmlResponse

from crawler.sources import LinkRules, Pagination
from spiders.cms import JPage, datastore_records, iqilu_next, jpage_of, script_rendered, trs_next
from spiders.links import article_links, next_page

COLUMN = """<html><head><meta charset="utf-8"></head><body>
<div class="nav"><a href="/col/col1/index.html">首页</a></div>
<div id="12345"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&webid=7&path=/&columnid=78506&unitid=12345&permissiontype=0"></a>]]></nextgroup>
<recordset>
<record><![CDATA[<li><a href="/art/2026/9/10/art_78506_1.html" title="一">关于开展信用修复的通知</a><span>2026-09-10</span></li>]]></record>
<record><![CDATA[<li><a href="/art/2026/9/9/art_78506_2.html">关于公布守信激励名单的公告</a></li>]]></record>
</recordset></datastore></script></div>
<script>var param_12345 = {col:1, appid:1, webid:7, path:'/', columnid:78506, sourceContentType:1, unitid:'12345'};
$('#12345').jpage({ dataStore: dataStore, totalRecord: 5, perPage: 1, groupSize: 2, proxyUrl: '/module/web/jpage/dataproxy.jsp', ajaxParam: param_12345 });</script>
</body></html>"""


def _html(url: str, text: str) -> HtmlResponse:
    return HtmlResponse(url, body=text.encode("utf-8"), encoding="utf-8")


def test_hanweb_datastore_links_and_the_dataproxy_pager() -> None:
    page = _html("http://credit.example.gov.cn/col/col78506/index.html", COLUMN)
    assert article_links(page, LinkRules(), {"credit.example.gov.cn"}) == [
        "http://credit.example.gov.cn/art/2026/9/10/art_78506_1.html",
        "http://credit.example.gov.cn/art/2026/9/9/art_78506_2.html",
    ]
    following = next_page(page, Pagination(), 1, page.url)
    assert following.method == "POST"
    assert following.url == "http://credit.example.gov.cn/module/web/jpage/dataproxy.jsp?startrecord=3&endrecord=4&perpage=1"
    assert following.form["columnid"] == "78506" and following.form["unitid"] == "12345" and following.form["webid"] == "7"
    assert "startrecord" not in following.form and "page" not in following.form
    answer = XmlResponse(following.url, encoding="utf-8", body=(
        '<?xml version="1.0" encoding="UTF-8"?><datastore><totalrecord>5</totalrecord><recordset>'
        '<record><![CDATA[<li><a href="/art/2026/9/8/art_78506_3.html">三</a></li>]]></record>'
        '<record><![CDATA[<li><a href="/art/2026/9/7/art_78506_4.html">四</a></li>]]></record>'
        "</recordset></datastore>").encode())
    assert article_links(answer, LinkRules(), {"credit.example.gov.cn"})[1].endswith("art_78506_4.html")
    last = next_page(answer, Pagination(), 2, page.url, following.jpage)
    assert last.url.endswith("startrecord=5&endrecord=5&perpage=1")  # bounded by totalRecord
    assert next_page(answer, Pagination(), 2, page.url, JPage.from_dict(last.jpage.as_dict())) is None
    assert next_page(page, Pagination(max_pages=1), 1, page.url) is None  # max_pages bounds it


def test_a_datastore_without_a_declared_pager_is_one_page() -> None:
    bare = re.sub(r"<nextgroup>.*?</nextgroup>", "", COLUMN.split("<script>var param")[0], flags=re.S) + "</body></html>"
    assert len(datastore_records(bare)) == 2
    assert jpage_of(bare, "http://x.gov.cn/col/col1/index.html", 2) is None


def test_trs_create_page_html_and_its_spelled_out_form() -> None:
    assert trs_next('<script>createPageHTML(7, 0, "index", "htm");</script>', "http://z.dzwww.com/zzxw/index.htm") == (
        "http://z.dzwww.com/zzxw/index_1.htm")
    assert trs_next("createPageHTML(7,3,'index','shtml')", "http://z.dzwww.com/zzxw/index_3.shtml").endswith("/zzxw/index_4.shtml")
    assert trs_next('createPageHTML(4, 3, "index", "htm")', "http://z.dzwww.com/zzxw/index_3.htm") is None  # last page
    spelled = 'var currentPage = 1;//从0开始\nvar countPage = 3\ndocument.write("<a href=\\"index"+"_" + nextPage + "."+"html\\">")'
    assert trs_next(spelled, "http://x.gov.cn/xxgk/index_1.html") == "http://x.gov.cn/xxgk/index_2.html"


def test_iqilu_list_pages_follow_the_pages_own_links() -> None:
    hrefs = ["/zzyaowen/", "/zzyaowen/list_1302_2.shtml", "/zzyaowen/list_1302_3.shtml", "/other/list_9_2.shtml"]
    assert iqilu_next(hrefs, "http://z.iqilu.com/zzyaowen/") == "http://z.iqilu.com/zzyaowen/list_1302_2.shtml"
    assert iqilu_next(hrefs, "http://z.iqilu.com/zzyaowen/list_1302_2.shtml").endswith("list_1302_3.shtml")
    assert iqilu_next(hrefs, "http://z.iqilu.com/zzyaowen/list_1302_3.shtml") is None


def test_script_rendered_lists_are_named() -> None:
    assert "XHR" in script_rendered("<body><div id=l></div><script>$.ajax({url:'/api'})</script></body>", 0, 10)
    assert "empty" in script_rendered("<body><script src=app.js></script></body>", 0, 0)
    assert "datastore" in script_rendered("<script type='text/xml'><datastore><recordset></recordset></datastore></script>", 3, 200)
    assert script_rendered("<body><p>" + "正文" * 60 + "</p></body>", 3, 120) is None


def test_a_plain_next_link_by_its_text() -> None:
    page = _html("http://news.example.cn/list/index.html", """<html><body><div class="pager">
        <a href="javascript:void(0)">下一页</a><a>下一页</a><a href="index_1.html">1</a>
        <a href=" index_2.html "><span>下一页</span></a><a href="index_3.html">下一页</a></div></body></html>""")
    assert next_page(page, Pagination(), 1, page.url).url == "http://news.example.cn/list/index_2.html"
    assert next_page(_html(page.url, "<html><body><a href='a.html'>上一页</a></body></html>"), Pagination(), 1, page.url) is None
