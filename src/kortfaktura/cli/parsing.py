"""Argument parsing that answers wrong usage in Swedish with exit status 2 (INTERFACES.md)."""

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, NoReturn

EXIT_USAGE = 2


class SwedishArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
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


def positive_int_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' är inget positivt heltal")
    return int(text)
