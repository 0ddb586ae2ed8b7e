"""What every router shares: the error answer, the list envelope, role checks and bounds.

Every operation documents the error answers it can give (``ERRORS``), so a client (and
schemathesis) can rely on the schema: 400 a request the service refuses, 401 no or a bad
token, 403 a role without the permission, 404 nothing of that number that the caller may see,
409 the object's state refuses the action, 413 an uploaded file above the upload limit, 422
parameters that do not validate (a Swedish sentence per field in ``error``, and ``detail``).
"""

from typing import Any, Generic, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Query, Schema

T = TypeVar("T")

MAX_ID = 2**63 - 1  # what the database's bigint columns hold; larger numbers answer 422
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 10**9


class Error(Schema):
    """Every error answer: a Swedish sentence; validation errors also list what failed."""

    error: str
    detail: list[dict[str, Any]] | None = None


ERRORS: dict[int, type[Schema]] = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    409: Error,
    422: Error,
}


class TooLarge(Exception):
    """An uploaded file above the upload limit: 413 with the Swedish message."""


# What an operation that takes a file can answer besides ``ERRORS``.
UPLOAD_ERRORS: dict[int, type[Schema]] = {413: Error}


def responses(ok: Any, status: int = 200, more: dict[int, Any] | None = None) -> dict[int, Any]:
    """The operation's answers: ``ok`` with ``status``, ``more`` others, and every error."""
    return {status: ok, **(more or {}), **ERRORS}


class Page(Schema, Generic[T]):
    items: list[T]
    count: int


class Paging(Schema):
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Query(0, ge=0, le=MAX_OFFSET)


def require(request: HttpRequest, *permissions: str) -> None:
    """403 unless the caller's role has every permission (access/roles.py)."""
    user = request.user
    if not all(user.has_perm(f"access.{name}") for name in permissions):
        raise PermissionDenied
