"""Why the database could not be used, in Swedish and with what to do about it.

SQLite and psycopg answer in English ("unable to open database file", "connection to server …
failed: Connection refused", "cannot execute INSERT in a read-only transaction"). ``explain``
turns such an error into a sentence for a person; the original text goes to the log at debug
level. SQLite errors are told apart by their result code (``sqlite_errorname``, Python 3.11),
PostgreSQL errors by their SQLSTATE; a failed connection has neither, so there libpq's message is
matched, and anything not recognised gets a general Swedish sentence, never the English one.

This module sits beside ``locks``: it imports only Django and the standard library, so that every
layer (imports, services, the command line) may use it.
"""

import logging
import os
import re
from pathlib import Path

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

BUSY = (
    "databasen är upptagen av en annan process – försök igen om en stund "
    "(en annan import eller körning skriver just nu)"
)
TRY_AGAIN = "försök igen om en stund"


def read_only_message() -> str:
    """The database may be read but not changed by this user (SQLite file or directory without
    write permission, or a PostgreSQL role that is read-only)."""
    reading = (
        "läsande kommandon (review, audit, invoice list, run show, changes list, delivery list) "
        "fungerar"
    )
    if connection.vendor == "sqlite":
        path = sqlite_path()
        return (
            f"databasen är skrivskyddad: SQLite-filen {path} (eller katalogen {path.parent}) får "
            "inte ändras av den här användaren, så inget ändrades i databasen. Kör kommandot som "
            f"en användare som får skriva i databasen; {reading}"
        )
    user = settings.DATABASES["default"].get("USER") or "den här användaren"
    return (
        f"databasen är skrivskyddad för {user} (en roll med default_transaction_read_only eller "
        "en skrivskyddad server), så inget ändrades i databasen. Kör kommandot med en roll som "
        f"får skriva (DATABASE_URL); {reading}"
    )


def sqlite_path() -> Path:
    return Path(str(settings.DATABASES["default"]["NAME"]))


def is_read_only(error: BaseException) -> bool:
    cause = _cause(error)
    name = str(getattr(cause, "sqlite_errorname", ""))
    return name.startswith("SQLITE_READONLY") or getattr(cause, "sqlstate", None) == "25006"


def is_busy(error: BaseException) -> bool:
    cause = _cause(error)
    name = str(getattr(cause, "sqlite_errorname", ""))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    text = str(error).lower()
    return "database is locked" in text or "database table is locked" in text


def explain(error: BaseException) -> str | None:
    """A Swedish sentence for a database error that says what to do, or None when the error is
    not one of the known conditions (then see ``general``)."""
    logger.debug("database error: %s", error)
    if is_busy(error):
        return BUSY
    if is_read_only(error):
        return read_only_message()
    cause = _cause(error)
    if hasattr(cause, "sqlite_errorname"):
        return _sqlite(str(cause.sqlite_errorname))
    if connection.vendor == "sqlite":
        return None
    return _postgresql(cause)


def _cause(error: BaseException) -> BaseException:
    """The driver's own exception behind Django's wrapper."""
    cause = error.__cause__
    return cause if cause is not None else error


def describe(error: BaseException) -> str:
    """``explain``, else ``general``; with ``KORTFAKTURA_DEBUG=1`` the database's own words
    follow in brackets."""
    message = explain(error) or general()
    if os.environ.get("KORTFAKTURA_DEBUG", "") == "1":
        lines = str(error).strip().splitlines()
        message += f" [{lines[0][:300] if lines else type(error).__name__}]"
    return message


def general() -> str:
    """For a database error that ``explain`` does not know."""
    if connection.vendor == "sqlite":
        where = f"SQLite-databasen {sqlite_path()}"
    else:
        config = settings.DATABASES["default"]
        where = (
            f"databasen {config.get('NAME')} på {config.get('HOST') or 'localhost'}:"
            f"{config.get('PORT') or 5432}"
        )
    return (
        f"{where} gick inte att använda. Kontrollera DATABASE_URL och att databasen är "
        "tillgänglig, och försök igen; KORTFAKTURA_DEBUG=1 visar databasens eget meddelande."
    )


def _sqlite(name: str) -> str | None:
    path = sqlite_path()
    if name.startswith("SQLITE_CANTOPEN"):
        return f"SQLite-filen {path} går inte att öppna: {_why_cannot_open(path)}"
    if name == "SQLITE_NOTADB":
        return (
            f"{path} är ingen SQLite-databas (eller är krypterad). Kontrollera "
            "KORTFAKTURA_DATA_DIR, eller återställ databasen från en säkerhetskopia."
        )
    if name.startswith("SQLITE_CORRUPT"):
        return (
            f"databasfilen {path} är skadad. Återställ den från en säkerhetskopia och kör sedan "
            "kortfaktura review för att se att allt stämmer."
        )
    if name == "SQLITE_FULL":
        return (
            f"disken är full – databasfilen {path} kan inte växa. Frigör utrymme och försök igen."
        )
    if name.startswith("SQLITE_IOERR"):
        return (
            f"läs- eller skrivfel på disken för databasfilen {path}. Kontrollera disken (och att "
            "filen inte ligger på en nätverksenhet som försvunnit) och försök igen."
        )
    if name.startswith(("SQLITE_PERM", "SQLITE_AUTH")):
        return f"behörighet saknas till databasfilen {path}. Kontrollera filens rättigheter."
    return None


def _why_cannot_open(path: Path) -> str:
    directory = path.parent
    if not directory.exists():
        return (
            f"katalogen {directory} finns inte. Kör kortfaktura init, eller ange en annan katalog "
            "med KORTFAKTURA_DATA_DIR."
        )
    if not directory.is_dir():
        return f"{directory} är ingen katalog. Ange en katalog med KORTFAKTURA_DATA_DIR."
    if path.is_dir():
        return (
            f"{path} är en katalog, inte en databasfil. Flytta undan katalogen eller ange en annan "
            "KORTFAKTURA_DATA_DIR."
        )
    if path.exists() and not os.access(path, os.R_OK):
        return "den här användaren får inte läsa filen. Kontrollera filens rättigheter."
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"den här användaren får inte skriva i katalogen {directory}. Ange en katalog du får "
            "skriva i med KORTFAKTURA_DATA_DIR, eller ändra katalogens rättigheter."
        )
    return "kontrollera filens och katalogens rättigheter och att disken är monterad."


# libpq's messages for a connection that failed (no SQLSTATE then), in the order to try them.
_CONNECTION_PROBLEMS = (
    (("connection refused",),
     "databasservern {where} tar inte emot anslutningar. Kontrollera att PostgreSQL är igång och "
     "att värd och port i DATABASE_URL stämmer."),
    (("password authentication failed", "no password supplied", "authentication failed"),
     "inloggningen som {user} nekades av databasservern {where}. Kontrollera användare och "
     "lösenord i DATABASE_URL."),
    (("no pg_hba.conf entry",),
     "databasservern {where} tar inte emot {user} från den här datorn (pg_hba.conf). Be "
     "databasadministratören om åtkomst."),
    (("failed to resolve host", "could not translate host name", "name or service not known"),
     "värden {host} i DATABASE_URL finns inte (namnet går inte att slå upp). Rätta värden."),
    (("timeout expired", "timed out"),
     "databasservern {where} svarar inte. Kontrollera nätverket och att värden i DATABASE_URL "
     "stämmer."),
    (("starting up", "shutting down", "in recovery mode", "not yet accepting"),
     "databasservern {where} startar eller stängs just nu. " + TRY_AGAIN.capitalize() + "."),
    (("too many clients", "remaining connection slots"),
     "databasservern {where} har inga lediga anslutningar. " + TRY_AGAIN.capitalize() + "."),
    (("permission denied for database", "connect privilege"),
     "{user} får inte ansluta till databasen {name}. Be databasadministratören om "
     "CONNECT-behörighet."),
    (("server closed the connection", "terminating connection", "connection is closed",
      "consuming input failed", "connection not open", "ssl"),
     "förbindelsen med databasservern {where} bröts. " + TRY_AGAIN.capitalize() + "."),
)  # fmt: skip

_SQLSTATES = {
    "42501": (
        "{user} saknar behörighet till en tabell i databasen {name}. Ge rollen SELECT, INSERT, "
        "UPDATE och DELETE på tabellerna (se docs/operations.md, Databas)."
    ),
    "53100": "databasserverns disk är full. Be databasadministratören frigöra utrymme.",
    "40001": "en annan process ändrade samma data samtidigt. Kör kommandot igen.",
    "40P01": "en annan process ändrade samma data samtidigt. Kör kommandot igen.",
    "55P03": BUSY,
    "57014": "databasservern avbröt frågan (tidsgräns eller avbrott). " + TRY_AGAIN + ".",
    "57P01": "databasservern stängdes medan kommandot körde. " + TRY_AGAIN.capitalize() + ".",
    "57P03": "databasservern startar just nu. " + TRY_AGAIN.capitalize() + ".",
    "53300": "databasservern har inga lediga anslutningar. " + TRY_AGAIN.capitalize() + ".",
}


def _postgresql(cause: BaseException) -> str | None:
    config = settings.DATABASES["default"]
    host = str(config.get("HOST") or "localhost")
    port = str(config.get("PORT") or 5432)
    values = {
        "where": f"{host}:{port}",
        "host": host,
        "user": f"användaren {config.get('USER') or '(ingen)'}",
        "name": str(config.get("NAME") or ""),
    }
    original = str(cause)
    text = original.lower()
    sqlstate = getattr(cause, "sqlstate", None)
    missing = _missing(original, values)
    if missing and sqlstate in (None, "3D000", "28000"):
        return missing
    if sqlstate in _SQLSTATES:
        return _SQLSTATES[sqlstate].format(**values)
    for needles, template in _CONNECTION_PROBLEMS:
        if any(needle in text for needle in needles):
            return template.format(**values)
    return None


def _missing(text: str, values: dict[str, str]) -> str | None:
    """'role "x" does not exist' or 'database "x" does not exist' in Swedish, else None."""
    if re.search(r'role "[^"]*" does not exist', text):
        return (
            f"{values['user']} finns inte på databasservern {values['where']}. Rätta användaren "
            "i DATABASE_URL, eller be databasadministratören skapa rollen."
        )
    if re.search(r'database "[^"]*" does not exist', text):
        return (
            f"databasen {values['name']} finns inte på databasservern {values['where']}. Skapa "
            f"den (createdb {values['name']}) och kör kortfaktura init, eller rätta databasens "
            "namn i DATABASE_URL."
        )
    return None
