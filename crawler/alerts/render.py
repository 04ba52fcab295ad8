"""Messages from templates (Jinja2). Operators override any template by putting a file of
the same name in the folder named by ``templates:`` in alerts.yaml.

Templates: ``email_subject.txt.j2``, ``email_body.txt.j2``, ``email_body.html.j2`` (autoescaped:
everything taken from the page is HTML-escaped), ``chat.md.j2`` (Markdown for chat bots), and
``ops_subject.txt.j2`` / ``ops_body.txt.j2`` for the operators' source-health alerts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

from crawler.notice import Notice

EXCERPT_CHARS = 160
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~<])")


def _markdown_escape(text: Any) -> str:
    """Escape Markdown and neutralise @mentions (a title with '@all' must not page a whole group)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("@", "@\u200b")


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    chat: str


def environment(override_dir: Path | None = None) -> Environment:
    loaders = [FileSystemLoader(str(override_dir))] if override_dir else []
    env = Environment(
        loader=ChoiceLoader([*loaders, PackageLoader("crawler.alerts", "templates")]),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _markdown_escape
    return env


def article_view(row: dict[str, Any]) -> dict[str, Any]:
    body = row.get("body") or ""
    notice = row.get("notice")
    if isinstance(notice, str):
        notice = json.loads(notice)
    first = body.replace("\n", " ")
    files = row.get("attachments")
    if isinstance(files, str):
        files = json.loads(files)
    return {
        "id": row["article_id"],
        "event": row["event"],
        "version": row["version"],
        "title": row["title"],
        "url": row["url"],
        "source": row["source"],
        "source_title": row.get("source_title") or row["source"],
        "source_name": row.get("source_name"),
        "author": row.get("author"),
        "published_at": row.get("published_at"),
        "date": (row.get("published_at") or "")[:16].replace("T", " "),
        "excerpt": first[:EXCERPT_CHARS] + ("…" if len(first) > EXCERPT_CHARS else ""),
        "diff": row.get("diff"),
        "notice": notice,  # the 信息公开 header of a government notice (crawler/notice.py), or None
        "written_at": row.get("written_at"),
        "notice_line": "  ".join(Notice.from_dict(notice).lines()) if notice else "",
        # the files it attaches (crawler/attachments.py): name, url, kind, status, size
        "attachments": [{k: f.get(k) for k in ("name", "url", "kind", "status", "size")} for f in files or []],
    }


def render(env: Environment, rows: list[dict[str, Any]], subscription: str) -> Message:
    articles = [article_view(r) for r in rows]
    context = {"articles": articles, "article": articles[0], "count": len(articles), "subscription": subscription}
    subject = " ".join(env.get_template("email_subject.txt.j2").render(context).split())
    return Message(
        subject=subject,
        text=env.get_template("email_body.txt.j2").render(context),
        html=env.get_template("email_body.html.j2").render(context),
        chat=env.get_template("chat.md.j2").render(context),
    )


def render_ops(env: Environment, ops: dict[str, Any]) -> Message:
    """A source-health alert for the operators (templates ops_subject.txt.j2, ops_body.txt.j2)."""
    subject = " ".join(env.get_template("ops_subject.txt.j2").render(ops=ops).split())
    text = env.get_template("ops_body.txt.j2").render(ops=ops)
    html = "<pre>" + escape(text) + "</pre>"
    return Message(subject=subject, text=text, html=html, chat=f"**{_markdown_escape(subject)}**\n\n{_markdown_escape(text)}")
