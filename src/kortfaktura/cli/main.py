"""The ``kortfaktura`` command (INTERFACES.md). Exit status: 0 done, 1 unusable input, 2 usage.

Whatever happens, the command answers in Swedish and never with a traceback: wrong usage exits 2
(``parsing``), an error the command expects exits 1 with its own message, and anything else is
caught here, answered with a Swedish message (and ``{"error": …}`` on stdout with ``--json``) and
exit 1; the traceback goes to ``var/log/kortfaktura.log`` (and to stderr as well with
``KORTFAKTURA_DEBUG=1``). A reader that stops reading (``kortfaktura … --json | head``) ends the
command quietly.
"""

import argparse
import datetime as dt
import io
import logging
import os
import sys
import traceback
from pathlib import Path

from kortfaktura.cli.parsing import SwedishArgumentParser, install_swedish_messages

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_INTERRUPTED = 130
LOG_FILE = "kortfaktura.log"
DATABASE_BUSY = (
    "databasen är upptagen av en annan process – försök igen om en stund "
    "(en annan import eller körning skriver just nu)"
)


def build_parser() -> argparse.ArgumentParser:
    from kortfaktura.cli import (
        access,
        accounting,
        audit,
        billing,
        changes,
        delivery,
        demo,
        importing,
        operations,
        review,
        serve,
        setup,
    )

    install_swedish_messages()
    parser = SwedishArgumentParser(
        prog="kortfaktura",
        description="Fakturering av beställda eTjänstekort per beställningsmånad.",
        epilog="Skriv 'kortfaktura KOMMANDO --help' för att se vad ett kommando tar emot. "
        "Slutkod: 0 klart, 1 indata eller databasen gick inte att använda, 2 fel användning.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="KOMMANDO", parser_class=SwedishArgumentParser
    )
    subparsers.required = True
    setup.add_parser(subparsers)
    importing.add_parser(subparsers)
    billing.add_parsers(subparsers)
    changes.add_parser(subparsers)
    review.add_parser(subparsers)
    audit.add_parser(subparsers)
    accounting.add_parser(subparsers)
    delivery.add_parsers(subparsers)
    access.add_parsers(subparsers)
    demo.add_parser(subparsers)
    serve.add_parser(subparsers)
    operations.add_parsers(subparsers)
    return parser


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    import django

    django.setup()


def debugging() -> bool:
    return os.environ.get("KORTFAKTURA_DEBUG", "") == "1"


class _BriefFormatter(logging.Formatter):
    """Log lines on the terminal without tracebacks; those go to the log file."""

    def format(self, record: logging.LogRecord) -> str:
        brief = logging.makeLogRecord(record.__dict__)
        brief.exc_info, brief.exc_text, brief.stack_info = None, None, None
        return super().format(brief)


class _ErrorLogFile(logging.FileHandler):
    """Errors logged anywhere (with their tracebacks) also go to var/log/kortfaktura.log; the
    file and its directory are made on the first error, and a log that cannot be written never
    disturbs the command."""

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _configure_logging() -> None:
    from django.conf import settings

    root = logging.getLogger()
    path = str(Path(settings.DATA_DIR) / "log" / LOG_FILE)
    for old in [h for h in root.handlers if isinstance(h, _ErrorLogFile)]:
        if old.baseFilename != path:  # another data directory (tests): one log file only
            root.removeHandler(old)
            old.close()
    if not any(isinstance(handler, _ErrorLogFile) for handler in root.handlers):
        log_file = _ErrorLogFile(path, delay=True, encoding="utf-8")
        log_file.setLevel(logging.ERROR)
        log_file.setFormatter(logging.Formatter("--- %(asctime)s %(name)s: %(message)s"))
        root.addHandler(log_file)
    if debugging():
        return
    for handler in root.handlers:
        stream = getattr(handler, "stream", None)
        if stream in (sys.stderr, sys.__stderr__) and not isinstance(
            handler.formatter, _BriefFormatter
        ):
            handler.setFormatter(_BriefFormatter("%(levelname)s %(name)s: %(message)s"))


def _log_traceback(argv: list[str]) -> str:
    """Appends the current traceback to the log file; returns where it went."""
    from django.conf import settings

    text = traceback.format_exc()
    if debugging():
        sys.stderr.write(text)
    directory = Path(settings.DATA_DIR) / "log"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / LOG_FILE).open("a", encoding="utf-8") as log:
            moment = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            log.write(f"--- {moment} kortfaktura {' '.join(argv)}\n{text}\n")
    except OSError:
        if not debugging():
            sys.stderr.write(text)
        return "ovan"
    return str(directory / LOG_FILE)


def _stdout_to_devnull() -> None:
    """The reader has gone: nothing more is written, not even at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _answer(message: str, wants_json: bool) -> None:
    from kortfaktura.cli.output import fail, print_json

    if wants_json:
        try:
            print_json({"error": message})
        except BrokenPipeError:
            _stdout_to_devnull()
    fail(message)


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "needs_database", False):
        from kortfaktura.cli.output import fail
        from kortfaktura.cli.setup import database_problem

        problem = database_problem()
        if problem:
            if getattr(args, "json", False):
                from kortfaktura.cli.output import print_json

                print_json({"error": problem})
            fail(problem)
            return EXIT_INPUT
    result: int = args.handler(args)
    sys.stdout.flush()  # a reader that has gone is noticed here, not at exit
    return result


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in arguments
    try:
        setup_django()
    except Exception as error:  # e.g. a DATABASE_URL that cannot be read
        if debugging():
            traceback.print_exc()
        _answer(
            f"inställningarna går inte att läsa: {type(error).__name__}: {_first_line(error)} "
            "– kontrollera miljövariablerna (t.ex. DATABASE_URL); KORTFAKTURA_DEBUG=1 visar mer",
            wants_json,
        )
        return EXIT_INPUT
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(arguments)
    wants_json = bool(getattr(args, "json", wants_json))
    from django.db import DatabaseError, OperationalError

    try:
        return _run(args)
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_OK
    except KeyboardInterrupt:
        _answer("avbrutet – ändringar som pågick sparades inte", wants_json)
        return EXIT_INTERRUPTED
    except OperationalError as error:
        where = _log_traceback(arguments)
        if "locked" in str(error).lower() or "busy" in str(error).lower():
            _answer(DATABASE_BUSY, wants_json)
        else:
            _answer(
                f"databasen gick inte att använda: {_first_line(error)} (detaljer: {where})",
                wants_json,
            )
        return EXIT_INPUT
    except DatabaseError as error:
        where = _log_traceback(arguments)
        _answer(
            f"databasen vägrade ändringen: {_first_line(error)} – ingenting sparades "
            f"(detaljer: {where})",
            wants_json,
        )
        return EXIT_INPUT
    except Exception as error:
        where = _log_traceback(arguments)
        _answer(
            f"ett oväntat fel stoppade kommandot ({type(error).__name__}: {_first_line(error)}). "
            f"Ändringar som pågick sparades inte. Detaljer: {where} "
            "(KORTFAKTURA_DEBUG=1 visar dem här).",
            wants_json,
        )
        return EXIT_INPUT


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else "inget meddelande"


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
