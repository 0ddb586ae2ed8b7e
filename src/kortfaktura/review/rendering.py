"""What the review's reports have in common: ``render(review) -> bytes``, like the document
renderers (``documents.services.Renderer``), and writing the result atomically."""

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from kortfaktura import swedish
from kortfaktura.review.report import Review

# Long lists are cut here in the HTML report (the Excel report has them all).
HTML_LIST_CAP = 500


def period_text(review: Review) -> str:
    start, end = review.period_from, review.period_to
    if start and end:
        return f"{swedish.day(start)} – {swedish.day(end)}"
    if start:
        return f"från och med {swedish.day(start)}"
    if end:
        return f"till och med {swedish.day(end)}"
    return "alla beställningar"


def gap_ranges(gaps: Iterable[int]) -> list[tuple[int, int]]:
    """``[3, 4, 5, 9]`` → ``[(3, 5), (9, 9)]``."""
    ranges: list[tuple[int, int]] = []
    for number in sorted(set(gaps)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    return ranges


class ReviewRenderer(Protocol):
    extension: str
    media_type: str

    def render(self, review: Review) -> bytes: ...


class WritesFile:
    """``write(review, path)``: render and write next to the target, then rename, so a reader
    never sees half a report."""

    def render(self, review: Review) -> bytes:
        raise NotImplementedError

    def write(self, review: Review, path: Path) -> None:
        # Imported here: documents.services needs Django's apps, rendering does not.
        from kortfaktura.documents.services import write_atomically

        write_atomically(Path(path), self.render(review))
