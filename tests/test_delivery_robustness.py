"""Delivery under stress, in real processes (DOMAIN.md R20; issue 11, "Exactly once"): the
``kortfaktura`` console script against a fresh database, a real SMTP server (aiosmtpd) on
127.0.0.1 and a directory outbox. A worker is stopped with SIGTERM, killed with SIGKILL
mid-batch, run twice at once on PostgreSQL, and meets a server that refuses or drops the
connection. ``KORTFAKTURA_TEST_PAUSE_IN_DELIVER_SEND`` holds a worker after a document was handed
over and before it is recorded ``sent``."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from conftest import CUSTOMER_HEADER, ORDER_HEADER, PRICE_HEADER, customer_row, order_row, write_csv
from processes import SCRIPT, drop_database, free_port, fresh_database_environment, issuer, run

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))


class Mailbox:
    """Every message the SMTP server accepted: (recipients, Message-ID)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email

        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), str(message["Message-ID"])))
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(rcpt for rcpts, _ in self.messages for rcpt in rcpts)


@dataclass
class World:
    env: dict[str, str]
    cwd: Path
    outbox: Path
    mailbox: Mailbox
    smtp_port: int
    accounts: list[str] = field(default_factory=list)  # the channel of each account

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self.env, self.cwd, *args)

    def json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def start(self, *args: str, **pauses: str) -> subprocess.Popen[str]:
        env = {**self.env, **{f"KORTFAKTURA_TEST_PAUSE_IN_{k.upper()}": v for k, v in
                              pauses.items()}}  # fmt: skip
        return subprocess.Popen([str(SCRIPT), *args], env=env, cwd=self.cwd, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    def deliveries(self) -> dict[str, dict[str, Any]]:
        """The ordinary (not resent) delivery of each document by number."""
        rows = self.json("delivery", "list")
        return {row["number"]: row for row in rows if row["resend_of"] is None}

    def files(self) -> list[Path]:
        return sorted(p for p in self.outbox.iterdir() if not p.name.startswith("."))

    def issue(self, month: str) -> list[str]:
        """One order per account in ``month`` of 2020, billed and issued: the numbers."""
        orgnr = "212000-1454"
        rows = [
            order_row(f"{month}-{i}", f"2020-{month}-0{1 + i % 9} 09:00", orgnr,
                      unit_code="" if i == 0 else f"U{i}")
            for i in range(len(self.accounts))
        ]  # fmt: skip
        orders = write_csv(self.cwd / f"orders-{month}.csv", ORDER_HEADER, rows)
        assert self.json("import", "orders", str(orders))["quarantined"] == 0
        draft = self.json("bill", "--from", f"2020-{month}-01", "--to", f"2020-{month}-28")
        result = run(issuer(self.env, ("run", "issue")), self.cwd, "run", "issue",
                     str(draft["id"]), "--json")  # fmt: skip
        assert result.returncode == 0, result.stderr
        numbers = [str(invoice["number"]) for invoice in json.loads(result.stdout)["invoices"]]
        assert len(numbers) == len(self.accounts)
        return numbers


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
def make_world(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> Iterator[Callable[..., World]]:
    databases: list[str | None] = []

    def make(channels: list[str], smtp_port: int | None = None) -> World:
        env, database = fresh_database_environment(tmp_path / "var")
        databases.append(database)
        outbox = tmp_path / "outbox"
        outbox.mkdir()
        port = smtp_port or mailbox[1]
        env |= {
            "KORTFAKTURA_PEPPOL_OUTBOX": f"file://{outbox}",
            "KORTFAKTURA_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "KORTFAKTURA_MAIL_FROM": "gits-fakturor@vgregion.example",
            "KORTFAKTURA_PRINT_DIR": str(tmp_path / "print"),
        }
        world = World(env, tmp_path, outbox, mailbox[0], port, channels)
        assert world.cli("init").returncode == 0
        customers = [
            customer_row(
                "212000-1454", "Vårgårda kommun", f"A{i}", unit_codes="" if i == 0 else f"U{i}",
                peppol_id="0007:2120001454" if channel == "peppol" else "",
                email=f"faktura{i}@kund.example" if channel == "email" else "",
                delivery=channel,
            )
            for i, channel in enumerate(channels)
        ]  # fmt: skip
        prices = [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]]
        for kind, header, rows in (("customers", CUSTOMER_HEADER, customers),
                                   ("prices", PRICE_HEADER, prices)):  # fmt: skip
            path = write_csv(tmp_path / f"{kind}.csv", header, rows)
            assert world.json("import", kind, str(path))["quarantined"] == 0
        return world

    try:
        yield make
    finally:
        for database in databases:
            drop_database(database)


def wait_for(condition: Callable[[], bool], seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def paused(process: subprocess.Popen[str]) -> None:
    """Waits until the process reports that it holds at the pause hook."""
    assert process.stderr is not None
    line = process.stderr.readline()
    assert "testpaus i deliver_send" in line, line + process.stderr.read()


# 1. --watch as a service ---------------------------------------------------------------------


def test_watch_delivers_what_is_queued_while_it_runs_and_stops_cleanly_on_sigterm(
    make_world: Callable[..., World],
) -> None:
    world = make_world(["peppol", "email", "peppol", "email"])
    first = world.issue("03")
    service = world.start("deliver", "--watch", "--interval", "1")
    try:
        wait_for(lambda: len(world.files()) == 2 and len(world.mailbox.messages) == 2,
                 what="the first run to be delivered")  # fmt: skip
        second = world.issue("04")  # issued while the service runs
        wait_for(lambda: len(world.files()) == 4 and len(world.mailbox.messages) == 4,
                 what="the run issued meanwhile to be delivered")  # fmt: skip
        time.sleep(1.5)  # between documents: sleeping until the next round
        asked = time.monotonic()
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=10)
        assert service.returncode == 0, err
        assert time.monotonic() - asked < 5
    finally:
        if service.poll() is None:
            service.kill()
    rows = world.deliveries()
    assert sorted(rows) == sorted(first + second)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert world.mailbox.recipients() == ["faktura1@kund.example"] * 2 + [
        "faktura3@kund.example"] * 2  # fmt: skip
    assert "Skickade:" in out


def test_sigterm_during_a_send_finishes_that_document_first(
    make_world: Callable[..., World],
) -> None:
    world = make_world(["email", "email", "email"])
    numbers = world.issue("03")
    service = world.start("deliver", "--watch", "--interval", "1", deliver_send="3")
    try:
        paused(service)  # the first e-mail has left, ``sent`` is not yet recorded
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=30)
        assert service.returncode == 0, err
    finally:
        if service.poll() is None:
            service.kill()
    rows = world.deliveries()
    statuses = [rows[number]["status"] for number in sorted(numbers)]
    assert statuses == ["sent", "queued", "queued"]  # finished the one, started no other
    assert len(world.mailbox.messages) == 1
    # The rest is delivered by the next run, the first one not again.
    assert len(world.json("deliver")["delivered"]) == 2
    assert world.mailbox.recipients() == [f"faktura{i}@kund.example" for i in range(3)]


# 2. SIGKILL mid-batch and a restart ----------------------------------------------------------


def _kill_mid_batch(world: World) -> None:
    worker = world.start("deliver", deliver_send="60")
    try:
        paused(worker)  # ``sending`` committed, handed over, ``sent`` not recorded
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()


def test_peppol_worker_killed_mid_batch_writes_no_file_twice_and_loses_nothing(
    make_world: Callable[..., World],
) -> None:
    world = make_world(["peppol"] * 4)
    numbers = world.issue("03")
    _kill_mid_batch(world)
    # Peppol rows are claimed as one batch: all four are ``sending``, one was handed over.
    before = world.deliveries()
    assert {row["status"] for row in before.values()} == {"sending"}
    [written] = world.files()
    content = written.read_bytes()

    restarted = world.json("deliver")
    assert sorted(row["number"] for row in restarted["delivered"]) == sorted(numbers)
    after = world.deliveries()
    assert {(row["status"], row["attempts"]) for row in after.values()} == {("sent", 2)}
    files = world.files()
    assert len(files) == 4  # one file per document
    assert written in files and written.read_bytes() == content  # the same name, the same bytes


def test_email_worker_killed_mid_batch_is_uncertain_not_resent_until_a_person_decides(
    make_world: Callable[..., World],
) -> None:
    world = make_world(["email"] * 4)
    numbers = world.issue("03")
    _kill_mid_batch(world)
    assert len(world.mailbox.messages) == 1  # it had left before the kill
    [interrupted] = [n for n, row in world.deliveries().items() if row["status"] == "sending"]

    restarted = world.json("deliver")
    assert sorted(row["number"] for row in restarted["delivered"]) == sorted(
        set(numbers) - {interrupted})  # fmt: skip
    rows = world.deliveries()
    assert rows[interrupted]["status"] == "uncertain"
    assert f"--resend {interrupted}" in rows[interrupted]["error"]
    assert world.mailbox.recipients() == [f"faktura{i}@kund.example" for i in range(4)]
    # Never resent on its own: a later run leaves it alone.
    again = world.json("deliver")
    assert again["delivered"] == [] and again["failed"] == []
    assert len(world.mailbox.messages) == 4
    listed = world.cli("delivery", "list", "--status", "uncertain")
    assert interrupted in listed.stdout and "oviss" in listed.stdout

    # A person decides: a second copy, recorded as a resend of the first.
    resent = world.json("deliver", "--resend", interrupted)
    assert [row["number"] for row in resent["delivered"]] == [interrupted]
    assert len(world.mailbox.messages) == 5
    all_rows = world.json("delivery", "list")
    [copy] = [row for row in all_rows if row["resend_of"] is not None]
    assert copy["number"] == interrupted and copy["status"] == "sent"
    assert world.deliveries()[interrupted]["status"] == "uncertain"  # the original stays so
    message_ids = [mid for _, mid in world.mailbox.messages]
    assert len(set(message_ids)) == 5


# 3. Two workers at once on PostgreSQL --------------------------------------------------------


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="several workers share the queue only on PostgreSQL (SKIP LOCKED); SQLite has one",
)
def test_two_workers_share_the_queue_and_deliver_each_document_once(
    make_world: Callable[..., World],
) -> None:
    channels = ["peppol", "email"] * 15
    world = make_world(channels)
    numbers = world.issue("03")
    first = world.start("deliver", "--json", deliver_send="0.2")
    paused(first)  # the first worker has a document in ``sending`` when the second starts
    workers = [first, world.start("deliver", "--json", deliver_send="0.2")]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    done = [{row["number"] for row in result["delivered"]} for result in results]
    assert all(result["failed"] == [] for result in results)
    assert not done[0] & done[1], "a document delivered by both workers"
    assert done[0] | done[1] == set(numbers)
    assert done[0] and done[1], f"one worker did everything: {[len(d) for d in done]}"
    rows = world.deliveries()
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert {row["attempts"] for row in rows.values()} == {1}
    assert len(world.files()) == 15
    # The second worker left the first one's document in ``sending`` alone (not "interrupted").
    actions = [entry["action"] for entry in world.json("audit", "--object", "delivery.")]
    assert actions.count("delivery.sent") == 30 and "delivery.uncertain" not in actions
    emails = [f"faktura{i}@kund.example" for i, kind in enumerate(channels) if kind == "email"]
    assert world.mailbox.recipients() == sorted(emails)


# 4. A server that refuses or drops the connection --------------------------------------------


def test_a_refused_connection_fails_with_backoff_and_is_delivered_when_the_server_is_back(
    make_world: Callable[..., World],
) -> None:
    port = free_port()  # nothing listens here yet
    world = make_world(["email", "email"], smtp_port=port)
    numbers = world.issue("03")
    result = world.json("deliver")
    assert len(result["failed"]) == 2
    for row in result["failed"]:
        assert row["status"] == "failed" and "vägrade anslutningen" in row["error"]
        assert row["next_attempt_at"] is not None  # a backoff, not given up
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        later = world.json("deliver")  # the backoff has not passed: nothing is tried
        assert later["delivered"] == [] and later["failed"] == [] and box.messages == []
        now = world.json("deliver", numbers[0])  # a number is retried at once
        assert [row["number"] for row in now["delivered"]] == [numbers[0]]
        assert now["delivered"][0]["attempts"] == 2
        assert box.recipients() == ["faktura0@kund.example"]
    finally:
        controller.stop()
    rows = world.deliveries()
    assert rows[numbers[0]]["status"] == "sent" and rows[numbers[1]]["status"] == "failed"


class DroppingServer:
    """A minimal SMTP server that closes the connection instead of answering: at ``RCPT``
    (before any of the message has left), or after the whole message (its ending ``.`` line
    read) instead of answering it. It counts the messages it read to the end."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.whole_messages = 0
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as lines:
                connection.sendall(b"220 127.0.0.1 ESMTP\r\n")
                for line in lines:
                    command = line.strip().upper()
                    if command.startswith((b"EHLO", b"HELO")):
                        connection.sendall(b"250 127.0.0.1\r\n")
                    elif command.startswith(b"RCPT") and self.at == "rcpt":
                        break  # the line goes dead before the message
                    elif command.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                        connection.sendall(b"250 OK\r\n")
                    elif command == b"DATA":
                        connection.sendall(b"354 go ahead\r\n")
                        for body in lines:
                            if body == b".\r\n":
                                self.whole_messages += 1
                                break
                        break  # the whole message read; the line goes dead, no answer
                    else:
                        connection.sendall(b"250 OK\r\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.socket.close()
        self.thread.join(timeout=5)


def test_a_connection_dropped_before_the_message_left_is_a_retryable_failure(
    make_world: Callable[..., World],
) -> None:
    dropping = DroppingServer(at="rcpt")
    try:
        world = make_world(["email"], smtp_port=dropping.port)
        [number] = world.issue("03")
        [failed] = world.json("deliver")["failed"]
    finally:
        dropping.close()
    assert failed["status"] == "failed" and "bröt anslutningen" in failed["error"]
    assert failed["next_attempt_at"] is not None
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=dropping.port)
    controller.start()
    try:
        [sent] = world.json("deliver", number)["delivered"]
    finally:
        controller.stop()
    assert sent["status"] == "sent" and sent["attempts"] == 2
    assert box.recipients() == ["faktura0@kund.example"]


def test_a_connection_dropped_after_the_whole_message_is_uncertain_never_sent_again(
    make_world: Callable[..., World],
) -> None:
    """The server may have the message (it read all of it) but never said so: sending it again
    on its own could deliver it twice (R20), so a person decides."""
    dropping = DroppingServer(at="answer")
    try:
        world = make_world(["email"], smtp_port=dropping.port)
        [number] = world.issue("03")
        first = world.json("deliver")
        assert first["delivered"] == [] and first["failed"] == [], first
        again = world.json("deliver", number)  # naming it does not send it again either
        assert again["delivered"] == [] and again["failed"] == [], again
    finally:
        dropping.close()
    assert dropping.whole_messages == 1
    row = world.deliveries()[number]
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("uncertain", 1, None)
    assert "kan ha kommit fram" in row["error"] and f"--confirm {number}" in row["error"]
    actions = [entry["action"] for entry in world.json("audit", "--object", "faktura")]
    assert actions.count("delivery.uncertain") == 1 and "delivery.failed" not in actions
