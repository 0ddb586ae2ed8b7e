"""The access point's outbox and inbox on an SFTP server (`sftp://user@host:port/dir`).

Used by the delivery core (`delivery/transport.py`) for `KORTFAKTURA_PEPPOL_OUTBOX` and
`KORTFAKTURA_PEPPOL_INBOX` when they are `sftp://` URLs. Every method call opens its own SSH
connection, does its work and closes it (asyncssh, run synchronously with `asyncio.run`), so the
objects hold no connection between calls and can be kept for the lifetime of a worker. Must not be
called from inside a running event loop.

- Authentication only with the private key in `KORTFAKTURA_SSH_KEY` (no password, no keyboard
  interaction; without a key file asyncssh's defaults: the ssh-agent and `~/.ssh/id_*`). The key is
  never logged nor shown in a message; the key file must not be protected by a passphrase.
- Host keys are checked against `KORTFAKTURA_SSH_KNOWN_HOSTS` (an OpenSSH known_hosts file) when
  it is set. Without it the server's host key is NOT checked: that is only acceptable for tests
  and trusted internal networks.
- The path of the URL is the directory on the server, as the server resolves it (`/outbox` is
  absolute; `sftp://user@host` without a path is the login directory).
- Every failure is an `SftpError` with a Swedish message that names host and port; `transient` tells
  whether trying again later may help (network, timeout, lost connection) or not (authentication,
  host key, permissions, missing directory, a different file under the same name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import posixpath
import stat
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

from cryptography.utils import CryptographyDeprecationWarning

from kortfaktura.delivery.transport import (
    RefusedFile,
    TransportError,
    limit,
    redact,
    refusal,
    split_url,
    too_large,
)

with warnings.catch_warnings():
    # asyncssh still names DSA keys, which cryptography deprecates: an English warning on stderr
    # at import that no user can act on (Kortfaktura never uses DSA).
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import asyncssh

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PORT = 22
CONNECT_TIMEOUT = 10.0
"""Seconds allowed for TCP connection, SSH handshake and login."""
OPERATION_TIMEOUT = 120.0
"""Seconds allowed for one whole method call (connection included)."""
KNOWN_HOSTS_ENV = "KORTFAKTURA_SSH_KNOWN_HOSTS"
TEMP_PREFIX = "."
TEMP_SUFFIX = ".part"
STAGING_SUFFIX = ".kortfaktura-tmp"


class SftpError(TransportError):
    """A failure talking to the SFTP server.

    `message` is Swedish; `transient` says whether trying again later may help.
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message, transient=transient)

    def __str__(self) -> str:
        return self.message


def _check_name(name: str, what: str) -> None:
    """A plain file name in the directory: no path, no dot file (those are temporary), no NUL."""
    if (
        not isinstance(name, str)
        or not name
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or name.startswith(".")
    ):
        raise SftpError(
            f"Ogiltigt {what} {name!r}: det måste vara ett enkelt filnamn utan katalog "
            "och får inte börja med punkt.",
            transient=False,
        )


class _SftpLocation:
    """The parsed URL, the key and the connection handling shared by outbox and inbox."""

    role = "katalogen"

    def __init__(self, url: str, ssh_key: Path | None) -> None:
        self._user, self._host, self._port, self._dir = self._parse(url)
        self.url = f"sftp://{self._user}@{self._format_host()}:{self._port}/{self._dir.lstrip('/')}"
        self._client_keys: list[asyncssh.SSHKey] | None = None
        if ssh_key is not None:
            self._client_keys = [self._load_key(Path(ssh_key))]
        known_hosts = os.environ.get(KNOWN_HOSTS_ENV, "").strip()
        self._known_hosts: str | None = None
        if known_hosts:
            if not Path(known_hosts).is_file():
                raise SftpError(
                    f"Filen med kända värdnycklar {known_hosts} ({KNOWN_HOSTS_ENV}) finns inte.",
                    transient=False,
                )
            self._known_hosts = known_hosts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # --- configuration -------------------------------------------------------------------

    @staticmethod
    def _parse(url: str) -> tuple[str, str, int, str]:
        # Shown without its password (there should be none, but a mistyped one must not leak).
        shown = redact(url) if isinstance(url, str) else repr(url)
        if not isinstance(url, str) or not url.strip():
            raise SftpError("SFTP-adressen är tom.", transient=False)
        try:
            parts = split_url(url.strip())
            port = parts.port
        except ValueError:
            # Python's text ("Port could not be cast …") is English and quotes the port part,
            # which may be part of a mistyped password.
            raise SftpError(
                f"Ogiltig SFTP-adress {shown!r}: porten ska vara ett tal mellan 1 och 65535. "
                "Skriv sftp://användare@värd:port/katalog.",
                transient=False,
            ) from None
        if parts.scheme.lower() != "sftp":
            raise SftpError(
                f"Ogiltig SFTP-adress {shown!r}: den måste börja med sftp://.", transient=False
            )
        if parts.password is not None:
            raise SftpError(
                "Lösenord i SFTP-adressen stöds inte; ange en privat nyckel i "
                "KORTFAKTURA_SSH_KEY och ta bort lösenordet ur adressen.",
                transient=False,
            )
        if not parts.username:
            raise SftpError(
                f"SFTP-adressen {shown!r} saknar användare. Skriv sftp://användare@värd:port/katalog.",
                transient=False,
            )
        if not parts.hostname:
            raise SftpError(
                f"SFTP-adressen {shown!r} saknar värd. Skriv sftp://användare@värd:port/katalog.",
                transient=False,
            )
        if parts.query or parts.fragment:
            raise SftpError(
                f"SFTP-adressen {shown!r} får inte ha ? eller # (frågedel eller fragment).",
                transient=False,
            )
        if port == 0:
            raise SftpError(f"Ogiltig port 0 i SFTP-adressen {shown!r}.", transient=False)
        directory = unquote(parts.path)
        if "\x00" in directory or any(p == ".." for p in directory.split("/")):
            raise SftpError(f"Ogiltig katalog i SFTP-adressen {shown!r}.", transient=False)
        directory = posixpath.normpath(directory) if directory else "."
        return unquote(parts.username), parts.hostname, port or DEFAULT_PORT, directory

    def _format_host(self) -> str:
        return f"[{self._host}]" if ":" in self._host else self._host

    def _load_key(self, path: Path) -> asyncssh.SSHKey:
        try:
            return asyncssh.read_private_key(str(path))
        except OSError as exc:
            raise SftpError(
                f"Den privata nyckeln {path} (KORTFAKTURA_SSH_KEY) kan inte läsas: "
                f"{exc.strerror or exc}.",
                transient=False,
            ) from None
        except (asyncssh.KeyImportError, ValueError):
            # The exception text is not shown: it must never carry anything of the key.
            raise SftpError(
                f"Filen {path} (KORTFAKTURA_SSH_KEY) är ingen privat nyckel som kan användas "
                "(fel format, eller skyddad med lösenfras, vilket inte stöds).",
                transient=False,
            ) from None

    # --- running one operation -----------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"SFTP-servern {self._format_host()}:{self._port}"

    def _path(self, *names: str) -> str:
        return posixpath.join(self._dir, *names)

    def _run(self, action: str, operation: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        logger.debug("SFTP %s: %s", action, self.url)
        try:
            return asyncio.run(asyncio.wait_for(self._session(operation), OPERATION_TIMEOUT))
        except SftpError:
            raise
        except Exception as exc:
            raise self._translate(exc, action) from exc

    async def _session(self, operation: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        # Our own timeout around connection and login, so that it is reported as a timeout
        # (asyncssh's connect_timeout surfaces as a lost connection).
        conn = await asyncio.wait_for(
            asyncssh.connect(
                self._host,
                self._port,
                username=self._user,
                client_keys=self._client_keys if self._client_keys is not None else (),
                agent_path=None if self._client_keys is not None else (),
                known_hosts=self._known_hosts,
                password_auth=False,
                kbdint_auth=False,
                config=None,
            ),
            CONNECT_TIMEOUT,
        )
        async with conn, conn.start_sftp_client() as sftp:
            result = await operation(sftp)
        return result

    def _translate(self, exc: BaseException, action: str) -> SftpError:
        where = self._where
        if isinstance(exc, TimeoutError):
            return SftpError(
                f"{where} svarade inte i tid ({action}); försök igen senare.", transient=True
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            return SftpError(
                f"{where} nekade inloggning för användaren {self._user} med den angivna nyckeln "
                f"({action}). Kontrollera KORTFAKTURA_SSH_KEY och användaren.",
                transient=False,
            )
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return SftpError(
                f"Värdnyckeln för {where} kunde inte verifieras mot {self._known_hosts} "
                f"({KNOWN_HOSTS_ENV}); anslutningen avbröts ({action}).",
                transient=False,
            )
        if isinstance(exc, asyncssh.SFTPPermissionDenied | asyncssh.SFTPWriteProtect):
            return SftpError(f"{where} nekade åtkomst ({action}): {exc.reason}.", transient=False)
        if isinstance(
            exc,
            asyncssh.SFTPNoSuchFile
            | asyncssh.SFTPNoSuchPath
            | asyncssh.SFTPNotADirectory
            | asyncssh.SFTPInvalidFilename
            | asyncssh.SFTPFileIsADirectory,
        ):
            return SftpError(
                f"{where} hittar inte filen eller katalogen, eller den är av fel sort "
                f"({action}; {self.role} är {self._dir}): {exc.reason}.",
                transient=False,
            )
        if isinstance(exc, asyncssh.SFTPError):
            # Lost connection, full disk, quota, a server-side failure: may pass.
            return SftpError(
                f"{where} svarade med ett fel ({action}): {exc.reason}.", transient=True
            )
        if isinstance(exc, asyncssh.DisconnectError):
            return SftpError(
                f"Förbindelsen med {where} bröts ({action}): {exc.reason}.", transient=True
            )
        if isinstance(exc, ConnectionRefusedError):
            return SftpError(
                f"{where} tar inte emot anslutningar (anslutningen nekades, {action}); "
                "försök igen senare.",
                transient=True,
            )
        if isinstance(exc, OSError):
            return SftpError(
                f"Kunde inte nå {where} ({action}): {exc.strerror or exc}.", transient=True
            )
        if isinstance(exc, asyncssh.Error):
            return SftpError(f"Fel hos {where} ({action}): {exc.reason}.", transient=True)
        return SftpError(
            f"Oväntat fel mot {where} ({action}): {type(exc).__name__}: {exc}.", transient=True
        )


async def _read_all(sftp: asyncssh.SFTPClient, path: str) -> bytes:
    async with sftp.open(path, "rb") as handle:
        data = await handle.read()
    if isinstance(data, str):  # only when opened in text mode, which we never do
        return data.encode()
    return bytes(data)


class SftpOutbox(_SftpLocation):
    """The access point's outbox: files are written atomically and never overwritten."""

    role = "utkorgen"

    def _staging(self) -> str | None:
        """The directory beside the outbox where a document is written before it is renamed
        into it (`/peppol/.ut.kortfaktura-tmp` for `/peppol/ut`), so that nothing but whole
        documents is ever in the outbox; None when the outbox has no parent to put it in."""
        parent, name = posixpath.split(self._dir.rstrip("/"))
        if not name or name in (".", ".."):
            return None
        return posixpath.join(parent, f".{name}{STAGING_SUFFIX}")

    def put(self, name: str, content: bytes) -> None:
        """Write `content` as `name`: under a temporary name first, then renamed.

        The temporary file is `<name>.part` in the directory beside the outbox (`_staging`),
        created when missing; where that cannot be made or a rename from it fails (another
        file system on the server), `.<name>.part` in the outbox itself, which readers skip.
        The same content already there is a no-op (a repeated hand-over); different content is an
        error that is not transient (`SftpError(transient=False)`); the existing file is kept.
        """
        _check_name(name, "filnamn")
        content = bytes(content)
        final = self._path(name)
        inside = self._path(f"{TEMP_PREFIX}{name}{TEMP_SUFFIX}")
        staging = self._staging()

        async def beside(sftp: asyncssh.SFTPClient) -> str | None:
            if staging is None:
                return None
            try:
                if not await sftp.isdir(staging):
                    await sftp.mkdir(staging)
            except asyncssh.SFTPError:
                return None  # e.g. no right to write beside the outbox
            return posixpath.join(staging, f"{name}{TEMP_SUFFIX}")

        async def write_and_rename(sftp: asyncssh.SFTPClient, temp: str) -> None:
            async with sftp.open(temp, "wb") as handle:
                await handle.write(content)
            try:
                await sftp.posix_rename(temp, final)
            except asyncssh.SFTPOpUnsupported:
                await sftp.rename(temp, final)

        async def operation(sftp: asyncssh.SFTPClient) -> None:
            if await self._same_or_absent(sftp, name, final, content):
                return
            temp = await beside(sftp)
            if temp is not None:
                try:
                    await write_and_rename(sftp, temp)
                    # One left in the outbox by an earlier version killed mid-write.
                    if await sftp.exists(inside):
                        await self._remove_quietly(sftp, inside)
                    return
                except asyncssh.SFTPError:
                    if await sftp.exists(final):  # somebody was faster
                        await self._remove_quietly(sftp, temp)
                        await self._same_or_absent(sftp, name, final, content)
                        return
                    await self._remove_quietly(sftp, temp)  # e.g. another file system: inside
            try:
                await write_and_rename(sftp, inside)
            except asyncssh.SFTPError:
                # Plain rename refuses an existing target: somebody was faster.
                if await sftp.exists(final):
                    await sftp.remove(inside)
                    await self._same_or_absent(sftp, name, final, content)
                    return
                raise

        self._run(f"skriva {name} till {self.url}", operation)

    @staticmethod
    async def _remove_quietly(sftp: asyncssh.SFTPClient, path: str) -> None:
        with contextlib.suppress(asyncssh.SFTPError):
            await sftp.remove(path)

    async def _same_or_absent(
        self, sftp: asyncssh.SFTPClient, name: str, final: str, content: bytes
    ) -> bool:
        """True if `final` already holds `content`; False if absent; an error if it differs."""
        if not await sftp.exists(final):
            return False
        if not await sftp.isfile(final):
            raise SftpError(
                f"{self._where}: {final} finns redan i utkorgen men är ingen vanlig fil.",
                transient=False,
            )
        if await _read_all(sftp, final) == content:
            logger.info("SFTP: %s finns redan med samma innehåll i %s", name, self.url)
            return True
        raise SftpError(
            f"Filen {name} finns redan i utkorgen {self.url} med ett annat innehåll; "
            "den skrivs inte över.",
            transient=False,
        )

    def exists(self, name: str) -> bool:
        _check_name(name, "filnamn")

        async def operation(sftp: asyncssh.SFTPClient) -> bool:
            return await sftp.exists(self._path(name))

        return self._run(f"se efter {name} i {self.url}", operation)


# What an SFTP entry is, as the stat mode that transport.refusal judges.
_MODES = {
    asyncssh.FILEXFER_TYPE_REGULAR: stat.S_IFREG,
    asyncssh.FILEXFER_TYPE_DIRECTORY: stat.S_IFDIR,
    asyncssh.FILEXFER_TYPE_SYMLINK: stat.S_IFLNK,
    asyncssh.FILEXFER_TYPE_FIFO: stat.S_IFIFO,
    asyncssh.FILEXFER_TYPE_SOCKET: stat.S_IFSOCK,
    asyncssh.FILEXFER_TYPE_CHAR_DEVICE: stat.S_IFCHR,
    asyncssh.FILEXFER_TYPE_BLOCK_DEVICE: stat.S_IFBLK,
}
READ_CHUNK = 256 * 1024


def _refusal(attrs: asyncssh.SFTPAttrs, max_bytes: int) -> str | None:
    mode = _MODES.get(attrs.type)
    if mode is None:
        return "Servern anger inte att filen är en vanlig fil; inkorgen läser bara vanliga filer."
    return refusal(mode, attrs.size, max_bytes)


def _same_file(before: asyncssh.SFTPAttrs, opened: asyncssh.SFTPAttrs) -> bool:
    """Whether the opened file is still the entry that lstat saw (SFTP has no O_NOFOLLOW: a link
    put in its place meanwhile would be followed, and then shows another file)."""
    return opened.type == asyncssh.FILEXFER_TYPE_REGULAR and all(
        getattr(before, field) == getattr(opened, field)
        for field in ("size", "uid", "gid", "permissions", "mtime")
    )


class SftpInbox(_SftpLocation):
    """The access point's inbox: receipts are listed, read and moved into a sub-directory.

    Only regular files are read, never through a link (``lstat``) and never more than the limit
    (``KORTFAKTURA_INBOX_MAX_BYTES``); anything else is ``RefusedFile``."""

    role = "inkorgen"

    def list(self) -> list[str]:
        """Every entry but sub-directories and dot files (temporary), sorted: links and special
        files are listed too, so that they are refused and filed away rather than left. The
        listing's attributes are the entries' own, as ``lstat`` gives them."""

        async def operation(sftp: asyncssh.SFTPClient) -> list[str]:
            names = []
            for entry in await sftp.readdir(self._dir):
                filename = str(entry.filename)
                if filename.startswith("."):
                    continue
                kind = entry.attrs.type
                if kind == asyncssh.FILEXFER_TYPE_UNKNOWN:
                    # Some servers leave the type out in SFTPv3 listings: ask, never following.
                    kind = (await sftp.lstat(self._path(filename))).type
                if kind == asyncssh.FILEXFER_TYPE_DIRECTORY:
                    continue
                names.append(filename)
            return sorted(names)

        return self._run(f"lista {self.url}", operation)

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """The content of the regular file ``name``, read in pieces and never past the limit."""
        _check_name(name, "filnamn")
        most = limit(max_bytes)
        path = self._path(name)

        async def operation(sftp: asyncssh.SFTPClient) -> bytes | str:
            before = await sftp.lstat(path)
            reason = _refusal(before, most)
            if reason:
                return reason
            chunks: list[bytes] = []
            total = 0
            async with sftp.open(path, "rb") as handle:
                if not _same_file(before, await handle.stat()):
                    raise SftpError(
                        f"{self._where}: {name} ändrades eller byttes ut medan den öppnades; "
                        "den läses igen nästa gång.",
                        transient=True,
                    )
                while total <= most:
                    chunk = await handle.read(min(READ_CHUNK, most + 1 - total))
                    if not chunk:
                        break
                    chunks.append(chunk.encode() if isinstance(chunk, str) else bytes(chunk))
                    total += len(chunks[-1])
            return too_large(most) if total > most else b"".join(chunks)

        # A refusal is returned, not raised, from the session: _run reports any exception but
        # an SftpError raised there as a failure talking to the server.
        result = self._run(f"läsa {name} i {self.url}", operation)
        if isinstance(result, str):
            raise RefusedFile(result)
        return result

    def move(self, name: str, folder: str) -> None:
        """Move `name` into the sub-directory `folder` (created if missing).

        A file of the same name already in `folder` is kept: the moved one gets a numbered name
        (`kvitto.xml` → `kvitto-1.xml`), so that no receipt is ever lost.
        """
        _check_name(name, "filnamn")
        _check_name(folder, "katalognamn")

        async def operation(sftp: asyncssh.SFTPClient) -> None:
            source = self._path(name)
            target_dir = self._path(folder)
            if not await sftp.lexists(target_dir):
                await sftp.makedirs(target_dir, exist_ok=True)
            elif (await sftp.lstat(target_dir)).type != asyncssh.FILEXFER_TYPE_DIRECTORY:
                # A link named like the folder would send the files wherever it points.
                raise SftpError(
                    f"{self._where}: {folder} i {self.url} är ingen katalog (en länk eller en "
                    "fil) – ta bort den.",
                    transient=False,
                )
            stem, dot, suffix = name.rpartition(".")
            if not stem:
                stem, dot, suffix = name, "", ""
            candidate = name
            for attempt in range(1, 1000):
                target = posixpath.join(target_dir, candidate)
                # lexists: a link filed away earlier counts as taken even if it leads nowhere.
                if not await sftp.lexists(target):
                    try:
                        # Plain rename: refuses to replace a file that appeared meanwhile; a
                        # link is renamed itself, never what it points to.
                        await sftp.rename(source, target)
                        return
                    except asyncssh.SFTPError:
                        if not await sftp.lexists(target):
                            raise
                candidate = f"{stem}-{attempt}{dot}{suffix}"
            raise SftpError(
                f"{self._where}: för många filer med namnet {name} i {folder}.", transient=False
            )

        self._run(f"flytta {name} till {folder} i {self.url}", operation)
