"""Errors of the operating system, answered in Swedish (``main`` catches what a command lets
through): a path the command was given or made that cannot be used."""

from kortfaktura.swedish import os_reason

SHOWN_PATH = 120


def shown_path(path: object) -> str:
    """A path as the message shows it: whole when short, else its start and end."""
    text = path.decode(errors="replace") if isinstance(path, bytes) else str(path)
    if len(text) <= SHOWN_PATH:
        return text
    return f"{text[:70]}…{text[-30:]} ({len(text)} tecken)"


def path_problem(error: OSError) -> str:
    """E.g. ``--out`` or an import file whose name is too long: the path, why, and what to do."""
    if isinstance(error, FileNotFoundError):
        reason = "den finns inte (eller en katalog i sökvägen saknas)"
    else:
        reason = os_reason(error)
    return (
        f"sökvägen {shown_path(error.filename)} går inte att använda: {reason}. Kontrollera "
        "sökvägen och rättigheterna och försök igen."
    )
