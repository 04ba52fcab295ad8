"""HTML of the simulated portals, imitating each one's CMS family.

Built from the evidence in docs/sources.md ("Target portals") and the real pages
in tests/data/realpages/:

* ``credit``  信用枣庄: Hanweb (大汉) CMS, GBK declared only in <meta>, date banner,
  visit counter. The column page ``/col/col<N>/index.html`` carries its links in a
  ``<script type="text/xml"><datastore>`` block and pages on through
  ``/module/web/jpage/dataproxy.jsp`` (jpage: POST, startrecord/endrecord/perpage
  in the query, the declared parameters as form data). Articles
  ``/art/Y/M/D/art_<col>_<id>.html`` with the CMS metas and ``#zoom``.
* ``dzwww``   大众网 Zaozhuang channel: TRS CMS, GB2312, relative
  ``./YYYYMM/tYYYYMMDD_<id>.htm`` links, pages written by
  ``createPageHTML(count, current, "index", "htm")`` only; articles with the
  ``#xl-headline`` block (timestamp, 来源, 作者) and the body in ``.TRS_Editor``.
* ``iqilu``   齐鲁网 Zaozhuang channel: ``/<ch>/YYYY/MMDD/<id>.shtml``, lists paged as
  ``list_<catid>_<n>.shtml``, the ``section-cnt-tit`` / ``article-main`` template,
  side column ``div.col-sub``, the 想爆料 footer; Traditional pages whose body is also
  in a hidden mobile copy.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.simulator.content import SimArticle

CREDIT_COL = 2345
CREDIT_UNIT = "325517"  # the jpage unit of the column's list block
CREDIT_WEBID = "23"
DATAPROXY = "/module/web/jpage/dataproxy.jsp"
DZWWW_CHANNEL = "zzxw"
IQILU_CHANNEL = "zzyaowen"
IQILU_CATID = 1302

_WEEKDAYS = "一二三四五六日"
_QILU_FOOTER = (
    "想爆料？请登录《阳光连线》（http://minsheng.iqilu.com/）、拨打新闻热线0531-66661234，"
    "或登录齐鲁网官方微博（@齐鲁网）提供新闻线索。齐鲁网广告热线0531-81695052，诚邀合作伙伴。"
)
_QILU_FOOTER_HANT = (
    "想爆料?請登錄《陽光連線》( https://minsheng.iqilu.com/)、撥打新聞熱線0531-66661234或96678,"
    "或登錄齊魯網官方微博(@齊魯網)提供新聞線索。齊魯網廣告熱線0531-81695052,誠邀合作伙伴。"
)


# -- URLs ---------------------------------------------------------------------------------------


def article_path(portal: str, a: SimArticle) -> str:
    d = a.published
    if portal == "credit":
        return f"/art/{d.year}/{d.month}/{d.day}/art_{CREDIT_COL}_{a.id}.html"
    if portal == "dzwww":
        return f"/{DZWWW_CHANNEL}/{d:%Y%m}/t{d:%Y%m%d}_{a.id}.htm"
    return f"/{IQILU_CHANNEL}/{d:%Y}/{d:%m%d}/{a.id}.shtml"


def list_path(portal: str, page: int) -> str:
    """Path of list page ``page`` (1-based); the credit portal's pages after the first are dataproxy.jsp calls
    (see ``dataproxy_query``)."""
    if portal == "credit":
        return f"/col/col{CREDIT_COL}/index.html" if page == 1 else DATAPROXY
    if portal == "dzwww":  # TRS: index.htm, index_1.htm, index_2.htm ...
        return f"/{DZWWW_CHANNEL}/index.htm" if page == 1 else f"/{DZWWW_CHANNEL}/index_{page - 1}.htm"
    return f"/{IQILU_CHANNEL}/" if page == 1 else f"/{IQILU_CHANNEL}/list_{IQILU_CATID}_{page}.shtml"


def credit_params() -> dict[str, str]:
    """What the column page declares for its pager (param_<unitid>), sent as form data by jpage."""
    return {"col": "1", "appid": "1", "webid": CREDIT_WEBID, "path": "/", "columnid": str(CREDIT_COL),
            "sourceContentType": "1", "unitid": CREDIT_UNIT, "webname": "信用枣庄", "permissiontype": "0"}


def _paragraphs(a: SimArticle, style: str = "") -> str:
    out = []
    for i, text in enumerate(a.paragraphs):
        if i in a.headings:
            out.append(f'<p style="text-align:center"><strong>{escape(text)}</strong></p>')
        else:
            out.append(f"<p{style}>{escape(text)}</p>")
    if a.table:
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>\n" for row in a.table)
        out.append(f'<table border="1" cellspacing="0" class="list">\n<tbody>\n{rows}</tbody>\n</table>')
    for i, f in enumerate(a.files, 1):  # Hanweb lists the attachments at the end of the text
        out.append(f'<p{style}>附件{i}：<a href="{escape(f.path)}" target="_blank">{escape(f.name)}</a></p>')
    return "\n".join(out)


def _doc(head: str, body: str, charset: str = "utf-8") -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n'
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
        f"{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# -- 信用枣庄 (Hanweb) -------------------------------------------------------------------------


def _credit_chrome_top(today: date) -> str:
    banner = f"{today.year}年{today.month}月{today.day}日 星期{_WEEKDAYS[today.weekday()]}"
    return (
        f'<div class="top"><span>欢迎访问信用枣庄官方网站!今天是:{banner}</span>'
        '<a href="/">设为首页</a> <a href="/">加入收藏</a></div>\n'
        '<div class="nav"><a href="/">首页</a> <a href="/col/col2345/index.html">信用动态</a> '
        '<a href="/col/col2350/index.html">政策法规</a> <a href="/col/col2360/index.html">信用公示</a> '
        '<a href="/col/col2370/index.html">信用服务</a></div>'
    )


_CREDIT_FOOTER = (
    '<div class="footer"><p>主办单位：枣庄市发展和改革委员会 承办单位：枣庄市公共信用信息中心</p>'
    "<p>网站标识码：3704000031 鲁ICP备05012345号 鲁公网安备 37040202000123号</p>"
    '<p><a href="/">网站地图</a> | <a href="/">联系我们</a></p></div>'
)


def _credit_record(a: SimArticle) -> str:
    return (
        f'<![CDATA[<li><a href="{article_path("credit", a)}" title="{escape(a.title)}" target="_blank">'
        f'{escape(a.title)}</a><span class="bt_time">{a.published:%Y-%m-%d}</span></li>]]>'
    )


def credit_list(items: list[SimArticle], total: int, per_page: int, group: int, today: date) -> str:
    """The column page: the first ``group`` pages' records in a datastore script block, drawn by jpage."""
    records = "\n".join(f"<record>{_credit_record(a)}</record>" for a in items)
    params = credit_params()
    declared = ", ".join(f"{k}:'{v}'" if not v.isdigit() else f"{k}:{v}" for k, v in params.items())
    nextgroup = f"{DATAPROXY}?page=1&" + "&".join(f"{k}={v}" for k, v in params.items() if k != "sourceContentType")
    body = (
        f"{_credit_chrome_top(today)}\n"
        '<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/col/col2345/index.html">信用动态</a></div>\n'
        f'<div class="list"><div id="{CREDIT_UNIT}"><script type="text/xml"><datastore>\n'
        f'<nextgroup><![CDATA[<a href="{nextgroup}"></a>]]></nextgroup>\n'
        f"<recordset>\n{records}\n</recordset>\n</datastore></script></div></div>\n"
        '<script type="text/javascript" src="/module/web/jpage/jpage.js"></script>\n'
        f"<script>var param_{CREDIT_UNIT} = {{{declared}}};\n"
        f"$(document).ready(function(){{ $('#{CREDIT_UNIT}').jpage({{ dataStore: dataStore_{CREDIT_UNIT}, "
        f"totalRecord: {total}, perPage: {per_page}, groupSize: {group // per_page}, proxyUrl: '{DATAPROXY}', "
        f"ajaxParam: param_{CREDIT_UNIT}, dataBefore: '<ul class=\"list-ul\">', dataAfter: '</ul>' }}); }});</script>\n"
        f"{_CREDIT_FOOTER}"
    )
    return _doc("<title>信用动态 信用枣庄</title>", body, charset="gb2312")


SCRIPT_COLUMN = "/col/col2399/index.html"  # a column whose list only a browser can draw


def credit_script_list(today: date) -> str:
    """A column page that loads its list by XHR from a JSON API: nothing in the HTML to follow."""
    body = (
        f"{_credit_chrome_top(today)}\n"
        '<div class="list"><ul id="list-2399"></ul><div id="pager"></div></div>\n'
        "<script>$.ajax({url: '/api/column/2399/list?page=1', dataType: 'json', success: function (d) {"
        " $('#list-2399').html(d.items.map(function (i) { return '<li><a href=\"' + i.url + '\">' + i.title + '</a></li>'; }).join(''));"
        " }});</script>\n"
        f"{_CREDIT_FOOTER}"
    )
    return _doc("<title>信用公示 信用枣庄</title>", body, charset="gb2312")


def credit_dataproxy(items: list[SimArticle], total: int, per_page: int) -> str:
    """A dataproxy.jsp answer: the requested records as a datastore."""
    records = "\n".join(f"<record>{_credit_record(a)}</record>" for a in items)
    pages = max(1, -(-total // per_page))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<datastore>\n'
        f"<totalrecord>{total}</totalrecord>\n<totalpage>{pages}</totalpage>\n"
        f"<recordset>\n{records}\n</recordset>\n</datastore>\n"
    )


_INDENT = ' style="text-indent:2em"'


def _credit_notice(a: SimArticle) -> str:
    """A Hanweb 信息公开 table (as on zj-jyt's xxgk pages, shared/realpages/hanweb), above the article."""
    if not a.notice:
        return ""
    n = {k: escape(v) for k, v in a.notice.items()}
    return (
        "<table border='1' width='1000px' align=\"center\" cellpadding=\"0\" cellspacing=\"0\" class=\"xxgk\">\n"
        f"<tr><td>索引号: {n['index_no']}</td><td>文件编号: {n['doc_no']}</td><td>发布机构: {n['issuer']}</td></tr>\n"
        f"<tr><td>生成日期: {n['written']}</td><td>主题分类: {n['topic']}</td><td>公开方式: 主动公开</td></tr>\n"
        f"<tr><td>有效性: {n['validity']}</td><td>发布日期: {n['published']}</td><td></td></tr>\n"
        "</table>\n"
    )


def credit_article(a: SimArticle, today: date, visits: int) -> str:
    body = (
        f"{_credit_chrome_top(today)}\n"
        '<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/col/col2345/index.html">信用动态</a></div>\n'
        f"{_credit_notice(a)}"
        '<table class="main" width="100%">\n'
        f'<tr><td class="title" align="center">{escape(a.title)}</td></tr>\n'
        f'<tr><td class="info" align="center">访问次数 : <span id="visits">{visits}</span> '
        f"发布时间 :{a.published:%Y-%m-%d}</td></tr>\n"
        f'<tr><td><div id="zoom">\n{_paragraphs(a, _INDENT)}\n</div></td></tr>\n'
        '<tr><td class="keywords">文章关键字: 企业 产业 枣庄 信用</td></tr>\n'
        '<tr><td class="tools"><a href="javascript:window.print()">【打印本页】</a> '
        '<a href="javascript:window.close()">【关闭窗口】</a> 分享到：微信 微博 QQ空间</td></tr>\n'
        "</table>\n"
        f'{_CREDIT_FOOTER}\n<script>var _hmt = _hmt || [];</script>'
    )
    head = (
        f"<title>{escape(a.title)}</title>\n"
        f'<meta name="ArticleTitle" content="{escape(a.title)}">\n'
        f'<meta name="PubDate" content="{a.published:%Y-%m-%d %H:%M}">\n'
        '<meta name="ColumnName" content="信用动态">\n'
        f'<meta name="ContentSource" content="{escape(a.source_name or "")}">'
    )
    return _doc(head, body, charset="gb2312")


# -- 大众网 (TRS) ------------------------------------------------------------------------------

_DZ_NAV = (
    '<div class="top-nav"><a href="http://www.dzwww.com/">大众网首页</a> <a href="/">枣庄频道</a> '
    '<a href="/zzxw/index.htm">枣庄新闻</a> <a href="/shxw/index.htm">社会</a> <a href="/ms/index.htm">民生</a></div>'
)
_DZ_FOOTER = (
    '<div class="footer">大众网版权所有 未经授权禁止复制或建立镜像 '
    "Copyright © 2000-2026 DZWWW.COM All Rights Reserved. 鲁ICP备09023866号</div>"
)


def dzwww_list(items: list[SimArticle], page: int, pages: int, hot: list[SimArticle]) -> str:
    rows = "\n".join(
        f'<li><h3><a href="./{a.published:%Y%m}/t{a.published:%Y%m%d}_{a.id}.htm" target="_blank">'
        f"{escape(a.title)}</a></h3><span class=\"time\">{a.published:%Y-%m-%d %H:%M}</span></li>"
        for a in items
    )
    hot_rows = "\n".join(
        f'<li><a href="./{a.published:%Y%m}/t{a.published:%Y%m%d}_{a.id}.htm">{escape(a.title)}</a></li>' for a in hot
    )
    # TRS writes the pager in the browser: no page link is in the HTML.
    pager = f'<script language="JavaScript">createPageHTML({pages}, {page - 1}, "index", "htm");</script>'
    body = (
        f"{_DZ_NAV}\n"
        '<div class="crumbs">您的位置:<a href="/">首页</a>&gt;<a href="/zzxw/index.htm">枣庄新闻</a></div>\n'
        f'<div class="main"><div class="news-list"><ul>\n{rows}\n</ul></div>\n'
        f'<div class="pages">{pager}</div></div>\n'
        f'<div class="side"><h4>热点排行</h4><ul>{hot_rows}</ul></div>\n{_DZ_FOOTER}'
    )
    head = (
        "<title>枣庄新闻_大众网</title>\n"
        '<meta name="filetype" content="0"><meta name="publishedtype" content="1"><meta name="pagetype" content="2">\n'
        '<script>function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){ /* TRS pager */ }</script>'
    )
    return _doc(head, body, charset="gb2312")


def dzwww_article(a: SimArticle, related: list[SimArticle]) -> str:
    header = f"{a.published:%Y-%m-%d %H:%M:%S} " if a.date_in_header else ""
    header += f"来源: {escape(a.source_name or '大众网')}"
    if a.author:
        header += f" 作者: {escape(a.author)}"
    rel = "\n".join(
        f'<li><a href="../{r.published:%Y%m}/t{r.published:%Y%m%d}_{r.id}.htm">{escape(r.title)}</a></li>'
        for r in related
    )
    body = (
        f"{_DZ_NAV}\n"
        '<div class="crumbs">您的位置:<a href="/">首页</a>&gt;<a href="/zzxw/index.htm">栏目首页</a> &gt; '
        '<a href="/zzxw/index.htm">机构</a> &gt;</div>\n'
        f'<div class="layout"><h2>{escape(a.title)}</h2>\n'
        f'<div id="xl-headline"><div class="left">{header}</div><div class="right" id="asp_3352"></div></div>\n'
        '<div class="blank10"></div>\n'
        '<div class="news-con" id="news-con"><div class="TRS_Editor">\n<p style="text-align:center">(资料图)</p>\n'
        f"{_paragraphs(a)}\n</div></div>\n"
        '<div class="tags">关键词:</div>\n'
        '<div id="qrcode">扫一扫 手机看新闻</div>\n'
        f'<div class="related"><h4>相关阅读</h4><ul>\n{rel}\n</ul></div>\n'
        '<div class="share-bar">分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ</a></div>\n'
        '<div class="ad"><a href="http://ad.dzwww.com/">广告 枣庄楼盘火热认购中</a></div></div>\n'
        f"{_DZ_FOOTER}"
    )
    return _doc(f"<title>{escape(a.title)}_枣庄新闻_大众网</title>", body, charset="gb2312")


# -- 齐鲁网 -------------------------------------------------------------------------------------

_QILU_CITIES = " ".join(
    f'<a href="http://{py}.iqilu.com/">{name}</a>'
    for py, name in [("jinan", "济南"), ("qingdao", "青岛"), ("zibo", "淄博"), ("zaozhuang", "枣庄"), ("dongying", "东营")]
)


def _qilu_side(hot: list[SimArticle]) -> str:
    links = "\n".join(f'<li><a href="{article_path("iqilu", a)}">{escape(a.title)}</a></li>' for a in hot)
    return (
        f'<div class="col-sub"><div class="mod"><h3>热点推荐</h3><ul>{links}</ul></div>\n'
        '<div class="mod"><h3>热门视频</h3><ul><li><a href="http://v.iqilu.com/">闪电新闻 每日新闻</a></li></ul></div>\n'
        '<div class="mod"><h3>视觉山东</h3><ul><li><a href="http://pic.iqilu.com/">镜头里的山东</a></li></ul></div>\n'
        '<div class="mod"><h3>排行榜</h3><ol><li>暂无</li></ol></div>\n'
        '<div class="mod-ad"><a href="http://ad.iqilu.com/">广告</a></div></div>'
    )


def iqilu_list(items: list[SimArticle], page: int, pages: int, hot: list[SimArticle]) -> str:
    rows = "\n".join(
        f'<li><a href="{article_path("iqilu", a)}" target="_blank">{escape(a.title)}</a>'
        f'<span class="time">{a.published:%Y-%m-%d}</span></li>'
        for a in items
    )
    # numbered page links only, list_<catid>_<n>.shtml
    pager = " ".join(
        f'<a href="{list_path("iqilu", n)}">{n}</a>' if n != page else f'<span class="current">{n}</span>'
        for n in range(1, pages + 1)
    )
    body = (
        f'<div class="header-nav">{_QILU_CITIES}</div>\n'
        '<div class="crumbs"><a href="/">枣庄</a> &gt; <a href="/zzyaowen/">枣庄要闻</a></div>\n'
        f'<div class="col-main"><ul class="list-news">\n{rows}\n</ul>\n<div class="page">{pager}</div></div>\n'
        f"{_qilu_side(hot)}"
    )
    return _doc("<title>枣庄要闻 - 齐鲁网</title>", body)


MIRROR_CHANNEL = "mirror"


def mirror_path(a: SimArticle) -> str:
    """A repost on the spam mirror (served by the iqilu server): undated URLs, as such sites have."""
    return f"/{MIRROR_CHANNEL}/{a.id}.shtml"


def mirror_list(items: list[SimArticle]) -> str:
    rows = "\n".join(
        f'<li><a href="{mirror_path(a)}">{escape(a.title)}</a><span class="time">{a.published:%Y-%m-%d}</span></li>'
        for a in items
    )
    body = f'<div class="col-main"><ul class="list-news">\n{rows}\n</ul></div>\n<div class="footer">新闻转载 本站内容来自网络</div>'
    return _doc("<title>新闻转载</title>", body)


def _spliced(a: SimArticle) -> SimArticle:
    """The article as a spam mirror serves it: the spam phrase spliced into its second paragraph."""
    paragraphs = list(a.paragraphs)
    if a.spam and a.spam_where == "text" and len(paragraphs) > 1:
        cut = paragraphs[1].find("，") + 1
        paragraphs[1] = paragraphs[1][:cut] + a.spam + paragraphs[1][cut:]
    return replace(a, paragraphs=paragraphs)


def iqilu_article(a: SimArticle, hot: list[SimArticle]) -> str:
    trad = a.traditional
    shown_title = f"{a.title}-{a.spam}" if a.spam and a.spam_where == "text" else a.title
    spam_footer = f"<p>诚邀{escape(a.spam)}的合作伙伴。{escape(a.spam)}的技术支持</p>\n" if a.spam else ""
    site = "齊魯網" if trad else "齐鲁网"
    label_source, label_author = ("來源", "作者") if trad else ("来源", "作者")
    info = (
        f'<p class="resource">{label_source}：<span>{escape(a.source_name or site)}</span></p>'
        f'<p class="author">{label_author}：<span>{escape(a.author or "")}</span></p>'
        f'<p class="time">{a.published:%Y-%m-%d %H:%M:%S}</p>'
    )
    editor = "[責任編輯：王小明]" if trad else "[责任编辑：王小明]"
    footer = _QILU_FOOTER_HANT if trad else _QILU_FOOTER
    mobile_copy = (
        f'<div class="m-article" style="display:none">\n{_paragraphs(a)}\n</div>\n' if a.doubled else ""
    )
    comment_label = "網友評論" if trad else "网友评论"
    # Reposts from the print edition open with the original headline.
    preamble = f"<p>原標題:{escape(a.title)}</p>\n" if trad else ""
    body = (
        f'<div class="header-nav">{_QILU_CITIES}</div>\n'
        f'<div class="crumbs"><a href="/">枣庄</a> &gt; <a href="/zzyaowen/">枣庄要闻</a> &gt; 正文</div>\n'
        f'<div class="col-main"><div class="section-cnt-tit clearfix"><h1>{escape(shown_title)}</h1>\n'
        f'<div class="info">{info}</div></div>\n'
        f'<div class="article-main">\n{preamble}{_paragraphs(_spliced(a))}\n</div>\n{mobile_copy}'
        f'<p class="editor">{editor}</p>\n'
        f'<div class="baoliao">{footer}</div>\n{spam_footer}'
        '<div class="share_baidu">分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ空间</a></div>\n'
        f'<div class="comment"><h3>{comment_label}</h3><p>网友评论仅供网友表达个人看法，并不表明齐鲁网同意其观点或证实其描述</p>'
        "<textarea></textarea><a>我来说两句</a></div></div>\n"
        f"{_qilu_side(hot)}\n"
        '<div class="footer">齐鲁网 all rights reserved 网上传播视听节目许可证1503009 '
        "互联网新闻信息服务许可证3712006002 通讯地址：山东省济南市经十路81号</div>"
    )
    head = (
        f"<title>{escape(shown_title)} - {site}</title>\n"
        f'<meta name="keywords" content="枣庄">\n<meta name="description" content="{escape(a.paragraphs[0][:80])}">'
    )
    return _doc(head, body)


ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\nDisallow: /search/\n"
