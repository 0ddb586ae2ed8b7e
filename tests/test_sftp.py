"""The SFTP outbox and inbox against a real asyncssh SFTP server on 127.0.0.1 (no mocks).

The server runs its own event loop in a background thread, serves a temporary directory (chroot)
and accepts exactly one generated client key.
"""

import asyncio
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from kortfaktura.delivery import sftp as sftp_module
from kortfaktura.delivery.sftp import SftpError, SftpInbox, SftpOutbox
from kortfaktura.delivery.transport import TransportError


class RecordingSFTPServer(asyncssh.SFTPServer):
    """Serves `root` and records what the client does, with the outbox's content at each write."""

    events: list[tuple[Any, ...]]
    root: Path

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & asyncssh.FXF_WRITE:
            self.events.append(("open-write", path.decode()))
        return super().open(path, pflags, attrs)

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        visible = sorted(p.name for p in (self.root / "outbox").iterdir())
        self.events.append(("write", len(data), visible))
        return super().write(file_obj, offset, data)

    def rename(self, oldpath: bytes, newpath: bytes) -> Any:
        self.events.append(("rename", oldpath.decode(), newpath.decode()))
        return super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        self.events.append(("posix-rename", oldpath.decode(), newpath.decode()))
        return super().posix_rename(oldpath, newpath)


class DroppingSFTPServer(RecordingSFTPServer):
    """Drops the whole connection as soon as the client starts writing file content."""

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        self.events.append(("dropped", len(data)))
        self.connection.abort()
        raise ConnectionResetError("nedkopplad mitt i skrivningen")


class PlainRenameSFTPServer(RecordingSFTPServer):
    """A server without posix-rename; another writer puts `racer` just before our rename."""

    racer: bytes | None = None

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        raise asyncssh.SFTPOpUnsupported("posix-rename stöds inte")

    def rename(self, oldpath: bytes, newpath: bytes) -> Any:
        if self.racer is not None:
            (self.root / newpath.decode().lstrip("/")).write_bytes(self.racer)
        return super().rename(oldpath, newpath)


class SftpTestServer:
    def __init__(
        self,
        root: Path,
        client_key: asyncssh.SSHKey,
        server_class: type[RecordingSFTPServer] = RecordingSFTPServer,
    ) -> None:
        self.root = root
        self.events: list[tuple[Any, ...]] = []
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())

        def factory(chan: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
            server = server_class(chan, chroot=str(root).encode())
            server.events = self.events
            server.root = root
            return server

        async def start() -> asyncssh.SSHAcceptor:
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[self.host_key],
                authorized_client_keys=authorized,
                sftp_factory=factory,
            )

        self.acceptor = asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)
        self.port = self.acceptor.get_port()

    def url(self, directory: str) -> str:
        return f"sftp://kortfaktura@127.0.0.1:{self.port}/{directory}"

    def stop(self) -> None:
        async def close() -> None:
            self.acceptor.close()
            await self.acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def client_key(tmp_path: Path) -> tuple[asyncssh.SSHKey, Path]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "id_ed25519"
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key, path


@pytest.fixture
def start_server(
    tmp_path: Path, client_key: tuple[asyncssh.SSHKey, Path]
) -> Iterator[Callable[..., SftpTestServer]]:
    servers: list[SftpTestServer] = []

    def start(server_class: type[RecordingSFTPServer] = RecordingSFTPServer) -> SftpTestServer:
        root = tmp_path / f"server{len(servers)}"
        (root / "outbox").mkdir(parents=True)
        (root / "inbox").mkdir()
        server = SftpTestServer(root, client_key[0], server_class)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., SftpTestServer]) -> SftpTestServer:
    return start_server()


@pytest.fixture
def key_path(client_key: tuple[asyncssh.SSHKey, Path]) -> Path:
    return client_key[1]


def free_closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STAGED = "/.outbox.kortfaktura-tmp/0192-abc.xml.part"


def test_put_writes_under_a_temporary_name_then_renames(server: SftpTestServer, key_path: Path):
    outbox = SftpOutbox(server.url("outbox"), key_path)
    content = b"<StandardBusinessDocument/>" * 20_000

    outbox.put("0192-abc.xml", content)

    assert (server.root / "outbox" / "0192-abc.xml").read_bytes() == content
    assert sorted(p.name for p in (server.root / "outbox").iterdir()) == ["0192-abc.xml"]
    writes = [event for event in server.events if event[0] == "write"]
    assert writes
    # While content was being written, nothing was visible under the final name.
    assert all("0192-abc.xml" not in visible for _, _, visible in writes)
    # Nothing but whole documents is ever in the outbox: the temporary file is beside it.
    assert all(visible == [] for _, _, visible in writes)
    assert ("open-write", STAGED) in server.events
    assert not any(e[0] == "open-write" and e[1].startswith("/outbox/") for e in server.events)
    assert ("posix-rename", STAGED, "/outbox/0192-abc.xml") in server.events
    assert sorted(p.name for p in (server.root / ".outbox.kortfaktura-tmp").iterdir()) == []


def test_put_same_content_twice_is_a_no_op(server: SftpTestServer, key_path: Path):
    outbox = SftpOutbox(server.url("outbox"), key_path)
    outbox.put("a.xml", b"<a/>")
    server.events.clear()

    outbox.put("a.xml", b"<a/>")

    assert not [e for e in server.events if e[0] in {"open-write", "write", "posix-rename"}]
    assert (server.root / "outbox" / "a.xml").read_bytes() == b"<a/>"


def test_put_different_content_under_the_same_name_is_refused(
    server: SftpTestServer, key_path: Path
):
    outbox = SftpOutbox(server.url("outbox"), key_path)
    outbox.put("a.xml", b"<a/>")

    with pytest.raises(SftpError) as caught:
        outbox.put("a.xml", b"<b/>")

    assert caught.value.transient is False
    assert "finns redan" in caught.value.message and "annat innehåll" in caught.value.message
    assert (server.root / "outbox" / "a.xml").read_bytes() == b"<a/>"
    assert sorted(p.name for p in (server.root / "outbox").iterdir()) == ["a.xml"]


def test_put_replaces_a_stale_temporary_file(server: SftpTestServer, key_path: Path):
    # Left by a process killed mid-write: beside the outbox, and (an earlier version) in it.
    (server.root / ".outbox.kortfaktura-tmp").mkdir()
    (server.root / ".outbox.kortfaktura-tmp" / "a.xml.part").write_bytes(b"half a docu")
    (server.root / "outbox" / ".a.xml.part").write_bytes(b"half a docu")
    SftpOutbox(server.url("outbox"), key_path).put("a.xml", b"<a/>")
    assert sorted(p.name for p in (server.root / "outbox").iterdir()) == ["a.xml"]
    assert (server.root / "outbox" / "a.xml").read_bytes() == b"<a/>"
    assert list((server.root / ".outbox.kortfaktura-tmp").iterdir()) == []


def test_put_falls_back_to_plain_rename(
    start_server: Callable[..., SftpTestServer], key_path: Path
):
    server = start_server(PlainRenameSFTPServer)
    SftpOutbox(server.url("outbox"), key_path).put("a.xml", b"<a/>")
    assert ("rename", "/.outbox.kortfaktura-tmp/a.xml.part", "/outbox/a.xml") in server.events
    assert sorted(p.name for p in (server.root / "outbox").iterdir()) == ["a.xml"]


class NoRoomBesideSFTPServer(RecordingSFTPServer):
    """The account may write only in the outbox: no directory can be made beside it."""

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> Any:
        raise asyncssh.SFTPPermissionDenied("bara utkorgen är skrivbar")


class OtherFileSystemSFTPServer(RecordingSFTPServer):
    """The outbox is another file system on the server: a rename into it from beside fails."""

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        if not oldpath.startswith(b"/outbox/"):
            raise asyncssh.SFTPFailure("Invalid cross-device link")
        return super().posix_rename(oldpath, newpath)


@pytest.mark.parametrize("server_class", [NoRoomBesideSFTPServer, OtherFileSystemSFTPServer])
def test_put_writes_inside_the_outbox_when_it_cannot_beside_it(
    start_server: Callable[..., SftpTestServer], key_path: Path, server_class: type[Any]
):
    server = start_server(server_class)
    SftpOutbox(server.url("outbox"), key_path).put("a.xml", b"<a/>")
    assert ("posix-rename", "/outbox/.a.xml.part", "/outbox/a.xml") in server.events
    assert sorted(p.name for p in (server.root / "outbox").iterdir()) == ["a.xml"]
    assert (server.root / "outbox" / "a.xml").read_bytes() == b"<a/>"
    staging = server.root / ".outbox.kortfaktura-tmp"
    assert not staging.exists() or list(staging.iterdir()) == []


@pytest.mark.parametrize(("racer", "refused"), [(b"<a/>", False), (b"<other/>", True)])
def test_put_when_another_writer_was_faster(
    start_server: Callable[..., SftpTestServer],
    key_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    racer: bytes,
    refused: bool,
):
    monkeypatch.setattr(PlainRenameSFTPServer, "racer", racer)
    server = start_server(PlainRenameSFTPServer)
    outbox = SftpOutbox(server.url("outbox"), key_path)
    if refused:
        with pytest.raises(SftpError) as caught:
            outbox.put("a.xml", b"<a/>")
        assert caught.value.transient is False
    else:
        outbox.put("a.xml", b"<a/>")
    assert (server.root / "outbox" / "a.xml").read_bytes() == racer
    assert sorted(p.name for p in (server.root / "outbox").iterdir()) == ["a.xml"]


def test_exists(server: SftpTestServer, key_path: Path):
    outbox = SftpOutbox(server.url("outbox"), key_path)
    assert outbox.exists("a.xml") is False
    outbox.put("a.xml", b"<a/>")
    assert outbox.exists("a.xml") is True


def test_inbox_list_read_and_move(server: SftpTestServer, key_path: Path):
    inbox_dir = server.root / "inbox"
    (inbox_dir / "b-receipt.xml").write_bytes(b"<b/>")
    (inbox_dir / "a-receipt.xml").write_bytes(b"<a/>")
    (inbox_dir / ".c-receipt.xml.part").write_bytes(b"<c")
    (inbox_dir / "processed").mkdir()
    inbox = SftpInbox(server.url("inbox"), key_path)

    assert inbox.list() == ["a-receipt.xml", "b-receipt.xml"]
    assert inbox.read("b-receipt.xml") == b"<b/>"

    inbox.move("a-receipt.xml", "processed")
    inbox.move("b-receipt.xml", "quarantine")  # created on demand

    assert inbox.list() == []
    assert (inbox_dir / "processed" / "a-receipt.xml").read_bytes() == b"<a/>"
    assert (inbox_dir / "quarantine" / "b-receipt.xml").read_bytes() == b"<b/>"


def test_inbox_move_never_overwrites_an_earlier_receipt(server: SftpTestServer, key_path: Path):
    inbox_dir = server.root / "inbox"
    (inbox_dir / "processed").mkdir()
    (inbox_dir / "processed" / "r.xml").write_bytes(b"<first/>")
    (inbox_dir / "r.xml").write_bytes(b"<second/>")

    SftpInbox(server.url("inbox"), key_path).move("r.xml", "processed")

    assert (inbox_dir / "processed" / "r.xml").read_bytes() == b"<first/>"
    assert (inbox_dir / "processed" / "r-1.xml").read_bytes() == b"<second/>"
    assert not (inbox_dir / "r.xml").exists()


def test_reading_a_missing_receipt_is_not_transient(server: SftpTestServer, key_path: Path):
    with pytest.raises(SftpError) as caught:
        SftpInbox(server.url("inbox"), key_path).read("saknas.xml")
    assert caught.value.transient is False
    assert f"127.0.0.1:{server.port}" in caught.value.message


def test_wrong_key_is_a_permanent_error_in_swedish(server: SftpTestServer, tmp_path: Path):
    other = tmp_path / "other_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(other))

    with pytest.raises(SftpError) as caught:
        SftpOutbox(server.url("outbox"), other).put("a.xml", b"<a/>")

    assert caught.value.transient is False
    assert "nekade inloggning" in caught.value.message
    assert f"127.0.0.1:{server.port}" in caught.value.message
    assert "PRIVATE KEY" not in caught.value.message
    assert not (server.root / "outbox" / "a.xml").exists()


def test_closed_port_is_a_transient_error(key_path: Path):
    port = free_closed_port()
    outbox = SftpOutbox(f"sftp://kortfaktura@127.0.0.1:{port}/outbox", key_path)

    with pytest.raises(SftpError) as caught:
        outbox.put("a.xml", b"<a/>")

    assert caught.value.transient is True
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "nekades" in caught.value.message


def test_silent_server_is_a_transient_timeout(key_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sftp_module, "CONNECT_TIMEOUT", 0.3)
    with socket.socket() as silent:  # accepts TCP connections (backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(SftpError) as caught:
            SftpInbox(f"sftp://kortfaktura@127.0.0.1:{port}/inbox", key_path).list()
    assert caught.value.transient is True
    assert f"127.0.0.1:{port} svarade inte i tid" in caught.value.message


def test_connection_dropped_during_upload_is_transient_and_leaves_no_file(
    start_server: Callable[..., SftpTestServer], key_path: Path
):
    server = start_server(DroppingSFTPServer)
    outbox = SftpOutbox(server.url("outbox"), key_path)

    with pytest.raises(SftpError) as caught:
        outbox.put("a.xml", b"<a/>" * 10_000)

    assert caught.value.transient is True
    assert f"127.0.0.1:{server.port}" in caught.value.message
    assert any(event[0] == "dropped" for event in server.events)
    assert not (server.root / "outbox" / "a.xml").exists()
    # What is left is at most the temporary dot file, which the inbox/outbox readers ignore.
    assert {p.name for p in (server.root / "outbox").iterdir()} <= {".a.xml.part"}


def test_server_gone_after_a_successful_put_is_transient(server: SftpTestServer, key_path: Path):
    outbox = SftpOutbox(server.url("outbox"), key_path)
    outbox.put("a.xml", b"<a/>")
    server.stop()
    with pytest.raises(SftpError) as caught:
        outbox.exists("a.xml")
    assert caught.value.transient is True
    server.stop = lambda: None  # type: ignore[method-assign]


def test_known_hosts_is_checked_when_set(
    server: SftpTestServer, key_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    known_hosts = tmp_path / "known_hosts"
    host = f"[127.0.0.1]:{server.port}"
    known_hosts.write_text(f"{host} {server.host_key.export_public_key().decode()}")
    monkeypatch.setenv("KORTFAKTURA_SSH_KNOWN_HOSTS", str(known_hosts))
    SftpOutbox(server.url("outbox"), key_path).put("a.xml", b"<a/>")

    stranger = asyncssh.generate_private_key("ssh-ed25519")
    known_hosts.write_text(f"{host} {stranger.export_public_key().decode()}")
    with pytest.raises(SftpError) as caught:
        SftpOutbox(server.url("outbox"), key_path).put("b.xml", b"<b/>")
    assert caught.value.transient is False
    assert "Värdnyckeln" in caught.value.message
    assert not (server.root / "outbox" / "b.xml").exists()


def test_missing_known_hosts_file_is_refused(
    key_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KORTFAKTURA_SSH_KNOWN_HOSTS", str(tmp_path / "saknas"))
    with pytest.raises(SftpError) as caught:
        SftpOutbox("sftp://u@127.0.0.1/outbox", key_path)
    assert caught.value.transient is False


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "tom"),
        ("ftp://u@host/outbox", "sftp://"),
        ("sftp://host/outbox", "saknar användare"),
        ("sftp://u@:22/outbox", "saknar värd"),
        ("sftp://u:hemligt@host/outbox", "Lösenord"),
        ("sftp://u@host:port/outbox", "Ogiltig SFTP-adress"),
        ("sftp://u@host:70000/outbox", "Ogiltig SFTP-adress"),
        ("sftp://u@host/outbox?x=1", "frågedel"),
        ("sftp://u@host/../etc", "Ogiltig katalog"),
    ],
)
def test_invalid_urls_are_refused_in_swedish(url: str, words: str, key_path: Path):
    with pytest.raises(SftpError) as caught:
        SftpOutbox(url, key_path)
    assert caught.value.transient is False
    assert words in caught.value.message
    assert "hemligt" not in caught.value.message


def test_port_defaults_to_22_and_repr_shows_no_key(key_path: Path):
    outbox = SftpOutbox("sftp://kortfaktura@ap.example.se/peppol/out", key_path)
    assert outbox.url == "sftp://kortfaktura@ap.example.se:22/peppol/out"
    assert repr(outbox) == "SftpOutbox('sftp://kortfaktura@ap.example.se:22/peppol/out')"


def test_unreadable_or_invalid_key_is_refused(tmp_path: Path):
    with pytest.raises(SftpError) as caught:
        SftpOutbox("sftp://u@host/outbox", tmp_path / "saknas")
    assert caught.value.transient is False and "kan inte läsas" in caught.value.message

    bad = tmp_path / "bad_key"
    bad.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nhemlig-skräp\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    with pytest.raises(SftpError) as caught:
        SftpOutbox("sftp://u@host/outbox", bad)
    assert caught.value.transient is False
    assert "hemlig" not in caught.value.message


@pytest.mark.parametrize("name", ["", ".hidden", "../x.xml", "a/b.xml", "a\x00b"])
def test_file_names_must_be_plain(server: SftpTestServer, key_path: Path, name: str):
    with pytest.raises(SftpError) as caught:
        SftpOutbox(server.url("outbox"), key_path).put(name, b"x")
    assert caught.value.transient is False
    assert server.events == []


# --- issue 17: the inbox reads regular files only, never through a link, never huge ones ----


SMALL = b"<a>" + b"x" * 90 + b"</a>"  # 97 bytes: under the limit of 100, and no receipt


def refused_entries(server: SftpTestServer, tmp_path: Path) -> Path:
    """A link to a secret outside the server's root, a FIFO, a folder and a file over 100 bytes
    in the inbox, beside a small file; the secret."""
    inbox_dir = server.root / "inbox"
    secret = tmp_path / "hemligt.txt"
    secret.write_text("root:$6$HEMLIGT-LÖSENORDSHASH:19000:0:99999:7:::\n")
    (inbox_dir / "länk.xml").symlink_to(secret)
    os.mkfifo(inbox_dir / "rör.xml")
    (inbox_dir / "en-katalog").mkdir()
    (inbox_dir / "stor.xml").write_bytes(b"<a/>" * 26)
    (inbox_dir / "liten.xml").write_bytes(SMALL)
    return secret


def test_inbox_refuses_links_special_files_and_huge_files(
    server: SftpTestServer, key_path: Path, tmp_path: Path
):
    secret = refused_entries(server, tmp_path)
    inbox_dir = server.root / "inbox"
    inbox = SftpInbox(server.url("inbox"), key_path)

    # Listed (so that they can be filed away), but the folder is not.
    assert inbox.list() == ["liten.xml", "länk.xml", "rör.xml", "stor.xml"]
    assert inbox.read("liten.xml", 100) == SMALL
    for name, words in (
        ("länk.xml", "symbolisk länk"),
        ("rör.xml", "ingen vanlig fil"),
        ("stor.xml", "större än 100 byte (KORTFAKTURA_INBOX_MAX_BYTES)"),
    ):
        with pytest.raises(TransportError) as caught:
            inbox.read(name, 100)
        assert words in caught.value.message, caught.value.message
        assert caught.value.transient is False
        assert "HEMLIGT" not in caught.value.message

    # A link in place of the folder is not followed.
    (inbox_dir / "processed").symlink_to(tmp_path)
    with pytest.raises(SftpError) as caught:
        inbox.move("liten.xml", "processed")
    assert caught.value.transient is False and "ingen katalog" in caught.value.message
    assert (inbox_dir / "liten.xml").exists() and not (tmp_path / "liten.xml").exists()

    inbox.move("länk.xml", "quarantine")
    inbox.move("rör.xml", "quarantine")
    # The link itself was moved, not the secret it points to.
    assert os.readlink(inbox_dir / "quarantine" / "länk.xml") == str(secret)
    assert stat.S_ISFIFO(os.lstat(inbox_dir / "quarantine" / "rör.xml").st_mode)
    assert secret.read_text().startswith("root:")
    assert inbox.list() == ["liten.xml", "processed", "stor.xml"]  # processed is a link here


@pytest.mark.django_db
def test_read_receipts_over_sftp_quarantines_what_it_does_not_read(
    server: SftpTestServer, key_path: Path, tmp_path: Path, settings: Any
):
    """Through ``read_receipts``: the refused entries are filed away in quarantine/ unread and
    recorded with a Swedish reason and no checksum; nothing of the secret is stored."""
    from kortfaktura.audit.models import AuditRecord
    from kortfaktura.delivery.inbox import read_receipts
    from kortfaktura.delivery.models import Receipt

    settings.SSH_KEY = str(key_path)
    settings.INBOX_MAX_BYTES = 100
    secret = refused_entries(server, tmp_path)
    inbox_dir = server.root / "inbox"

    report = read_receipts(server.url("inbox"))

    assert report.errors == [] and report.applied == []
    assert sorted(row.file_name for row in report.quarantined) == [
        "liten.xml", "länk.xml", "rör.xml", "stor.xml"]  # fmt: skip
    rows = {row.file_name: row for row in Receipt.objects.all()}
    # The small file was read: not a receipt, quarantined with its checksum.
    assert rows["liten.xml"].reason == "Filen är inget kvitto (UBL ApplicationResponse) utan a."
    assert len(rows["liten.xml"].sha256) == 64
    for name in ("länk.xml", "rör.xml", "stor.xml"):
        assert rows[name].sha256 == "" and rows[name].outcome == "quarantined"
    assert "symbolisk länk" in rows["länk.xml"].reason
    assert "KORTFAKTURA_INBOX_MAX_BYTES" in rows["stor.xml"].reason
    assert sorted(p.name for p in inbox_dir.iterdir()) == ["en-katalog", "quarantine"]
    assert os.readlink(inbox_dir / "quarantine" / "länk.xml") == str(secret)
    details = str(list(AuditRecord.objects.values_list("details", flat=True)))
    assert "HEMLIGT" not in details
    # Nothing is left to read, and nothing more is recorded.
    assert read_receipts(server.url("inbox")).counts() == {
        "applied": 0, "quarantined": 0, "duplicate": 0, "errors": []}  # fmt: skip
    assert Receipt.objects.count() == 4
