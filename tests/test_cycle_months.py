"""Three months of the monthly cycle (R24), driven by ``kortfaktura schedule tick --at`` and
``kortfaktura worker --burst`` in real processes: the order inbox on a real SFTP server
(asyncssh), notifications through a real SMTP server (aiosmtpd), documents delivered to a file
outbox. On SQLite, and on PostgreSQL when the suite runs there (``DATABASE_URL``).

Invariants: each file imported once (a copy is filed as a duplicate), an unreadable file goes
to quarantine with its reason beside it, one draft per month made by ``system`` on the billing
day and each document issued and delivered once, numbers gap-free, every order on exactly one
invoice or held back; each notification once, to the role's users, with a link.
"""

import email
import email.policy
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from aiosmtpd.controller import Controller

from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    VARGARDA,
    customer_row,
    order_row,
    write_csv,
)
from processes import SCRIPT, drop_database, free_port, fresh_database_environment
from test_sftp import SftpTestServer

pytestmark = pytest.mark.slow
BASE_URL = "https://kortfaktura.example.se"


class Mailbox:
    """Every message the SMTP server accepted: recipients, subject and body."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.lock:
            self.messages.append((sorted(envelope.rcpt_tos), str(message["Subject"]), text))
        return "250 OK"

    def to(self, address: str) -> list[tuple[str, str]]:
        with self.lock:
            return [(subject, text) for rcpt, subject, text in self.messages if address in rcpt]


@dataclass
class Cycle:
    env: dict[str, str]
    cwd: Path
    inbox: Path  # the SFTP server's directory behind KORTFAKTURA_ORDER_INBOX
    outbox: Path
    mailbox: Mailbox
    ticks: list[dict[str, Any]] = field(default_factory=list)

    def cli(self, *args: str, actor: str | None = None, stdin: str | None = None) -> Any:
        env = {**self.env, **({"KORTFAKTURA_ACTOR": actor} if actor else {})}
        return subprocess.run(
            [str(SCRIPT), *args], env=env, cwd=self.cwd, capture_output=True, text=True,
            input=stdin, timeout=600, check=False,
        )  # fmt: skip

    def json(self, *args: str, actor: str | None = None) -> Any:
        result = self.cli(*args, "--json", actor=actor)
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def tick(self, at: str) -> dict[str, Any]:
        """``schedule tick --at`` queues the steps due at ``at``; ``worker --burst`` runs them
        and exits; ``schedule list`` says how each went. The worker does not tick the schedule
        itself (``KORTFAKTURA_SCHEDULE=0``): it would tick at today's date, and this story
        moves through its own months."""
        answer = self.json("schedule", "tick", "--at", at)
        self.ticks.append(answer)
        queued = {entry["step"]: entry for entry in answer["queued"]}
        assert all(entry["status"] == "queued" for entry in queued.values()), answer
        if not queued:
            return {}
        worker = subprocess.run(
            [str(SCRIPT), "worker", "--burst", "--json"],
            env={**self.env, "KORTFAKTURA_SCHEDULE": "0"},
            cwd=self.cwd, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr + worker.stdout
        assert json.loads(worker.stdout)["ran"] >= len(queued)
        outcomes = {}
        for row in self.json("schedule", "list"):
            if row["step"] in queued:
                last = row["last"]
                assert last["slot"] == queued[row["step"]]["slot"], row
                assert last["status"] == "done", row
                outcomes[row["step"]] = last
        return outcomes

    def drop(self, name: str, content: bytes) -> None:
        """Another system leaves a file in the inbox (written whole, then renamed, as they do)."""
        partial = self.inbox / f".{name}.part"
        partial.write_bytes(content)
        partial.rename(self.inbox / name)


@pytest.fixture
def cycle(tmp_path: Path) -> Iterator[Cycle]:
    env, database = fresh_database_environment(tmp_path / "var")
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = tmp_path / "id_ed25519"
    key.write_private_key(str(key_path))
    key_path.chmod(0o600)
    root = tmp_path / "sftp"
    (root / "inkorg").mkdir(parents=True)
    (root / "outbox").mkdir()  # the test server records what it holds at each write
    sftp = SftpTestServer(root, key)
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=free_port())
    smtp.start()
    outbox = tmp_path / "peppol-ut"
    outbox.mkdir()
    env |= {
        "KORTFAKTURA_ORDER_INBOX": sftp.url("inkorg"),
        "KORTFAKTURA_SSH_KEY": str(key_path),
        "KORTFAKTURA_PEPPOL_OUTBOX": f"file://{outbox}",
        "KORTFAKTURA_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "KORTFAKTURA_MAIL_FROM": "kortfaktura@vgregion.example",
        "KORTFAKTURA_BASE_URL": BASE_URL,
    }
    world = Cycle(env, tmp_path, root / "inkorg", outbox, box)
    try:
        assert world.cli("init").returncode == 0
        for name, role in (("eva", "ekonomi"), ("frida", "fakturering"), ("greta", "granskare")):
            added = world.cli(
                "user", "add", name, "--role", role, "--email", f"{name}@vgregion.example",
                stdin="Cykeltest-lösen-2026\n",
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
        yield world
    finally:
        smtp.stop()
        sftp.stop()
        drop_database(database)


def _csv(tmp_path: Path, name: str, header: list[str], rows: list[list[str]]) -> bytes:
    return write_csv(tmp_path / name, header, rows).read_bytes()


def _orders(month: str, count: int, orgnr: str = VARGARDA, prefix: str = "") -> list[list[str]]:
    return [
        order_row(f"{prefix}{month}-{i}", f"{month}-{10 + i} 09:00", orgnr) for i in range(count)
    ]


def test_three_months_of_the_cycle_run_by_schedule_ticks(cycle: Cycle, tmp_path: Path) -> None:
    customers = _csv(tmp_path, "c.csv", CUSTOMER_HEADER, [
        customer_row(), customer_row(GOTEBORG, "Göteborgs stad", "1480",
                                     peppol_id="0007:2120001355"),
    ])  # fmt: skip
    prices = _csv(tmp_path, "p.csv", PRICE_HEADER, [
        ["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""],
    ])  # fmt: skip
    august = _csv(tmp_path, "o8.csv", ORDER_HEADER,
                  _orders("2026-08", 3) + _orders("2026-08", 2, GOTEBORG, "G"))  # fmt: skip

    # Month 1. Files arrive; the orders file sorts first, but customers and prices go first.
    cycle.drop("orders-2026-08.csv", august)
    cycle.drop("customers.csv", customers)
    cycle.drop("prices-2026.csv", prices)
    steps = cycle.tick("2026-09-01T10:00")
    assert "monthly_draft" not in steps  # the billing day is the 3rd bank day: 3 September
    imported = steps["import"]["result"]["imported"]
    assert [entry["kind"] for entry in imported] == ["customers", "prices", "orders"]
    assert all(entry["quarantined"] == 0 for entry in imported)
    assert sorted(path.name for path in (cycle.inbox / "processed").iterdir()) == [
        "customers.csv", "orders-2026-08.csv", "prices-2026.csv"
    ]  # fmt: skip
    assert cycle.tick("2026-09-01T10:03") == {}  # nothing new is due in the same slot

    steps = cycle.tick("2026-09-03T06:05")
    draft = steps["monthly_draft"]["result"]
    assert draft["period_to"] == "2026-08-31" and draft["documents"] == 2
    first_run = draft["run_id"]
    runs = cycle.json("run", "list")
    assert runs[0]["id"] == first_run and runs[0]["created_by"] == "system"
    [(subject, text)] = cycle.mailbox.to("eva@vgregion.example")
    assert "utkast" in subject and f"{BASE_URL}/korningar/{first_run}/" in text
    # Anyone but the drafter may issue; the drafter is the system, so Eva may.
    issued = cycle.json("run", "issue", str(first_run), actor="eva")
    assert issued["status"] == "issued"
    steps = cycle.tick("2026-09-03T06:10")
    assert steps["deliver"]["result"]["delivered"] == 2

    # Month 2: new orders, a copy of August's file under another name, and a broken file.
    cycle.drop("orders-2026-09.csv", _csv(tmp_path, "o9.csv", ORDER_HEADER, _orders("2026-09", 2)))
    cycle.drop("orders-kopia.csv", august)
    cycle.drop("orders-trasig.xlsx", b"PK\x03\x04 inte en riktig Excel-fil")
    steps = cycle.tick("2026-10-01T08:00")
    result = steps["import"]["result"]
    assert not result["errors"], result
    assert [entry["file"] for entry in result["imported"]] == ["orders-2026-09.csv"]
    assert result["duplicates"] == ["orders-kopia.csv"]
    assert [entry["file"] for entry in result["quarantined"]] == ["orders-trasig.xlsx"]
    quarantine = cycle.inbox / "quarantine"
    assert (quarantine / "orders-trasig.xlsx").is_file()
    reason = (quarantine / "orders-trasig.xlsx.orsak.txt").read_text(encoding="utf-8")
    assert reason.startswith("orders-trasig.xlsx: ") and "Traceback" not in reason
    told = cycle.mailbox.to("frida@vgregion.example")
    assert len(told) == 1 and "karantän" in told[0][0] and f"{BASE_URL}/import/" in told[0][1]

    steps = cycle.tick("2026-10-05T06:00")  # 5 October: the 3rd bank day
    second_run = steps["monthly_draft"]["result"]["run_id"]
    assert steps["monthly_draft"]["result"]["orders"] == 2  # August's are invoiced already
    cycle.json("run", "issue", str(second_run), actor="eva")
    assert cycle.tick("2026-10-05T06:05")["deliver"]["result"]["delivered"] == 1

    # Month 3: one order of a customer nobody knows yet is held back, and Granskare is told.
    october = [*_orders("2026-10", 2), order_row("X-1", "2026-10-20 09:00", "212000-1561")]
    cycle.drop("orders-2026-10.csv", _csv(tmp_path, "o10.csv", ORDER_HEADER, october))
    cycle.tick("2026-11-02T09:00")
    steps = cycle.tick("2026-11-04T06:00")
    third = steps["monthly_draft"]["result"]
    assert third["orders"] == 2 and third["held_back"] == {"unknown_customer": 1}
    cycle.json("run", "issue", str(third["run_id"]), actor="eva")
    cycle.tick("2026-11-04T06:05")
    steps = cycle.tick("2026-11-05T02:00")
    assert steps["review"]["result"]["balanced"] is True
    nightly = [text for _, text in cycle.mailbox.to("greta@vgregion.example")
               if f"{BASE_URL}/genomlysning/" in text]  # fmt: skip
    assert nightly
    # The chains' heads leave the system every night (R19): the notice names the last
    # document's link as review --expect-head takes it.
    invoices_head = next(
        chain["expect"] for chain in cycle.json("review")["chains"] if chain["chain"] == "invoices"
    )
    assert invoices_head in nightly[-1] and "--expect-head" in nightly[-1]

    # The same ticks again queue nothing, send nothing and import nothing.
    mails = len(cycle.mailbox.messages)
    for at in ("2026-09-03T06:05", "2026-10-05T06:00", "2026-11-04T06:00", "2026-11-05T02:00"):
        assert cycle.tick(at) == {}
    assert len(cycle.mailbox.messages) == mails

    # Invariants.
    documents = cycle.json("invoice", "list")
    numbers = sorted(int(document["number"]) for document in documents)
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # gap-free: 2 + 1 + 1
    order_ids = [order for document in documents for order in document["order_ids"]]
    assert len(order_ids) == len(set(order_ids)) == 9  # 5 + 2 + 2, each once
    deliveries = cycle.json("delivery", "list")
    assert sorted(int(row["number"]) for row in deliveries) == numbers  # each delivered once
    assert len(list(cycle.outbox.glob("*.xml"))) == 4
    batches = [record for record in cycle.json("audit", "--object", "import.orders")]
    assert len(batches) == 3 and {record["actor"] for record in batches} == {"system"}
    ekonomi = cycle.mailbox.to("eva@vgregion.example")
    assert len(ekonomi) == 3  # one notice per monthly draft
    runs = cycle.json("run", "list")
    assert [run["created_by"] for run in runs] == ["system"] * 3
    assert cycle.json("review")["balanced"] is True
