"""Fuzzing both payment readers with whole generated files: no traceback – every file is either
stored or refused with a Swedish ``PaymentError`` – and a refused file stores nothing.
``KORTFAKTURA_FUZZ_EXAMPLES`` sets the examples per reader (200 by default)."""

import os
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kortfaktura.audit.models import AuditRecord
from kortfaktura.payments import services
from kortfaktura.payments.models import Payment, PaymentFile

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("KORTFAKTURA_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FIXTURES = Path(__file__).parent / "fixtures" / "payments"
BGMAX_SEEDS = [
    (FIXTURES / name).read_bytes()
    for name in ("bgmax_every_record.txt", "bgmax_repeats_103.txt", "refused_deposit_sum.txt")
]
CAMT_SEEDS = [(FIXTURES / "camt054_credits.xml").read_bytes()]
RECORD_CODES = [b"01", b"05", b"20", b"21", b"22", b"23", b"25", b"26", b"27", b"28", b"29",
                b"15", b"70", b"99", b"  "]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], lines: bool) -> bytes:
    content = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["byte", "insert", "delete", "line", "code", "digits"]))
        if not content:
            break
        at = draw(st.integers(0, len(content) - 1))
        if kind == "byte":
            content[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            content[at:at] = draw(st.binary(max_size=40))
        elif kind == "delete":
            del content[at : at + draw(st.integers(1, 90))]
        elif kind == "digits":
            content[at : at + 3] = draw(st.sampled_from([b"999", b"000", b"-1.", b"1e9"]))
        elif lines:
            rows = bytes(content).split(b"\r\n")
            index = draw(st.integers(0, len(rows) - 1))
            if kind == "line":
                rows.insert(draw(st.integers(0, len(rows))), rows.pop(index))
            else:
                rows[index] = draw(st.sampled_from(RECORD_CODES)) + rows[index][2:]
            content = bytearray(b"\r\n".join(rows))
    return bytes(content)


def _import_and_check(content: bytes) -> None:
    with transaction.atomic():
        audit = AuditRecord.objects.count()
        try:
            result = services.import_content(content, "fuzz")
        except services.PaymentError as error:
            assert str(error).startswith("fuzz: ")
            assert not PaymentFile.objects.exists() and not Payment.objects.exists()
            assert AuditRecord.objects.count() == audit
        else:
            assert Payment.objects.count() == result.payments
            again = services.import_content(content, "fuzz")
            assert again.already_imported and again.payments == 0
        transaction.set_rollback(True)


@FUZZ
@given(content=st.one_of(mutated(BGMAX_SEEDS, lines=True), st.binary(max_size=400)))
def test_bgmax_reader_never_fails_unexpectedly(content: bytes) -> None:
    _import_and_check(content)


@FUZZ
@given(content=mutated(CAMT_SEEDS, lines=False))
def test_camt054_reader_never_fails_unexpectedly(content: bytes) -> None:
    _import_and_check(content)
