"""docs/cli.md and the real parser must agree, command by command and option by option.

The parser is the truth (``slurmhpo.cli.main.build_parser()``): every subcommand needs a
heading ``slurmhpo NAME`` in docs/cli.md, and every option string and choice of it must be
named in backticks inside that command's section. The other way round, a documented command
or option that the parser does not have fails too, so the page cannot promise what is gone.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from slurmhpo.cli.main import build_parser

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
HEADING = re.compile(r"^#{2,3} `slurmhpo ([a-z -]+)`")
# Options every parser has; documented once, at the top of the page.
SHARED = {"-h", "--help"}
# The one section that documents five sibling commands (their own ### headings are short).
LIFECYCLE = ("pause", "resume", "stop", "cancel", "extend")


def commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every runnable (sub)command path, e.g. "db upgrade", mapped to its parser."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                nested = commands(sub, path)
                found.update(nested or {path: sub})
    return found


def sections() -> dict[str, str]:
    """Command path -> the text of its section (up to the next heading of the same kind)."""
    text: dict[str, list[str]] = {}
    current: str | None = None
    for line in REFERENCE.read_text().splitlines():
        match = HEADING.match(line)
        if match:
            current = match.group(1).strip()
            text[current] = []
        elif line.startswith("## "):
            current = None
        elif current is not None:
            text[current].append(line)
    # The lifecycle commands share one options table, under the extend heading.
    shared = "\n".join(text.get("extend", []))
    # A "|" inside a table cell is written "\\|"; compare with the parser's plain metavar.
    joined = {name: "\n".join(lines).replace("\\|", "|") for name, lines in text.items()}
    for name in LIFECYCLE:
        if name in joined:
            joined[name] += "\n" + shared
    return joined


PARSER_COMMANDS = commands(build_parser())


def test_the_parser_has_the_commands_this_test_expects() -> None:
    """Guards the walk itself: nested commands are found, and there are many."""
    assert "db upgrade" in PARSER_COMMANDS and "submit-controller" in PARSER_COMMANDS
    assert len(PARSER_COMMANDS) > 15


@pytest.mark.parametrize("command", sorted(PARSER_COMMANDS))
def test_every_command_has_a_section(command: str) -> None:
    assert command in sections(), f"docs/cli.md has no heading `slurmhpo {command}`"


@pytest.mark.parametrize("command", sorted(PARSER_COMMANDS))
def test_every_option_and_choice_is_documented(command: str) -> None:
    text = sections().get(command, "")
    missing = []
    for action in PARSER_COMMANDS[command]._actions:
        names = [o for o in action.option_strings if o not in SHARED]
        if not action.option_strings:
            names = [action.metavar or action.dest]
        missing += [name for name in names if f"`{name}" not in text]
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            missing += [str(c) for c in action.choices if str(c) not in text]
    assert not missing, f"docs/cli.md, section `slurmhpo {command}`, does not name {missing}"


def test_no_documented_command_or_option_is_unknown_to_the_parser() -> None:
    """A section for a removed command, or a table row for a removed option, fails."""
    documented = sections()
    assert set(documented) - {"db"} <= set(PARSER_COMMANDS)
    for command, text in documented.items():
        if command == "db":
            continue
        siblings = LIFECYCLE if command in LIFECYCLE else (command,)
        real = {
            option
            for name in siblings
            for action in PARSER_COMMANDS[name]._actions
            for option in action.option_strings
        }
        rows = re.findall(r"^\| `(-{1,2}[a-z][a-z-]*)", text, flags=re.MULTILINE)
        unknown = sorted(set(rows) - real)
        assert not unknown, f"section `slurmhpo {command}` documents unknown options {unknown}"


def test_exit_codes_are_documented() -> None:
    """The four codes the CLI maps errors to (slurmhpo.errors) each have a row."""
    text = REFERENCE.read_text()
    for code, word in ((0, "done"), (1, "error"), (2, "bad input"), (3, "schema")):
        assert re.search(rf"^\| {code} \| .*{word}", text, flags=re.MULTILINE), code
