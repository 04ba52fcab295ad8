"""The portal simulator: three imitation portals on loopback, drivable while they run.

    with Simulator(articles_per_portal=20) as sim:
        sim.env()                      # {"SIM_CREDIT_URL": "http://127.0.0.1:PORT", ...}
        sim.publish("iqilu")           # a new article on top of the list
        sim.edit("dzwww", 17231001, paragraphs=[...])
        sim.set_fault("credit", "/col/col2345/index.html", Fault(status=500, times=2))
        sim.requests("credit")         # what the crawler asked for

Each portal listens on its own port. List and article pages answer
conditional requests (ETag / Last-Modified → 304).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

from crawler.simulator import files, pages
from crawler.simulator.content import (
    SimArticle,
    generated_article,
    generated_articles,
    notice_of,
    seed_articles,
    table_of,
)
from crawler.simulator.files import SimFile, faulty_files, notice_files
from crawler.simulator.http import Fault, Handler, LoggedRequest, QuietServer

PORTALS = ("credit", "dzwww", "iqilu")
ENV_NAMES = {"credit": "SIM_CREDIT_URL", "dzwww": "SIM_DZWWW_URL", "iqilu": "SIM_IQILU_URL"}
SHANGHAI = timezone(timedelta(hours=8))
GENERATED_START = datetime(2026, 11, 20, 18, 0)
_ID_BASE = {"credit": 3000, "dzwww": 17500000, "iqilu": 5900000}


@dataclass
class _Portal:
    name: str
    articles: list[SimArticle]
    page_size: int
    changed_at: datetime
    visits: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def encoding(self) -> str:
        return "utf-8" if self.name == "iqilu" else "gbk"  # credit: GBK in <meta> only; dzwww: GB2312 declared


class Simulator:
    def __init__(
        self,
        articles_per_portal: int = 20,
        page_size: int = 8,
        seeds: bool = True,
        host: str = "127.0.0.1",
        port_base: int = 0,
        hanweb_group: int = 2,
    ):
        """``port_base`` 0 picks free ports; N serves the portals on N, N+1, N+2.

        ``hanweb_group``: list pages per jpage group on the credit portal (its column page holds
        ``page_size * hanweb_group`` records; each dataproxy.jsp call returns as many).
        """
        self.hanweb_group = hanweb_group
        self.conditional = True  # answer If-None-Match / If-Modified-Since with 304
        self.broken_templates: set[str] = set()  # portals whose list pages use a new, unknown markup
        self.host = host
        self.port_base = port_base
        self._lock = threading.RLock()
        self._log: list[LoggedRequest] = []
        self._faults: dict[tuple[str, str], Fault] = {}
        self._threads: list[threading.Thread] = []
        seeded = seed_articles() if seeds else {p: [] for p in PORTALS}
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
        self._portals: dict[str, _Portal] = {}
        self._mirror: list[SimArticle] = []  # reposts on the spam mirror, /mirror/ of the iqilu server
        for name in PORTALS:
            generated = generated_articles(name, max(0, articles_per_portal - len(seeded[name])), GENERATED_START, _ID_BASE[name])
            self._portals[name] = _Portal(name, self._sorted(seeded[name] + generated), page_size, start)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Simulator:
        for offset, portal in enumerate(self._portals.values()):
            handler = type(f"{portal.name}Handler", (Handler,), {"simulator": self, "portal": portal.name})
            port = self.port_base + offset if self.port_base else 0
            server = QuietServer((self.host, port), handler)
            portal.server = server
            thread = threading.Thread(target=server.serve_forever, name=f"sim-{portal.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for portal in self._portals.values():
            if portal.server is not None:
                portal.server.shutdown()
                portal.server.server_close()
                portal.server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def base_url(self, portal: str) -> str:
        server = self._portals[portal].server
        if server is None:
            raise RuntimeError("simulator is not running")
        return f"http://{self.host}:{server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Environment variables the simulator source configs refer to."""
        return {ENV_NAMES[p]: self.base_url(p) for p in PORTALS}

    # -- state ---------------------------------------------------------------------------------
    @staticmethod
    def _sorted(articles: list[SimArticle]) -> list[SimArticle]:
        return sorted(articles, key=lambda a: (a.published, a.id), reverse=True)

    def articles(self, portal: str) -> list[SimArticle]:
        with self._lock:
            return list(self._portals[portal].articles)

    def article_url(self, portal: str, article: SimArticle | int) -> str:
        if isinstance(article, int):
            article = self.find(portal, article)
        return self.base_url(portal) + pages.article_path(portal, article)

    def list_url(self, portal: str, page: int = 1) -> str:
        """List page ``page`` as the crawler requests it (credit: the dataproxy.jsp URL jpage POSTs to)."""
        url = self.base_url(portal) + pages.list_path(portal, page)
        if portal == "credit" and page > 1:
            group = self._group("credit")
            start = (page - 1) * group + 1
            url += f"?startrecord={start}&endrecord={min(start + group - 1, len(self.articles('credit')))}"
            url += f"&perpage={self._portals['credit'].page_size}"
        return url

    def list_get_url(self, portal: str, page: int = 1) -> str:
        """A list page fetchable by a plain GET (credit: dataproxy.jsp with its form fields in the query)."""
        url = self.list_url(portal, page)
        if portal == "credit" and page > 1:
            url += "&" + urlencode(pages.credit_params())
        return url

    def list_pages(self, portal: str) -> int:
        """How many list pages the portal has now."""
        return max(1, math.ceil(len(self.articles(portal)) / self._group(portal)))

    def _group(self, portal: str) -> int:
        p = self._portals[portal]
        return p.page_size * (self.hanweb_group if portal == "credit" else 1)

    def find(self, portal: str, article_id: int) -> SimArticle:
        with self._lock:
            for article in self._portals[portal].articles:
                if article.id == article_id:
                    return article
        raise KeyError(f"{portal} has no article {article_id}")

    def _touch(self, portal: _Portal) -> None:
        # HTTP dates have one-second resolution: make sure a change moves Last-Modified.
        now = datetime.now(timezone.utc).replace(microsecond=0)
        portal.changed_at = max(now, portal.changed_at + timedelta(seconds=1))

    def publish(
        self, portal: str, title: str | None = None, paragraphs: list[str] | None = None, published: datetime | None = None,
        notice: bool = False,
    ) -> SimArticle:
        """Put a new article on top of the portal's first list page (``notice``: a government notice with
        its 信息公开 header, a table of names and three attachments, as the credit portal's every fourth)."""
        with self._lock:
            p = self._portals[portal]
            newest = max((a.published for a in p.articles), default=GENERATED_START)
            when = published or max(datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0), newest + timedelta(minutes=1))
            number = len(p.articles) + 1000
            article = generated_article(portal, number, when)
            article.id = max((a.id for a in p.articles), default=_ID_BASE[portal]) + 1
            if title:
                article.title = title
            if paragraphs:
                article.paragraphs = list(paragraphs)
            if notice:
                article.notice, article.table = notice_of(number, when), table_of(number)
                article.files = notice_files(number, f"{when:%Y%m%d%H%M%S}")
            p.articles = self._sorted([*p.articles, article])
            self._touch(p)
            return article

    def edit(self, portal: str, article_id: int, paragraphs: list[str] | None = None, title: str | None = None) -> SimArticle:
        with self._lock:
            p = self._portals[portal]
            old = self.find(portal, article_id)
            new = old.edited(paragraphs=paragraphs, title=title)
            p.articles = [new if a.id == article_id else a for a in p.articles]
            self._touch(p)
            return new

    def repost(self, portal: str, article_id: int, *, spam: str = "新全讯2网", where: str = "text",
               traditional: bool = True) -> SimArticle:
        """A spam mirror reposts an article of ``portal`` (listed at ``mirror_url()``), in Traditional
        characters with ``spam`` spliced into its title and text (``where="text"``) or only into its
        footer (``where="footer"``)."""
        from opencc import OpenCC

        convert = OpenCC("s2t").convert if traditional else (lambda text: text)
        with self._lock:
            original = self.find(portal, article_id)
            copy = replace(
                original, id=990000 + len(self._mirror) + 1, title=convert(original.title),
                paragraphs=[convert(p) for p in original.paragraphs], traditional=traditional, spam=spam,
                spam_where=where, doubled=False, seed=None, files=[],  # a repost does not carry the portal's files
            )
            self._mirror.insert(0, copy)
            self._touch(self._portals["iqilu"])
            return copy

    def replace_attachment(self, portal: str, article_id: int, kind: str) -> SimFile:
        """Upload a new version of the article's ``kind`` attachment (new content, under a new name, as
        Hanweb does); the article page links to it from now on."""
        with self._lock:
            p = self._portals[portal]
            old = self.find(portal, article_id)
            index = next(i for i, f in enumerate(old.files) if f.kind == kind and f.fault is None)
            new_file = old.files[index].replaced(datetime.now(SHANGHAI).strftime("%Y%m%d%H%M%S"))
            new = replace(old, files=[new_file if i == index else f for i, f in enumerate(old.files)], version=old.version + 1)
            p.articles = [new if a.id == article_id else a for a in p.articles]
            self._touch(p)
            return new_file

    def add_faulty_attachments(self, portal: str, article_id: int) -> list[SimFile]:
        """Link the article to an oversized PDF, an HTML page named .pdf, a zip bomb named .xlsx and a missing DOCX."""
        with self._lock:
            p = self._portals[portal]
            old = self.find(portal, article_id)
            bad = faulty_files(f"{old.published:%Y%m%d%H%M%S}")
            new = replace(old, files=[*old.files, *bad], version=old.version + 1)
            p.articles = [new if a.id == article_id else a for a in p.articles]
            self._touch(p)
            return bad

    def mirror_url(self) -> str:
        return self.base_url("iqilu") + f"/{pages.MIRROR_CHANNEL}/"

    def mirror_articles(self) -> list[SimArticle]:
        with self._lock:
            return list(self._mirror)

    def delete(self, portal: str, article_id: int) -> None:
        with self._lock:
            p = self._portals[portal]
            self.find(portal, article_id)
            p.articles = [a for a in p.articles if a.id != article_id]
            self._touch(p)

    def set_fault(self, portal: str, path: str, fault: Fault) -> None:
        with self._lock:
            self._faults[(portal, path)] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self, portal: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self._log if (portal is None or r.portal == portal) and (path is None or r.path == path)]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- serving -------------------------------------------------------------------------------
    def _take_fault(self, portal: str, path: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get((portal, path))
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[(portal, path)]
            return fault

    def render(
        self, portal: str, path: str, params: dict[str, str] | None = None
    ) -> tuple[int, str | bytes | None, str | None, datetime | None]:
        """(status, html, etag, last_modified) for a GET of ``path``; html None means 404.

        ``params``: the query and form fields (only dataproxy.jsp reads them)."""
        with self._lock:
            p = self._portals[portal]
            if path == "/robots.txt":
                return 200, pages.ROBOTS_TXT, None, None
            if portal == "credit" and path == pages.DATAPROXY:
                return 200, self._dataproxy(p, params or {}), None, None
            if portal == "credit" and path == pages.SCRIPT_COLUMN:
                return 200, pages.credit_script_list(date.today()), None, None
            if portal == "iqilu" and path.startswith(f"/{pages.MIRROR_CHANNEL}/"):
                if path == f"/{pages.MIRROR_CHANNEL}/":
                    key = "|".join(f"{a.id}.{a.version}" for a in self._mirror)
                    return 200, pages.mirror_list(self._mirror), _etag("mirror" + key), p.changed_at
                for article in self._mirror:
                    if path == pages.mirror_path(article):
                        return 200, pages.iqilu_article(article, []), _etag(f"m{article.id}"), p.changed_at
                return 404, None, None, None
            count = max(1, math.ceil(len(p.articles) / self._group(portal)))
            for number in range(1, count + 1):
                if path == pages.list_path(portal, number):
                    group = self._group(portal)
                    items = p.articles[(number - 1) * group : number * group]
                    # what the list shows: an edit of an article body leaves the list page (and its ETag) as it was
                    key = "|".join(f"{a.id}:{a.title}" for a in items) + f"#{number}/{count}"
                    key += "#broken" if portal in self.broken_templates else ""
                    return 200, self._list_html(p, items, number, count), _etag(key), p.changed_at
            for article in p.articles:
                for f in article.files:
                    f_path, _, f_query = f.path.partition("?")
                    if path == f_path and (not f_query or dict(parse_qsl(f_query)).get("filename") == (params or {}).get("filename")):
                        data = files.content(f)
                        return (404, None, None, None) if data is None else (200, data, _etag(f"{f.path}.{f.version}"), p.changed_at)
                if path == pages.article_path(portal, article):
                    p.visits += 1
                    key = f"{article.id}.{article.version}"
                    return 200, self._article_html(p, article), _etag(key), p.changed_at
            return 404, None, None, None

    def _dataproxy(self, p: _Portal, params: dict[str, str]) -> str:
        """The records startrecord..endrecord, for the column and unit the page declared (else none)."""
        declared = pages.credit_params()
        if params.get("columnid") != declared["columnid"] or params.get("unitid") != declared["unitid"]:
            return pages.credit_dataproxy([], 0, p.page_size)
        try:
            start, end = int(params.get("startrecord", "1")), int(params.get("endrecord", "0"))
        except ValueError:
            start, end = 1, 0
        return pages.credit_dataproxy(p.articles[max(0, start - 1) : max(0, end)], len(p.articles), p.page_size)

    def _list_html(self, p: _Portal, items: list[SimArticle], page: int, count: int) -> str:
        hot = p.articles[:3]
        if p.name == "credit":
            html = pages.credit_list(items, len(p.articles), p.page_size, self._group("credit"), date.today())
        elif p.name == "dzwww":
            html = pages.dzwww_list(items, page, count, hot)
        else:
            html = pages.iqilu_list(items, page, count, hot)
        if p.name in self.broken_templates:  # a site redesign: the list markup the configs expect is gone
            html = re.sub(r'class="(list|news-list|list-news)"', 'class="newslist-v2"', html).replace("<h3>", "<h4>")
            html = re.sub(r"<datastore>.*?</datastore>", "<datastore><recordset></recordset></datastore>", html, flags=re.S)
        return html

    def _article_html(self, p: _Portal, article: SimArticle) -> str:
        if p.name == "credit":
            return pages.credit_article(article, date.today(), p.visits)
        others = [a for a in p.articles if a.id != article.id][:3]
        if p.name == "dzwww":
            return pages.dzwww_article(article, others)
        return pages.iqilu_article(article, others)

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)


def _etag(key: str) -> str:
    return '"' + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16] + '"'
