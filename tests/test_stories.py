"""Stories and their best copy, against the simulator: a spam mirror reposts official articles before
the official portal is crawled; alerts follow the story, once per subscription, from the copy each
subscription matches first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ROOT, Cli

MIRROR = """\
name: sim-mirror
title: 转载站（模拟）
role: aggregator
start_urls:
  - ${SIM_IQILU_URL}/mirror/
links:
  css: "ul.list-news li"
  allow: ['/mirror/\\d+\\.shtml$']
schedule:
  every: 20m
request:
  delay: 0s
  allow_private_targets: true
"""

ALERTS = """\
channels:
  hook:
    webhook:
      url: http://127.0.0.1:9/unused
      secret: test-secret
      allow_private_targets: true
subscriptions:
  - name: everything
    sources: ["*"]
    channels: [hook]
  - name: portal-only
    sources: [sim-credit]
    channels: [hook]
"""


def test_mirror_first_then_the_portal_alerts_once_per_story_from_the_portals_copy(sim, tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "sources").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "simulator" / "sources" / "sim-credit.yaml", config / "sources")
    (config / "sources" / "sim-mirror.yaml").write_text(MIRROR, encoding="utf-8")
    (config / "alerts.yaml").write_text(ALERTS, encoding="utf-8")
    cli = Cli(config, tmp_path / "crawler.db", sim.env())

    official = sim.articles("credit")
    reposted = official[:3]
    mirror = [sim.repost("credit", a.id) for a in reposted]  # Traditional, the spam phrase in title and text
    footer_only = sim.repost("dzwww", sim.articles("dzwww")[0].id, spam="新葡京娱乐", where="footer")

    cli("crawl", "sim-mirror")
    rows = cli.query("SELECT id, title, flags FROM articles WHERE source = 'sim-mirror'")
    flagged = {title for _, title, flags in rows if "spam_injection" in json.loads(flags)}
    assert len(rows) == 4 and len(flagged) == 3
    clean = [title for _, title, flags in rows if not json.loads(flags)]
    assert clean and "新葡京" not in clean[0]  # the footer-only repost: not flagged ...
    status = cli("status").stdout
    assert "spam_chrome" in status and "新葡京娱乐" in status  # ... its source's health shows the phrase
    errors = cli("runs", "--errors", "--source", "sim-mirror").stdout
    assert "spam_chrome" in errors and footer_only.title[:4] not in flagged

    cli("crawl", "sim-credit")
    outbox = cli.query("SELECT subscription, article_id, event, key FROM outbox WHERE subscription != 'ops'")
    source_of = dict(cli.query("SELECT id, source FROM articles"))
    url_of = dict(cli.query("SELECT id, url FROM articles"))
    for name in ("everything", "portal-only"):
        mine = [(article_id, event) for sub, article_id, event, _ in outbox if sub == name]
        portal = [article_id for article_id, _ in mine if source_of[article_id] == "sim-credit"]
        assert len(portal) == len(set(portal)) == len(official), name  # every official article once ...
        assert {url_of[a] for a in portal} == {sim.article_url("credit", a) for a in official}
        assert all(event == "new" for _, event in mine)
    everything = [a for sub, a, _, _ in outbox if sub == "everything" and source_of[a] == "sim-mirror"]
    assert len(everything) == 1  # ... and no flagged mirror copy ever; the clean footer-only repost did
    assert not [a for sub, a, _, _ in outbox if sub == "portal-only" and source_of[a] == "sim-mirror"]

    # The portal's copies now represent their stories: listings show them, the mirror copies point at them.
    for article, copy in zip(reposted, mirror):
        (portal_id, dup_of), = cli.query("SELECT id, duplicate_of FROM articles WHERE url = ?",
                                         (sim.article_url("credit", article),))
        (mirror_dup_of,), = cli.query("SELECT duplicate_of FROM articles WHERE url = ?",
                                      (sim.mirror_url() + f"{copy.id}.shtml",))
        assert dup_of is None and mirror_dup_of == portal_id
    listed = cli("items", "list", "--source", "sim-credit", "--limit", "50").stdout
    assert sum("dup of" in line for line in listed.splitlines()) == 0
    decisions = cli("decisions", "--limit", "100").stdout
    changes = [line for line in decisions.splitlines() if " representative " in line]
    assert len(changes) == 3 and all("flagged spam_injection" in line for line in changes)

    # Crawling both again changes nothing and alerts nobody.
    before = len(outbox)
    cli("crawl")
    assert len(cli.query("SELECT 1 FROM outbox WHERE subscription != 'ops'")) == before
