"""Attachments the credit portal's notices link to, generated here: an XLSX list of names, a PDF
decision and a DOCX notice (openpyxl, reportlab, python-docx), and the faulty ones a real portal
serves now and then: an oversized file, an HTML error page under a ``.pdf`` name, a zip bomb
under an ``.xlsx`` name, a missing file.
"""

from __future__ import annotations

import functools
import io
import random
import zipfile
from dataclasses import dataclass, replace

_PLACES = ["市中区", "薛城区", "峄城区", "台儿庄区", "山亭区", "滕州市"]


@dataclass
class SimFile:
    name: str  # the link text, as the page shows it
    path: str  # where the portal serves it (a query for Hanweb's downfile.jsp)
    kind: str  # pdf, docx, xlsx
    version: int = 1  # a replaced file is a new version, under a new upload name
    fault: str | None = None  # oversized, html, bomb, missing
    number: int = 0  # the notice it belongs to (its content is generated from it)

    def replaced(self, stamp: str) -> SimFile:
        """A new version of the file, uploaded under a new name (as Hanweb and TRS do)."""
        base, _, ext = self.path.rpartition(".")
        head = base.rsplit("/", 1)[0] if "filename=" not in base else base.split("filename=")[0] + "filename="
        sep = "" if head.endswith("=") else "/"
        return replace(self, version=self.version + 1, path=f"{head}{sep}{stamp}v{self.version + 1}.{ext}")


def notice_files(number: int, stamp: str) -> list[SimFile]:
    """The attachments of generated notice ``number`` (``stamp``: its upload time, as Hanweb names files): its
    list, its decision, its notice, and the application form every notice links to."""
    return [
        SimFile(f"守信激励对象名单（第{number}批）.xlsx", f"/module/download/downfile.jsp?classid=0&filename={stamp}1.xlsx",
                "xlsx", number=number),
        SimFile("行政处罚决定书.pdf", f"/picture/0/{stamp}2.pdf", "pdf", number=number),
        SimFile("关于公示信用修复结果的通知.docx", f"/picture/0/{stamp}3.docx", "docx", number=number),
        FORM,  # the same form under the same URL on every notice
    ]


FORM = SimFile("信用修复申请表.docx", "/picture/0/xyxf_sqb.docx", "docx", number=-1)
FORM_LINES = ["信用修复申请表", "申请主体名称：", "统一社会信用代码：", "失信行为及处理情况：", "申请人（盖章）：    年  月  日"]


def faulty_files(stamp: str) -> list[SimFile]:
    return [
        SimFile("全市失信主体名单汇总.pdf", f"/picture/0/{stamp}7.pdf", "pdf", fault="oversized"),
        SimFile("信用承诺书.pdf", f"/picture/0/{stamp}8.pdf", "pdf", fault="html"),
        SimFile("联合惩戒名单.xlsx", f"/picture/0/{stamp}9.xlsx", "xlsx", fault="bomb"),
        SimFile("已撤销公告.docx", f"/picture/0/{stamp}0.docx", "docx", fault="missing"),
    ]


def xlsx_names(number: int, version: int = 1) -> list[list[str]]:
    """The rows of notice ``number``'s XLSX list: names that are nowhere on the page."""
    rng = random.Random(f"xlsx-{number}-{version}")
    rows = [["序号", "主体名称", "统一社会信用代码", "列入日期"]]
    for i in range(1, rng.randint(4, 8) + 1):
        name = f"{rng.choice(_PLACES)}{rng.choice(['瑞丰', '宏达', '金诚', '博远', '泰和', '润禾'])}" \
               f"{rng.choice(['物流', '科技', '农业', '置业'])}有限公司"
        code = "91370400" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(10))
        rows.append([str(i), name, code, f"2026-11-{rng.randint(1, 28):02d}"])
    return rows


def decision_lines(number: int, version: int = 1) -> list[str]:
    rng = random.Random(f"pdf-{number}-{version}")
    fine = rng.choice([2000, 5000, 8000, 10000, 20000]) * version
    return [
        "行政处罚决定书",
        f"枣发改罚〔2026〕{number}号",
        f"当事人：{rng.choice(_PLACES)}恒昌建材有限公司",
        "经查，当事人未按规定履行信用承诺，违反了《山东省社会信用条例》的规定。",
        f"依据有关规定，决定给予当事人罚款人民币{fine}元的行政处罚。",
        "当事人如不服本决定，可在收到本决定书之日起六十日内申请行政复议。",
    ]


def notice_paragraphs(number: int) -> list[str]:
    return [
        "关于公示信用修复结果的通知",
        f"根据《枣庄市信用修复管理办法》，经审核，第{number}批申请信用修复的市场主体符合修复条件，现予以公示。",
        "公示期为7个工作日。对公示内容有异议的，请在公示期内向市发展改革委反映。",
    ]


def content(file: SimFile) -> bytes | str | None:
    """The bytes the portal serves for ``file``; a str is an HTML page; None is a 404."""
    if file.fault == "missing":
        return None
    if file.fault == "html":
        return "<html><head><title>文件不存在</title></head><body><p>您访问的文件不存在或已被删除。</p></body></html>"
    if file.fault == "oversized":
        return oversized_pdf()
    if file.fault == "bomb":
        return zip_bomb()
    if file.number < 0:
        return docx(FORM_LINES)
    if file.kind == "xlsx":
        return xlsx(xlsx_names(file.number, file.version))
    if file.kind == "pdf":
        return pdf(decision_lines(file.number, file.version))
    return docx(notice_paragraphs(file.number))


@functools.lru_cache(maxsize=2048)
def _xlsx(rows: tuple[tuple[str, ...], ...]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "名单"
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx(rows: list[list[str]]) -> bytes:
    return _xlsx(tuple(tuple(r) for r in rows))


@functools.lru_cache(maxsize=2048)
def _pdf(lines: tuple[str, ...]) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))  # a standard CJK font: no font file embedded
    out = io.BytesIO()
    page = canvas.Canvas(out, invariant=True)  # the same bytes for the same text
    page.setFont("STSong-Light", 12)
    for i, line in enumerate(lines):
        page.drawString(72, 760 - 22 * i, line)
    page.showPage()
    page.save()
    return out.getvalue()


def pdf(lines: list[str]) -> bytes:
    return _pdf(tuple(lines))


@functools.lru_cache(maxsize=2048)
def _docx(paragraphs: tuple[str, ...]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx(paragraphs: list[str]) -> bytes:
    return _docx(tuple(paragraphs))


@functools.lru_cache(maxsize=1)
def oversized_pdf(size: int = 21 * 2**20) -> bytes:
    """A PDF of 21 MB: over the default 20 MB cap."""
    head = b"%PDF-1.4\n% oversized scan\n"
    return head + b"0" * (size - len(head))


@functools.lru_cache(maxsize=1)
def zip_bomb(expanded: int = 256 * 2**20) -> bytes:
    """An ``.xlsx`` of ~250 KB that expands to 256 MB (one sheet of zeros)."""
    out = io.BytesIO()
    chunk = b"0" * 2**20
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(expanded // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def content_type_of(path: str) -> str:
    if path.startswith("/module/download/"):
        return "application/octet-stream"  # Hanweb's downfile.jsp
    return {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}.get(
        path.rpartition(".")[2], "application/octet-stream")
