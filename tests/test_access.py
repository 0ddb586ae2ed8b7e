"""Users, roles, API tokens, login and its audit trail (issue 12)."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

import webtools
from kortfaktura.access.models import ApiToken
from kortfaktura.access.roles import ROLES
from kortfaktura.access.services import AccessError, add_user, user_for_token
from kortfaktura.audit.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_each_role_is_a_group_with_exactly_its_permissions() -> None:
    for key, role in ROLES.items():
        person = (
            webtools.user(key, "2120001454" if key == "kund" else None) if key != "kund" else None
        )
        if person is None:
            continue
        for codename in ("view_billing", "issue_runs", "manage_users", "import_files"):
            assert person.has_perm(f"access.{codename}") == (codename in role.permissions), (
                key,
                codename,
            )


def test_a_customer_user_needs_an_existing_organisation(kommun: Any) -> None:
    with pytest.raises(AccessError, match="--orgnr"):
        add_user("kalle", "kund", webtools.PASSWORD)
    with pytest.raises(AccessError, match="ingen kund"):
        add_user("kalle", "kund", webtools.PASSWORD, "556036-0793")
    with pytest.raises(AccessError, match="organisationsnummer"):
        add_user("kalle", "kund", webtools.PASSWORD, "123")
    created = add_user("kalle", "kund", webtools.PASSWORD, "212000-1454").user
    assert created.kortfaktura_profile.customer == kommun  # type: ignore[attr-defined]


def test_a_weak_password_is_refused_and_nothing_is_created() -> None:
    with pytest.raises(AccessError, match="lösenordet"):
        add_user("kalle", "admin", "kort")
    assert not User.objects.filter(username="kalle").exists()


def test_passwords_are_hashed_with_argon2() -> None:
    person = webtools.user("ekonomi")
    assert person.password.startswith("argon2")


def test_tokens_are_stored_hashed_and_found_again() -> None:
    webtools.user("granskare")
    token = webtools.token("granskare")
    row = ApiToken.objects.get()
    assert token not in row.digest and row.digest != token
    assert user_for_token(token) is not None
    assert user_for_token(token + "x") is None
    assert user_for_token("") is None


def test_cli_user_add_reads_the_password_from_stdin_and_token_create_prints_the_token(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(webtools.PASSWORD + "\n"))
    code, out, err = cli("user", "add", "eva", "--role", "ekonomi")
    assert code == 0, err
    assert "Ekonomi" in out
    code, out, err = cli("token", "create", "eva")
    assert code == 0, err
    token = out.strip().splitlines()[0]
    assert user_for_token(token) is not None
    code, out, err = cli("token", "create", "okänd")
    assert code == 1 and "finns inte" in err


def test_login_and_failed_login_are_in_the_audit_trail_and_throttled() -> None:
    webtools.user("fakturering", username="frida")
    browser = Client()
    for _ in range(5):
        response = browser.post("/logga-in/", {"username": "frida", "password": "fel-lösenord"})
    assert AuditRecord.objects.filter(action="misslyckad inloggning").count() >= 5
    response = browser.post("/logga-in/", {"username": "frida", "password": webtools.PASSWORD})
    assert response.status_code in (403, 429)
    assert "spärrad" in response.content.decode()
    assert not AuditRecord.objects.filter(action="inloggning").exists()


def test_a_successful_login_is_recorded() -> None:
    webtools.user("granskare", username="greta")
    browser = Client()
    response = browser.post("/logga-in/", {"username": "greta", "password": webtools.PASSWORD})
    assert response.status_code == 302
    record = AuditRecord.objects.get(action="inloggning")
    assert record.actor == "greta" and record.object == "användare greta"


def test_pages_ask_anonymous_visitors_to_log_in_and_the_api_answers_401() -> None:
    browser = Client()
    response = browser.get("/fakturor/")
    assert response.status_code == 302 and response["Location"].startswith("/logga-in/")
    response = browser.get("/api/v1/me")
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]


def test_the_api_knows_the_caller_by_token() -> None:
    webtools.user("admin", username="ada")
    token = webtools.token("ada")
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"username": "ada", "role": "admin", "orgnr": None}


def test_responses_carry_a_content_security_policy_without_inline_scripts() -> None:
    response = Client().get("/logga-in/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()


@pytest.mark.slow
def test_serve_answers_on_its_port(fresh: Any) -> None:
    import time
    import urllib.request

    from processes import free_port

    env, directory = fresh
    subprocess.run(
        [str(Path(".venv/bin/kortfaktura").resolve()), "init"],
        env=env,
        cwd=directory,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [str(Path(".venv/bin/kortfaktura").resolve()), "serve", "--port", str(port)],
        env=env,
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = ""
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/logga-in/") as answer:
                    body = answer.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert "Logga in" in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/web/vendor/htmx.min.js") as js:
            assert js.status == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in output


def test_the_demo_makes_one_user_per_role_and_the_customer_sees_an_invoiced_municipality() -> None:
    from kortfaktura.access import scope
    from kortfaktura.demo.services import DEMO_PASSWORD, create_demo_users

    world = webtools.billed_world(with_draft=False)
    users = create_demo_users()
    assert [user.username for user in users] == list(ROLES)
    browser = Client()
    response = browser.post("/logga-in/", {"username": "kund", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    customer = User.objects.get(username="kund")
    visible = {invoice.customer_id for invoice in scope.invoices(customer)}
    assert len(visible) == 1 and visible <= {world.own.pk, world.other.pk}
    again = create_demo_users()  # the demo can run again
    assert len(again) == len(users)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["system", "SYSTEM", "System"])
def test_the_name_the_schedule_acts_under_is_reserved(name: str) -> None:
    from kortfaktura.access.services import AccessError, add_user

    with pytest.raises(AccessError, match="reserverat"):
        add_user(name, "admin", "Ett-långt-lösen-2026")


@pytest.mark.django_db
def test_a_username_that_looks_like_another_is_refused() -> None:
    from kortfaktura.access.services import AccessError, add_user

    add_user("admin", "admin", "Ett-långt-lösen-2026")
    for lookalike in ("\u0430dmin", "ADMIN", "\uff41dmin"):  # Cyrillic а, capitals, full width
        with pytest.raises(AccessError, match="ser likadana ut"):
            add_user(lookalike, "ekonomi", "Ett-långt-lösen-2026")
    add_user("åsa", "ekonomi", "Ett-långt-lösen-2026")
    add_user("asa", "ekonomi", "Ett-långt-lösen-2026")  # å and a are told apart
