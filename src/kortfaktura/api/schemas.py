"""The API's answers as schemas, field for field the command line's ``--json`` (INTERFACES.md),
so the OpenAPI schema describes what is really sent. Money is a string with two decimals (exact,
never a float); dates are ISO ``YYYY-MM-DD``, times ISO 8601."""

from typing import Any

from ninja import Schema


class Line(Schema):
    order_month: str
    product_code: str
    product_name: str
    quantity: int
    unit_price: str
    net: str
    vat_rate: str


class Invoice(Schema):
    """One element of ``invoice list --json``."""

    number: str | None
    type: str
    status: str
    credits: str | None
    orgnr: str
    customer_name: str
    account_code: str
    run_id: int | None
    title: str
    legacy: bool
    period_start: str
    period_end: str
    issue_date: str | None
    due_date: str | None
    ocr: str | None
    net: str
    vat: str
    rounding: str
    payable: str
    reason: str | None
    lines: list[Line]
    order_ids: list[str]
    # Receivables (R22): what was paid and what is open; null on credit notes, internal
    # documents and drafts.
    paid: str | None = None
    open: str | None = None
    payment_status: str | None = None


class SpecificationRow(Schema):
    order_id: str
    order_date: str | None
    product_code: str
    unit_code: str
    holder_name: str
    holder_hsa_id: str
    unit_price: str
    credited: bool


class InvoiceDetail(Invoice):
    """An invoice with its specification as issued (R13)."""

    specification: list[SpecificationRow]


class HeldBack(Schema):
    order_id: str
    reason: str
    detail: str


class Run(Schema):
    """``run show --json``; a preview (``bill --preview --json``) has ``id`` null."""

    id: int | None = None
    status: str
    title: str
    legacy: bool
    period_from: str
    period_to: str
    per: str
    issue_date: str | None
    customers: list[str]
    invoices: list[Invoice]
    held_back: list[HeldBack]
    not_billable: dict[str, int]


class RunSummary(Schema):
    """A run in ``GET /runs``: its head and totals, without the invoices."""

    id: int
    status: str
    title: str
    legacy: bool
    period_from: str
    period_to: str
    per: str
    issue_date: str | None
    created_by: str
    created_at: str
    invoices: int
    internal_charges: int
    orders: int
    net: str
    vat: str
    payable: str


class QuarantineRow(Schema):
    line: int
    reason: str


class QuarantineRowRaw(Schema):
    line: int
    reason: str
    raw: dict[str, Any]


class ImportResult(Schema):
    """``import --json``."""

    kind: str
    file: str
    batch_id: int
    format: str
    imported: int
    updated: int
    unchanged: int
    quarantined: int
    blank_lines: int
    unknown_columns: list[str]
    suggestions: dict[str, str]
    warnings: list[str]
    rows: list[QuarantineRow]
    pending_changes: int | None = None
    pending_changes_total: int | None = None


class ImportBatch(Schema):
    """An import in the history, with the same counts."""

    id: int
    batch_id: int
    kind: str
    file: str
    sha256: str
    size_bytes: int
    status: str
    error: str | None
    imported: int
    updated: int
    unchanged: int
    quarantined: int
    blank_lines: int
    unknown_columns: list[str]
    created_by: str
    started_at: str
    finished_at: str | None
    rows: list[QuarantineRow] | None = None


class Job(Schema):
    """Long work running in the background; ``result`` holds the answer when it is done."""

    id: int
    kind: str
    label: str
    status: str
    queued: bool
    done: int
    total: int
    percent: int
    step: str
    error: str | None
    result: dict[str, Any] | None
    created_by: str
    created_at: str
    finished_at: str | None


class Change(Schema):
    """One element of ``changes list --json``."""

    id: int
    order_id: str
    invoice_number: str | None
    field: str
    old: str
    new: str
    status: str
    order_date: str
    import_batch: int
    file_name: str
    recorded_at: str
    decided_at: str | None
    decided_by: str | None
    reason: str | None
    credit_note_number: str | None


class Decision(Schema):
    """``changes accept|reject --json``."""

    status: str
    changes: list[Change]
    decided_together: list[int]
    credit_notes: list[Invoice]


class Delivery(Schema):
    """One element of ``delivery list --json``."""

    number: str
    channel: str
    status: str
    attempts: int
    error: str
    response_code: str
    response_status: str
    updated_at: str | None
    recipient: str
    resend_of: int | None
    next_attempt_at: str | None


class Account(Schema):
    code: str
    name: str
    is_default: bool
    buyer_reference: str
    peppol_id: str
    email: str
    street: str
    postal_code: str
    city: str
    delivery: str
    cost_centre: str
    unit_codes: list[str]
    problems: list[str]


class Customer(Schema):
    orgnr: str
    name: str
    public_body: bool
    internal: bool
    demo_data: bool
    accounts: int


class CustomerDetail(Schema):
    orgnr: str
    name: str
    public_body: bool
    internal: bool
    demo_data: bool
    accounts: list[Account]


class Order(Schema):
    order_id: str
    ordered_at: str
    order_date: str
    orgnr: str
    customer_name: str | None
    unit_code: str
    product_code: str
    holder_name: str
    holder_hsa_id: str
    status: str


class OrderInvoice(Schema):
    number: str | None
    type: str
    status: str
    credited: bool
    credit_note: str | None


class OrderChange(Schema):
    id: int
    field: str
    old: str
    new: str
    status: str
    recorded_at: str
    file_name: str
    decided_at: str | None
    decided_by: str | None
    reason: str | None
    invoice_number: str | None
    credit_note_number: str | None


class OrderDetail(Order):
    invoice_numbers: list[str]
    invoices: list[OrderInvoice]
    previously_invoiced: str | None
    changes: list[OrderChange]
