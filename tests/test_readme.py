"""Every ``kortfaktura …`` command in README.md runs as shown against the demo database."""

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

README = Path(__file__).resolve().parents[1] / "README.md"
# The README's demo is the full one (about a minute); this one has the same story, smaller.
DEMO_SCALE = ["--orders-per-year", "400", "--today", "2026-11-28"]


def readme_commands() -> list[list[str]]:
    """The ``kortfaktura`` lines of the README's code blocks (indented or fenced)."""
    commands, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        indented = re.match(r"^ {4,}(kortfaktura\s.*)$", line)
        if indented or (fenced and line.strip().startswith("kortfaktura ")):
            text = indented[1] if indented else line.strip()
            commands.append(shlex.split(text, comments=True))
    return commands


def test_the_readme_has_a_walk_through() -> None:
    commands = readme_commands()
    assert commands[0][:2] == ["kortfaktura", "demo"]
    subcommands = {command[1] for command in commands}
    assert {"init", "import", "bill", "run", "invoice", "credit"} <= subcommands
    for command in commands:  # files from the demo, output under var/, not the checkout
        if command[1] == "import":
            assert command[3].startswith("var/demo/"), command
        if "--out" in command:
            assert command[command.index("--out") + 1].startswith("var/"), command


@pytest.mark.slow
@pytest.mark.django_db
def test_every_readme_command_runs_as_shown_against_the_demo_database(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path / "var")
    substitutions: dict[str, str] = {}
    for command in readme_commands():
        args = command[1:]
        if args[0] == "demo":
            args += DEMO_SCALE
        if args[0] == "credit":
            # The README names the first invoice of run 3 and one of its orders, as the full demo
            # numbers them; the smaller demo numbers them otherwise. Find them as the README
            # tells the reader to: with invoice list --json.
            code, out, _ = cli("invoice", "list", "--run", "3", "--json")
            first = json.loads(out)[0]
            assert first["type"] == "invoice" and first["order_ids"]
            substitutions[args[1]] = first["number"]
            substitutions[args[args.index("--order") + 1]] = first["order_ids"][0]
        args = [substitutions.get(word, word) for word in args]
        code, out, err = cli(*args)
        assert code == 0, (command, err)
        assert "Traceback" not in out + err, command
    assert list((tmp_path / "var" / "ut" / "pdf").glob("*.pdf"))
    assert list((tmp_path / "var" / "ut" / "excel").glob("*.xlsx"))
