"""Who is acting: the person behind a change, for the audit trail (DOMAIN.md R19).

``current_actor()`` is, in this order: the name set with ``acting_as`` (the web application's
logged-in user, the demo), the environment variable ``KORTFAKTURA_ACTOR`` (a service account or
a script that runs for a named person), or the operating-system user.

``KORTFAKTURA_ACTOR`` is a claim nobody checks: whoever runs the command may name anyone. So a
record made under that claim also keeps the operating-system user who made it
(``claimed_by``), and an auditor sees both ("eva", run by root).
"""

import getpass
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from kortfaktura.audit.models import ACTOR_LENGTH

ENVIRONMENT_VARIABLE = "KORTFAKTURA_ACTOR"
UNKNOWN = "okänd"

_actor: ContextVar[str | None] = ContextVar("kortfaktura_actor", default=None)


def _clean(name: str) -> str:
    """The name without control and formatting characters (terminal escapes, bidi overrides),
    which would let a name recolour or reorder what an auditor reads."""
    visible = "".join(
        " " if character.isspace() else character
        for character in name
        if character.isspace() or unicodedata.category(character)[0] != "C"
    )
    return " ".join(visible.split())[:ACTOR_LENGTH]


def current_actor() -> str:
    named = _actor.get()
    if named:
        return named
    from_environment = _clean(os.environ.get(ENVIRONMENT_VARIABLE, ""))
    if from_environment:
        return from_environment
    return _system_user()


def _system_user() -> str:
    try:
        return _clean(getpass.getuser()) or UNKNOWN
    except Exception:  # no user name in the environment and none in the password database
        return UNKNOWN


def claimed_by(actor: str) -> str | None:
    """The operating-system user, when ``actor`` is only claimed by ``KORTFAKTURA_ACTOR`` (and
    is another name); None when the actor is a logged-in user or the system user itself."""
    if _actor.get():
        return None
    claimed = _clean(os.environ.get(ENVIRONMENT_VARIABLE, ""))
    if not claimed or actor != claimed:
        return None
    system = _system_user()
    return system if system != claimed else None


@contextmanager
def acting_as(name: str) -> Iterator[str]:
    """Everything recorded inside the block is recorded as done by ``name``."""
    cleaned = _clean(name) or UNKNOWN
    token = _actor.set(cleaned)
    try:
        yield cleaned
    finally:
        _actor.reset(token)
