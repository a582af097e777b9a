"""The README and docs/: short enough to read, every link resolves, every command they show exists."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

from autograder.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in path.read_text().splitlines() if line.startswith("#")}


def _commands(prefix: str) -> list[tuple[Path, str]]:
    """Every line of a code block or inline code span in the docs that starts with ``prefix``."""
    found = []
    for path in DOCS:
        text = path.read_text()
        snippets = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
        for snippet in snippets:
            for line in snippet.splitlines():
                line = line.split("  #")[0].strip()
                for part in re.split(r"\s*(?:&&|;)\s*", line):
                    if part.startswith(prefix):
                        found.append((path, part))
    return found


def test_the_readme_reads_in_five_minutes():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_every_link_resolves():
    broken = []
    for path in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                broken.append(f"{path.name}: {target}")
    assert broken == []


def test_every_make_target_shown_exists():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    shown = {(path.name, line.split()[1]) for path, line in _commands("make ") if len(line.split()) > 1}
    missing = [f"{name}: make {target}" for name, target in shown if "=" not in target and target not in targets]
    assert shown and missing == []


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # no public way
    return dict(actions[0].choices) if actions else {}


def test_every_autograder_command_shown_parses():
    wrong = []
    for path, line in _commands(".venv/bin/python -m autograder ") + _commands("python -m autograder "):
        words = shlex.split(line.split("-m autograder", 1)[1])
        parser = build_parser()
        while words and words[0] not in ("-h", "--help") and _subcommands(parser):
            if words[0] not in _subcommands(parser):
                wrong.append(f"{path.name}: {line} (no command {words[0]})")
                break
            parser, words = _subcommands(parser)[words[0]], words[1:]
        known = {o for action in parser._actions for o in action.option_strings}
        wrong += [f"{path.name}: {line} (no option {w})" for w in words
                  if w.startswith("--") and w.split("=")[0] not in known]
    assert wrong == []
