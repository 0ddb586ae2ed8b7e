"""Delivery that cannot be fooled, the sending side (DOMAIN.md R20, R19; issue 17): an e-mail the
server accepted is sent whatever QUIT answers; no password reaches a message; only the stored,
hashed document leaves, to the receiver it names; one document that cannot be rendered never
stops a print batch; a setting that cannot work stops ``deliver`` before anything is queued.

Real servers on 127.0.0.1 (aiosmtpd, asyncssh), real files, the real database."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from aiosmtpd.controller import Controller

import test_delivery
from kortfaktura.delivery.models import Delivery
from processes import free_port
from test_delivery import Cli, Mailbox, as_json

pytestmark = pytest.mark.django_db
# The issued documents of every channel and the channels' settings, as in test_delivery.py.
issued, channels, smtp = test_delivery.issued, test_delivery.channels, test_delivery.smtp


class ScriptedMailbox(Mailbox):
    """An SMTP server whose answers to DATA and QUIT a test chooses: ``None`` is the ordinary
    answer, ``"drop"`` closes the connection instead of answering."""

    def __init__(self, data: str | None = None, quit: str | None = None) -> None:
        super().__init__()
        self.data = data
        self.quit = quit

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data is not None:
            return self.data
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        if self.quit == "drop":
            server.transport.abort()  # the line goes dead instead of an answer
            return "221 Bye"
        return self.quit or "221 Bye"


@pytest.fixture
def scripted(settings: Any) -> Iterator[Any]:
    controllers = []

    def start(**answers: str) -> ScriptedMailbox:
        box = ScriptedMailbox(**answers)
        controller = Controller(box, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        settings.SMTP_URL = f"smtp://127.0.0.1:{controller.port}"
        return box

    yield start
    for controller in controllers:
        controller.stop()


# 1. After a 250 for DATA the message is sent, whatever QUIT answers -------------------------


@pytest.mark.parametrize("quit", ["421 4.3.2 Service shutting down", "500 5.5.1 Unknown", "drop"])
def test_an_email_accepted_at_data_is_sent_whatever_quit_answers(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], scripted: Any, quit: str
) -> None:
    box = scripted(quit=quit)
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["failed"] == [], result
    assert [(r["status"], r["attempts"], r["error"]) for r in result["delivered"]] == [
        ("sent", 1, "")
    ]
    # Naming the number retries a failed delivery at once: a sent one is not sent again.
    code, again = as_json(cli, "deliver", number)
    assert code == 0 and again["delivered"] == [] and again["failed"] == [], again
    assert len(box.messages) == 1
    row = Delivery.objects.get(invoice__number=int(number))
    assert (row.status, row.next_attempt_at) == ("sent", None)


@pytest.mark.parametrize(
    ("answer", "retried"),
    [("451 4.3.0 Försök senare", True), ("554 5.6.0 Meddelandet vägras", False)],
)
def test_an_email_refused_at_data_fails_as_before(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], scripted: Any,
    answer: str, retried: bool,
) -> None:  # fmt: skip
    scripted(data=answer)
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["delivered"] == [], result
    [failed] = result["failed"]
    assert failed["status"] == "failed" and answer.split(maxsplit=1)[0] in failed["error"]
    assert (failed["next_attempt_at"] is not None) is retried


# 6. No password in any message ---------------------------------------------------------------

# (URL, its password as the server must receive it). "/", "@", ":", "%", "?" and "#" written as
# they are or percent-encoded, in passwords and user names.
SECRET_URLS = [
    ("smtp://gits:pa/ss-SECRET1@mail.example:587", "pa/ss-SECRET1"),
    ("smtp+starttls://gits:p@ss-SECRET2@mail.example:587", "p@ss-SECRET2"),
    ("smtps://gits:p:a:ss-SECRET3@mail.example", "p:a:ss-SECRET3"),
    ("smtp://gits:p%25ss%2F%40-SECRET4@mail.example:25", "p%ss/@-SECRET4"),
    ("smtp+starttls://gits@vgregion.se:p?ss#/-SECRET5@mail.example:587", "p?ss#/-SECRET5"),
    ("smtp://gi%74s%40vgr:%-SECRET6@mail.example", "%-SECRET6"),
]


@pytest.mark.parametrize(("url", "password"), SECRET_URLS)
def test_redact_masks_the_whole_password_and_keeps_the_rest(url: str, password: str) -> None:
    from kortfaktura.delivery.transport import redact, split_url

    shown = redact(url)
    assert "SECRET" not in shown and "***@mail.example" in shown, shown
    assert shown.startswith(url.split("://", maxsplit=1)[0] + "://gi")  # the scheme and user stay
    parts = split_url(url)
    assert (parts.hostname, unquote(parts.password or "")) == ("mail.example", password)


@pytest.mark.parametrize(
    "url",
    [
        "sftp://ap:pa/ss-SECRET7@ap.example:2222/peppol/ut",
        "sftp://ap/user:p@ss-SECRET8@ap.example/ut",
        "sftp://ap:SECRET9@ap.example:x/ut",
        "smtp:gits:SECRET10@mail.example",
        "gits:SECRET11@mail.example:587",
        "file://gits:SECRET12@localhost/srv/ut",
    ],
)
def test_redact_masks_mistyped_addresses_too(url: str) -> None:
    from kortfaktura.delivery.transport import redact

    assert "SECRET" not in redact(url) and "***" in redact(url)


def test_redact_leaves_addresses_without_a_password_alone() -> None:
    from kortfaktura.delivery.transport import redact

    for url in ("smtp://mail.example:25", "sftp://ap@ap.example:22/ut", "file:///srv/ut@2020",
                "sftp://gits@vgregion.se@ap.example/ut"):  # fmt: skip
        assert redact(url) == url


def _everything_shown(cli: Cli, *outputs: str) -> str:
    """What a person can read: the given outputs, the delivery list and the audit trail."""
    texts = list(outputs)
    for args in (("delivery", "list"), ("delivery", "list", "--json"), ("audit", "--json")):
        _, out, err = cli(*args)
        texts += [out, err]
    return "\n".join(texts)


class Login:
    """An aiosmtpd authenticator that takes one user and password and records every try."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.tries: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> Any:  # fmt: skip
        from aiosmtpd.smtp import AuthResult

        tried = (auth_data.login.decode(), auth_data.password.decode())
        self.tries.append(tried)
        return AuthResult(success=tried == (self.user, self.password), handled=False)


@pytest.mark.parametrize(("url", "password"), SECRET_URLS)
def test_an_smtp_password_with_special_characters_logs_in_and_never_shows(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    url: str, password: str,
) -> None:  # fmt: skip
    from kortfaktura.delivery.transport import split_url

    box, login = Mailbox(), Login("", "")
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), auth_required=True,
                            auth_require_tls=False, authenticator=login)  # fmt: skip
    controller.start()
    # The same user part, written the same way, to this server (plain SMTP: it has no TLS).
    userinfo = url.split("://", 1)[1].rsplit("@mail.example", 1)[0]
    settings.SMTP_URL = f"smtp://{userinfo}@127.0.0.1:{controller.port}"
    login.user, login.password = unquote(split_url(settings.SMTP_URL).username or ""), password
    try:
        number = issued["1480"]["number"]
        code, out, err = cli("deliver", number)
        assert code == 0 and "Skickade: 1" in out, out + err
        assert login.tries == [(login.user, password)] and len(box.messages) == 1
        # A wrong password: the server refuses, the message says so, the password is not shown.
        login.password = "något annat"
        code, json_out, err2 = cli("deliver", "--resend", number, "--json")
        assert code == 0 and "godtog inte inloggningen" in json_out, json_out + err2
        shown = _everything_shown(cli, out, err, json_out, err2)
    finally:
        controller.stop()
    assert "SECRET" not in shown


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("SMTP_URL", "smtpx://gits:pa/ss-SECRET1@mail.example:587"),
        ("SMTP_URL", "smtp://gits:p@ss-SECRET2@mail.example:port"),
        ("SMTP_URL", "smtp://gits:p@ss-SECRET2@:25"),
        ("SMTP_URL", "file://gits:SECRET3@mail.example/srv/epost"),
        ("PEPPOL_OUTBOX", "sftp://gits:pa/ss-SECRET4@ap.example:2222/ut"),
        ("PEPPOL_OUTBOX", "sftp://gits:p@ss-SECRET5@ap.example/ut"),
        ("PEPPOL_OUTBOX", "sftp://gits:SECRET6@ap.example:x/ut"),
        ("PEPPOL_OUTBOX", "ftp://gits:SECRET7@ap.example/ut"),
        ("PEPPOL_OUTBOX", "file://gits:p%40ss-SECRET8@ap.example/ut"),
    ],
)
def test_a_setting_with_a_password_is_never_shown_whole(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    variable: str, url: str,
) -> None:  # fmt: skip
    setattr(settings, variable, url)
    code, out, err = cli("deliver")
    code_json, out_json, err_json = cli("deliver", "--json")
    assert "SECRET" not in _everything_shown(cli, out, err, out_json, err_json)
    assert code == 1 == code_json and f"KORTFAKTURA_{variable}" in err, out + err
    assert "***" in err and not Delivery.objects.exists()


def test_the_sftp_outbox_and_inbox_never_show_a_password() -> None:
    """The messages of the SFTP outbox and inbox themselves (used by --watch on every round)."""
    from kortfaktura.delivery.sftp import SftpError, SftpInbox, SftpOutbox

    for url in ("sftp://gits:pa/ss-SECRET1@127.0.0.1:2222/ut",
                "sftp://gits:SECRET2@127.0.0.1:x/ut",
                "sftp://gits:p@ss-SECRET3@127.0.0.1:70000/ut"):  # fmt: skip
        for kind in (SftpOutbox, SftpInbox):
            with pytest.raises(SftpError) as refused:
                kind(url, None)
            assert "SECRET" not in refused.value.message and not refused.value.transient
