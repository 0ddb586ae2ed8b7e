"""The ``kortfaktura`` command (INTERFACES.md). Exit status: 0 done, 1 unusable input, 2 usage."""

import argparse
import os
import sys

from kortfaktura.cli.parsing import SwedishArgumentParser

EXIT_OK = 0
EXIT_INPUT = 1


def build_parser() -> argparse.ArgumentParser:
    from kortfaktura.cli import billing, changes, demo, importing, setup

    parser = SwedishArgumentParser(
        prog="kortfaktura",
        description="Fakturering av beställda eTjänstekort per beställningsmånad.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="KOMMANDO", parser_class=SwedishArgumentParser
    )
    subparsers.required = True
    setup.add_parser(subparsers)
    importing.add_parser(subparsers)
    billing.add_parsers(subparsers)
    changes.add_parser(subparsers)
    demo.add_parser(subparsers)
    return parser


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    setup_django()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "needs_database", False):
        from kortfaktura.cli.output import fail
        from kortfaktura.cli.setup import database_problem

        problem = database_problem()
        if problem:
            fail(problem)
            return EXIT_INPUT
    result: int = args.handler(args)
    return result


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
