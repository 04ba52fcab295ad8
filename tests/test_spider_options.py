"""Per-source request settings and the other ways in: robots.txt, encoding override, demo, scrapy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from crawler.simulator import Fault, Simulator
from tests.conftest import ROOT, Cli, fold


def test_robots_txt_is_obeyed(sim: Simulator, cli: Cli) -> None:
    sim.set_fault("iqilu", "/robots.txt", Fault(body=b"User-agent: *\nDisallow: /zzyaowen/2026/\n"))
    cli("crawl", "sim-iqilu")  # refusals are recorded, not failures
    assert cli.query("SELECT DISTINCT kind FROM fetch_errors") == [("robots_disallowed",)]
    assert cli.query("SELECT status FROM crawl_runs") == [("ok",)]
    fetched = {r.path for r in sim.requests("iqilu")}
    assert not any(path.startswith("/zzyaowen/2026/") for path in fetched)
    stored = [row[0] for row in cli.query("SELECT url FROM articles")]
    assert stored and all("/zzyaowen/2026/" not in url for url in stored)  # the older seed articles only


def test_encoding_override_fixes_a_wrong_charset_header(sim: Simulator, cli: Cli) -> None:
    seed = next(a for a in sim.articles("credit") if a.seed == "000")
    path = urlsplit(sim.article_url("credit", seed)).path
    sim.set_fault("credit", path, Fault(charset="utf-8"))  # GBK bytes announced as UTF-8
    config = cli.config / "sources" / "sim-credit.yaml"
    config.write_text(config.read_text("utf-8").replace("  concurrency: 4\n", "  concurrency: 4\n  encoding: gbk\n"), "utf-8")
    cli("crawl", "sim-credit")
    body, encoding = cli.query("SELECT body, encoding FROM articles WHERE url = ?", (sim.article_url("credit", seed),))[0]
    assert body == fold(seed.body) and encoding == "gbk"


def test_demo_one_liner(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "demo", "--articles", "6", "--port-base", "0", "--db", str(tmp_path / "demo.db")],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=180, check=True,
    )
    assert result.stdout.count(": ok — ") == 3
    listing = subprocess.run(
        [sys.executable, "-m", "crawler", "--db", str(tmp_path / "demo.db"), "items", "list"],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=60, check=True,
    )
    assert len(listing.stdout.strip().splitlines()) == 18
    assert "棗莊高新區零碳智谷拔節生長" in listing.stdout


def test_scrapy_command_runs_the_listing_spider(sim: Simulator, cli: Cli, tmp_path: Path) -> None:
    env = {**os.environ, **sim.env(), "CRAWLER_CONFIG": str(cli.config), "CRAWLER_DB": str(cli.db)}
    scrapy = Path(sys.executable).parent / "scrapy"
    listed = subprocess.run([str(scrapy), "list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert listed.stdout.split() == ["crawler-worker", "listing"]  # the worker needs `crawler worker`'s settings
    subprocess.run([str(scrapy), "crawl", "listing", "-a", "source=sim-dzwww"], cwd=ROOT, env=env,
                   capture_output=True, text=True, timeout=120, check=True)
    assert cli.query("SELECT COUNT(*) FROM articles WHERE source = 'sim-dzwww'") == [(12,)]
