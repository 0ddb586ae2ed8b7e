"""How the command line talks: Swedish text and tables for people, JSON for scripts."""

import json
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

# soft_wrap: long lines are left to the terminal; Rich would otherwise break them at the
# no-break space inside Swedish amounts ("79 900,00 kr").
console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"kan inte skriva {type(value).__name__} som JSON")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default))
    sys.stdout.write("\n")


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
