"""What every page's view uses: permission checks, paging and the section the page belongs to."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

View = TypeVar("View", bound=Callable[..., HttpResponse])
PAGE_SIZE = 50


def require(*permissions: str, section: str | None = None) -> Callable[[View], View]:
    """Logged in (else to the login page) and holding any one of ``permissions`` (else 403).

    ``section`` marks the menu entry the page belongs to (a detail page under its list).
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if permissions and not any(request.user.has_perm(p) for p in permissions):
                raise PermissionDenied
            if section:
                request.kortfaktura_section = section  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


@dataclass
class PageOf:
    """One page of a list: its rows and the numbers for "21–40 av 1 234"."""

    rows: list[Any]
    offset: int
    size: int
    total: int | None  # None when counting would cost more than the page (huge lists)

    @property
    def first(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.size) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.size if self.has_next else None

    has_next: bool = False


def paginate(
    request: HttpRequest, rows: QuerySet[Any], *, size: int = PAGE_SIZE, count: bool = True
) -> PageOf:
    """A page from ``?offset=``; it reads one row more than it shows to know if there is a next."""
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    offset = min(offset, 10_000_000)
    fetched = list(rows[offset : offset + size + 1])
    page = PageOf(rows=fetched[:size], offset=offset, size=size, total=None)
    page.has_next = len(fetched) > size
    if count:
        page.total = rows.count()
    return page
