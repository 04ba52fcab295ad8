"""Shared fixtures: a running portal simulator and a way to run the real CLI against it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(articles_per_portal=12, page_size=5) as simulator:
        yield simulator


@pytest.fixture
def sim_config(tmp_path: Path) -> Path:
    """A config folder holding the shipped simulator sources."""
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config" / "simulator", target)
    return target


class Cli:
    def __init__(self, config: Path, db: Path, env: dict[str, str]):
        self.config, self.db, self.env = config, db, env

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env, "PYTHONIOENCODING": "utf-8"}
        result = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(self.config), "--db", str(self.db), *args],
            capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=240,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"crawler {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def cli(sim: Simulator, sim_config: Path, tmp_path: Path) -> Cli:
    return Cli(sim_config, tmp_path / "crawler.db", sim.env())


def fold(text: str) -> str:
    """Whitespace folded per line: extraction collapses runs of spaces inside a line."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The simulator crawled once into a database, for tests that only read it (one per module)."""
    base = tmp_path_factory.mktemp("crawled")
    config = base / "config"
    shutil.copytree(ROOT / "config" / "simulator", config)
    with Simulator(articles_per_portal=12, page_size=5) as simulator:
        runner = Cli(config, base / "crawler.db", simulator.env())
        runner("crawl")
        runner.sim = simulator  # type: ignore[attr-defined]
        yield runner
