"""Every command and subcommand explains itself; `--version` names the installed version."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import click
import pytest

from constancia.cli import cli


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


PATHS = list(_command_paths(cli))


def test_the_walk_finds_every_documented_command():
    assert {" ".join(p) for p in PATHS} >= {
        "", "identity", "identity create", "identity show", "init", "ingest", "show", "log",
        "verify",
    }  # fmt: skip


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "constancia")
def test_help_exits_0_with_usage_and_a_summary(run, path):
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: constancia {' '.join(path)}".rstrip())
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.get_short_help_str().strip()
    assert result.stderr == ""


def test_version_of_the_real_command():
    result = subprocess.run(
        [sys.executable, "-m", "constancia", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"constancia, version {version('constancia')}"
