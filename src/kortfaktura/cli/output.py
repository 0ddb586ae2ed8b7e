"""How the command line talks: Swedish text and tables for people, JSON for scripts."""

import io
import json
import os
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def silence(stream: Any) -> None:
    """The reader of ``stream`` has gone: what is still written to it, now or by the
    interpreter's final flush, goes to /dev/null instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def reader_gone() -> bool:
    """True when standard output or standard error is a pipe (or socket) whose reader has
    closed it. Only then is a ``BrokenPipeError`` the reader's doing and not the command's
    (a helper process or a server that hung up)."""
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)  # type: ignore[union-attr]
            if any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
                return True
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            continue
    return False


class _Console(Console):
    """A console whose reader may go away (``kortfaktura … | head``): the rest of the output is
    dropped and the command goes on to its end and its own exit status, so a reader that stops
    reading never stops a change half-way. (Rich's own answer is ``SystemExit(1)``.)"""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence(self.file)


# soft_wrap: long lines are left to the terminal; Rich would otherwise break them at the
# no-break space inside Swedish amounts ("79 900,00 kr").
console = _Console(highlight=False, soft_wrap=True)
error_console = _Console(stderr=True, highlight=False)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"kan inte skriva {type(value).__name__} som JSON")


def print_json(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_default)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone (``… --json | head``); see _Console
        silence(sys.stdout)


def flush_stdout() -> None:
    """Writes out what is still buffered; a reader that has gone is no error (see _Console)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence(sys.stdout)


def fail(message: str) -> None:
    error_console.print(f"[bold red]Fel:[/] {message}")


@contextmanager
def progress_bar(description: str, *, unit_is_bytes: bool) -> Iterator[Any]:
    """A progress bar on stderr while a long job runs; silent when stderr is not a terminal."""
    columns = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
    if not unit_is_bytes:
        columns.append(MofNCompleteColumn())
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(
        *columns, console=error_console, transient=True, disable=not error_console.is_terminal
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
