"""What every page's view uses: permission checks, paging and the section the page belongs to."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
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
    # True when counting stopped at paginate's ``count_limit``: ``total`` is then a floor
    # ("av fler än 10 000") and there is no last page to link to.
    total_capped: bool = False

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

    @property
    def number(self) -> int:
        return self.offset // self.size + 1

    @property
    def last_offset(self) -> int | None:
        """Where the last page starts; None when the total is not known exactly."""
        if self.total is None or self.total_capped or self.total <= self.size:
            return None
        return (self.total - 1) // self.size * self.size

    @property
    def pages(self) -> list[dict[str, Any]]:
        """Numbered pages around this one (a window of PAGE_WINDOW on each side); without an
        exact total the window ends at the next page, the one page known to exist."""
        last = self.number + (1 if self.has_next else 0)
        if self.last_offset is not None:
            last = self.last_offset // self.size + 1
        elif self.total is not None and not self.total_capped:
            last = max(1, self.number)
        start = max(1, self.number - PAGE_WINDOW)
        end = min(last, self.number + PAGE_WINDOW)
        return [
            {"number": n, "offset": (n - 1) * self.size, "current": n == self.number}
            for n in range(start, end + 1)
        ]


PAGE_WINDOW = 2


def paginate(
    request: HttpRequest,
    rows: QuerySet[Any],
    *,
    size: int = PAGE_SIZE,
    count: bool = True,
    count_limit: int | None = None,
) -> PageOf:
    """A page from ``?offset=``; it reads one row more than it shows to know if there is a next.

    ``count_limit`` counts at most that many rows (a bounded subquery), for lists where an
    exact count could cost more than the page itself.
    """
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    offset = min(offset, 10_000_000)
    total, capped = None, False
    if count and count_limit is not None:
        # The order does not change a count; without it the database need not sort first.
        counted = rows.order_by()[: count_limit + 1].count()
        total, capped = min(counted, count_limit), counted > count_limit
    elif count:
        total = rows.count()
    if total is not None and not capped and offset > total // 2 and _ends_with_pk(rows):
        # A page past the middle is read from the other end, in the reversed order (the
        # primary key breaks ties, so it is the exact mirror): the last page costs what the
        # first does instead of walking every row before it.
        end = max(0, total - offset)
        fetched = list(rows.reverse()[max(0, end - size) : end])[::-1]
        page = PageOf(rows=fetched, offset=offset, size=size, total=total)
        page.has_next = offset + size < total
        return page
    fetched = list(rows[offset : offset + size + 1])
    page = PageOf(rows=fetched[:size], offset=offset, size=size, total=total)
    page.total_capped = capped
    page.has_next = len(fetched) > size
    return page


def _ends_with_pk(rows: QuerySet[Any]) -> bool:
    """Whether the order is total (ends with the primary key), so its reverse is its mirror."""
    ordering = rows.query.order_by
    return bool(ordering) and str(ordering[-1]).lstrip("-") in ("pk", "id")


# --- Sorting by a column heading (issue 21) ------------------------------------------------


@dataclass(frozen=True)
class Sorting:
    """The list's order from ``?sort=key`` (ascending) or ``?sort=-key`` (descending)."""

    key: str  # "" when the list is in its own default order, which no heading names
    descending: bool
    keys: tuple[str, ...]

    def aria(self, key: str) -> str:
        if key != self.key:
            return ""
        return "descending" if self.descending else "ascending"

    def link(self, key: str) -> str:
        """The ``sort`` value a click on ``key``'s heading asks for: the other direction of
        the current column, else ascending."""
        if key == self.key and not self.descending:
            return f"-{key}"
        return key

    @property
    def value(self) -> str:
        return f"-{self.key}" if self.descending and self.key else self.key


def sortable(
    request: HttpRequest,
    rows: QuerySet[Any],
    keys: Mapping[str, tuple[str, ...]],
    default: str = "",
) -> tuple[QuerySet[Any], Sorting]:
    """``rows`` ordered by the ``?sort=`` the user chose among ``keys`` (name → model fields),
    else by ``default`` (a key, "-key", or "" for newest first by primary key). Unknown keys are
    ignored. The primary key breaks ties in the same direction, so pages never overlap."""
    wanted = request.GET.get("sort", "").strip()[:40] or default
    descending = wanted.startswith("-")
    key = wanted.removeprefix("-")
    if key not in keys:
        descending = default.startswith("-") or not default
        key = default.removeprefix("-")
        if key not in keys:
            key = ""
    sign = "-" if descending else ""
    fields = [*(f"{sign}{name}" for name in keys.get(key, ())), f"{sign}pk"]
    return rows.order_by(*fields), Sorting(key, descending, tuple(keys))


def contains_any_case(field: str, text: str) -> Q:
    """``field`` contains ``text`` whatever its case, also for å, ä, ö and é. SQLite's LIKE
    folds only ASCII letters, so there the usual ways a word is written are asked for one by
    one ("göteborg", "GÖTEBORG", "Göteborg", "Göteborgs Stad"); PostgreSQL folds every letter."""
    if connection.vendor != "sqlite" or text.isascii():
        return Q(**{f"{field}__icontains": text})
    condition = Q()
    for variant in dict.fromkeys(
        (text, text.lower(), text.upper(), text.capitalize(), text.title())
    ):
        condition |= Q(**{f"{field}__icontains": variant})
    return condition
