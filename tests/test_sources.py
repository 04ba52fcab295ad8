"""Source configs: the shipped ones are valid, broken ones say FILE: field: message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.errors import ConfigError
from crawler.sources import Source, load_source_file, load_sources
from tests.conftest import ROOT


def _check(config: Path, *files: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "sources", "check", *files],
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, env={**os.environ, **(env or {})}, timeout=60,
    )


def test_shipped_portal_configs_are_valid() -> None:
    loaded, problems = load_sources(ROOT / "config")
    assert problems == []
    assert {s.source.name for s in loaded} == {"xinyong-zaozhuang", "dzwww-zaozhuang", "iqilu-zaozhuang"}


def test_shipped_simulator_configs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIM_CREDIT_URL", "SIM_DZWWW_URL", "SIM_IQILU_URL"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    loaded, problems = load_sources(ROOT / "config" / "simulator")
    assert problems == [] and len(loaded) == 3


BROKEN = """\
title: 坏的配置
start_urls: [ftp://example.com/list]
linkz: {css: a}
links:
  css: "a["
  alow: ['x']
  deny: ['(unclosed']
pagination:
  pattern: index.html
schedule:
  cron: "61 * * * *"
request:
  encoding: gbkk
  delay: soon
  user_agent: ${NO_SUCH_VARIABLE_HERE}
"""


def test_broken_source_gives_file_field_message_lines(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    broken = sources / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    (sources / "a-first.yaml").write_text("name: twin\ntitle: A\nstart_urls: [http://a.example/]\n", encoding="utf-8")
    twin = sources / "b-twin.yaml"
    twin.write_text("name: twin\ntitle: B\nstart_urls: [http://b.example/]\n", encoding="utf-8")
    result = _check(tmp_path)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert f"{twin}: name: 'twin' is already used by {sources / 'a-first.yaml'}" in lines
    lines = [line for line in lines if not line.startswith(str(twin)) and "a-first.yaml: ok" not in line and "a-first" not in line]
    assert all(line.startswith(f"{broken}: ") for line in lines), lines
    fields = {line.split(": ")[1] for line in lines}
    assert {
        "start_urls", "linkz", "links.css", "links.alow", "schedule.cron", "request.encoding",
        "request.delay", "request.user_agent", "links.deny.0",
    } <= fields
    text = result.stdout
    assert "did you mean 'links'" in text and "did you mean 'allow'" in text
    assert "environment variable NO_SUCH_VARIABLE_HERE is not set" in text
    assert "'ftp://example.com/list' is not an http(s) URL" in text
    assert "invalid regular expression '(unclosed'" in text


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("title: x\nstart_urls: [http://a.example/\n  - oops\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_source_file(path)
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.field.startswith("line ")
    assert "YAML syntax error" in problem.message


def test_a_broken_file_does_not_hide_the_good_ones(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "good.yaml").write_text("title: 好\nstart_urls: [http://a.example/]\n", encoding="utf-8")
    (sources / "bad.yaml").write_text("title: 坏\n", encoding="utf-8")
    (sources / "zz-dup.yaml").write_text("name: good\ntitle: 重复\nstart_urls: [http://b.example/]\n", encoding="utf-8")
    loaded, problems = load_sources(tmp_path)
    assert [(s.source.name, s.source.title) for s in loaded] == [("good", "好")]
    assert [str(p) for p in problems] == [
        f"{sources / 'bad.yaml'}: start_urls: required key is missing",
        f"{sources / 'zz-dup.yaml'}: name: 'good' is already used by {sources / 'good.yaml'}",
    ]


def test_defaults_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("title: X\nstart_urls: [https://a.example/]\nrequest: {delay: 1500ms, timeout: 1m}\n", encoding="utf-8")
    source = load_source_file(path).source
    assert source.name == "x"  # from the file name
    assert source.request.delay.total_seconds() == 1.5 and source.request.timeout.total_seconds() == 60
    assert source.schedule.every.total_seconds() == 1800 and source.links.automatic


def _model_keys(model: type, prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(prefix + name)
        annotation = info.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                keys |= _model_keys(candidate, f"{prefix}{name}.")
    return keys


def test_docs_cover_every_key() -> None:
    docs = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", docs, flags=re.M))
    assert _model_keys(Source) == documented
