"""Articles the simulator serves: the five seed texts plus generated ones.

Generated articles are deterministic (seeded by portal and number), distinct
from each other, and look like regional government news.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from crawler.simulator.files import SimFile, notice_files

SEEDS_DIR = Path(__file__).parent / "seeds"


@dataclass
class SimArticle:
    id: int
    title: str
    paragraphs: list[str]
    published: datetime  # naive, Asia/Shanghai wall time
    author: str | None = None
    source_name: str | None = None
    traditional: bool = False
    doubled: bool = False  # body appears twice in the markup
    date_in_header: bool = True
    version: int = 1
    spam: str | None = None  # a phrase a spam mirror splices into title, text and footer (not in the clean text)
    spam_where: str = "text"  # "footer": the phrase is only in the page's footer, the article itself is clean
    headings: set[int] = field(default_factory=set)  # indexes of paragraphs that are section headings
    seed: str | None = None
    notice: dict[str, str] | None = None  # a government notice's 信息公开 header (the credit portal), see notice_of
    table: list[list[str]] | None = None  # a data table after the paragraphs (a notice's list of names)
    files: list[SimFile] = field(default_factory=list)  # attachments (crawler/simulator/files.py), linked after the text

    @property
    def body(self) -> str:
        """The text, as extraction should give it: a table one line per row, cells joined with " | " (the
        attachment links after it are listed with the article, not part of its text)."""
        return "\n".join([*self.paragraphs, *(" | ".join(row) for row in self.table or [])])

    def edited(self, paragraphs: list[str] | None = None, title: str | None = None) -> SimArticle:
        return replace(
            self,
            paragraphs=list(paragraphs) if paragraphs is not None else self.paragraphs,
            title=title or self.title,
            version=self.version + 1,
        )


def _seed_lines(prefix: str) -> list[str]:
    path = next(SEEDS_DIR.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8").split("\n")


def _body(prefix: str, first: int, last: int) -> list[str]:
    """Non-empty lines first..last (1-based, inclusive) of a seed, stripped."""
    lines = _seed_lines(prefix)[first - 1 : last]
    return [line.strip() for line in lines if line.strip()]


def seed_articles() -> dict[str, list[SimArticle]]:
    """The seed articles, by the portal that serves them."""
    credit_body = _body("000", 6, 32)
    credit = SimArticle(
        id=1001,
        title=_seed_lines("000")[1].strip(),
        paragraphs=credit_body,
        published=datetime(2023, 8, 31, 9, 30),
        headings={i for i, p in enumerate(credit_body) if len(p) <= 14},
        seed="000",
    )
    dz1 = SimArticle(
        id=17231001,
        title=_seed_lines("001")[2].strip(),
        paragraphs=_body("001", 10, 18),
        published=datetime(2023, 8, 24, 7, 49, 29),
        author="刘潇繁",
        source_name="大众网",
        seed="001",
    )
    dz2_body = _body("004", 5, 41)
    dz2 = SimArticle(
        id=17080004,
        title=_seed_lines("004")[2].strip(),
        paragraphs=dz2_body,
        published=datetime(2023, 1, 5, 0, 0),
        date_in_header=False,
        headings={i for i, p in enumerate(dz2_body) if len(p) <= 12},
        seed="004",
    )
    trad = SimArticle(
        id=5801002,
        title="棗莊高新區零碳智谷拔節生長",
        paragraphs=_body("002", 7, 13),
        published=datetime(2024, 12, 13, 14, 36, 12),
        author="孟令洋",
        source_name="大眾日報",
        traditional=True,
        doubled=True,
        seed="002",
    )
    qilu_title = _seed_lines("003")[0].strip().removesuffix("-新全讯2网")
    qilu = SimArticle(
        id=5345678,
        title=qilu_title,
        paragraphs=[p.lstrip("·") for p in _body("003", 9, 25)],
        published=datetime(2022, 12, 1, 7, 43, 12),
        author="李永文",
        source_name="齐鲁网",
        seed="003",
        spam="新全讯2网",  # the seed was scraped from a spam mirror of this page
    )
    return {"credit": [credit], "dzwww": [dz1, dz2], "iqilu": [trad, qilu]}


# -- generated articles --------------------------------------------------------------------

_PLACES = ["市中区", "薛城区", "峄城区", "台儿庄区", "山亭区", "滕州市", "枣庄高新区", "枣庄经济开发区"]
_TOPICS = [
    "营商环境", "社会信用体系建设", "锂电产业", "乡村振兴", "安全生产", "生态环境保护", "文明城市创建",
    "招商引资", "科技创新", "民生实事", "信用修复", "政务服务", "农业农村现代化", "消费帮扶",
    "市场主体培育", "知识产权保护", "诚信企业评选", "失信联合惩戒", "公共信用信息归集", "数字政府",
]
_EVENTS = [
    "召开{topic}工作推进会", "开展{topic}专项行动", "印发{topic}三年行动方案", "举办{topic}专题培训班",
    "通报{topic}典型案例", "部署{topic}重点任务", "启动{topic}示范创建", "发布{topic}白皮书",
    "召开{topic}新闻发布会", "推进{topic}提质增效",
]
_SENTENCES = [
    "今年以来，{place}坚持问题导向，围绕{topic}累计推出{n}项改革举措，{m}个事项实现“一次办好”。",
    "会议指出，要把{topic}摆在更加突出的位置，压紧压实各级责任，确保各项任务按期完成。",
    "据统计，截至{month}月底，{place}已归集各类信息{n}万条，数据质量合格率达到{pct}%。",
    "{place}相关负责人介绍，下一步将聚焦企业和群众关切，持续优化服务流程，提升办事效率。",
    "活动现场，{m}家企业代表签署承诺书，承诺依法诚信经营、自觉接受社会监督。",
    "在{place}政务服务中心，工作人员正在为前来办事的群众讲解{topic}相关政策。",
    "“以前办这个事要跑好几个部门，现在一个窗口就办完了。”一位企业负责人说。",
    "{place}建立健全工作台账，实行周调度、月通报，推动{topic}各项工作落地见效。",
    "通过线上线下相结合的方式，{place}共开展宣传活动{m}场次，发放宣传资料{n}余份。",
    "目前，{place}{topic}综合评价位居全市前列，{m}项经验做法被省级部门推广。",
    "会议要求，各部门要加强协调配合，形成工作合力，以钉钉子精神抓好{topic}落实。",
    "{place}将{topic}纳入年度综合考核，对工作不力的单位进行通报约谈。",
    "据了解，该项目总投资{n}亿元，建成后预计年产值可达{m}亿元，带动就业{k}余人。",
    "{place}依托大数据平台，实现{topic}信息实时共享、动态更新，为科学决策提供支撑。",
    "培训班邀请省内专家围绕{topic}政策解读、实务操作等内容进行了专题授课。",
    "下一步，{place}将继续深化{topic}，努力打造全省一流的发展环境。",
    "{month}月份以来，{place}共受理各类申请{n}件，办结率达{pct}%，群众满意度持续提升。",
    "与会人员实地观摩了{m}个重点项目，详细了解项目建设进度和运营情况。",
    "{place}在全市率先推行“承诺制+容缺办理”模式，平均办理时限压缩{pct}%。",
    "记者在现场看到，施工人员正抢抓有利天气加紧作业，现场一派繁忙景象。",
    "为确保工作取得实效，{place}成立了由主要负责同志任组长的工作专班。",
    "{place}还聘请了{m}名社会监督员，对{topic}落实情况开展常态化监督。",
    "此次发布的{m}个典型案例，涵盖市场监管、税务、交通运输等多个领域。",
    "专家认为，{topic}是推动高质量发展的重要抓手，对优化区域发展环境意义重大。",
    "{place}累计为{m}家守信企业发放“信易贷”{n}万元，有效缓解了融资难题。",
    "针对群众反映集中的问题，{place}逐一建立整改清单，明确责任单位和完成时限。",
    "本次活动共吸引{k}余名市民参与，进一步营造了全社会共同参与{topic}的良好氛围。",
    "{place}坚持“项目为王”，今年共实施重点项目{m}个，完成投资{n}亿元。",
]


def generated_article(portal: str, number: int, published: datetime) -> SimArticle:
    rng = random.Random(f"{portal}-{number}")
    place = rng.choice(_PLACES)
    topic = rng.choice(_TOPICS)
    title = f"{place}{rng.choice(_EVENTS).format(topic=topic)}（第{number}期）"

    templates = rng.sample(_SENTENCES, k=len(_SENTENCES))

    def sentence() -> str:
        return templates.pop().format(
            place=place, topic=topic, n=rng.randint(12, 9800), m=rng.randint(3, 96),
            k=rng.randint(100, 5000), pct=rng.randint(60, 99), month=rng.randint(1, 12),
        )

    lead = (
        f"{published.month}月{published.day}日，{place}{rng.choice(_EVENTS).format(topic=topic)}，"
        f"这是该地区今年第{number}次集中部署相关工作。"
    )
    paragraphs = [lead]
    for _ in range(rng.randint(3, 6)):
        paragraphs.append("".join(sentence() for _ in range(rng.randint(2, 4))))
    return SimArticle(
        id=0,
        title=title,
        paragraphs=paragraphs,
        published=published,
        author=rng.choice(["张晓明", "李华", "王芳", "刘洋", "陈静", "赵磊", "孙悦"]),
        source_name=rng.choice(["枣庄日报", "大众日报", "枣庄市发展和改革委员会", None]),
    )


NOTICE_EVERY = 4  # every fourth generated article of the credit portal is a notice


def notice_of(number: int, published: datetime) -> dict[str, str]:
    """The 信息公开 header of generated notice ``number``: written the day before it is published."""
    year = published.year
    return {
        "index_no": f"11370400MB28{number:06d}/{year}-{number:05d}",
        "issuer": "枣庄市发展和改革委员会",
        "doc_no": f"枣发改信用〔{year}〕{number}号",
        "written": (published - timedelta(days=1)).strftime("%Y-%m-%d"),
        "published": published.strftime("%Y-%m-%d"),
        "topic": "信用信息;公示公告",
        "validity": "有效",
    }


def table_of(number: int) -> list[list[str]]:
    """The list of names of generated notice ``number`` (红名单: enterprises with their credit codes)."""
    rng = random.Random(f"table-{number}")
    rows = [["序号", "企业名称", "统一社会信用代码", "认定部门"]]
    for i in range(1, rng.randint(3, 6) + 1):
        name = f"{rng.choice(_PLACES)}{rng.choice(['鑫源', '华泰', '恒信', '永安', '德润', '中兴'])}{rng.choice(['商贸', '建材', '机械', '食品'])}有限公司"
        code = "91370400" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(10))
        rows.append([str(i), name, code, "枣庄市发展和改革委员会"])
    return rows


def generated_articles(portal: str, count: int, start: datetime, first_id: int) -> list[SimArticle]:
    """``count`` articles, newest first, one every ~7 hours back from ``start``."""
    articles = []
    for n in range(count):
        when = start - timedelta(hours=7 * n, minutes=13 * n % 60)
        article = generated_article(portal, n + 1, when.replace(microsecond=0))
        article.id = first_id + n
        if portal == "credit" and (n + 1) % NOTICE_EVERY == 0:
            article.notice = notice_of(n + 1, article.published)
            article.table = table_of(n + 1)
            article.files = notice_files(n + 1, f"{article.published:%Y%m%d%H%M%S}")
        articles.append(article)
    return articles
