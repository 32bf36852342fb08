"""The command explains itself: every command and option has a help line, `--version` prints
the installed version, the top-level help speaks to users, and the README lists every command
and links only files inside the repository."""

from __future__ import annotations

import argparse
import re
import sys
from importlib.metadata import version
from pathlib import Path

from cli_helpers import ROOT, sla_worker

from worker.cli import build_parser


def every_parser(parser: argparse.ArgumentParser, path: str = "sla-worker"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, f"{path} {name}")


def test_every_command_and_option_has_a_help_line():
    missing = []
    for path, parser in every_parser(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                described = {choice.dest for choice in action._choices_actions}
                missing += [f"{path} {name}" for name in action.choices if name not in described]
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_version_prints_the_installed_version(tmp_path: Path):
    done = sla_worker(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"sla-worker {version('sla-worker')}"


def test_the_top_level_help_says_what_the_tool_does_the_common_commands_and_where_the_docs_are(tmp_path: Path):
    done = sla_worker(tmp_path, "--help")
    assert done.returncode == 0
    text = done.stdout
    assert "service level agreement" in text
    for command in ("sla-worker run", "sla-worker check-config", "sla-worker results", "sla-worker demo"):
        assert command in text
    assert "docs/" in text and "Exit status" in text
    assert "Thin:" not in text and "pipeline" not in text  # not the developers' docstring


def commands_of(parser: argparse.ArgumentParser) -> set[str]:
    return {path.split()[1] for path, _ in every_parser(parser) if len(path.split()) > 1}


def test_the_readme_lists_every_command():
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^sla-worker ([a-z-]+)", readme, re.MULTILINE))
    assert commands_of(build_parser()) <= listed
    assert "sla-worker --version" in readme


def test_every_link_in_the_readme_resolves_inside_the_repository():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)]+)\)", readme) + re.findall(r"`((?:\.\./|docs/|/)[^`\s]+\.md)`", readme)
    assert targets
    for target in targets:
        assert not re.match(r"[a-z]+://", target), target
        path = (ROOT / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), target
    for doc in ("docs/inputs.md", "docs/configuration.md", "docs/alerts.md"):
        assert f"]({doc})" in readme, doc


def test_the_module_runs_as_a_script_too(tmp_path: Path):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "worker.cli", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: sla-worker")
