"""Build tests/data/neardup_pairs.jsonl: labelled pairs for the near-duplicate rule.

    .venv/bin/python tests/data/make_neardup_set.py

Bases: the five seed articles and 60 generated ones (crawler.simulator.content).
Positives (same article): a repost with other boilerplate lines, a Traditional copy,
one paragraph added, one paragraph removed, one sentence edited, a Traditional copy
with a paragraph removed. Negatives (different articles): seeds 003/004 (they share
whole sentences), generated articles of the same place and topic (same templates,
other facts: the 40 most overlapping pairs), and random distinct pairs.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import opencc

from crawler.dedupe import shingle_set
from crawler.simulator.content import generated_article, seed_articles

OUT = Path(__file__).with_name("neardup_pairs.jsonl")
BOILERPLATE_HEAD = ["来源：枣庄日报", "编辑：王晓东", "（记者 李明 通讯员 张华）", "原标题：{title}", "本报讯"]
BOILERPLATE_TAIL = ["（本文来源：大众日报）", "责任编辑：刘洋", "【打印】【关闭】", "更多精彩内容请关注官方微信"]


def bases() -> list[dict]:
    out = []
    for portal, articles in seed_articles().items():
        for a in articles:
            body = a.body if not a.traditional else opencc.OpenCC("t2s").convert(a.body)
            out.append({"id": f"seed-{a.seed}", "title": a.title, "paragraphs": body.split("\n"), "key": f"seed-{a.seed}"})
    start = datetime(2026, 10, 1, 9, 0)
    for portal in ("credit", "dzwww", "iqilu"):
        for n in range(1, 21):
            a = generated_article(portal, n, start - timedelta(hours=9 * n))
            out.append({"id": f"gen-{portal}-{n}", "title": a.title, "paragraphs": a.paragraphs,
                        "key": a.title.split("（")[0]})
    return out


def variants(base: dict, rng: random.Random, donor: dict) -> list[tuple[str, list[str]]]:
    p = list(base["paragraphs"])
    s2t = opencc.OpenCC("s2t")
    out = []
    head = rng.choice(BOILERPLATE_HEAD).format(title=base["title"])
    out.append(("repost_boilerplate", [head, *p, rng.choice(BOILERPLATE_TAIL)]))
    out.append(("traditional", [s2t.convert(x) for x in p]))
    extra = max(donor["paragraphs"], key=len)
    at = rng.randrange(len(p) + 1)
    out.append(("paragraph_added", p[:at] + [extra] + p[at:]))
    if len(p) >= 4:
        drop = rng.randrange(len(p))
        out.append(("paragraph_removed", p[:drop] + p[drop + 1 :]))
        out.append(("traditional_paragraph_removed", [s2t.convert(x) for i, x in enumerate(p) if i != drop]))
    longest = max(range(len(p)), key=lambda i: len(p[i]))
    edited = list(p)
    sentence_end = edited[longest].find("。") + 1 or len(edited[longest]) // 2
    edited[longest] = "据最新统计，相关数据已更新。" + edited[longest][sentence_end:]
    out.append(("sentence_edited", edited))
    return out


def main() -> None:
    rng = random.Random(20261123)
    items = bases()
    pairs = []
    for base in items:
        donor = rng.choice([b for b in items if b["id"] != base["id"]])
        for kind, paragraphs in variants(base, rng, donor):
            pairs.append({"a": base, "b": {"title": base["title"], "paragraphs": paragraphs}, "kind": kind, "same": True})
    seeds = {b["id"]: b for b in items if b["id"].startswith("seed")}
    pairs.append({"a": seeds["seed-003"], "b": seeds["seed-004"], "kind": "shared_sentences", "same": False})
    generated = [b for b in items if b["id"].startswith("gen")]
    # The hardest negatives: distinct generated articles built from the same sentence templates,
    # the 40 pairs with the highest containment.
    sets = {b["id"]: shingle_set("\n".join(b["paragraphs"])) for b in generated}
    scored = []
    for i, a in enumerate(generated):
        for b in generated[i + 1 :]:
            sa, sb = sets[a["id"]], sets[b["id"]]
            scored.append((len(sa & sb) / min(len(sa), len(sb)), a["id"], b["id"]))
    by_id = {b["id"]: b for b in generated}
    for _, a_id, b_id in sorted(scored, reverse=True)[:40]:
        pairs.append({"a": by_id[a_id], "b": by_id[b_id], "kind": "same_template", "same": False})
    for _ in range(250):
        a, b = rng.sample(items, 2)
        pairs.append({"a": a, "b": b, "kind": "distinct", "same": False})
    with OUT.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            row = {
                "kind": pair["kind"], "same": pair["same"],
                "a_id": pair["a"]["id"], "a_title": pair["a"]["title"], "a_body": "\n".join(pair["a"]["paragraphs"]),
                "b_title": pair["b"]["title"], "b_body": "\n".join(pair["b"]["paragraphs"]),
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(pairs)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
