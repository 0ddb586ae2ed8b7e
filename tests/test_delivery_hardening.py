"""Delivery that cannot be fooled, the sending side (DOMAIN.md R20, R19; issue 17): an e-mail the
server accepted is sent whatever QUIT answers; no password reaches a message; only the stored,
hashed document leaves, to the receiver it names; one document that cannot be rendered never
stops a print batch; a setting that cannot work stops ``deliver`` before anything is queued.

Real servers on 127.0.0.1 (aiosmtpd, asyncssh), real files, the real database."""

from collections.abc import Iterator
from typing import Any

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
