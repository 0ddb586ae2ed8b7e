"""The ``kortfaktura`` command (INTERFACES.md). Exit status: 0 done, 1 unusable input, 2 usage.

Whatever happens, the command answers in Swedish and never with a traceback: wrong usage exits 2
(``parsing``), an error the command expects exits 1 with its own message, and anything else is
caught here, answered with a Swedish message (and ``{"error": …}`` on stdout with ``--json``) and
exit 1; the traceback goes to ``var/log/kortfaktura.log`` (and to stderr as well with
``KORTFAKTURA_DEBUG=1``). A reader that stops reading (``kortfaktura … | head``) is no error: the
rest of the output is dropped and the command ends with its own exit status (``output._Console``).
"""

import argparse
import datetime as dt
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
        payments,
        review,
        schedule,
        serve,
        setup,
        worker,
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
    payments.add_parsers(subparsers)
    delivery.add_parsers(subparsers)
    access.add_parsers(subparsers)
    demo.add_parser(subparsers)
    schedule.add_parser(subparsers)
    serve.add_parser(subparsers)
    worker.add_parser(subparsers)
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
    except OSError:  # no traceback for the user even then; KORTFAKTURA_DEBUG=1 shows it
        return (
            f"loggfilen {directory / LOG_FILE} gick inte att skriva – kör kommandot igen med "
            "KORTFAKTURA_DEBUG=1"
        )
    return str(directory / LOG_FILE)


def _answer(message: str, wants_json: bool) -> None:
    from kortfaktura.cli.output import fail, print_json

    if wants_json:
        print_json({"error": message})
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
    from kortfaktura.cli.output import flush_stdout

    flush_stdout()  # a reader that has gone is noticed here, not by the interpreter at exit
    return result


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in arguments
    try:
        setup_django()
    except Exception as error:  # e.g. a DATABASE_URL that cannot be read
        if debugging():
            traceback.print_exc()
        _answer(_settings_problem(error), wants_json)
        return EXIT_INPUT
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(arguments)
    wants_json = bool(getattr(args, "json", wants_json))
    from django.db import DatabaseError

    try:
        return _run(args)
    except BrokenPipeError as error:
        from kortfaktura.cli.output import reader_gone, silence

        if not reader_gone():  # a helper process or a server hung up: the command's own error
            return _unexpected(error, arguments, wants_json)
        silence(sys.stdout)
        silence(sys.stderr)
        return EXIT_OK
    except KeyboardInterrupt:
        _answer("avbrutet – ändringar som pågick sparades inte", wants_json)
        return EXIT_INTERRUPTED
    except DatabaseError as error:
        _answer(_database_failure(error, arguments), wants_json)
        return EXIT_INPUT
    except OSError as error:
        if error.filename is None:  # not a path the command was given or made
            return _unexpected(error, arguments, wants_json)
        from kortfaktura.cli.errors import path_problem

        _answer(path_problem(error), wants_json)
        return EXIT_INPUT
    except Exception as error:
        return _unexpected(error, arguments, wants_json)


def _database_failure(error: Exception, arguments: list[str]) -> str:
    """A known condition (busy, read-only, unreachable, a damaged file) in Swedish with what to
    do; anything else also goes to the log with its traceback."""
    from django.db import OperationalError

    from kortfaktura import db_errors

    if db_errors.explain(error) is not None:
        return db_errors.describe(error)
    where = _log_traceback(arguments)
    if isinstance(error, OperationalError):
        return f"{db_errors.describe(error)} (detaljer: {where})"
    # The database's own guards (triggers) answer in Swedish: "granskningsloggen får inte …".
    return (
        f"databasen vägrade ändringen: {_first_line(error)} – ingenting sparades "
        f"(detaljer: {where})"
    )


def _settings_problem(error: Exception) -> str:
    """Why the settings could not be read, naming the variable and never in the parser's
    English: a ``SettingError`` says it itself; for another error the variable is the one on the
    line of settings.py that failed."""
    if getattr(error, "setting", None):
        return str(error)
    variable, kind = _failing_setting(error)
    if variable:
        wanted = {"int": " (ett heltal)", "float": " (ett tal)"}.get(kind, "")
        return (
            f"inställningarna går inte att läsa: miljövariabeln {variable} har ett värde som inte "
            f"går att använda{wanted} – rätta eller ta bort den (se docs/operations.md, "
            "Konfiguration)"
        )
    return (
        "inställningarna går inte att läsa – kontrollera miljövariablerna (t.ex. DATABASE_URL); "
        "KORTFAKTURA_DEBUG=1 visar vad som gick fel"
    )


def _failing_setting(error: Exception) -> tuple[str, str]:
    """The environment variable named on the line of kortfaktura/settings.py where ``error``
    arose, and whether that line reads it as an int or a float."""
    import linecache
    import re

    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not frame.filename.replace(os.sep, "/").endswith("kortfaktura/settings.py"):
            continue
        last = frame.end_lineno or frame.lineno or 0
        source = "".join(
            linecache.getline(frame.filename, number)
            for number in range(frame.lineno or 0, last + 1)
        )
        names = re.findall(r"\"((?:KORTFAKTURA|DATABASE|SECRET|ALLOWED|LOG)_?[A-Z_]*)\"", source)
        kind = "int" if "int(" in source else "float" if "float(" in source else ""
        return (names[0] if names else "", kind)
    return "", ""


def _unexpected(error: Exception, arguments: list[str], wants_json: bool) -> int:
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
