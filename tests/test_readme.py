"""Every ``kortfaktura …`` command in README.md runs as shown against the demo database."""

import json
import re
import shlex
from pathlib import Path

import pytest

from processes import run

README = Path(__file__).resolve().parents[1] / "README.md"
# The README's demo is the full one (about a minute); this one has the same story, smaller.
DEMO_SCALE = ["--orders-per-year", "400", "--today", "2026-11-28"]
ASSIGNMENTS = r"(?:[A-Z_]+=\S+\s+)*"


def readme_commands() -> list[list[str]]:
    """The ``kortfaktura`` lines of the README's code blocks (indented or fenced)."""
    commands, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        indented = re.match(rf"^ {{4,}}({ASSIGNMENTS}kortfaktura\s.*)$", line)
        if indented or (fenced and re.match(rf"{ASSIGNMENTS}kortfaktura ", line.strip())):
            text = indented[1] if indented else line.strip()
            commands.append(shlex.split(text, comments=True))
    return commands


def split_assignments(command: list[str]) -> tuple[dict[str, str], list[str]]:
    """``NAME=VALUE … kortfaktura args`` → ({NAME: VALUE}, [kortfaktura, args…])."""
    at = command.index("kortfaktura")
    return dict(word.split("=", 1) for word in command[:at]), command[at:]


def readme_settings(cwd: Path) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines of the README's code blocks, ``$PWD`` being ``cwd``."""
    settings = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        exported = re.match(r"^ {4,}export ([A-Z_]+)=(\S+)$", line)
        if exported:
            settings[exported[1]] = exported[2].replace("$PWD", str(cwd))
    return settings


def test_the_readme_has_a_walk_through() -> None:
    commands = [split_assignments(command)[1] for command in readme_commands()]
    assert commands[0][:2] == ["kortfaktura", "demo"]
    # Dual control (R25): the README's reader drafts, a colleague (another actor) issues.
    issuing = [split_assignments(c)[0] for c in readme_commands() if "issue" in c and "run" in c]
    assert issuing and all(prefix.get("KORTFAKTURA_ACTOR") for prefix in issuing), issuing
    subcommands = {command[1] for command in commands}
    assert {"init", "import", "bill", "run", "invoice", "credit", "review"} <= subcommands
    assert {"deliver", "delivery"} <= subcommands
    # deliver needs every channel's setting; the README shows them, under the demo's var/demo/
    assert set(readme_settings(Path("/x"))) == {
        "KORTFAKTURA_PEPPOL_OUTBOX",
        "KORTFAKTURA_PEPPOL_INBOX",
        "KORTFAKTURA_SMTP_URL",
        "KORTFAKTURA_MAIL_FROM",
        "KORTFAKTURA_PRINT_DIR",
    }
    for name, value in readme_settings(Path("/x")).items():
        assert name == "KORTFAKTURA_MAIL_FROM" or "/x/var/demo/" in value, (name, value)
    for command in commands:  # files from the demo, output under var/, not the checkout
        if command[1] == "import":
            assert command[3].startswith("var/demo/"), command
        if "--out" in command:
            assert command[command.index("--out") + 1].startswith("var/"), command


@pytest.mark.slow
def test_every_readme_command_runs_as_shown_against_the_demo_database(
    fresh: tuple[dict[str, str], Path],
) -> None:
    """As a new user would: the console script in a directory of its own, on a new database (run
    numbers then start at 1, as the README says)."""
    env, cwd = fresh
    env = {**env, **readme_settings(cwd)}  # as the README's export lines set them
    substitutions: dict[str, str] = {}
    for written in readme_commands():
        prefix, command = split_assignments(written)
        args = command[1:]
        if args[0] == "demo":
            args += DEMO_SCALE
        if args[0] == "credit":
            # The README names the invoice of run 5 that holds one of the demo's late orders, as
            # the full demo numbers it; the smaller demo numbers it otherwise. Find it as the
            # README tells the reader to: with invoice list --json.
            order_id = args[args.index("--order") + 1]
            run_id = substitutions.get("5", "5")
            listed = json.loads(run(env, cwd, "invoice", "list", "--run", run_id, "--json").stdout)
            holding = [invoice for invoice in listed if order_id in invoice["order_ids"]]
            assert len(holding) == 1 and holding[0]["type"] == "invoice", listed
            substitutions[args[1]] = holding[0]["number"]
        args = [substitutions.get(word, word) for word in args]
        result = run({**env, **prefix}, cwd, *args)
        assert result.returncode == 0, (command, result.stderr)
        drafted = re.search(r"Körning (\d+) \(utkast\)", result.stdout)
        if args[0] == "bill" and drafted:
            # The README's run number is the full demo's; the smaller demo may have made one
            # run fewer (no legacy orders left for Dals-Ed).
            substitutions["5"] = drafted[1]
        assert "Traceback" not in result.stdout + result.stderr, command
    assert list((cwd / "var" / "ut" / "pdf").glob("*.pdf"))
    assert list((cwd / "var" / "ut" / "excel").glob("*.xlsx"))
    assert "Genomlysning av fakturering" in (cwd / "var" / "ut" / "genomlysning.html").read_text(
        encoding="utf-8"
    )
    assert (cwd / "var" / "ut" / "genomlysning.xlsx").stat().st_size > 0
    listed = json.loads(run(env, cwd, "delivery", "list", "--json").stdout)
    assert listed and not [row for row in listed if row["status"] in ("queued", "failed")]
    assert [row for row in listed if row["resend_of"] is not None]  # deliver --resend
    assert list((cwd / "var" / "demo" / "peppol" / "ut").glob("*.xml"))
    assert list((cwd / "var" / "demo" / "epost").glob("*.eml"))
