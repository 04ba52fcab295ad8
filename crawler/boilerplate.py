"""Built-in noise of Chinese portal pages, removed from every extracted body.

Line patterns are written for Simplified and Traditional characters alike.
Per-source rules (``cleanup.drop_patterns``) are added on top.
"""

from __future__ import annotations

import re

# Elements that never hold article text.
DROP_ELEMENTS = (
    "script", "style", "noscript", "textarea", "select", "button", "form", "iframe", "template",
)
# A <form> with more text than this wraps page content (ASP.NET pages) and is kept.
FORM_MAX_LETTERS = 200
# Hidden elements: mobile copies of the body, pop-ups. Their text is not what readers see.
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

_LINE_PATTERNS = [
    r"^(欢迎访问|歡迎訪問).{0,30}(今天是|今日是)",
    r"^(访问次数|訪問次數|浏览次数|瀏覽次數|阅读次数|閱讀次數|点击数|點擊數)\s*[:：]?",
    r"^(您的位置|您现在的位置|您現在的位置|当前位置|當前位置)\s*[:：]",
    r"^[(（](资料图|資料圖|资料图片|資料圖片)[)）]$",
    r"^想爆料",
    r"^(网友评论|網友評論)",
    r"(网友评论|網友評論)仅供",
    r"^(关键词|關鍵詞|文章关键字|文章關鍵字|关键字|關鍵字|标签|標籤)\s*[:：]",
    r"^(相关阅读|相關閱讀|相关新闻|相關新聞|相关链接|相關鏈接|延伸阅读|延伸閱讀|推荐阅读|推薦閱讀)\s*[:：]?$",
    r"^[\[【]?(责任编辑|責任編輯|编辑|編輯|责编|責編)\s*[:：].{0,20}[\]】]?$",
    r"^(原标题|原標題)\s*[:：]",
    r"^(来源|來源)\s*[:：]\s*\S{0,20}$",
    r"^(作者|作者)\s*[:：]\s*\S{0,12}$",
    r"^(分享到|分享至)\s*[:：]?",
    r"(打印本页|打印本頁|关闭窗口|關閉窗口)",
    r"(版权所有|版權所有|all rights reserved|copyright\s*©)",
    r"^(主办单位|主辦單位|承办单位|承辦單位|网站标识码|網站標識碼)\s*[:：]",
    r"(ICP备|ICP備|公网安备|公網安備|互联网新闻信息服务许可证|網上傳播視聽節目許可證|网上传播视听节目许可证)",
    r"^(上一篇|下一篇|上一页|下一页|返回顶部|返回頂部)\s*[:：]?",
    r"^(我来说两句|我來說兩句)$",
    r"^(电话|電話|传真|傳真|邮箱|郵箱|e-?mail|联系电话|聯繫電話)\s*[:：︰]",
    r"^(调整字体|調整字體|字号|字號|字体|字體)\s*[:：︰]",
    r"(facebook|微博|微信|公众号|公眾號).{0,20}(专页|專頁|关注|關注|扫一扫|掃一掃|扫描|掃描)",
    r"(扫一扫|掃一掃|扫描二维码|掃描二維碼)",
    r"(诚邀|誠邀).{0,16}(合作伙伴|合作夥伴)|(技术支持|技術支持)\s*[:：]?\s*\S{0,16}$",
    r"^(【|\[)?(打印|列印|收藏|关闭|關閉|纠错|糾錯)(】|\])",
    # Style sheet or script text that leaked into the page's text (a stray <style> in the body).
    r"^[#.*]?[\w\s#.:,>*\[\]=\"'-]*\{\s*$|^\}\s*$|^/\*.*\*/$",
    r"^\*?[a-z-]+\s*:\s*[^\u4e00-\u9fff;]*;\s*(/\*.*\*/)?$",
]
LINE_PATTERNS = [re.compile(p, re.I) for p in _LINE_PATTERNS]

# A line after which nothing belongs to the article: disclaimers, "related" lists.
TAIL_MARKERS = [
    re.compile(p, re.I)
    for p in (
        r"^(免责声明|免責聲明|本网声明|本網聲明|声明|聲明|特别声明|特別聲明)\s*[:：︰]",
        r"^.{0,20}(声明|聲明)\s*[:：︰]$",
        r"^.{0,16}(声明|聲明)\s*[:：︰].{0,60}(本网|本網|本站|转载|轉載|版权|版權|个人观点|個人觀點|仅供|僅供|作者)",
        r"^更多.{0,6}(新闻|新聞|阅读|閱讀|内容|內容|报道|報道)",
        r"^[•·]?\s*凡(注明|註明).{0,12}(来源|來源)",
        r"^(相关阅读|相關閱讀|相关新闻|相關新聞|相关链接|相關鏈接|延伸阅读|延伸閱讀|推荐阅读|推薦閱讀|热点推荐|熱點推薦|更多新闻|更多新聞)\s*[:：]?$",
    )
]

# A header line holding the publish date, e.g. "2023-08-24 07:49:29 来源:大众网" or "发布时间 :2023-08-31".
HEADER_LABEL = re.compile(r"发布|發布|發佈|发表|發表|时间|時間|日期|来源|來源|作者|编辑|編輯")


def is_boilerplate(line: str, extra: list[re.Pattern[str]] | None = None) -> bool:
    text = line.strip()
    if not text:
        return True
    return any(p.search(text) for p in LINE_PATTERNS) or any(p.search(text) for p in extra or [])
