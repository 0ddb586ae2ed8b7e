"""Can every text of a document be set in the PDF's fonts? Checked when a document is issued
(DOMAIN.md R20: one glyph the fonts lack would make its e-mail and print fail for ever).

The PDF (``pdf.PdfRenderer``) is PDF/A-2b, which forbids the "missing glyph" box, so Typst
refuses a text that no font of ``pdf.FONT_DIRS`` can show. The check asks the fonts, not a
whole PDF:

1. each character against the union of the fonts' character maps (read once per process with
   fontTools), and the characters Typst never draws (Unicode's default ignorables: joiners,
   variation selectors, tags, bidi controls): nearly every text passes here, in microseconds;
2. a text with any other character (a combining mark or a compatibility character that the
   shaper may still set from what the fonts have, an Egyptian hieroglyph they do not have) is
   set by Typst itself in a one-line PDF/A document with the same fonts, so that the check
   refuses exactly what the renderer refuses.
"""

import json
import re
import struct
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import typst
from fontTools.ttLib import TTCollection, TTFont

from kortfaktura.documents.data import DocumentData
from kortfaktura.documents.pdf import (
    FONT_DIRS,
    FONTS,
    TEMPLATE_DIR,
    fonts,
    printable,
)

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15.1): a shaper
# draws nothing for them, so no font needs them.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip


@cache
def coverage() -> frozenset[int]:
    """Every code point that some face of the PDF's fonts maps to a glyph (not .notdef)."""
    covered: set[int] = set()
    seen: set[bytes] = set()  # the faces of a collection may share one cmap
    for directory in FONT_DIRS:
        for path in sorted(Path(directory).iterdir()):
            name = path.name.lower()
            if not name.endswith(FONT_SUFFIXES):
                continue
            faces = (
                TTCollection(str(path), lazy=True).fonts
                if name.endswith((".ttc", ".otc"))
                else [TTFont(str(path), lazy=True)]
            )
            for face in faces:
                raw = face.reader["cmap"]
                if raw in seen:
                    continue
                seen.add(raw)
                points = _segmented_coverage(raw)
                if points is None:
                    points = {
                        point for point, glyph in (face.getBestCmap() or {}).items()
                        if glyph != ".notdef"
                    }  # fmt: skip
                covered.update(points)
    return frozenset(covered)


def _segmented_coverage(cmap: bytes) -> set[int] | None:
    """The code points of a font's Unicode full-repertoire subtable (format 12: ranges of code
    points to consecutive glyphs), read straight from the bytes: fontTools builds a dictionary
    of every mapping first, 0.4 s for each face of Noto Sans CJK. None: no such subtable."""
    _, count = struct.unpack_from(">HH", cmap, 0)
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHL", cmap, 4 + 8 * index)
        if (platform, encoding) not in ((3, 10), (0, 4), (0, 6)):
            continue
        if struct.unpack_from(">H", cmap, offset)[0] != 12:
            continue
        (groups,) = struct.unpack_from(">L", cmap, offset + 12)
        points: set[int] = set()
        for first, last, glyph in struct.iter_unpack(
            ">LLL", cmap[offset + 16 : offset + 16 + 12 * groups]
        ):
            # Glyph 0 is .notdef: a range that starts there does not show its first character.
            points.update(range(first + (glyph == 0), last + 1))
        return points
    return None


def _ignorable(point: int) -> bool:
    return any(first <= point <= last for first, last in DEFAULT_IGNORABLE)


@cache
def _outside() -> re.Pattern[str]:
    """Matches a character that is neither in the fonts nor default ignorable: one regular
    expression over a whole document's texts is the fast path (a character class of ranges,
    searched in C)."""
    points = sorted(
        set(coverage()).union(*(range(first, last + 1) for first, last in DEFAULT_IGNORABLE))
    )
    ranges: list[tuple[int, int]] = []
    for point in points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    members = "".join(
        f"\\U{first:08x}" if first == last else f"\\U{first:08x}-\\U{last:08x}"
        for first, last in ranges
    )
    return re.compile(f"[^{members}]")


def _surely_settable(text: str) -> bool:
    return _outside().search(text) is None


@cache
def _probe_compiler() -> typst.Compiler:
    return typst.Compiler(
        input=str(TEMPLATE_DIR / "glyphs.typ"),
        root=str(TEMPLATE_DIR),
        font_paths=fonts(),
        ignore_system_fonts=True,
    )


def _typst_sets(text: str) -> bool:
    """Whether Typst sets ``text`` in the PDF's fonts as PDF/A-2b, as the renderer would."""
    data = json.dumps({"fonts": list(FONTS), "text": text}, ensure_ascii=False)
    try:
        _probe_compiler().compile(
            format="pdf", sys_inputs={"data": data}, pdf_standards=["a-2b"], pdf_tags=False
        )
    except typst.TypstError:
        return False
    return True


def unsettable(text: str) -> list[str]:
    """The characters of ``text`` that the PDF cannot show, in order, each once; [] when the
    whole text can be set."""
    if _surely_settable(text) or _typst_sets(text):
        return []
    covered = coverage()
    suspects = [char for char in dict.fromkeys(text) if ord(char) not in covered]
    # Typst names a cluster, not a character: ask it about each suspect on its own.
    found = [char for char in suspects if not _typst_sets(char)]
    return found or suspects or [text]


def describe(char: str) -> str:
    """ "𓀀 (U+13000)"; an invisible or unassigned character by its code alone."""
    code = f"U+{ord(char):04X}"
    if unicodedata.category(char) in ("Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Mn", "Me"):
        return code
    return f"{char} ({code})"


@dataclass(frozen=True)
class Unprintable:
    """A text of a document that the PDF cannot show."""

    number: int
    order_id: str  # "" when the text is not one order's
    field: str  # Swedish, "kortinnehavarens namn"
    characters: tuple[str, ...]

    @property
    def message(self) -> str:
        where = f"Beställning {self.order_id}" if self.order_id else f"Dokument {self.number}"
        shown = ", ".join(describe(char) for char in self.characters)
        word = "tecknet" if len(self.characters) == 1 else "tecknen"
        return f"{where}: {word} {shown} i {self.field} finns inte i något typsnitt för PDF:en"


BUYER_FIELDS = (
    ("name", "kundens namn"),
    ("account_name", "fakturamottagarens namn"),
    ("street", "kundens adress"),
    ("postal_code", "kundens postnummer"),
    ("city", "kundens ort"),
    ("buyer_reference", "kundens referens"),
    ("account_code", "kundnumret"),
    ("cost_centre", "kostnadsstället"),
)


def _texts(document: DocumentData) -> Iterator[tuple[str, str, str]]:
    """(order id, field, text) for every text of the document that the PDF prints, as it
    prints it, named where a person can fix it. The rest of the PDF is the template's own
    wording, numbers and dates, which the tests render."""
    for row in document.specification:
        yield row.order_id, "kortinnehavarens namn", printable(row.holder_name)
        yield row.order_id, "kortinnehavarens HSA-id", printable(row.holder_hsa_id)
        yield row.order_id, "beställnings-id:t", row.order_id
        yield row.order_id, "enhetskoden", row.unit_code
        yield row.order_id, "artikelkoden", row.product_code
    for key, field in BUYER_FIELDS:
        yield "", field, str(document.buyer.get(key) or "")
    yield "", "rubriken", document.title
    yield "", "orsaken till krediteringen", document.reason
    for line in document.lines:
        yield "", "artikelnamnet", line.product_name
        yield "", "artikelkoden", line.product_code
    for key, value in document.seller.items():
        yield "", f"säljarens uppgifter ({key}, inställningarna)", str(value)


def unprintable(documents: Iterable[DocumentData]) -> list[Unprintable]:
    """Every text of the documents that the PDF cannot show, one entry per document, order and
    field; a character is named once per order (and once for the texts that are no order's)."""
    found: list[Unprintable] = []
    answers: dict[str, list[str]] = {}
    for document in documents:
        texts = list(_texts(document))
        if _surely_settable(" ".join(text for _, _, text in texts)):
            continue  # nearly every document: one search over all its texts
        reported: dict[str, set[str]] = defaultdict(set)  # order id ("": none) → characters
        for order_id, field, text in texts:
            if text not in answers:
                answers[text] = unsettable(text)
            characters = [char for char in answers[text] if char not in reported[order_id]]
            if characters:
                reported[order_id].update(characters)
                found.append(Unprintable(document.number, order_id, field, tuple(characters)))
    return found
