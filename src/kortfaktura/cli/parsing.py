"""Argument parsing that speaks Swedish: help, usage and errors, with exit status 2 for wrong
usage (INTERFACES.md).

``argparse`` builds its own words with ``gettext`` through the module globals ``_`` and
``ngettext``; ``install_swedish_messages`` points them at the Swedish catalogue below (Python
3.11's message ids). A message without a translation stays as it is, so a new Python can only
leave an English phrase, never break the command; ``tests/test_cli.py`` runs ``--help`` on every
command and fails on any English argparse phrase.
"""

import argparse
import datetime as dt
import re
import sys
from typing import TYPE_CHECKING, NoReturn

EXIT_USAGE = 2

SWEDISH = {
    "usage: ": "användning: ",
    "positional arguments": "argument",
    "options": "flaggor",
    "optional arguments": "flaggor",
    "show this help message and exit": "visa den här hjälpen och avsluta",
    "subcommands": "kommandon",
    "argument %(argument_name)s: %(message)s": "%(argument_name)s: %(message)s",
    "the following arguments are required: %s": "följande saknas: %s",
    "one of the arguments %s is required": "ett av argumenten %s krävs",
    "unrecognized arguments: %s": "okända argument: %s",
    "not allowed with argument %s": "går inte ihop med %s",
    "ignored explicit argument %r": "tar inget värde: %r",
    "expected one argument": "ett värde saknas",
    "expected at most one argument": "högst ett värde",
    "expected at least one argument": "minst ett värde saknas",
    "ambiguous option: %(option)s could match %(matches)s": (
        "flaggan %(option)s är tvetydig: den kan vara %(matches)s"
    ),
    "unexpected option string: %s": "oväntad flagga: %s",
    "invalid %(type)s value: %(value)r": "%(value)r är inget giltigt värde (%(type)s)",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "%(value)r finns inte – välj bland %(choices)s"
    ),
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "okänt kommando %(parser_name)r (välj bland %(choices)s)"
    ),
    "can't open '%(filename)s': %(error)s": "kan inte öppna '%(filename)s': %(error)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s: fel användning: %(message)s\n",
}
SWEDISH_PLURAL = {
    "expected %s argument": ("%s värde väntades", "%s värden väntades"),
    "conflicting option string: %s": ("flaggan finns redan: %s", "flaggorna finns redan: %s"),
}
TYPE_NAMES = {"int": "heltal", "float": "decimaltal", "date_argument": "datum ÅÅÅÅ-MM-DD"}


def swedish(message: str) -> str:
    return SWEDISH.get(message, message)


def swedish_plural(singular: str, plural: str, number: int) -> str:
    forms = SWEDISH_PLURAL.get(singular)
    if forms is None:
        return singular if number == 1 else plural
    return forms[0] if number == 1 else forms[1]


def install_swedish_messages() -> None:
    """Make ``argparse`` speak Swedish (idempotent)."""
    argparse._ = swedish  # type: ignore[attr-defined]
    argparse.ngettext = swedish_plural  # type: ignore[attr-defined]


class SwedishHelpFormatter(argparse.HelpFormatter):
    """Wider help, and a default value shown in Swedish where an option has one."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


class SwedishRawEpilogFormatter(SwedishHelpFormatter):
    """Keeps the line breaks of a description or epilog (e.g. the column lists of ``import``)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class SwedishArgumentParser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        install_swedish_messages()
        kwargs.setdefault("formatter_class", SwedishHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        message = re.sub(
            r"\((\w+)\)$", lambda match: f"({TYPE_NAMES.get(match[1], match[1])})", message
        )
        self.print_usage(sys.stderr)
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: fel användning: {message}\n"
            f"Skriv '{self.prog} --help' för att se vad kommandot tar emot.\n",
        )


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[SwedishArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


def date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' är inget datum (ÅÅÅÅ-MM-DD)") from None


LARGEST_ID = 2**63 - 1  # what the database's bigint columns can hold


def positive_int_argument(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' är inget positivt heltal")
    return int(text)


def id_argument(text: str) -> int:
    """A run id, document number or change id: a positive whole number that can exist."""
    value = positive_int_argument(text)
    if value > LARGEST_ID:
        raise argparse.ArgumentTypeError(f"'{text}' finns inte – numret är för stort")
    return value
