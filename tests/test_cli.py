"""Every command explains itself; bad invocations say what is wrong."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from crawler.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p) or "crawler")
def test_help_on_every_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command = cli
    for name in path:
        command = command.commands[name]
    first_line = command.help.split("\n")[0]
    assert " ".join(first_line.split()) in " ".join(result.output.split())


def test_unknown_source_is_named(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--config", "config", "--db", str(tmp_path / "x.db"), "crawl", "nope"])
    assert result.exit_code == 1
    assert "unknown source(s): nope" in result.output and "iqilu-zaozhuang" in result.output


def test_items_without_database_says_so(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "items", "list"])
    assert result.exit_code == 1 and "does not exist" in result.output
