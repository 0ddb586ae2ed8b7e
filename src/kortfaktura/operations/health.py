"""Is this installation able to do its work? The checks behind ``kortfaktura check`` and
``GET /healthz`` (INTERFACES.md): ``{"status": "ok" | "fail", "checks": [{"name", "ok",
"detail"}]}``.

- ``database``: the database answers (a SQLite file that is missing is reported, never created).
- ``migrations``: every migration of this version is applied (``kortfaktura init`` otherwise).
- ``rules``: the official Peppol rules are there and load. Compiling them costs about 2 s and
  170 MB in a process (measured 2026-12), so ``deep`` (the command line) compiles them and runs
  OpenPeppol's own example through them, while the web's cheap check reuses a validator this
  process already compiled, else checks that the files are there and, for the copy shipped in
  the package, that each still has the SHA-256 that its SOURCE.md names.
- ``fonts``: every font family the PDF needs is installed.
- ``peppol_outbox``, ``peppol_inbox``, ``smtp``, ``print``: each configured channel can be used –
  a directory that is there and writable (readable for the inbox), an SFTP server that lets us in
  and lists the directory, an SMTP server that answers EHLO (and STARTTLS or TLS when the address
  asks for it). A channel that is not configured passes as "inte inställd"; ``deliver`` says so
  when it would be needed.

Every detail is Swedish, says what to do when the check fails, and carries no business data and
no secret (a password in an address is shown as ``***``). Other parts add their own checks with
``register``: the task engine (issue 19) registers ``workers`` – "a worker reported within the
last few minutes" – there.
"""

import hashlib
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import DatabaseError, connection

from kortfaktura import db_errors, standards

PROBE_TIMEOUT = 10  # seconds for one network probe (SMTP); the SFTP client has its own 10 s
NETWORK_CACHE_SECONDS = 30  # the web's network probes are reused this long (GET /healthz)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


CheckFunction = Callable[[bool], Check]  # deep: the thorough (slower) form of the check
_registered: list[CheckFunction] = []


def register(check: CheckFunction) -> CheckFunction:
    """Adds a check to every report (usable as a decorator). The task engine registers
    ``workers`` here: fail when no worker has reported within its interval."""
    if check not in _registered:
        _registered.append(check)
    return check


def report(checks: list[Check]) -> dict[str, Any]:
    return {
        "status": "ok" if all(check.ok for check in checks) else "fail",
        "checks": [asdict(check) for check in checks],
    }


def run_checks(*, deep: bool) -> list[Check]:
    """Every check, in a fixed order. ``deep`` (``kortfaktura check``): compile the rules and
    probe every channel now. Otherwise (``/healthz``): reuse what is expensive (the rules, the
    fonts, network probes younger than NETWORK_CACHE_SECONDS)."""
    database = check_database()
    checks = [database, check_migrations(database.ok), check_rules(deep), check_fonts()]
    probes: list[Callable[[], Check]] = [
        check_peppol_outbox,
        check_peppol_inbox,
        check_smtp,
        check_print,
    ]
    # The network probes run side by side, so a slow server costs one timeout, not four.
    with ThreadPoolExecutor(len(probes)) as pool:
        if deep:
            checks += list(pool.map(lambda probe: probe(), probes))
        else:
            checks += list(pool.map(_cached, probes))
    checks += [check(deep) for check in _registered]
    return checks


# --- database --------------------------------------------------------------------------------


def describe_database() -> str:
    config = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"SQLite-filen {config['NAME']}"
    return f"PostgreSQL-databasen {config['NAME']} på {config.get('HOST') or 'lokal socket'}"


def sqlite_file() -> Path | None:
    """The SQLite database file, or None (PostgreSQL, or an in-memory database)."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]
        return None
    return Path(str(connection.settings_dict["NAME"]))


def check_database() -> Check:
    where = describe_database()
    file = sqlite_file()
    # Connecting to a SQLite file that is gone would create an empty one: look first.
    if file is not None and file.is_dir():
        return Check(
            "database",
            False,
            f"{where} är en katalog, inte en databasfil – flytta katalogen, eller ange "
            "KORTFAKTURA_DATA_DIR där databasfilen ligger",
        )
    if file is not None and not file.is_file():
        return Check(
            "database",
            False,
            f"{where} finns inte – kör kortfaktura init i rätt arbetskatalog, ange "
            "KORTFAKTURA_DATA_DIR där filen ligger, eller återställ den från en säkerhetskopia",
        )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        connection.close()  # a broken connection is not reused by the next request
        # The same Swedish sentence as every command gives (never the driver's English words).
        return Check("database", False, f"{where}: {db_errors.describe(error)}")
    return Check("database", True, f"{where} svarar")


def check_migrations(database_ok: bool) -> Check:
    if not database_ok:
        return Check("migrations", False, "kan inte kontrolleras förrän databasen svarar")
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return Check("migrations", False, f"kunde inte läsas: {db_errors.describe(error)}")
    if pending:
        return Check(
            "migrations",
            False,
            f"{len(pending)} databasändringar saknas för den här versionen – kör kortfaktura init "
            "(stoppa tjänsterna först, se docs/operations.md, Uppgradering)",
        )
    return Check("migrations", True, "databasen har den här versionens alla ändringar")


# --- rules and fonts -------------------------------------------------------------------------


def check_rules(deep: bool) -> Check:
    from kortfaktura.documents import validation

    directory = validation.rules_directory()
    missing = [
        name
        for name in (*validation.STYLESHEETS, *validation.SCHEMAS.values())
        if not (directory / name).is_file()
    ]
    if missing:
        if settings.ISSUE_WITHOUT_VALIDATION:
            return Check(
                "rules",
                True,
                f"Peppol-reglerna saknas i {directory}; dokumenten utfärdas okontrollerade "
                "eftersom KORTFAKTURA_ISSUE_WITHOUT_VALIDATION=1",
            )
        return Check(
            "rules",
            False,
            f"Peppol-reglerna saknas i {directory} ({', '.join(missing)}) – ta bort "
            "KORTFAKTURA_PEPPOL_RULES_DIR för att använda reglerna som följer med programmet, "
            "eller peka den på en fullständig kopia; utan regler kan inget utfärdas",
        )
    if deep or validation.load_validator.cache_info().currsize:
        return _rules_load(directory)
    return _rules_unchanged(directory, *_stamp(directory, validation))


def _rules_load(directory: Path) -> Check:
    """Loading runs the rules' self-test: each rule set passes OpenPeppol's example and rejects
    a known-bad variant of it (``validation.PeppolValidator``)."""
    from kortfaktura.documents import validation

    try:
        validator = validation.get_validator()
    except validation.RulesUnusable as error:
        return Check("rules", False, str(error))
    if validator is None:  # this process looked before the rules were there
        return Check(
            "rules",
            False,
            f"Peppol-reglerna i {directory} saknades när processen startade – starta om tjänsten",
        )
    return Check(
        "rules",
        True,
        f"Peppol-reglerna i {directory} läses in, godkänner OpenPeppols exempel och underkänner "
        "felaktiga varianter av det",
    )


def _stamp(directory: Path, validation: Any) -> tuple[tuple[str, int, int], ...]:
    names = (*validation.STYLESHEETS, *validation.SCHEMAS.values())
    return tuple(
        (name, (directory / name).stat().st_mtime_ns, (directory / name).stat().st_size)
        for name in names
    )


@cache
def _rules_unchanged(directory: Path, *stamp: tuple[str, int, int]) -> Check:
    """The cheap check, cached while the files keep their time and size: for the copy shipped
    in the package each file must still have the SHA-256 that SOURCE.md names."""
    if directory.resolve() != standards.PEPPOL.resolve():
        return Check("rules", True, f"Peppol-reglerna finns i {directory}")
    named = dict(
        re.findall(
            r"^\| `peppol/([^`]+)` \| ([0-9a-f]{64}) \|$",
            standards.SOURCE.read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    )
    changed = [
        name
        for name, _, _ in stamp
        if hashlib.sha256((directory / name).read_bytes()).hexdigest() != named.get(name)
    ]
    if changed:
        return Check(
            "rules",
            False,
            f"Peppol-reglerna i {directory} har ändrats sedan installationen "
            f"({', '.join(changed)}) – installera om programmet",
        )
    return Check("rules", True, f"Peppol-reglerna finns i {directory} och är oförändrade")


@cache
def check_fonts() -> Check:
    from kortfaktura.documents import pdf

    try:
        import typst

        found = set(
            typst.Fonts(
                include_system_fonts=False,
                include_embedded_fonts=False,
                font_paths=[str(directory) for directory in pdf.FONT_DIRS],
            ).families()
        )
    except Exception as error:
        return Check(
            "fonts", False, f"typsnitten går inte att läsa ({_first_line(error)}) – "
            "installera om programmet med sina beroenden",
        )  # fmt: skip
    missing = [family for family in pdf.FONTS if family not in found]
    if missing:
        return Check(
            "fonts",
            False,
            f"typsnitt saknas för PDF:erna: {', '.join(missing)} – installera om programmet med "
            "sina beroenden (font-source-sans-pro, manimgx-fonts, manimgx-fonts-cjk)",
        )
    return Check("fonts", True, f"alla {len(pdf.FONTS)} typsnitt för PDF:erna finns")


# --- channels --------------------------------------------------------------------------------


def not_configured(name: str, variable: str) -> Check:
    return Check(name, True, f"inte inställd ({variable})")


def check_peppol_outbox() -> Check:
    return _transport_check(
        "peppol_outbox", "KORTFAKTURA_PEPPOL_OUTBOX", settings.PEPPOL_OUTBOX, write=True
    )


def check_peppol_inbox() -> Check:
    return _transport_check(
        "peppol_inbox", "KORTFAKTURA_PEPPOL_INBOX", settings.PEPPOL_INBOX, write=False
    )


def _transport_check(name: str, variable: str, url: str, *, write: bool) -> Check:
    from kortfaktura.delivery.transport import TransportError, check_url, redact

    if not url:
        return not_configured(name, variable)
    try:
        check_url(url, variable)
    except TransportError as error:
        return Check(name, False, error.message)
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        directory = Path(unquote(parts.path))
        return _directory_check(name, variable, directory, write=write, create=False)
    from kortfaktura.delivery.sftp import SftpInbox

    try:
        # Listing the directory proves the server, the key, the host key and the directory.
        SftpInbox(url, Path(settings.SSH_KEY) if settings.SSH_KEY else None).list()
    except TransportError as error:
        return Check(
            name, False, f"{error.message} – kontrollera {variable} och KORTFAKTURA_SSH_KEY"
        )
    return Check(name, True, f"SFTP-servern svarar och katalogen finns ({redact(url)})")


def _directory_check(
    name: str, variable: str, directory: Path, *, write: bool, create: bool
) -> Check:
    """A directory that is there (or, with ``create``, can be made) and can be written in
    (``write``) or read."""
    from kortfaktura.documents.services import os_reason

    if not directory.exists():
        if create:
            parent = next((p for p in directory.parents if p.exists()), Path("/"))
            if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
                return Check(name, True, f"{directory} skapas när den behövs ({variable})")
        return Check(
            name, False, f"katalogen {directory} finns inte – skapa den eller ändra {variable}"
        )
    if not directory.is_dir():
        return Check(name, False, f"{directory} är ingen katalog – ändra {variable}")
    try:
        if write:  # a real probe: permissions, ACLs and read-only file systems all answer here
            descriptor, probe = tempfile.mkstemp(prefix=".kortfaktura-", dir=directory)
            os.close(descriptor)
            os.unlink(probe)
        else:
            os.listdir(directory)
    except OSError as error:
        verb = "skriva i" if write else "läsa"
        return Check(
            name,
            False,
            f"katalogen {directory} går inte att {verb} ({os_reason(error)}) – ge "
            f"tjänstekontot rätt till den eller ändra {variable}",
        )
    return Check(name, True, f"katalogen {directory} går att {'skriva i' if write else 'läsa'}")


def check_smtp() -> Check:
    from kortfaktura.delivery.channels import EmailSender, MissingSetting, smtp_server
    from kortfaktura.delivery.transport import redact

    if not settings.SMTP_URL:
        return not_configured("smtp", "KORTFAKTURA_SMTP_URL")
    try:
        EmailSender().check()
    except MissingSetting as error:
        return Check("smtp", False, str(error))
    parts = urlsplit(settings.SMTP_URL)
    if parts.scheme.lower() == "file":
        return _directory_check(
            "smtp", "KORTFAKTURA_SMTP_URL", Path(unquote(parts.path)), write=True, create=True
        )
    server = smtp_server(settings.SMTP_URL)
    where = f"{server.host}:{server.port}"
    try:
        client: smtplib.SMTP
        if server.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=PROBE_TIMEOUT,
                context=ssl.create_default_context(),
            )  # fmt: skip
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=PROBE_TIMEOUT)
        with client:
            code, _ = client.ehlo()
            if code != 250:
                raise smtplib.SMTPResponseException(code, b"EHLO")
            if server.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
    except (smtplib.SMTPException, OSError) as error:
        return Check(
            "smtp",
            False,
            f"e-postservern {where} svarar inte som den ska ({_smtp_reason(error)}) – "
            f"kontrollera KORTFAKTURA_SMTP_URL ({redact(settings.SMTP_URL)}) och att servern "
            "är igång",
        )
    return Check("smtp", True, f"e-postservern {where} svarar")


def _smtp_reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "anslutningen vägrades"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"inget svar inom {PROBE_TIMEOUT} s"
    if isinstance(error, ssl.SSLError):
        return f"TLS misslyckades: {error.reason or error}"
    if isinstance(error, socket.gaierror):
        return "värdnamnet går inte att slå upp"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"svarade {error.smtp_code}"
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return "servern kan inte STARTTLS"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return _first_line(error)


def check_print() -> Check:
    from kortfaktura.delivery.channels import MissingSetting, PrintSender

    if not settings.PRINT_DIR:
        return not_configured("print", "KORTFAKTURA_PRINT_DIR")
    try:
        PrintSender().check()
    except MissingSetting as error:
        return Check("print", False, str(error))
    return _directory_check(
        "print", "KORTFAKTURA_PRINT_DIR", Path(settings.PRINT_DIR), write=True, create=True
    )


# --- caching for /healthz --------------------------------------------------------------------

_probe_cache: dict[str, tuple[float, tuple[str, ...], Check]] = {}


def _cached(probe: Callable[[], Check]) -> Check:
    """A probe's answer for NETWORK_CACHE_SECONDS, per process: a monitor that asks every few
    seconds must not open an SFTP session and an SMTP connection each time. The settings are
    part of the key, so a changed setting (tests) is probed again."""
    key = (
        settings.PEPPOL_OUTBOX,
        settings.PEPPOL_INBOX,
        settings.SMTP_URL,
        settings.MAIL_FROM,
        settings.PRINT_DIR,
        settings.SSH_KEY,
    )
    now = time.monotonic()
    found = _probe_cache.get(probe.__name__)
    if found and found[1] == key and now - found[0] < NETWORK_CACHE_SECONDS:
        return found[2]
    answer = probe()
    _probe_cache[probe.__name__] = (now, key, answer)
    return answer


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__
