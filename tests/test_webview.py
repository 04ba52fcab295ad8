"""The web view (`crawler serve`, Datasette) and the Atom feeds, over a crawled simulator.

The browser test drives Debian's Chromium (installed by `make test`) with Playwright;
its screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from storage import Store
from tests.alert_servers import free_port
from tests.conftest import ROOT

CHROMIUM = os.environ.get("CRAWLER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

ALERTS = """
channels:
  log: {url: 'json://127.0.0.1:9/', allow_private_targets: true}
subscriptions:
  - name: credit-news
    sources: ["*"]
    keywords: {any: [信用]}
    channels: [log]
"""


@pytest.fixture(scope="module")
def server(crawled) -> Iterator[str]:
    (crawled.config / "alerts.yaml").write_text(ALERTS, encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(crawled.config), "--db", str(crawled.db), "serve", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"crawler serve did not start:\n{proc.stdout.read()}") from None
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(10)


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode("utf-8")


def _db(crawled) -> str:
    return Path(crawled.db).stem


def _a_word(crawled) -> tuple[str, int, str]:
    """A four-character word from the middle of a stored article, with the article's id and body."""
    article_id, body = crawled.query("SELECT id, body FROM articles WHERE duplicate_of IS NULL ORDER BY id LIMIT 1")[0]
    run = next(r for r in re.findall(r"[\u4e00-\u9fff]{10,}", body))
    return run[4:8], article_id, body


def test_search_page_finds_chinese_words_in_either_script(crawled, server) -> None:
    import opencc

    word, article_id, _ = _a_word(crawled)
    for query in (word, opencc.OpenCC("s2t").convert(word)):
        status, _, page = _get(f"{server}/{_db(crawled)}/search?q={urllib.parse.quote(query)}")
        assert status == 200
        assert f"/{_db(crawled)}/articles/{article_id}" in page, query
    # The table's own search box goes through the same segmentation.
    status, _, page = _get(f"{server}/{_db(crawled)}/articles?_search={urllib.parse.quote(word)}")
    assert status == 200 and re.search(r"\b[1-9]\d* rows? where search matches", page)


def test_article_page_shows_paragraphs(crawled, server) -> None:
    _, article_id, body = _a_word(crawled)
    status, _, page = _get(f"{server}/{_db(crawled)}/articles/{article_id}")
    assert status == 200
    paragraphs = [line for line in body.split("\n") if line.strip()]
    assert len(paragraphs) > 1
    article = page.split('<article class="crawler-article">', 1)[1].split("</article>", 1)[0]
    assert re.findall(r"<p>(.*?)</p>", article.split('<div class="article-body">', 1)[1]) == [
        html.escape(line.strip(), quote=True).replace("&#x27;", "&#39;") for line in paragraphs
    ]


def test_page_text_is_escaped(crawled, server, tmp_path) -> None:
    """A title carrying markup is shown as text on the web view and in feeds."""
    with Store(crawled.db) as store, store.write() as db:
        article_id = db.execute("SELECT MAX(id) FROM articles").fetchone()[0]
        old = db.execute("SELECT title FROM articles WHERE id = ?", [article_id]).fetchone()[0]
        db.execute("UPDATE articles SET title = ? WHERE id = ?", ["<script>alert(1)</script>标题", article_id])
    try:
        _, _, page = _get(f"{server}/{_db(crawled)}/articles/{article_id}")
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;标题" in page
        _, _, page = _get(f"{server}/{_db(crawled)}/latest")
        assert "<script>alert(1)</script>" not in page
    finally:
        with Store(crawled.db) as store, store.write() as db:
            db.execute("UPDATE articles SET title = ? WHERE id = ?", [old, article_id])


def test_web_view_never_blocks_the_writer(crawled, server) -> None:
    """Pages are read while a writer commits: WAL and a read-only connection, so no wait."""
    word, _, _ = _a_word(crawled)
    with Store(crawled.db) as store:
        for _ in range(5):
            _get(f"{server}/{_db(crawled)}/search?q={urllib.parse.quote(word)}")
            started = time.monotonic()
            with store.write() as db:
                db.execute("UPDATE sources SET last_crawl_at = last_crawl_at")
            assert time.monotonic() - started < 1.0


def test_source_and_subscription_feeds_are_valid_atom(crawled, server) -> None:
    sources = [name for (name,) in crawled.query("SELECT name FROM sources")]
    for name in [*sources, "credit-news"]:
        status, content_type, text = _get(f"{server}/feeds/{name}.atom")
        assert status == 200 and content_type.startswith("application/atom+xml")
        feed = feedparser.parse(text)
        assert not feed.bozo, feed.bozo_exception
        assert feed.version == "atom10" and feed.feed.title and feed.entries
        for entry in feed.entries:
            assert entry.id and entry.title and entry.link and entry.updated
    # The subscription's feed holds exactly the unflagged originals that mention its keyword.
    feed = feedparser.parse(_get(f"{server}/feeds/credit-news.atom")[2])
    rows = crawled.query("SELECT url, title, body, flags FROM articles WHERE duplicate_of IS NULL")
    expected = {url for url, title, body, flags in rows if "信用" in title + body and flags == "[]"}
    assert any(flags != "[]" and "信用" in title + body for _, title, body, flags in rows)  # the spam mirror is left out
    assert 0 < len(expected) <= 50
    assert {e.link for e in feed.entries} == expected
    status, _, text = _get(f"{server}/feeds/nope.atom")
    assert status == 404 and "nope" in text


def test_feed_command_writes_the_same_feed(crawled) -> None:
    name = crawled.query("SELECT name FROM sources ORDER BY name LIMIT 1")[0][0]
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(crawled.config), "--db", str(crawled.db), "feed", name],
        capture_output=True, cwd=ROOT, timeout=60, check=True,
    )
    feed = feedparser.parse(result.stdout)
    count = crawled.query("SELECT COUNT(*) FROM articles WHERE source = ?", (name,))[0][0]
    assert not feed.bozo and len(feed.entries) == min(count, 50)
    titles = {t for (t,) in crawled.query("SELECT title FROM articles WHERE source = ?", (name,))}
    assert {e.title for e in feed.entries} <= titles
    missing = crawled("feed", "nope", check=False)
    assert missing.returncode == 1 and "no source or subscription named 'nope'" in missing.stderr


@pytest.mark.skipif(os.environ.get("CRAWLER_SKIP_BROWSER") == "1", reason="CRAWLER_SKIP_BROWSER=1")
def test_browser_searches_and_reads_an_article(crawled, server) -> None:
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"{CHROMIUM} missing: `make test` installs Debian's chromium"
    word, article_id, body = _a_word(crawled)
    first_paragraph = body.split("\n")[0].strip()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{server}/{_db(crawled)}/articles")
            page.fill("input[name=_search]", word)
            page.press("input[name=_search]", "Enter")
            page.wait_for_url(re.compile(r"_search="))
            assert page.locator(f"a[href$='/articles/{article_id}']").count() >= 1
            page.locator(f"a[href$='/articles/{article_id}']").first.click()
            page.wait_for_url(re.compile(rf"/articles/{article_id}$"))
            text = page.locator(".article-body").first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "webview-article.png"), full_page=True)
        finally:
            browser.close()
    assert first_paragraph in text and word in text
