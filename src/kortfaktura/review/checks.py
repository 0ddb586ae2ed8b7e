"""The review's checks of customer data (DOMAIN.md R15) and of issued documents (R9, R13)."""

import hashlib
import unicodedata
import zlib
from collections import defaultdict
from importlib import resources
from typing import Any

from django.db import connection
from django.db.models import Count

from kortfaktura.billing.models import Invoice
from kortfaktura.customers.identifiers import (
    InvalidIdentifier,
    format_orgnr,
    is_public_body,
    normalize_gln,
    normalize_orgnr,
)
from kortfaktura.customers.models import BillingAccount, Customer, DeliveryChannel, UnitCode
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.orders.models import Order
from kortfaktura.review.report import CustomerDataProblem, DocumentProblem
from kortfaktura.swedish import count as swedish_count

ERROR = "error"
WARNING = "warning"
DOCUMENT_KINDS = ("invoice", "credit_note")
FETCH_DOCUMENTS = 200


def customer_data_problems(
    order_period: tuple[str, list[Any]], unknown_orgnrs: dict[str, int]
) -> list[CustomerDataProblem]:
    """Every problem in the customer data that can make an invoice wrong or undeliverable."""
    problems: list[CustomerDataProblem] = []

    def add(orgnr: str, code: str, severity: str, text: str) -> None:
        problems.append(CustomerDataProblem(format_orgnr(orgnr), code, severity, text))

    for customer in Customer.objects.order_by("orgnr"):
        if not _valid_orgnr(customer.orgnr):
            add(
                customer.orgnr,
                "",
                ERROR,
                "organisationsnumrets kontrollsiffra stämmer inte – rätta numret i kunduppgifterna",
            )
        if not customer.accounts.filter(is_default=True).exists():
            add(
                customer.orgnr,
                "",
                WARNING,
                "kunden har ingen standardmottagare – beställningar från enheter utan egen "
                "mottagare hålls tillbaka",
            )
    endpoints: dict[str, list[BillingAccount]] = defaultdict(list)
    for account in BillingAccount.objects.select_related("customer").order_by("code"):
        orgnr = account.customer.orgnr
        if account.peppol_scheme:
            endpoints[account.peppol_endpoint].append(account)
        if account.peppol_scheme == "0007" and account.peppol_id != orgnr:
            add(
                orgnr,
                account.code,
                ERROR,
                f"Peppol-adressen {account.peppol_endpoint} är inte kundens eget "
                "organisationsnummer – fakturan skulle gå till en annan organisation; ange "
                f"0007:{orgnr} eller mottagarens GLN (0088)",
            )
        if account.peppol_scheme == "0088" and not _valid_gln(account.peppol_id):
            add(
                orgnr,
                account.code,
                ERROR,
                f"GLN-numret i Peppol-adressen {account.peppol_endpoint} har fel kontrollsiffra "
                "– kontrollera numret med kunden",
            )
        if account.is_internal:
            if not account.cost_centre.strip():
                add(
                    orgnr,
                    account.code,
                    ERROR,
                    "intern mottagare utan kostnadsställe – de interna debiteringarna hålls "
                    "tillbaka tills det finns (de bokförs på det); ange cost_centre i "
                    "kunduppgifterna",
                )
            if account.delivery == DeliveryChannel.PEPPOL:
                add(
                    orgnr,
                    account.code,
                    WARNING,
                    "intern mottagare med leverans via Peppol – en intern debitering skickas "
                    "aldrig via Peppol utan med e-post (om adress finns) eller på papper; ange "
                    "delivery email eller print",
                )
        elif is_public_body(orgnr) and not account.buyer_reference.strip():
            add(
                orgnr,
                account.code,
                ERROR,
                "offentlig köpare utan beställarreferens (BT-10) – fakturan returneras; ange "
                "buyer_reference i kunduppgifterna",
            )
        if account.delivery == DeliveryChannel.EMAIL and not account.email:
            add(
                orgnr,
                account.code,
                ERROR,
                "leverans via e-post men e-postadress saknas – ange email",
            )
        if (
            account.delivery == DeliveryChannel.PEPPOL
            and not account.peppol_scheme
            and not account.is_internal
        ):
            add(
                orgnr,
                account.code,
                ERROR,
                "leverans via Peppol men Peppol-adress saknas – ange peppol_id eller välj "
                "delivery email/print",
            )
        missing = [
            label
            for label, value in (
                ("gatuadress", account.street),
                ("postnummer", account.postal_code),
                ("ort", account.city),
            )
            if not value.strip()
        ]
        if missing:
            add(
                orgnr,
                account.code,
                ERROR,
                f"fakturaadressen är ofullständig ({', '.join(missing)} saknas) – ange street, "
                "postal_code och city",
            )
    for endpoint, accounts in sorted(endpoints.items()):
        if len(accounts) < 2:
            continue
        codes = ", ".join(account.code for account in accounts)
        customers = {account.customer_id for account in accounts}
        for account in accounts:
            if len(customers) > 1:
                add(
                    account.customer.orgnr,
                    account.code,
                    ERROR,
                    f"samma Peppol-adress {endpoint} på mottagare hos olika kunder ({codes}) – "
                    "en faktura kan hamna hos fel kund; ge varje mottagare kundens egen adress",
                )
            else:
                add(
                    account.customer.orgnr,
                    account.code,
                    WARNING,
                    f"samma Peppol-adress {endpoint} på flera av kundens mottagare ({codes}) – "
                    "de skiljs åt bara av beställarreferensen; kontrollera att den är rätt",
                )
    problems.extend(_unmapped_units(order_period))
    for orgnr, number in sorted(unknown_orgnrs.items()):
        add(
            orgnr,
            "",
            ERROR,
            f"{swedish_count(number)} beställningar från ett organisationsnummer som saknas i "
            "kunduppgifterna – "
            "läs in kunden, så faktureras de i nästa körning",
        )
    problems.extend(_missing_municipalities())
    return problems


def _valid_orgnr(digits: str) -> bool:
    try:
        return normalize_orgnr(digits) == digits
    except InvalidIdentifier:
        return False


def _valid_gln(digits: str) -> bool:
    try:
        return normalize_gln(digits) == digits
    except InvalidIdentifier:
        return False


def _unmapped_units(order_period: tuple[str, list[Any]]) -> list[CustomerDataProblem]:
    """Unit codes on orders that none of a customer's several accounts lists: their orders fall
    back to the default account, perhaps wrongly (a warning, one per customer). A customer with
    a single account has nowhere else to send them; without a default account they are held back
    as an unknown unit and listed with the held-back orders."""
    mapped = set(UnitCode.objects.values_list("customer__orgnr", "code"))
    defaults = dict(
        BillingAccount.objects.filter(is_default=True).values_list("customer__orgnr", "code")
    )
    several = {
        orgnr
        for orgnr, count in BillingAccount.objects.values("customer__orgnr")
        .annotate(count=Count("id"))
        .values_list("customer__orgnr", "count")
        if count > 1
    }
    unmapped: dict[str, dict[str, int]] = defaultdict(dict)
    for (orgnr, unit), count in sorted(_units_on_orders(several & set(defaults), order_period)):
        if (orgnr, unit) not in mapped:
            unmapped[orgnr][unit] = count
    problems = []
    for orgnr, units in sorted(unmapped.items()):
        shown = ", ".join(f"'{unit}'" for unit in list(units)[:10])
        more = f" och {len(units) - 10} till" if len(units) > 10 else ""
        problems.append(
            CustomerDataProblem(
                format_orgnr(orgnr), defaults[orgnr], WARNING,
                f"enheterna {shown}{more} ({swedish_count(sum(units.values()))} beställningar) "
                f"hör inte till någon av kundens mottagare och faktureras till standardmottagaren "
                f"{defaults[orgnr]} – lägg till enhetskoderna i unit_codes för rätt mottagare",
            )
        )  # fmt: skip
    return problems


def _units_on_orders(
    orgnrs: set[str], order_period: tuple[str, list[Any]]
) -> list[tuple[tuple[str, str], int]]:
    """Orders per (orgnr, unit code) of these customers, within the review's period."""
    if not orgnrs:
        return []
    where, params = order_period
    chosen = sorted(orgnrs)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.orgnr, o.unit_code, COUNT(*) FROM {Order._meta.db_table} o "
            f"WHERE o.unit_code <> '' AND o.orgnr IN ({', '.join(['%s'] * len(chosen))})"
            f"{where} GROUP BY 1, 2",
            [*chosen, *params],
        )
        return [((orgnr, unit), count) for orgnr, unit, count in cursor.fetchall()]


def _folded(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def municipalities() -> list[tuple[str, str]]:
    """(kommunkod, name) of the 49 municipalities of Västra Götaland (shared reference data)."""
    text = (resources.files("kortfaktura.demo") / "fixtures" / "vg-municipalities.csv").read_text(
        encoding="utf-8-sig"
    )
    rows = [line.split(";") for line in text.splitlines()[1:] if line.strip()]
    return [(code.strip(), name.strip()) for code, name in rows]


def _missing_municipalities() -> list[CustomerDataProblem]:
    names = {_folded(name) for name in Customer.objects.values_list("name", flat=True)}
    return [
        CustomerDataProblem(
            "",
            "",
            WARNING,
            f"{name} (kommunkod {code}) saknas i kunduppgifterna – läs in kommunen med "
            "organisationsnummer och fakturamottagare",
        )
        for code, name in municipalities()
        if _folded(name) not in names
    ]


def document_problems() -> list[DocumentProblem]:
    """Issued documents that were not validated when issued, or whose stored content no longer
    matches the hash recorded when the number became final."""
    problems: list[DocumentProblem] = []
    issued = Invoice.objects.filter(status=Invoice.Status.ISSUED, kind__in=DOCUMENT_KINDS)
    recorded = dict(issued.values_list("id", "content_sha256"))
    numbers: dict[int, int] = {pk: number or 0 for pk, number in issued.values_list("id", "number")}
    for pk, validation in issued.exclude(validation="passed").values_list("id", "validation"):
        text = (
            "utfärdades utan kontroll mot OpenPeppols regler (reglerna saknades) – exportera "
            "det som UBL, som kontrollerar det nu"
            if validation == "unchecked"
            else "utfärdades innan dokumenten kontrollerades och lagrades – exportera det som "
            "UBL, som kontrollerar det nu"
            if not validation
            else "klarade inte OpenPeppols regler när det utfärdades"
        )
        problems.append(DocumentProblem(numbers[pk], text))
    stored = set()
    rows = IssuedDocument.objects.filter(invoice_id__in=issued.values("id")).values_list(
        "invoice_id", "content"
    )
    for pk, content in rows.iterator(chunk_size=FETCH_DOCUMENTS):
        stored.add(pk)
        try:
            digest = hashlib.sha256(zlib.decompress(bytes(content))).hexdigest()
        except zlib.error:
            digest = ""
        if digest != recorded.get(pk):
            problems.append(
                DocumentProblem(
                    numbers[pk],
                    "det lagrade dokumentet stämmer inte med kontrollsumman från utfärdandet – "
                    "det har ändrats efteråt; jämför med en tidigare export och utred",
                )
            )
    for pk in sorted(set(recorded) - stored):
        if recorded[pk]:
            problems.append(
                DocumentProblem(
                    numbers[pk],
                    "dokumentet som utfärdades finns inte lagrat (utfärdat före lagringen "
                    "infördes, eller borttaget) – dess innehåll kan inte styrkas",
                )
            )
    return sorted(problems, key=lambda problem: problem.number)
