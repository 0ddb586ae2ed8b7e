"""No English from a library reaches a user of the Swedish command line (issue 17, minors): each
case is provoked as a user would, through the real ``kortfaktura`` command or ``main``, and answers
in Swedish with what to do, exit 1 and no traceback."""

import datetime as dt
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dj_database_url
import openpyxl
import pytest
from django.db import connection

import factories as make
from kortfaktura.billing import services
from kortfaktura.billing.models import Invoice
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.documents.validation import get_validator
from processes import free_port, run

# What the libraries say (zipfile, zlib, libxml2, expat, SQLite, libpq, urllib, dj-database-url,
# the operating system, Python's warnings); none of it may reach the user.
ENGLISH = (
    "Traceback", "Error -", "rror:", "Warning", "could not", "not a valid", "does not exist",
    "Connection refused", "Is the server running", "unable to open", "File name too long",
    "No such file", "Permission denied", "Not a directory", "File exists", "decompress",
    "not a zip file", "Bad CRC", "Specification mandates", "StartTag", "no element found",
    "invalid", "expected", "is not", "cannot", "failed", "readonly", "read-only transaction",
    "Port could not", "list index", "Name or service", "This element", "DSA",
)  # fmt: skip


def assert_swedish(text: str, *, without: tuple[str, ...] = ()) -> None:
    """``text`` holds none of the libraries' English (paths the test made are left out)."""
    for path in without:
        text = text.replace(path, "<sökväg>")
    for phrase in ENGLISH:
        assert phrase not in text, (phrase, text)


def sqlite_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    return env


def answered(result: Any, *paths: str) -> str:
    """The Swedish error of a command that exited 1, from its ``--json`` output and stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    message = str(json.loads(result.stdout)["error"])
    assert_swedish(message + result.stderr, without=paths)
    return message


# DATABASE_URL and the PostgreSQL server -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://kf@127.0.0.1:abc/kf", "porten 'abc' är inget tal mellan 1 och 65535"),
        ("postgres://kf@127.0.0.1:99999/kf", "porten '99999' är inget tal"),
        ("postgres://kf@[::1:5432/kf", "adressen går inte att tolka"),
        ("mysqlx://nope", "Kortfaktura använder PostgreSQL"),
        ("postgres://kf@127.0.0.1:5432", "saknar databasens namn"),
    ],
)
def test_a_database_url_that_cannot_be_read_is_answered_in_swedish(
    tmp_path: Path, url: str, expected: str
) -> None:
    env = {**sqlite_env(tmp_path / "var"), "DATABASE_URL": url}
    message = answered(run(env, tmp_path, "invoice", "list", "--json"))
    assert expected in message
    assert "DATABASE_URL" in message and "postgres://" in message  # what to write instead


def test_a_database_server_that_is_down_is_answered_in_swedish(tmp_path: Path) -> None:
    port = free_port()
    env = {**sqlite_env(tmp_path / "var"), "DATABASE_URL": f"postgres://kf@127.0.0.1:{port}/kf"}
    for args in (("invoice", "list", "--json"), ("init", "--json")):
        message = answered(run(env, tmp_path, *args))
        assert f"databasservern 127.0.0.1:{port} tar inte emot anslutningar" in message
        assert "Kontrollera att PostgreSQL är igång" in message


def postgres_server() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs the PostgreSQL server the suite runs on (DATABASE_URL)")
    return dict(dj_database_url.parse(url))


@pytest.mark.parametrize(
    ("user", "database", "expected"),
    [
        ("postgres", "kf_finns_inte", "databasen kf_finns_inte finns inte på databasservern"),
        ("kf_ingen_sadan_roll", "postgres", "användaren kf_ingen_sadan_roll finns inte"),
    ],
)
def test_a_wrong_database_or_user_is_answered_in_swedish(
    tmp_path: Path, user: str, database: str, expected: str
) -> None:
    server = postgres_server()
    url = f"postgres://{user}@{server['HOST'] or '127.0.0.1'}:{server['PORT'] or 5432}/{database}"
    env = {**sqlite_env(tmp_path / "var"), "DATABASE_URL": url}
    message = answered(run(env, tmp_path, "invoice", "list", "--json"))
    assert expected in message
    assert "DATABASE_URL" in message


# The SQLite file and its directory ----------------------------------------------------------------


def test_an_unusable_sqlite_location_is_answered_in_swedish(tmp_path: Path) -> None:
    a_file = tmp_path / "en-fil"
    a_file.write_text("ingen katalog")
    result = run(sqlite_env(a_file), tmp_path, "init", "--json")
    message = answered(result, str(tmp_path))
    assert "datakatalogen" in message and "KORTFAKTURA_DATA_DIR" in message

    directory = tmp_path / "var"
    (directory / "kortfaktura.sqlite3").mkdir(parents=True)  # "unable to open database file"
    for args in (("init", "--json"), ("invoice", "list", "--json")):
        message = answered(run(sqlite_env(directory), tmp_path, *args), str(tmp_path))
        assert "är en katalog, inte en databasfil" in message

    garbage = tmp_path / "skrap"
    garbage.mkdir()
    (garbage / "kortfaktura.sqlite3").write_bytes(os.urandom(8192))  # "file is not a database"
    message = answered(run(sqlite_env(garbage), tmp_path, "audit", "--json"), str(tmp_path))
    assert "är ingen SQLite-databas" in message and "säkerhetskopia" in message


def test_a_setting_that_is_no_number_is_named_in_swedish(tmp_path: Path) -> None:
    env = {**sqlite_env(tmp_path / "var"), "KORTFAKTURA_PAYMENT_TERMS_DAYS": "trettio"}
    message = answered(run(env, tmp_path, "invoice", "list", "--json"))
    assert "KORTFAKTURA_PAYMENT_TERMS_DAYS" in message and "heltal" in message


# Paths the command is given -----------------------------------------------------------------------

LONG = "a" * 300  # one name longer than any file system allows (255): ENAMETOOLONG


def test_a_name_too_long_is_answered_in_swedish(fresh: tuple[dict[str, str], Path]) -> None:
    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    cases = [
        ("import", "orders", f"{LONG}.csv"),
        ("import", "orders", str(cwd / LONG / "bestallningar.csv")),
        ("export", "sie", "--from", "2020-01-01", "--to", "2020-01-31", "--out", f"{LONG}.se"),
        ("review", "--html", f"{LONG}.html"),
    ]
    for args in cases:
        message = answered(run(env, cwd, *args, "--json"), str(cwd))
        assert "namnet är för långt" in message, (args, message)
        assert "välj ett kortare namn" in message


# Excel files: a zip of XML parts ------------------------------------------------------------------


def customers_workbook(path: Path, rows: int = 30) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["orgnr", "name", "account_code", "street", "postal_code", "city"])
    for number in range(rows):
        sheet.append(["2120001454", "Vårgårda kommun", f"K{number}", "Box 1", "44780", "Vårgårda"])
    book.save(path)
    return path


def rewritten(source: Path, target: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for member in original.infolist():
            content = original.read(member.filename)
            copy.writestr(member, change(content) if member.filename == part else content)
    return target


def stored_copy(source: Path, target: Path) -> Path:
    """The same workbook with its parts stored uncompressed, so that their bytes can be edited."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for member in original.infolist():
            copy.writestr(zipfile.ZipInfo(member.filename), original.read(member.filename))
    return target


def damaged_workbooks(directory: Path) -> dict[str, tuple[Path, str]]:
    good = customers_workbook(directory / "kunder.xlsx")
    data = good.read_bytes()
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(good) as archive:
        member = archive.getinfo(sheet)
    start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    flipped = bytearray(data)
    for index in range(start + 10, start + 40):  # the deflate stream no longer inflates (zlib)
        flipped[index] ^= 0xFF
    (directory / "packning.xlsx").write_bytes(bytes(flipped))
    (directory / "avkortad.xlsx").write_bytes(data[: len(data) // 2])
    stored = stored_copy(good, directory / "crc.xlsx").read_bytes()
    (directory / "crc.xlsx").write_bytes(stored.replace(b"Box 1", b"Cox 1"))  # CRC-32 differs
    return {
        "packning.xlsx": (directory / "packning.xlsx", "går inte att packa upp"),
        "avkortad.xlsx": (directory / "avkortad.xlsx", "inget helt zip-arkiv"),
        "crc.xlsx": (directory / "crc.xlsx", "kontrollsumma stämmer inte"),
        "xml.xlsx": (
            rewritten(good, directory / "xml.xlsx", sheet, lambda c: c[: len(c) // 2]),
            "innehåll (XML) är trasigt",
        ),
        "arbetsbok.xlsx": (
            rewritten(good, directory / "arbetsbok.xlsx", "xl/workbook.xml", lambda c: c[:300]),
            "innehåll (XML) är trasigt",
        ),
        "text.xlsx": (  # cells that point at shared texts that do not exist
            rewritten(
                good,
                directory / "text.xlsx",
                sheet,
                lambda c: c.replace(
                    b"<sheetData>", b'<sheetData><row r="1"><c r="A1" t="s"><v>999</v></c></row>'
                ),
            ),
            "inte går att tolka",
        ),
    }


@pytest.mark.django_db
def test_a_damaged_excel_file_is_answered_in_swedish(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    for name, (path, expected) in damaged_workbooks(tmp_path).items():
        code, out, err = cli("import", "customers", str(path), "--json")
        assert code == 1, (name, out)
        message = json.loads(out)["error"]
        assert_swedish(message + err, without=(str(tmp_path),))
        assert expected in message, (name, message)
        assert "Spara den på nytt" in message or "spara den på nytt" in message, message


@pytest.mark.django_db
def test_a_csv_field_beyond_the_limit_is_answered_in_swedish(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    path = tmp_path / "stor.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("order_id;ordered_at;orgnr;product_code\r\n")
        handle.write(f'B1;2020-03-01;2120001454;"{"x" * 16_000_001}"\r\n')
    code, out, _ = cli("import", "orders", str(path), "--json")
    assert code == 1
    message = json.loads(out)["error"]
    assert_swedish(message, without=(str(tmp_path),))
    assert "ett fält är större än 16 MB" in message


# A stored document and the official rules ---------------------------------------------------------


@pytest.fixture
def issued_invoice(kommun: Any, etk: Any) -> Invoice:
    for day in ("2020-03-10", "2020-03-11"):
        make.order(kommun, day, etk)
    draft = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    assert draft.pk is not None
    return services.issue_run(draft.pk).invoices.get()


@pytest.mark.django_db
def test_a_stored_document_that_does_not_unpack_is_answered_in_swedish(
    cli: Callable[..., tuple[int, str, str]], issued_invoice: Invoice, tmp_path: Path
) -> None:
    """Someone wrote over the stored (zlib) document in the database: export says so in Swedish
    instead of zlib's "Error -3 while decompressing data"."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [IssuedDocument._meta.db_table],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        cursor.execute(
            f"UPDATE {IssuedDocument._meta.db_table} SET content = %s WHERE invoice_id = %s",
            [b"not zlib at all", issued_invoice.pk],
        )
    code, out, err = cli(
        "invoice", "export", str(issued_invoice.number), "--format", "ubl",
        "--out", str(tmp_path / "ut"), "--json",
    )  # fmt: skip
    assert code == 1
    (failed,) = json.loads(out)["failed"]
    reason = failed["reason"]
    assert_swedish(reason + err, without=(str(tmp_path),))
    assert "går inte att packa upp" in reason
    assert "säkerhetskopia" in reason


@pytest.mark.django_db
def test_an_export_directory_whose_name_is_too_long_is_answered_in_swedish(
    cli: Callable[..., tuple[int, str, str]], issued_invoice: Invoice, tmp_path: Path
) -> None:
    out = tmp_path / LONG
    code, stdout, err = cli(
        "invoice", "export", str(issued_invoice.number), "--format", "csv", "--out", str(out),
        "--json",
    )  # fmt: skip
    assert code == 1
    message = json.loads(stdout)["error"]
    assert_swedish(message + err, without=(str(tmp_path),))
    assert "namnet är för långt" in message


def test_the_schema_answers_in_swedish() -> None:
    validator = get_validator()
    if validator is None:
        pytest.skip("the Peppol rules are not installed")
    example = Path(validator.rules_dir) / "examples" / "base-example.xml"
    if not example.is_file():
        pytest.skip("the official examples are not installed")
    broken = example.read_bytes().replace(
        b"<cbc:BuyerReference>", b"<cbc:Unknown/><cbc:BuyerReference>"
    )
    schema = [f for f in validator.validate(broken) if f.rule == "XSD"]
    assert schema, "the schema must reject an unknown element"
    for finding in schema:
        assert_swedish(finding.text)
        assert "UBL 2.1-schemat godtar inte" in finding.text
    assert any("cbc:Unknown" in finding.text for finding in schema)
    (syntax,) = validator.validate(b"<Invoice><cbc:ID></Invoice>")
    assert_swedish(syntax.text)
    assert "inte välformad XML (rad 1" in syntax.text


# SFTP: asyncssh's import --------------------------------------------------------------------------


def test_an_sftp_setting_prints_no_library_warning(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path / "var")
    assert run(env, tmp_path, "init").returncode == 0
    (tmp_path / "ut").mkdir()
    env |= {
        "KORTFAKTURA_PEPPOL_OUTBOX": f"file://{tmp_path / 'ut'}",
        "KORTFAKTURA_PEPPOL_INBOX": f"sftp://ap@127.0.0.1:{free_port()}/in",  # nobody listens
        "KORTFAKTURA_SMTP_URL": f"file://{tmp_path / 'epost'}",
        "KORTFAKTURA_MAIL_FROM": "gits@example.se",
        "KORTFAKTURA_PRINT_DIR": str(tmp_path / "utskrift"),
    }
    result = run(env, tmp_path, "deliver")
    assert result.returncode == 0, result.stderr
    assert "SFTP-servern 127.0.0.1" in result.stdout  # the inbox was tried, over SFTP
    assert result.stderr == "", result.stderr


# An unexpected error whose log cannot be written --------------------------------------------------


@pytest.mark.django_db
def test_an_unexpected_error_without_a_log_shows_no_traceback(
    cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
) -> None:
    from kortfaktura.billing import selectors

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("ett fel som ingen väntade sig")

    blocked = tmp_path / "en-fil"
    blocked.write_text("ingen katalog")
    settings.DATA_DIR = blocked  # var/log cannot be made
    monkeypatch.setattr(selectors, "issued_documents", broken)
    code, _, err = cli("invoice", "list")
    assert code == 1
    assert "Traceback" not in err
    assert "KORTFAKTURA_DEBUG=1" in err
