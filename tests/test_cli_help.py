"""The command's own manners: a version, help text for every command and option (no hidden
`==SUPPRESS==` line), and a pipe closed early (`kpi catalog | head`) ends quietly."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib.metadata import version

import pytest

from kpi_pipeline.cli.main import _parser, main

KPI = [sys.executable, "-m", "kpi_pipeline.cli"]


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"kpi {version('kpi-pipeline')}"


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_and_option_has_help_and_nothing_shows_suppress(capsys):
    parser = _parser()
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "==SUPPRESS==" not in top
    commands = _commands(parser)
    assert set(commands) == {
        "demo",
        "sync",
        "report",
        "review",
        "check",
        "catalog",
        "doctor",
        "init-instance",
    }
    for name, command in commands.items():
        assert name in top
        text = command.format_help()
        assert "==SUPPRESS==" not in text, name
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (
                f"kpi {name} {action.option_strings}: no help"
            )


def test_a_pipe_closed_early_ends_quietly(tmp_path):
    """`kpi catalog | head`: the reader is gone before the catalog is written (a pipe whose read
    end is already closed, so the first write fails whatever the timing)."""
    config = tmp_path / "kpi.yaml"
    config.write_text(
        "business: Pipe Test\nhistory_start: 2026-01-01\ndemo: true\nsources:\n  stripe: {}\n"
    )
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*KPI, "catalog", "--config", str(config)],
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr, (
        done.stderr.decode()
    )
