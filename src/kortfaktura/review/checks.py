"""The review's checks of customer data (DOMAIN.md R15) and of issued documents (R9, R13, R19)."""

import bisect
import hashlib
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from django.db import connection
from django.db.models import Count
from lxml import etree

from kortfaktura import swedish
from kortfaktura.audit.chain import link_hash
from kortfaktura.billing import chain
from kortfaktura.billing.chain import Anchor, DocumentRows
from kortfaktura.customers.identifiers import (
    InvalidIdentifier,
    format_orgnr,
    is_public_body,
    normalize_gln,
    normalize_orgnr,
)
from kortfaktura.customers.models import BillingAccount, Customer, DeliveryChannel, UnitCode
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.orders.models import Order, OrderChange
from kortfaktura.review.report import (
    ChainBreak,
    ChainReport,
    CustomerDataProblem,
    Discrepancy,
    DocumentProblem,
)
from kortfaktura.swedish import counted

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
            f"{counted(number, 'beställning', 'beställningar')} från ett organisationsnummer "
            "som saknas i "
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
                f"enheterna {shown}{more} "
                f"({counted(sum(units.values()), 'beställning', 'beställningar')}) "
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


@dataclass
class DocumentChecks:
    """What one pass over the issued documents found: the documents listed for a person
    (``problems``: not validated when issued, stored content not matching its hash), what fails
    the review (``discrepancies``: a changed, deleted or inserted document, a stored document
    that no longer says what its rows say, a forged credit, an order changed under its invoice)
    and each series' chain."""

    problems: list[DocumentProblem] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    chains: list[ChainReport] = field(default_factory=list)


CREDIT_UBL = ("credit_note",)
SHOWN_DIFFERENCES = 8
# An order's billing data against the specification it was invoiced with (R13, R14).
ORDER_FIELDS = ("order_date", "product_code", "unit_code", "orgnr")
ORDER_FIELD_LABELS = {
    "order_date": "beställningsdatum",
    "product_code": "artikel",
    "unit_code": "enhet",
    "orgnr": "organisationsnummer",
}


class _Coverage:
    """The stretches of each series that audit records say were issued (their anchors), merged
    into disjoint ranges."""

    def __init__(self, anchors: Iterable[tuple[int, Anchor]]) -> None:
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for _, anchor in anchors:
            spans[anchor.series].append((anchor.first, anchor.last))
        self.ranges: dict[str, list[tuple[int, int]]] = {}
        for series, found in spans.items():
            merged: list[tuple[int, int]] = []
            for first, last in sorted(found):
                if merged and first <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], last))
                else:
                    merged.append((first, last))
            self.ranges[series] = merged

    def covers(self, series: str, number: int) -> bool:
        ranges = self.ranges.get(series, [])
        index = bisect.bisect_right(ranges, (number, float("inf"))) - 1
        return index >= 0 and ranges[index][0] <= number <= ranges[index][1]


def document_checks(anchors: list[tuple[int, Anchor]]) -> DocumentChecks:
    """One pass over every issued document, series by series in number order, streaming: each
    document's link recomputed from its header, lines, items and stored document; numbers that
    are missing between two links; documents no audit record names; the stored Peppol document
    against its hash and, parsed, against the document's rows (totals, lines, buyer). Then, set
    by set in the database: credited items without a credit note that lists them, and invoiced
    orders whose billing data no longer matches the specification they were invoiced with."""
    found = DocumentChecks()
    coverage = _Coverage(anchors)
    for series, label in chain.SERIES_LABELS.items():
        report = ChainReport(series, label)
        previous, previous_number = chain.GENESIS, None
        for numbered in chain.documents_in_order(series):
            stored_links = {pk: link for pk, _, link in numbered}
            documents = chain.read_documents([pk for pk, _, _ in numbered])
            contents = _stored_contents([d.pk for d in documents if d.header["kind"] in UBL])
            for document in documents:
                number = document.number
                report.length += 1
                stored = stored_links[document.pk]
                expected = link_hash(previous, document.content_hash())
                if stored != expected:
                    report.broken.append(
                        ChainBreak(number, _link_problem(document, stored, previous_number))
                    )
                if not coverage.covers(series, number):
                    report.broken.append(
                        ChainBreak(
                            number,
                            f"dokument {number} nämns inte i granskningsloggen som utfärdat – det "
                            "har skrivits direkt i databasen, förbi Kortfaktura",
                        )
                    )
                if document.header["kind"] in UBL:
                    _check_stored(document, contents.get(document.pk, _ABSENT), found)
                previous, previous_number = stored, number
                report.head_number, report.head_hash = number, stored
        found.chains.append(report)
    for report in found.chains:
        found.discrepancies.extend(
            Discrepancy("", "", brk.number, brk.problem) for brk in report.broken
        )
    found.discrepancies.extend(forged_credits())
    found.discrepancies.extend(unrecorded_changes())
    found.problems.sort(key=lambda problem: problem.number)
    return found


UBL = ("invoice", "credit_note")


def _link_problem(document: DocumentRows, stored: str, previous_number: int | None) -> str:
    number = document.number
    if not stored:
        return (
            f"dokument {number} har ingen länk i kedjan – det har skrivits direkt i databasen, "
            "förbi Kortfaktura"
        )
    if previous_number is not None and number - previous_number > 1:
        missing = (
            f"{previous_number + 1}"
            if number - previous_number == 2
            else f"{previous_number + 1}–{number - 1}"
        )
        return (
            f"dokument {missing} saknas i kedjan före dokument {number}: länken byggdes på ett "
            "dokument som inte längre finns – det har tagits bort ur databasen (dess beställningar "
            "erbjuds för fakturering igen)"
        )
    return (
        f"dokument {number} stämmer inte med sin länk i kedjan: dess huvud, rader, beställningar "
        "eller lagrade dokument har ändrats efter utfärdandet"
        + (
            f", eller dokumentet före det ({previous_number}) har skrivits om"
            if previous_number is not None
            else ""
        )
    )


def _stored_contents(ids: list[int]) -> dict[int, bytes | None]:
    """The stored Peppol documents of these invoices, decompressed (None: not readable)."""
    contents: dict[int, bytes | None] = {}
    if not ids:
        return contents
    for pk, content in IssuedDocument.objects.filter(invoice_id__in=ids).values_list(
        "invoice_id", "content"
    ):
        try:
            contents[pk] = zlib.decompress(bytes(content))
        except zlib.error:
            contents[pk] = None
    return contents


def _check_stored(document: DocumentRows, content: Any, found: DocumentChecks) -> None:
    """``content``: the stored document decompressed, None when it cannot be decompressed,
    ``_ABSENT`` when there is none."""
    header = document.header
    number = document.number
    recorded = header["content_sha256"]
    validation = header["validation"]
    if validation != "passed":
        text = (
            "utfärdades utan kontroll mot OpenPeppols regler (reglerna saknades) – exportera "
            "det som UBL, som kontrollerar det nu"
            if validation == "unchecked"
            else "utfärdades innan dokumenten kontrollerades och lagrades – exportera det som "
            "UBL, som kontrollerar det nu"
            if not validation
            else "klarade inte OpenPeppols regler när det utfärdades"
        )
        found.problems.append(DocumentProblem(number, text))
    if content is _ABSENT:
        if recorded:
            text = (
                "dokumentet som utfärdades finns inte lagrat (utfärdat före lagringen "
                "infördes, eller borttaget) – dess innehåll kan inte styrkas"
            )
            found.problems.append(DocumentProblem(number, text))
            found.discrepancies.append(Discrepancy("", "", number, f"dokument {number}: {text}"))
        return
    digest = hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else ""
    if digest != recorded:
        text = (
            "det lagrade dokumentet stämmer inte med kontrollsumman från utfärdandet – "
            "det har ändrats efteråt; jämför med en tidigare export och utred"
        )
        found.problems.append(DocumentProblem(number, text))
        found.discrepancies.append(Discrepancy("", "", number, f"dokument {number}: {text}"))
    if not isinstance(content, bytes):
        return
    differences = ubl_differences(document, content)
    if differences:
        shown = "; ".join(differences[:SHOWN_DIFFERENCES])
        more = (
            f" … och {len(differences) - SHOWN_DIFFERENCES} till"
            if len(differences) > SHOWN_DIFFERENCES
            else ""
        )
        found.discrepancies.append(
            Discrepancy(
                "", "", number,
                f"dokument {number}: det lagrade Peppol-dokumentet säger inte detsamma som "
                f"dokumentets rader i databasen – {shown}{more}; det ena har ändrats efter "
                "utfärdandet (det som skickades till kunden är det lagrade)",
            )
        )  # fmt: skip


class _Absent:
    pass


_ABSENT: Any = _Absent()


CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text.strip()) if text is not None else None
    except InvalidOperation:
        return None


def _amount_text(value: Decimal | None) -> str:
    return "saknas" if value is None else swedish.money(value)


def _b(name: str) -> str:
    return f"{{{CBC}}}{name}"


def _a(name: str) -> str:
    return f"{{{CAC}}}{name}"


def _children(element: Any, wanted: dict[str, str]) -> dict[str, Any]:
    """The first child of each wanted tag, by the name ``wanted`` gives it, in one pass over
    the children (a path search per value costs more on fourteen thousand documents)."""
    found: dict[str, Any] = {}
    if element is not None:
        for child in element:
            name = wanted.get(child.tag)
            if name is not None and name not in found:
                found[name] = child
    return found


def _text(element: Any) -> str | None:
    return None if element is None else (element.text or "")


ROOT_TAGS = {
    _b("ID"): "id", _b("IssueDate"): "issue_date", _a("TaxTotal"): "tax",
    _a("LegalMonetaryTotal"): "totals", _a("AccountingCustomerParty"): "customer",
}  # fmt: skip
TOTAL_TAGS = {
    _b("LineExtensionAmount"): "net", _b("PayableRoundingAmount"): "rounding",
    _b("PayableAmount"): "payable",
}  # fmt: skip
LINE_TAGS = {
    _b("ID"): "id", _b("InvoicedQuantity"): "quantity", _b("CreditedQuantity"): "quantity",
    _b("LineExtensionAmount"): "net", _a("InvoicePeriod"): "period", _a("Item"): "item",
    _a("Price"): "price",
}  # fmt: skip
ITEM_TAGS = {_a("SellersItemIdentification"): "code", _a("ClassifiedTaxCategory"): "tax"}
PARTY_TAGS = {_b("EndpointID"): "endpoint", _a("PartyLegalEntity"): "legal"}
LEGAL_TAGS = {_b("CompanyID"): "orgnr", _b("RegistrationName"): "name"}


def _value(element: Any, tag: str) -> str | None:
    return _text(next(element.iterchildren(tag), None)) if element is not None else None


def ubl_differences(document: DocumentRows, content: bytes) -> list[str]:
    """What the stored Peppol document says differently from the document's rows: its type,
    number, issue date, totals (net, VAT, rounding, payable), lines (month, product, quantity,
    price, VAT rate, amount) and buyer (electronic address, organisationsnummer, name). Swedish."""
    try:
        element = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as error:
        return [f"Peppol-dokumentet går inte att läsa ({error})"]
    header = document.header
    credit = header["kind"] in CREDIT_UBL
    sign = Decimal(-1) if credit else Decimal(1)
    found: list[str] = []

    def differs(what: str, stated: object, rows: object) -> None:
        if stated != rows:
            found.append(f"{what}: dokumentet {stated}, raderna {rows}")

    line_tag = _a("CreditNoteLine" if credit else "InvoiceLine")
    root: dict[str, Any] = {}
    stated_lines = []
    for child in element:
        if child.tag == line_tag:
            stated_lines.append(child)
        else:
            name = ROOT_TAGS.get(child.tag)
            if name is not None and name not in root:
                root[name] = child
    differs("dokumenttyp", etree.QName(element).localname, "CreditNote" if credit else "Invoice")
    differs("nummer", _text(root.get("id")), str(document.number))
    differs("fakturadatum", _text(root.get("issue_date")), header["issue_date"])
    totals = _children(root.get("totals"), TOTAL_TAGS)
    rounding = _text(totals.get("rounding"))
    for what, stated_text, column in (
        ("netto", _text(totals.get("net")), "net"),
        ("moms", _value(root.get("tax"), _b("TaxAmount")), "vat"),
        ("öresavrundning", "0.00" if rounding is None else rounding, "rounding"),
        ("att betala", _text(totals.get("payable")), "payable"),
    ):
        stated_total = _decimal(stated_text)
        in_rows = Decimal(header[column]) * sign
        if stated_total != in_rows:
            found.append(
                f"{what}: dokumentet {_amount_text(stated_total)}, raderna {_amount_text(in_rows)}"
            )
    if len(stated_lines) != len(document.lines):
        found.append(f"rader: dokumentet {len(stated_lines)}, databasen {len(document.lines)}")
    for line_element, line in zip(stated_lines, document.lines, strict=False):
        position, month, _, code, _, quantity, price, rate, net, _ = line
        stated = _children(line_element, LINE_TAGS)
        item = _children(stated.get("item"), ITEM_TAGS)
        facts: tuple[tuple[str, object, object], ...] = (
            ("beställningsmånad", (_value(stated.get("period"), _b("StartDate")) or "")[:7],
             month[:7]),
            ("artikel", _value(item.get("code"), _b("ID")), code),
            ("antal", _decimal(_text(stated.get("quantity"))), Decimal(quantity) * sign),
            ("à-pris", _decimal(_value(stated.get("price"), _b("PriceAmount"))), Decimal(price)),
            ("momssats", _decimal(_value(item.get("tax"), _b("Percent"))), Decimal(rate)),
            ("belopp", _decimal(_text(stated.get("net"))), Decimal(net) * sign),
        )  # fmt: skip
        stated_position = _text(stated.get("id"))
        for what, stated_value, line_value in facts:
            if stated_value != line_value:
                found.append(
                    f"rad {stated_position or position} {what}: dokumentet {stated_value}, "
                    f"raderna {line_value}"
                )
    buyer = header["buyer"] or {}
    customer = root.get("customer")
    party = _children(
        next(customer.iterchildren(_a("Party")), None) if customer is not None else None,
        PARTY_TAGS,
    )
    endpoint = party.get("endpoint")
    stated_endpoint = (
        f"{endpoint.get('schemeID')}:{endpoint.text}" if endpoint is not None else "saknas"
    )
    rows_endpoint = (
        f"{buyer.get('peppol_scheme')}:{buyer.get('peppol_id')}"
        if buyer.get("peppol_scheme")
        else f"0007:{buyer.get('orgnr')}"
    )
    differs("köparens elektroniska adress", stated_endpoint, rows_endpoint)
    legal = _children(party.get("legal"), LEGAL_TAGS)
    differs("köparens organisationsnummer", _text(legal.get("orgnr")), buyer.get("orgnr"))
    differs("köparens namn", _text(legal.get("name")), buyer.get("name"))
    return found


ITEMS = "billing_invoiceitem"
INVOICES = "billing_invoice"
ORDERS = Order._meta.db_table
CUSTOMERS = Customer._meta.db_table


def _date_text(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"to_char({column}, 'YYYY-MM-DD')"
    return f"CAST({column} AS TEXT)"


def unrecorded_changes() -> list[Discrepancy]:
    """Invoiced (uncredited) orders whose order date, product, unit or organisationsnummer is
    no longer what they were invoiced with (the specification as issued; the customer of the
    document), unless an import recorded that change (orders.OrderChange): an import never
    changes an invoiced order's billing data without recording it (R14), so someone wrote it
    into the database directly. The database compares; only the differences come back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.order_id, i.order_ref, v.number, {_date_text('i.order_date')}, "
            f"{_date_text('o.order_date')}, i.product_code, o.product_code, i.unit_code, "
            "o.unit_code, c.orgnr, o.orgnr "
            f"FROM {ITEMS} i JOIN {INVOICES} v ON v.id = i.invoice_id "
            f"JOIN {ORDERS} o ON o.id = i.order_id JOIN {CUSTOMERS} c ON c.id = v.customer_id "
            "WHERE v.status = 'issued' AND NOT i.credited AND NOT i.is_credit "
            "AND (o.order_date <> i.order_date OR o.product_code <> i.product_code "
            "OR o.unit_code <> i.unit_code OR o.orgnr <> c.orgnr)"
        )
        rows = cursor.fetchall()
    if not rows:
        return []
    orders = sorted({row[0] for row in rows})
    recorded: set[tuple[int, str, str]] = set()
    for start in range(0, len(orders), 500):
        for order_pk, name, value in OrderChange.objects.filter(
            order_id__in=orders[start : start + 500]
        ).values_list("order_id", "field", "new_value"):
            recorded.add((order_pk, name, value))
    found = []
    for order_pk, ref, number, *pairs in rows:
        for name, (was, now) in zip(ORDER_FIELDS, zip(pairs[::2], pairs[1::2], strict=True),
                                    strict=True):  # fmt: skip
            if was == now or (order_pk, name, str(now)) in recorded:
                continue
            label = ORDER_FIELD_LABELS[name]
            found.append(
                Discrepancy(
                    str(pairs[0] or "")[:7], ref, number,
                    f"beställningen är fakturerad på dokument {number} med {label} {was}, men "
                    f"har nu {label} {now} utan att någon import registrerat ändringen – den har "
                    "ändrats direkt i databasen; återställ den eller kreditera fakturan",
                )
            )  # fmt: skip
    return found


def forged_credits() -> list[Discrepancy]:
    """Items marked credited that no issued credit note of their invoice lists (R12): the order
    is free to be billed again, though nothing credited it. The database refuses this
    (``billing/0003``); someone who switched that off is named here, order by order."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.order_ref, {_date_text('i.order_date')}, v.number "
            f"FROM {ITEMS} i JOIN {INVOICES} v ON v.id = i.invoice_id "
            "WHERE i.credited AND v.status = 'issued' AND NOT EXISTS ("
            f"SELECT 1 FROM {INVOICES} c JOIN {ITEMS} ci ON ci.invoice_id = c.id "
            "WHERE c.id = i.credited_by_id AND c.status = 'issued' "
            "AND c.kind IN ('credit_note', 'internal_credit') AND c.credits_id = i.invoice_id "
            "AND ci.is_credit AND ci.order_id = i.order_id) "
            "ORDER BY v.number, i.order_ref"
        )
        rows = cursor.fetchall()
    return [
        Discrepancy(
            str(day or "")[:7],
            ref,
            number,
            f"beställningen är markerad som krediterad på dokument {number}, men ingen "
            "utfärdad kreditfaktura för dokumentet tar upp den – markeringen har skrivits "
            "direkt i databasen; beställningen erbjuds för fakturering igen",
        )
        for ref, day, number in rows
    ]
