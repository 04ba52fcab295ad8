"""`crawler sources try` and `crawler sources new` against the simulator: nothing stored, mistakes named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from crawler.simulator import Simulator

PORTALS = {"credit": "sim-credit", "dzwww": "sim-dzwww", "iqilu": "sim-iqilu"}


def _try(cli, *args: str) -> tuple[int, dict]:
    result = cli("sources", "try", *args, "--json", check=False)
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("portal", list(PORTALS))
def test_try_shows_links_pagination_and_fields(sim: Simulator, cli, portal: str) -> None:
    code, trial = _try(cli, PORTALS[portal], "--pages", "2", "--articles", "3")
    assert code == 0, trial["problems"]
    newest = sim.articles(portal)
    per_page = 10 if portal == "credit" else 5  # a Hanweb column page holds a jpage group: 2 pages of 5
    first, second = trial["pages"]
    assert first["url"] == sim.list_url(portal, 1) and second["url"] == sim.list_url(portal, 2)
    assert first["next_url"] == sim.list_url(portal, 2)
    assert first["links"] == [sim.article_url(portal, a) for a in newest[:per_page]]
    # sim-dzwww selects by links.allow only (as the shipped file must): its side column's three
    # newest headlines count too, after the page's own list.
    hot = newest[:3] if portal == "dzwww" else []
    assert second["links"] == [sim.article_url(portal, a) for a in newest[per_page : 2 * per_page] + hot]
    for tried, article in zip(trial["articles"], newest[:3], strict=True):
        assert tried["url"] == sim.article_url(portal, article)
        assert tried["title"] == article.title
        assert tried["published_at"][:10] == article.published.date().isoformat()
        assert tried["first_lines"] and tried["first_lines"][0].strip() == article.paragraphs[0].strip()
    assert not cli.db.exists()  # nothing stored, not even an empty database


def test_try_names_the_selector_that_matches_nothing(sim: Simulator, cli, tmp_path: Path) -> None:
    source = yaml.safe_load((cli.config / "sources" / "sim-dzwww.yaml").read_text(encoding="utf-8"))
    source["links"]["css"] = "div.no-such-list"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(source, allow_unicode=True), encoding="utf-8")
    code, trial = _try(cli, str(broken), "--pages", "1")
    assert code == 1
    assert any("links.css 'div.no-such-list' matched nothing" in p for p in trial["problems"]), trial["problems"]
    text = cli("sources", "try", str(broken), "--pages", "1", check=False).stdout
    assert "problem: " in text and "matched nothing" in text


def test_try_reports_links_all_filtered_and_bad_pagination(sim: Simulator, cli, tmp_path: Path) -> None:
    source = yaml.safe_load((cli.config / "sources" / "sim-iqilu.yaml").read_text(encoding="utf-8"))
    source["links"]["allow"] = [r"/nowhere/\d+"]
    source["pagination"]["next_css"] = "a.no-next"
    path = tmp_path / "filtered.yaml"
    path.write_text(yaml.safe_dump(source, allow_unicode=True), encoding="utf-8")
    code, trial = _try(cli, str(path), "--pages", "1")
    assert code == 1
    assert any("every link was filtered out" in p for p in trial["problems"])
    assert any("pagination.next_css 'a.no-next' matched no link" in p for p in trial["problems"])


def test_try_reports_an_unreachable_portal(cli, tmp_path: Path) -> None:
    path = tmp_path / "down.yaml"
    path.write_text("name: down\ntitle: Down\nstart_urls: ['http://127.0.0.1:9/list.html']\nrequest: {allow_private_targets: true}\n", encoding="utf-8")
    code, trial = _try(cli, str(path))
    assert code == 1 and "cannot connect" in trial["problems"][0] and "127.0.0.1:9/list.html" in trial["problems"][0]


def test_try_on_a_broken_file_says_file_field_message(cli, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\ntitle: T\nstart_urls: ['http://127.0.0.1:9/']\nlinkz: {}\n", encoding="utf-8")
    result = cli("sources", "try", str(path), check=False)
    assert result.returncode == 2 and f"{path}: linkz:" in result.stderr


@pytest.mark.parametrize("portal", list(PORTALS))
def test_new_writes_a_config_that_finds_the_same_articles(sim: Simulator, cli, portal: str, tmp_path: Path) -> None:
    target = tmp_path / f"{portal}.yaml"
    refused = cli("sources", "new", sim.list_url(portal, 1), "-o", str(target), check=False)
    assert refused.returncode == 1 and "--allow-private" in refused.stderr and not target.exists()
    cli("sources", "new", sim.list_url(portal, 1), "--name", f"new-{portal}", "-o", str(target), "--allow-private")
    cli("sources", "check", str(target))
    text = target.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    # Each portal's own pager is followed without a pattern: the starter file says so instead.
    pager = {"credit": "Hanweb jpage", "dzwww": "TRS createPageHTML", "iqilu": "iqilu list_<catid>_<n>"}[portal]
    assert f"automatic: the page's own {pager}" in text, text
    assert set(config["pagination"]) == {"max_pages"}
    if portal == "credit":  # the links are in the column page's datastore, found without a selector
        assert "css" not in (config["links"] or {}) and "<datastore>" in text
    else:
        assert config["links"].get("css"), text
    code, trial = _try(cli, str(target), "--pages", "2", "--articles", "1")
    assert code == 0, trial["problems"]
    newest = sim.articles(portal)
    assert [link for page in trial["pages"] for link in page["links"]] == [
        sim.article_url(portal, a) for a in newest[: 12 if portal == "credit" else 10]]
    again = cli("sources", "new", sim.list_url(portal, 1), "-o", str(target), "--allow-private", check=False)
    assert again.returncode == 1 and "exists" in again.stderr


def test_one_off_fetches_keep_the_network_boundaries(sim: Simulator, cli, tmp_path: Path) -> None:
    """`sources try` refuses a redirect to another private address; `extract URL` needs --allow-private."""
    from urllib.parse import urlsplit

    from crawler.simulator import Fault

    source = yaml.safe_load((cli.config / "sources" / "sim-dzwww.yaml").read_text(encoding="utf-8"))
    source["request"]["allow_private_targets"] = [f"127.0.0.1:{urlsplit(sim.base_url('dzwww')).port}"]
    path = tmp_path / "pinned.yaml"
    path.write_text(yaml.safe_dump(source, allow_unicode=True), encoding="utf-8")
    sim.set_fault("dzwww", urlsplit(sim.list_url("dzwww", 1)).path, Fault(status=302, headers={"Location": sim.list_url("credit", 1)}))
    code, trial = _try(cli, str(path), "--pages", "1", "--articles", "0")
    assert code == 1 and "refused" in trial["problems"][0] and "points at 127.0.0.1" in trial["problems"][0]
    assert sim.requests("credit") == []  # the redirect target was never contacted

    article = sim.article_url("iqilu", sim.articles("iqilu")[0])
    refused = cli("extract", article, check=False)
    assert refused.returncode == 1 and "--allow-private" in refused.stderr and sim.requests("iqilu") == []
    extracted = cli("extract", article, "--allow-private", "--json")
    assert json.loads(extracted.stdout)["title"] == sim.articles("iqilu")[0].title


def test_try_diagnoses_a_list_that_only_a_browser_can_draw(sim: Simulator, cli, tmp_path: Path) -> None:
    """A column page filled by XHR: one line says why there are no links and what the operator can do."""
    from crawler.simulator.pages import SCRIPT_COLUMN

    path = tmp_path / "scripted.yaml"
    path.write_text(
        f"name: scripted\ntitle: 信用公示\nstart_urls: ['{sim.base_url('credit')}{SCRIPT_COLUMN}']\n"
        "request: {allow_private_targets: true}\n", encoding="utf-8")
    result = cli("sources", "try", str(path), "--pages", "1", check=False)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("problem: ")]
    assert "loaded by a script (XHR/fetch)" in line and "links.allow" in line and "API" in line, line
