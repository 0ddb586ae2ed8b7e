"""Characters that a document must not carry although they are printable in a technical sense.

Invisible format characters make a text show as something it is not: a right-to-left override
turns "Bo \u202eLLUN\u202c Ek" into "Bo NULL Ek" on a PDF, a zero-width space makes two equal
looking names differ. U+FFFD is the mark of an encoding that broke on the way. Imports, the web's
edits and a person's free text refuse them, naming the character. Zero-width (non-)joiners
(U+200C, U+200D) are allowed: Persian names and emoji sequences need them.

Only the standard library: every layer may use this module.
"""

import re
import unicodedata

# As a character class body, so that a caller may join it with its own characters.
HIDDEN_CLASS = "\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\ufff9-\ufffb\ufffd"
_HIDDEN = re.compile(f"[{HIDDEN_CLASS}]")


def hidden_character(text: str) -> str | None:
    """The first such character in ``text``, or None."""
    found = _HIDDEN.search(text)
    return found.group() if found else None


def describe(char: str) -> str:
    """What the character is, in Swedish, for a message that names it."""
    code = ord(char)
    if code == 0xFFFD:
        return (
            "ersättningstecknet U+FFFD (ett tecken som gick sönder när filen sparades eller "
            "kodades om)"
        )
    if code > 0x9F:
        return (
            f"ett osynligt formattecken (U+{code:04X}) som får texten att visas som något annat "
            "än den är"
        )
    return f"ett kontrolltecken (kod {code:#04x})"


# Letters that show as nothing (Hangul fillers) and marks that only join or shape others.
_BLANK_LETTERS = "\u115f\u1160\u3164\uffa0\u180e\u00ad"


def visible(text: str) -> bool:
    """Whether ``text`` has anything a reader can see: a reason of zero-width spaces, soft
    hyphens or Hangul fillers is as empty as none."""
    return any(
        not char.isspace()
        and char not in _BLANK_LETTERS
        and unicodedata.category(char) not in ("Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp")
        for char in text
    )


def problem(text: str) -> str | None:
    """What makes a person's free text (a reason, a note) unfit for a document or the trail,
    as the end of a Swedish sentence ("innehåller …"); None when it is fine."""
    if any(unicodedata.category(char) in ("Cc", "Cs", "Co") for char in text):
        return "innehåller ett kontrolltecken"
    if hidden := hidden_character(text):
        return f"innehåller {describe(hidden)}"
    return None
