"""Where Peppol documents are handed to the access point, and where its answers arrive.

``open_outbox``/``open_inbox`` take the setting's URL: ``file:///dir`` is served here,
``sftp://user@host:port/dir`` by ``kortfaktura.delivery.sftp`` (same methods).
An outbox write is atomic (temporary name, then rename) and idempotent: writing a name that
already holds the same bytes does nothing, so a hand-over repeated after a crash never makes a
second document; different bytes under the same name are refused.

An inbox reads only regular files, never through a link and never more than
``KORTFAKTURA_INBOX_MAX_BYTES``; anything else is a ``RefusedFile`` that the caller files away.
"""

import contextlib
import errno
import os
import posixpath
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import SplitResult, quote, unquote, urlsplit

from kortfaktura.documents.services import os_reason


class TransportError(Exception):
    """A hand-over that did not happen; ``transient`` when trying again later may succeed."""

    def __init__(self, message: str, transient: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class MaybeSent(TransportError):
    """The hand-over broke off after the whole document had left (an SMTP connection lost after
    the message's end but before the server's answer): the receiver may have it. Never tried
    again on its own: a person confirms it or sends it again (R20)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class RefusedFile(TransportError):
    """An inbox entry that is not read: a link, not a regular file, or larger than the limit.
    The message is the Swedish reason; the caller moves the entry itself to quarantine."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class Outbox(Protocol):
    def put(self, name: str, content: bytes) -> None: ...

    def exists(self, name: str) -> bool: ...


class Inbox(Protocol):
    def list(self) -> list[str]: ...

    def read(self, name: str, max_bytes: int | None = None) -> bytes: ...

    def move(self, name: str, folder: str) -> None: ...


LINK = (
    "Filen är en symbolisk länk. Inkorgen följer aldrig länkar och läser bara vanliga filer – "
    "be den som lämnar filerna (accesspunkten, banken eller källsystemet) lämna själva filen."
)
SPECIAL = {
    stat.S_IFDIR: "en katalog",
    stat.S_IFIFO: "en namngiven pipe (FIFO)",
    stat.S_IFSOCK: "en socket",
    stat.S_IFCHR: "en teckenenhet",
    stat.S_IFBLK: "en blockenhet",
}


def limit(max_bytes: int | None) -> int:
    """The largest file an inbox reads: ``max_bytes``, else ``KORTFAKTURA_INBOX_MAX_BYTES``."""
    if max_bytes is not None:
        return max_bytes
    from django.conf import settings

    return int(settings.INBOX_MAX_BYTES)


HARD_LINK = (
    "Filen har fler namn än det i inkorgen (en hård länk till en fil någon annanstans). Inkorgen "
    "läser bara filer som bara finns där – be den som lämnar filerna (accesspunkten, banken eller "
    "källsystemet) lämna en egen kopia av filen."
)


def refusal(mode: int, size: int | None, max_bytes: int, links: int | None = None) -> str | None:
    """Why an entry with this ``stat`` mode, size and link count is not read, in Swedish; None
    to read it. A hard link is refused like a symbolic one: it would let whoever can write to
    the inbox have a file elsewhere (``/etc/shadow``) read and its checksum stored."""
    if stat.S_ISLNK(mode):
        return LINK
    if links is not None and links > 1 and stat.S_ISREG(mode):
        return HARD_LINK
    if not stat.S_ISREG(mode):
        what = SPECIAL.get(stat.S_IFMT(mode), "en speciell fil")
        return f"Filen är ingen vanlig fil utan {what}; inkorgen läser bara vanliga filer."
    if size is not None and size > max_bytes:
        return too_large(max_bytes)
    return None


def too_large(max_bytes: int) -> str:
    shown = f"{max_bytes:,}".replace(",", " ")
    return (
        f"Filen är större än {shown} byte (KORTFAKTURA_INBOX_MAX_BYTES) och läses inte av "
        "inkorgen. Ett kvitto är några kilobyte: kontrollera vad filen är. En stor beställnings- "
        "eller betalfil läses in för sig med kortfaktura import orders FIL (eller import "
        "payments FIL); höj annars gränsen och lägg tillbaka filen i inkorgen."
    )


def _plain_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise TransportError(f"ogiltigt filnamn {name!r}", transient=False)
    return name


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """``(head, userinfo, tail)`` of an address with a user part, ``tail`` starting at the "@"
    before the host; None without one. A password may hold "/", "@", ":", "?" or "#" as they are:
    a parser that ends the authority at the first "/" (``urlsplit``) would then take part of the
    password for the host, port or path. So the user part runs to the LAST "@" of the address
    (for a password, the safe reading: never too little of it is masked)."""
    head, separator, rest = url.partition("://")
    if not separator:  # ``smtp:user:pw@host``, or no scheme at all: all of it may be user part
        head, rest = "", url
    else:
        head += separator
    at = rest.rfind("@")
    if at <= 0 or rest.startswith("/"):  # no "@", or no authority (``file:///srv/x@y``)
        return None
    return head, rest[:at], rest[at:]


def redact(url: str) -> str:
    """The address without its password (``smtp://gits:***@värd:587``): a setting is quoted in
    messages, the delivery list and the audit trail, which must never carry a secret. The one
    function for every URL setting that is shown."""
    parts = _userinfo(url)
    if parts is None:
        return url
    head, userinfo, tail = parts
    user, colon, _ = userinfo.partition(":")
    return f"{head}{user}:***{tail}" if colon else url


def split_url(url: str) -> SplitResult:
    """``urlsplit`` of a URL setting, reading a user part as ``redact`` does: a "/", "@", "?" or
    "#" written as it is in a user name or password is taken as part of it, so that
    ``smtp+starttls://gits@vgregion.se:pa/ss@värd:587`` logs in as ``gits@vgregion.se`` with
    ``pa/ss``. A "%" followed by two hexadecimal digits is a percent-encoded character."""
    parts = _userinfo(url)
    if parts is not None:
        head, userinfo, tail = parts
        url = head + quote(userinfo, safe=":%!$&'()*+,;=") + tail
    return urlsplit(url)


def _directory(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise TransportError(
            f"{redact(url)}: en file-adress kan inte peka på en annan dator – använd t.ex. "
            "file:///srv/peppol/ut eller sftp://",
            transient=False,
        )
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise TransportError(
            f"{redact(url)}: ange en absolut sökväg, t.ex. file:///srv/peppol/ut", transient=False
        )
    return Path(path)


STAGING = ".kortfaktura-tmp"


class FileOutbox:
    def __init__(self, url: str) -> None:
        self.directory = _directory(url)
        self._staging: Path | None = None

    def exists(self, name: str) -> bool:
        return (self.directory / _plain_name(name)).exists()

    def staging(self) -> Path:
        """Where a document is written before it is linked into the outbox, so that nothing but
        whole documents is ever in the outbox: beside it (``/srv/peppol/.ut.kortfaktura-tmp``
        for ``/srv/peppol/ut``). A link is atomic only within one file system, so when that
        place is on another one (the outbox is a mount point) or cannot be made, a hidden
        folder inside the outbox (``.kortfaktura-tmp/``), which an access point that picks up
        document files leaves alone. Created when missing."""
        if self._staging is not None:
            return self._staging
        outbox = self.directory.stat()
        if self.directory.name:
            beside = self.directory.parent / f".{self.directory.name}{STAGING}"
            try:
                beside.mkdir(mode=0o700, exist_ok=True)
                if not beside.is_symlink() and beside.stat().st_dev == outbox.st_dev:
                    self._staging = beside
                    return beside
            except OSError:
                pass
        inside = self.directory / STAGING
        inside.mkdir(mode=0o700, exist_ok=True)
        self._staging = inside
        return inside

    def check(self) -> None:
        """Refuses (``TransportError``, not transient) an outbox that cannot take documents:
        missing, not a directory, not writable, or no place for its temporary files. Nothing is
        written to the outbox itself."""
        where = f"utkorgen {self.directory}"
        if not self.directory.exists():
            raise TransportError(
                f"{where} finns inte – skapa katalogen eller rätta sökvägen", transient=False
            )
        if not self.directory.is_dir():
            raise TransportError(f"{where} är ingen katalog – ange en katalog", transient=False)
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise TransportError(
                f"{where} går inte att skriva i – ge tjänstekontot skrivrätt", transient=False
            )
        try:
            staging = self.staging()
            descriptor, probe = tempfile.mkstemp(suffix=".tmp", dir=staging)
            os.close(descriptor)
            os.unlink(probe)
        except OSError as error:
            raise TransportError(
                f"{where}: katalogen för tillfälliga filer bredvid den ({self.directory.parent}/"
                f".{self.directory.name}{STAGING}) eller i den ({STAGING}/) går inte att skapa "
                f"eller skriva i: {os_reason(error)}",
                transient=False,
            ) from None

    def put(self, name: str, content: bytes) -> None:
        target = self.directory / _plain_name(name)
        if not self.directory.is_dir():
            raise TransportError(f"utkorgen {self.directory} finns inte eller är ingen katalog")
        try:
            if target.exists():
                if target.read_bytes() == content:
                    return
                raise TransportError(
                    f"{target} finns redan med ett annat innehåll – skrivs inte över",
                    transient=False,
                )
            staging = self.staging()
            _sweep_legacy_temporaries(self.directory)
            # Left by a process killed mid-write: the document is written whole below.
            for path in staging.glob(f"{name}.*.tmp"):
                with contextlib.suppress(OSError):
                    path.unlink()
            descriptor, temporary = tempfile.mkstemp(prefix=f"{name}.", suffix=".tmp",
                                                     dir=staging)  # fmt: skip
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
                    os.fchmod(handle.fileno(), 0o644)
                # link, not rename: fails if another writer put the name there meanwhile
                os.link(temporary, target)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
        except FileExistsError:
            if target.read_bytes() != content:
                raise TransportError(
                    f"{target} finns redan med ett annat innehåll – skrivs inte över",
                    transient=False,
                ) from None
        except OSError as error:
            raise TransportError(
                f"kunde inte skriva {target}: {os_reason(error)}", transient=True
            ) from None


_SWEPT: set[Path] = set()
LEGACY_NAME = "????????-????-????-????-????????????.xml"


def _sweep_legacy_temporaries(directory: Path) -> None:
    """Earlier versions wrote their temporary files (``.NAME.*.tmp``, NAME a delivery's
    ``INSTANCE-ID.xml``) in the outbox itself; a process killed mid-write left one there.
    Removed once per process and outbox: looking for them at every document would read the
    whole outbox each time. Other systems' files are left alone."""
    if directory in _SWEPT:
        return
    for path in directory.glob(f".{LEGACY_NAME}.*.tmp"):
        with contextlib.suppress(OSError):
            path.unlink()
    _SWEPT.add(directory)


class FileInbox:
    """A local directory the access point leaves receipts in. Only regular files are read, never
    through a link, and none larger than the limit: anything else is ``RefusedFile``."""

    def __init__(self, url: str) -> None:
        self.directory = _directory(url)

    def list(self) -> list[str]:
        """Every entry but sub-directories and dot files (temporary), sorted: links and special
        files are listed too, so that they are refused and filed away rather than left."""
        try:
            with os.scandir(self.directory) as entries:
                return sorted(
                    entry.name
                    for entry in entries
                    if not entry.name.startswith(".") and not entry.is_dir(follow_symlinks=False)
                )
        except OSError as error:
            raise TransportError(
                f"inkorgen {self.directory} går inte att läsa: {os_reason(error)}"
            ) from None

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """The content of the regular file ``name``, read in pieces and never past the limit."""
        path = self.directory / _plain_name(name)
        most = limit(max_bytes)
        try:
            entry = os.lstat(path)
            reason = refusal(entry.st_mode, entry.st_size, most, entry.st_nlink)
            if reason:
                raise RefusedFile(reason)
            # O_NOFOLLOW: a link put in its place after the lstat is refused, not followed;
            # O_NONBLOCK: a FIFO put there does not block the open.
            try:
                descriptor = os.open(
                    path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                )
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise RefusedFile(LINK) from None
                raise
            with os.fdopen(descriptor, "rb") as handle:
                info = os.fstat(handle.fileno())
                reason = refusal(info.st_mode, info.st_size, most, info.st_nlink)
                if reason:
                    raise RefusedFile(reason)
                content = handle.read(most + 1)  # a file that grew meanwhile stops here
            if len(content) > most:
                raise RefusedFile(too_large(most))
            return content
        except OSError as error:
            raise TransportError(f"kunde inte läsa {name}: {os_reason(error)}") from None

    def move(self, name: str, folder: str) -> None:
        """Move ``name`` into the sub-directory ``folder``; a file of the same name already
        there is kept and the moved one gets a numbered name (``svar.xml`` → ``svar-1.xml``).
        A link is moved itself, never what it points to."""
        target = self.directory / _plain_name(folder)
        source = self.directory / _plain_name(name)
        stem, dot, suffix = name.rpartition(".")
        if not stem:
            stem, dot, suffix = name, "", ""
        try:
            target.mkdir(exist_ok=True)
            if not stat.S_ISDIR(os.lstat(target).st_mode):
                # A link named like the folder would send the files wherever it points.
                raise TransportError(
                    f"kunde inte flytta {name}: {target} är ingen katalog utan en länk – ta bort "
                    "länken",
                    transient=False,
                )
            for attempt in range(1000):
                candidate = target / (f"{stem}-{attempt}{dot}{suffix}" if attempt else name)
                try:
                    # Refuses to replace a file already there; follow_symlinks=False links the
                    # entry itself (a link stays a link), not what a link points to.
                    os.link(source, candidate, follow_symlinks=False)
                except FileExistsError:
                    continue
                except PermissionError:
                    # With fs.protected_hardlinks only the owner may hard-link a link, a special
                    # file or a file it cannot write (the access point's files): rename instead,
                    # after looking (only this program writes into the folder).
                    if os.path.lexists(candidate):
                        continue
                    os.rename(source, candidate)
                    return
                os.unlink(source)
                return
        except OSError as error:
            raise TransportError(
                f"kunde inte flytta {name} till {folder}: {os_reason(error)}"
            ) from None
        raise TransportError(f"för många filer med namnet {name} i {folder}", transient=False)


def _scheme(url: str, variable: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("file", "sftp"):
        raise TransportError(
            f"{variable}={redact(url)!r} går inte att använda – ange file:///katalog eller "
            "sftp://användare@värd:port/katalog",
            transient=False,
        )
    return scheme


def check_url(url: str, variable: str) -> None:
    """Refuses (``TransportError``, not transient) an outbox or inbox address that can never
    work, before anything is sent: the scheme, and for file:// an absolute local path."""
    if _scheme(url, variable) == "file":
        try:
            _directory(url)
        except TransportError as error:
            raise TransportError(f"{variable}={error.message}", transient=False) from None
        return
    parts = split_url(url)
    try:
        port_ok = parts.port != 0
    except ValueError:  # not a number, or out of range
        port_ok = False
    if not parts.hostname or not parts.username or parts.password is not None or not port_ok:
        raise TransportError(
            f"{variable}={redact(url)!r} går inte att använda – ange "
            "sftp://användare@värd:port/katalog (nyckeln i KORTFAKTURA_SSH_KEY, inget lösenord)",
            transient=False,
        )


def location(url: str) -> tuple[str, str, PurePosixPath]:
    """``(scheme, server, directory)`` of an outbox or inbox address, for telling whether two
    settings name the same place: a local directory as the file system resolves it (links
    followed), an SFTP directory by user, host and port."""
    parts = split_url(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if scheme == "file":
        return scheme, "", PurePosixPath(os.path.realpath(path))
    try:
        port = parts.port or 22
    except ValueError:
        port = 0
    server = f"{unquote(parts.username or '')}@{(parts.hostname or '').lower()}:{port}"
    return scheme, server, PurePosixPath(posixpath.normpath(path or "."))


def overlap(first: str, second: str) -> str:
    """How the place of ``first`` relates to ``second``'s: ``same``, ``inside``, ``around``,
    or "" when they are apart."""
    scheme, server, path = location(first)
    other_scheme, other_server, other = location(second)
    if (scheme, server) != (other_scheme, other_server):
        return ""
    if path == other:
        return "same"
    if path.is_relative_to(other):
        return "inside"
    if other.is_relative_to(path):
        return "around"
    return ""


def open_outbox(url: str, ssh_key: str = "") -> Outbox:
    if _scheme(url, "KORTFAKTURA_PEPPOL_OUTBOX") == "file":
        return FileOutbox(url)
    from kortfaktura.delivery import sftp

    outbox: Outbox = sftp.SftpOutbox(url, Path(ssh_key) if ssh_key else None)
    return outbox


def open_inbox(url: str, ssh_key: str = "") -> Inbox:
    if _scheme(url, "KORTFAKTURA_PEPPOL_INBOX") == "file":
        return FileInbox(url)
    from kortfaktura.delivery import sftp

    inbox: Inbox = sftp.SftpInbox(url, Path(ssh_key) if ssh_key else None)
    return inbox
