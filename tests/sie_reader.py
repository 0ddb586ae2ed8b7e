"""A small SIE 4 reader for the tests: parses what ``kortfaktura.accounting.sie`` wrote, on its
own (it shares no code with the writer), strictly enough to catch a malformed file."""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

AMOUNT = re.compile(r"-?\d+\.\d{2}")


@dataclass
class Trans:
    account: str
    objects: list[tuple[str, str]]
    amount: Decimal


@dataclass
class Ver:
    series: str
    number: str
    date: dt.date
    text: str
    rows: list[Trans] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return sum((row.amount for row in self.rows), Decimal("0"))

    def amounts(self) -> dict[str, Decimal]:
        """Amount per account (objects ignored)."""
        found: dict[str, Decimal] = {}
        for row in self.rows:
            found[row.account] = found.get(row.account, Decimal("0")) + row.amount
        return found


@dataclass
class SieFile:
    labels: dict[str, list[list[str]]] = field(default_factory=dict)  # #LABEL → fields per row
    accounts: dict[str, str] = field(default_factory=dict)
    objects: dict[tuple[str, str], str] = field(default_factory=dict)
    vouchers: list[Ver] = field(default_factory=list)

    def one(self, label: str) -> list[str]:
        rows = self.labels.get(label, [])
        assert len(rows) == 1, (label, rows)
        return rows[0]

    @property
    def debit(self) -> Decimal:
        return sum((r.amount for v in self.vouchers for r in v.rows if r.amount > 0), Decimal(0))

    @property
    def credit(self) -> Decimal:
        return -sum((r.amount for v in self.vouchers for r in v.rows if r.amount < 0), Decimal(0))


def tokens(line: str) -> list[str | list[str]]:
    """Fields of one line: bare words, quoted strings (with \\" and \\\\) and {…} lists."""
    found: list[str | list[str]] = []
    position = 0
    while position < len(line):
        char = line[position]
        if char in " \t":
            position += 1
        elif char == '"':
            position += 1
            text = []
            while True:
                if position >= len(line):
                    raise ValueError(f"string not closed: {line!r}")
                char = line[position]
                if char == "\\" and position + 1 < len(line) and line[position + 1] in '"\\':
                    text.append(line[position + 1])
                    position += 2
                elif char == '"':
                    position += 1
                    break
                else:
                    text.append(char)
                    position += 1
            found.append("".join(text))
        elif char == "{":
            end = position + 1
            depth_text = []
            in_string = False
            while end < len(line) and (in_string or line[end] != "}"):
                if line[end] == "\\" and in_string:
                    depth_text.append(line[end : end + 2])
                    end += 2
                    continue
                if line[end] == '"':
                    in_string = not in_string
                depth_text.append(line[end])
                end += 1
            if end >= len(line):
                raise ValueError(f"object list not closed: {line!r}")
            inner = [str(token) for token in tokens("".join(depth_text))]
            found.append(inner)
            position = end + 1
        else:
            end = position
            while end < len(line) and line[end] not in " \t":
                end += 1
            found.append(line[position:end])
            position = end
    return found


def parse_bytes(content: bytes) -> SieFile:
    text = content.decode("cp437")
    assert text.endswith("\r\n"), "the file ends with CRLF"
    lines = text[:-2].split("\r\n")
    assert all("\n" not in line and "\r" not in line for line in lines), "CRLF line ends only"
    result = SieFile()
    current: Ver | None = None
    in_block = False
    for line in lines:
        stripped = line.strip()
        if stripped == "{":
            assert current is not None and not in_block, "a { belongs to a #VER"
            in_block = True
            continue
        if stripped == "}":
            assert in_block and current is not None
            result.vouchers.append(current)
            current, in_block = None, False
            continue
        fields = tokens(stripped)
        label = fields[0]
        assert isinstance(label, str) and label.startswith("#"), line
        rest = fields[1:]
        if label == "#TRANS":
            assert in_block and current is not None, "#TRANS inside a #VER block"
            account, objects, amount = rest[0], rest[1], rest[2]
            assert isinstance(account, str) and account.isdigit(), line
            assert isinstance(objects, list) and len(objects) % 2 == 0, line
            assert isinstance(amount, str) and AMOUNT.fullmatch(amount), line
            pairs = [(objects[i], objects[i + 1]) for i in range(0, len(objects), 2)]
            current.rows.append(Trans(account, pairs, Decimal(amount)))
            continue
        assert not in_block, f"{label} inside a #VER block"
        flat = [str(value) for value in rest]
        if label == "#VER":
            series, number, date, text_ = flat[:4]
            current = Ver(series, number, dt.datetime.strptime(date, "%Y%m%d").date(), text_)
            continue
        assert current is None, "a #VER is followed by {"
        result.labels.setdefault(label, []).append(flat)
        if label == "#KONTO":
            result.accounts[flat[0]] = flat[1]
        elif label == "#OBJEKT":
            result.objects[flat[0], flat[1]] = flat[2]
    assert current is None and not in_block
    return result


def parse(path: Path) -> SieFile:
    return parse_bytes(path.read_bytes())
