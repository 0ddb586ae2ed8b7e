"""Operations (issue 18): ``kortfaktura check`` and ``GET /healthz`` say whether the installation
can work and what to do when it cannot; ``kortfaktura backup`` makes a sound copy of the SQLite
database while the application runs, and refuses in Swedish what it cannot do.

Real databases, real directories, a real SMTP server (aiosmtpd), a real SFTP server (asyncssh)
and a real ``kortfaktura serve``; nothing is mocked.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from kortfaktura.operations import health
from processes import SCRIPT, drop_database, free_port, fresh_database_environment, run
from test_sftp import SftpTestServer, client_key, start_server  # noqa: F401 (fixtures)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "upgrade" / "kortfaktura-old.sqlite3"
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgres")
NAMES = ["database", "migrations", "rules", "fonts", "peppol_outbox", "peppol_inbox", "smtp",
         "print", "workers"]  # fmt: skip


def by_name(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in found["checks"]}


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A fresh, initialised database of its own (SQLite file, or a PostgreSQL database when the
    suite runs there) and a working directory; no channel configured."""
    env, database = fresh_database_environment(tmp_path / "var")
    for variable in ("KORTFAKTURA_PEPPOL_OUTBOX", "KORTFAKTURA_PEPPOL_INBOX",
                     "KORTFAKTURA_SMTP_URL", "KORTFAKTURA_PRINT_DIR",
                     "KORTFAKTURA_PEPPOL_RULES_DIR"):  # fmt: skip
        env.pop(variable, None)
    cwd = tmp_path / "work"
    cwd.mkdir()
    assert run(env, cwd, "init").returncode == 0
    try:
        yield env, cwd
    finally:
        drop_database(database)


# --- kortfaktura check ----------------------------------------------------------------------


def test_check_passes_on_a_fresh_installation(installation: tuple[dict[str, str], Path]) -> None:
    env, cwd = installation
    result = run(env, cwd, "check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert found["status"] == "ok"
    assert [check["name"] for check in found["checks"]] == NAMES
    checks = by_name(found)
    assert "underkänner felaktiga varianter" in checks["rules"]["detail"]  # ran the self-test
    assert checks["smtp"]["detail"] == "inte inställd (KORTFAKTURA_SMTP_URL)"
    human = run(env, cwd, "check")
    assert human.returncode == 0
    assert "Allt i ordning: 9 kontroller." in human.stdout


def test_check_with_an_unreachable_database_fails_in_swedish(tmp_path: Path) -> None:
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{free_port()}/finns_inte"
    result = run(env, tmp_path, "check", "--json")
    assert result.returncode == 1
    no_traceback(result)
    checks = by_name(json.loads(result.stdout))
    assert checks["database"]["ok"] is False
    detail = checks["database"]["detail"]
    assert "tar inte emot anslutningar" in detail and "DATABASE_URL" in detail, detail
    assert "refused" not in detail and "connection" not in detail  # the driver's English
    assert checks["migrations"] == {
        "name": "migrations", "ok": False,
        "detail": "kan inte kontrolleras förrän databasen svarar",
    }  # fmt: skip
    assert checks["fonts"]["ok"] is True  # the rest is still reported
    human = run(env, tmp_path, "check")
    assert human.returncode == 1
    no_traceback(human)
    assert "kontroller misslyckades (database, migrations)" in human.stderr


def test_check_of_a_missing_sqlite_file_says_so_and_does_not_create_it(tmp_path: Path) -> None:
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    (tmp_path / "var").mkdir()
    result = run(env, tmp_path, "check", "--json")
    assert result.returncode == 1
    database = by_name(json.loads(result.stdout))["database"]
    assert database["ok"] is False
    assert "finns inte – kör kortfaktura init" in database["detail"]
    assert not (tmp_path / "var" / "kortfaktura.sqlite3").exists()


def test_check_names_missing_and_broken_rules(
    installation: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, cwd = installation
    empty = tmp_path / "inga-regler"
    empty.mkdir()
    result = run({**env, "KORTFAKTURA_PEPPOL_RULES_DIR": str(empty)}, cwd, "check", "--json")
    assert result.returncode == 1
    rules = by_name(json.loads(result.stdout))["rules"]
    assert rules["ok"] is False
    assert f"Peppol-reglerna saknas i {empty}" in rules["detail"]
    assert "ta bort KORTFAKTURA_PEPPOL_RULES_DIR" in rules["detail"]

    broken = tmp_path / "trasiga-regler"
    shutil.copytree(health.standards.PEPPOL, broken)
    stylesheet = broken / "rules" / "PEPPOL-EN16931-UBL.xslt"
    stylesheet.write_bytes(stylesheet.read_bytes()[:5000])  # cut off mid-way
    result = run({**env, "KORTFAKTURA_PEPPOL_RULES_DIR": str(broken)}, cwd, "check", "--json")
    assert result.returncode == 1
    no_traceback(result)
    rules = by_name(json.loads(result.stdout))["rules"]
    assert rules["ok"] is False
    assert "går inte att läsa in" in rules["detail"]
    assert "scripts/update-peppol-rules.sh" in rules["detail"]


DO_NOTHING_XSLT = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
  <xsl:template match="/"><svrl:schematron-output/></xsl:template>
</xsl:stylesheet>
"""


@pytest.mark.parametrize("name", ["CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt"])
def test_rules_that_find_nothing_are_refused_by_check_and_by_issuing(
    installation: tuple[dict[str, str], Path], tmp_path: Path, name: str
) -> None:
    """A rule set replaced by one that reports nothing would let every document through: it
    must reject a known-bad variant of OpenPeppol's example before it is trusted."""
    env, cwd = installation
    hollow = tmp_path / "tomma-regler"
    shutil.copytree(health.standards.PEPPOL, hollow)
    (hollow / "rules" / name).write_text(DO_NOTHING_XSLT, encoding="utf-8")
    env = {**env, "KORTFAKTURA_PEPPOL_RULES_DIR": str(hollow)}
    result = run(env, cwd, "check", "--json")
    assert result.returncode == 1
    no_traceback(result)
    rules = by_name(json.loads(result.stdout))["rules"]
    assert rules["ok"] is False and "hittar inget fel" in rules["detail"], rules
    assert f"({'rules/' + name})" in rules["detail"]


@pytest.fixture
def smtp_port() -> Iterator[int]:
    class Accept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    controller = Controller(Accept(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def test_configured_channels_are_probed_and_a_broken_one_says_what_to_do(
    installation: tuple[dict[str, str], Path],
    tmp_path: Path,
    smtp_port: int,
    start_server: Callable[..., SftpTestServer],  # noqa: F811
    client_key: tuple[Any, Path],  # noqa: F811
) -> None:
    env, cwd = installation
    sftp = start_server()
    (tmp_path / "inkorg").mkdir()
    working = {
        **env,
        "KORTFAKTURA_PEPPOL_OUTBOX": sftp.url("outbox"),
        "KORTFAKTURA_PEPPOL_INBOX": f"file://{tmp_path / 'inkorg'}",
        "KORTFAKTURA_SSH_KEY": str(client_key[1]),
        "KORTFAKTURA_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "KORTFAKTURA_MAIL_FROM": "gits-fakturor@vgregion.example",
        "KORTFAKTURA_PRINT_DIR": str(tmp_path / "utskrift" / "ny"),
    }
    result = run(working, cwd, "check", "--json")
    assert result.returncode == 0, result.stdout
    checks = by_name(json.loads(result.stdout))
    assert checks["peppol_outbox"]["detail"].startswith("SFTP-servern svarar")
    assert checks["smtp"]["detail"] == f"e-postservern 127.0.0.1:{smtp_port} svarar"
    assert "skapas när den behövs" in checks["print"]["detail"]

    broken = {
        **working,
        "KORTFAKTURA_PEPPOL_OUTBOX": sftp.url("finns-inte"),
        "KORTFAKTURA_PEPPOL_INBOX": f"file://{tmp_path / 'saknas'}",
        "KORTFAKTURA_SMTP_URL": f"smtp+starttls://gits:hemligt@127.0.0.1:{free_port()}",
        "KORTFAKTURA_PRINT_DIR": "utskrift",
    }
    result = run(broken, cwd, "check", "--json")
    assert result.returncode == 1
    no_traceback(result)
    assert "hemligt" not in result.stdout + result.stderr
    checks = by_name(json.loads(result.stdout))
    assert [name for name in NAMES if not checks[name]["ok"]] == [
        "peppol_outbox", "peppol_inbox", "smtp", "print",
    ]  # fmt: skip
    assert "kontrollera KORTFAKTURA_PEPPOL_OUTBOX" in checks["peppol_outbox"]["detail"]
    assert (
        f"katalogen {tmp_path / 'saknas'} finns inte – skapa den eller ändra"
        in (checks["peppol_inbox"]["detail"])
    )
    assert "anslutningen vägrades" in checks["smtp"]["detail"]
    assert "gits:***@" in checks["smtp"]["detail"]
    assert "absolut sökväg" in checks["print"]["detail"]


# --- GET /healthz ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_answers_without_login_or_csrf_and_shows_no_data() -> None:
    client = Client(enforce_csrf_checks=True)
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert answer["Cache-Control"] == "no-store"
    found = answer.json()
    assert found["status"] == "ok"
    assert [check["name"] for check in found["checks"]] == NAMES
    assert set(found) == {"status", "checks"}
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405  # not 403: no CSRF token is asked for


def start_serving(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "KORTFAKTURA_WEB_WORKERS": "1"}, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return process, url
        except urllib.error.HTTPError:
            return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    pytest.fail(f"kortfaktura serve startade inte: {process.communicate()[1][-2000:]}")


def get(url: str, cookie: str = "") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_healthz_answers_503_when_the_database_is_gone(
    installation: tuple[dict[str, str], Path],
) -> None:
    env, cwd = installation
    process, url = start_serving(env, cwd)
    try:
        status, found = get(url)
        assert (status, found["status"]) == (200, "ok")
        if ON_POSTGRESQL:
            drop_database(env["DATABASE_URL"].rsplit("/", 1)[1])
        else:
            database = Path(env["KORTFAKTURA_DATA_DIR"]) / "kortfaktura.sqlite3"
            for file in database.parent.glob("kortfaktura.sqlite3*"):
                file.unlink()
        # A browser's session cookie must not make the page need the database first.
        status, found = get(url, cookie="sessionid=abc123")
        assert status == 503
        assert found["status"] == "fail"
        checks = by_name(found)
        assert checks["database"]["ok"] is False
        assert checks["rules"]["ok"] is True
        if not ON_POSTGRESQL:
            assert "finns inte" in checks["database"]["detail"]
            assert not database.exists(), "the health check created an empty database"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors


# --- kortfaktura backup ---------------------------------------------------------------------


@pytest.fixture
def old_history(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """A SQLite installation with a history: the upgrade fixture (issued documents, credits,
    deliveries, an open draft), upgraded."""
    if ON_POSTGRESQL:
        pytest.skip("backup copies SQLite; PostgreSQL is answered with pg_dump (tested below)")
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(FIXTURE, data / "kortfaktura.sqlite3")
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(data), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    env.pop("KORTFAKTURA_PEPPOL_RULES_DIR", None)
    cwd = tmp_path / "work"
    cwd.mkdir()
    assert run(env, cwd, "init").returncode == 0
    return env, cwd, data / "kortfaktura.sqlite3"


def documents(env: dict[str, str], cwd: Path, out: Path) -> dict[str, str]:
    listed = json.loads(run(env, cwd, "invoice", "list", "--json").stdout)
    numbers = [str(row["number"]) for row in listed]
    result = run(env, cwd, "invoice", "export", *numbers, "--format", "pdf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    ubl = [str(row["number"]) for row in listed if row["type"] in ("invoice", "credit_note")]
    result = run(env, cwd, "invoice", "export", *ubl, "--format", "ubl", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in out.iterdir()
        if path.suffix == ".xml"
    } | {"numbers": ",".join(numbers)}


@pytest.mark.slow
def test_a_restored_backup_has_the_same_documents_and_a_balanced_review(
    old_history: tuple[dict[str, str], Path, Path], tmp_path: Path
) -> None:
    env, cwd, _ = old_history
    copy = tmp_path / "säkerhet" / "kortfaktura-2026-12-07.sqlite3"
    copy.parent.mkdir()
    result = run(env, cwd, "backup", "--out", str(copy), "--json")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["integrity"] == "ok" and made["audited"] is True
    assert made["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert copy.stat().st_mode & 0o077 == 0  # personal data: only the owner reads it
    assert not Path(f"{copy}-wal").exists()  # one self-contained file
    audit = json.loads(run(env, cwd, "audit", "--object", "säkerhetskopia", "--json").stdout)
    assert [(row["action"], row["details"]["sha256"]) for row in audit] == [
        ("backup.created", made["sha256"])
    ]

    # Restore as docs/operations.md says: the copy becomes the database file of a new place.
    restored = tmp_path / "återställd"
    restored.mkdir()
    shutil.copyfile(copy, restored / "kortfaktura.sqlite3")
    renv = {**env, "KORTFAKTURA_DATA_DIR": str(restored)}
    review = run(renv, cwd, "review", "--json")
    assert review.returncode == 0, review.stderr
    assert json.loads(review.stdout)["balanced"] is True
    assert documents(renv, cwd, tmp_path / "från-kopian") == documents(
        env, cwd, tmp_path / "från-originalet"
    )


@pytest.mark.slow
def test_a_backup_while_a_run_is_being_issued_is_a_consistent_snapshot(
    old_history: tuple[dict[str, str], Path, Path], tmp_path: Path
) -> None:
    """The copy neither waits for nor tears a writer: while ``run issue`` holds its write
    transaction, the copy is made at once and holds the draft as it was before. (Recording it
    in the audit trail is a write, so that part waits for the issue to commit.)"""
    env, cwd, database = old_history
    with sqlite3.connect(database) as connection:
        (draft,) = connection.execute(
            "SELECT id FROM billing_billingrun WHERE status = 'draft'"
        ).fetchone()
    issuing = subprocess.Popen(
        [str(SCRIPT), "run", "issue", str(draft), "--json"],
        env={**env, "KORTFAKTURA_TEST_PAUSE_IN_ISSUE": "10", "KORTFAKTURA_ACTOR": "bertil"},
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    copy = tmp_path / "mitt-i.sqlite3"
    backing_up = None
    try:
        assert issuing.stderr is not None
        assert "testpaus i issue" in issuing.stderr.readline()
        backing_up = subprocess.Popen(
            [str(SCRIPT), "backup", "--out", str(copy), "--json"],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 8
        while not copy.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert copy.exists(), "the copy waited for the writer"
        assert issuing.poll() is None, "the issue finished before the copy: no overlap"
        # One that will not wait long for the audit trail's write lock still keeps its copy.
        impatient = run(
            {**env, "KORTFAKTURA_SQLITE_TIMEOUT": "1"}, cwd,
            "backup", "--out", str(tmp_path / "otålig.sqlite3"), "--json",
        )  # fmt: skip
        assert impatient.returncode == 0, impatient.stderr
        assert issuing.poll() is None
        answer = json.loads(impatient.stdout)
        assert (answer["integrity"], answer["audited"]) == ("ok", False)
        assert "upptagen" in answer["note"]
        out, errors = backing_up.communicate(timeout=120)
        assert backing_up.returncode == 0, errors
        made = json.loads(out)
        assert made["integrity"] == "ok" and made["audited"] is True
    finally:
        issued, errors = issuing.communicate(timeout=120)
        if backing_up is not None and backing_up.poll() is None:
            backing_up.kill()
    assert issuing.returncode == 0, errors
    assert json.loads(issued)["status"] == "issued"
    with sqlite3.connect(copy) as snapshot:
        assert snapshot.execute(
            "SELECT status FROM billing_billingrun WHERE id = ?", (draft,)
        ).fetchone() == ("draft",)
        assert snapshot.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_backup_refuses_in_swedish_what_it_cannot_do(
    old_history: tuple[dict[str, str], Path, Path], tmp_path: Path
) -> None:
    env, cwd, database = old_history
    existing = tmp_path / "finns.sqlite3"
    existing.write_bytes(b"en tidigare kopia")
    cases = {
        str(tmp_path): "är en katalog – ange ett filnamn i den",
        "/sys/kortfaktura.sqlite3": "går inte att skriva i (behörighet saknas)",
        str(database): "är själva databasen",
        str(database) + "-wal": "är själva databasen",
        str(existing): "finns redan – välj ett nytt filnamn, eller ange --force",
        "/dev/null": "är ingen vanlig fil",
        str(tmp_path / "saknas" / "kopia.sqlite3"): "finns inte – skapa den först",
    }
    before = database.read_bytes()
    for out, message in cases.items():
        result = run(env, cwd, "backup", "--out", out, "--json")
        assert result.returncode == 1, out
        no_traceback(result)
        assert message in json.loads(result.stdout)["error"], (out, result.stdout)
        assert message.split(" – ")[0] in " ".join(result.stderr.split()), out
    assert existing.read_bytes() == b"en tidigare kopia"
    assert database.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    assert run(env, cwd, "backup", "--out", str(existing), "--force").returncode == 0
    with sqlite3.connect(existing) as copy:
        assert copy.execute("SELECT count(*) FROM billing_invoice").fetchone()[0] > 0


def test_backup_on_postgresql_names_the_pg_dump_command(tmp_path: Path) -> None:
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    env["DATABASE_URL"] = "postgres://kortfaktura@db.example:5433/fakturor"
    result = run(env, tmp_path, "backup", "--out", str(tmp_path / "kf.dump"))
    assert result.returncode == 1
    no_traceback(result)
    assert result.stdout.strip() == (
        f"pg_dump --format=custom --file={tmp_path / 'kf.dump'} --host=db.example --port=5433 "
        "--username=kortfaktura fakturor"
    )
    assert "pg_restore" in result.stderr
    assert "Ingen kopia gjordes" in " ".join(result.stderr.split())
    assert not (tmp_path / "kf.dump").exists()
