"""Changing customer data by hand (the web application's Kunder page), audited (DOMAIN.md R19).

The same rules as the customer import apply (customers/importing.py): organisation numbers, GLN
and Peppol endpoints are checked by ``identifiers``, postal codes and cost centres as the import
checks them. An edit changes the billing account only: issued invoices keep the buyer as it was
when they were issued (their ``buyer`` snapshot, R13), and a draft is checked again when issued.
"""

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from kortfaktura import printable
from kortfaktura.audit.services import changed_fields, record
from kortfaktura.customers.identifiers import (
    PEPPOL_SCHEME_ORGNR,
    InvalidIdentifier,
    format_orgnr,
    parse_peppol_endpoint,
)
from kortfaktura.customers.importing import (
    AUDITED_ACCOUNT_FIELDS,
    DELIVERY_VALUES,
    LIMITS,
    _audited_account,
    _cost_centre,
    _postal_code,
)
from kortfaktura.customers.models import BillingAccount
from kortfaktura.imports.values import InvalidValue
from kortfaktura.locks import hold_billing_data_lock

# The fields a person may edit on the Kunder page, with the label the form shows.
EDITABLE_FIELDS = {
    "name": "Mottagarens namn",
    "buyer_reference": "Beställarreferens (BT-10)",
    "peppol": "Peppol-adress",
    "email": "E-post",
    "street": "Gatuadress",
    "postal_code": "Postnummer",
    "city": "Ort",
    "delivery": "Leveranssätt",
    "cost_centre": "Kostnadsställe",
}


class AccountDataError(Exception):
    """The values cannot be saved; ``errors`` maps each field to a Swedish message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, text in errors.items()))
        self.errors = errors


@dataclass
class AccountUpdate:
    account: BillingAccount
    changed: dict[str, dict[str, Any]]
    problems: list[str]  # what still keeps the account's invoices back (R15)


def account_values(account: BillingAccount) -> dict[str, str]:
    """The account's editable fields as the form shows them."""
    return {
        "name": account.name,
        "buyer_reference": account.buyer_reference,
        "peppol": account.peppol_endpoint,
        "email": account.email,
        "street": account.street,
        "postal_code": account.postal_code,
        "city": account.city,
        "delivery": account.delivery,
        "cost_centre": account.cost_centre,
    }


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn") or char in "\ufffe\uffff"


def _clean(account: BillingAccount, values: dict[str, str]) -> dict[str, str]:
    """The model fields from the form's values, or ``AccountDataError`` with every problem."""
    errors: dict[str, str] = {}
    text = {name: " ".join(str(values.get(name, "")).split()) for name in EDITABLE_FIELDS}
    cleaned: dict[str, str] = {}
    for name, value in text.items():
        unusable = next((char for char in value if _unprintable(char)), None)
        if unusable is not None:
            # The import quarantines the same characters: they cannot be written into a Peppol
            # document, so one of them would stop a whole run from being issued.
            errors[name] = (
                f"Fältet innehåller ett kontrolltecken (kod {ord(unusable):#06x}) som inte kan "
                "stå på en faktura – skriv texten utan det."
            )
        elif hidden := printable.hidden_character(value):
            errors[name] = (
                f"Fältet innehåller {printable.describe(hidden)} – skriv texten utan det."
            )
    for name, label in (
        ("name", "mottagarens namn"),
        ("street", "gatuadress"),
        ("postal_code", "postnummer"),
        ("city", "ort"),
    ):
        if not text[name]:
            errors[name] = f"Ange {label} – fältet är obligatoriskt för en fakturamottagare."
    limits = {"name": LIMITS["account_name"], **LIMITS}
    for name in ("name", "buyer_reference", "email", "street", "city", "cost_centre"):
        if name not in errors and len(text[name]) > limits[name]:
            errors[name] = f"Högst {limits[name]} tecken (nu {len(text[name])})."
        cleaned[name] = text[name]
    if text["postal_code"] and "postal_code" not in errors:
        try:
            cleaned["postal_code"] = _postal_code(text["postal_code"])
        except InvalidValue:
            errors["postal_code"] = (
                f"'{text['postal_code']}' är inget svenskt postnummer – skriv fem siffror, "
                "t.ex. 405 44."
            )
    cleaned["peppol_scheme"] = cleaned["peppol_id"] = ""
    if text["peppol"]:
        try:
            endpoint = parse_peppol_endpoint(text["peppol"])
        except InvalidIdentifier as error:
            errors["peppol"] = f"{str(error)[:1].upper()}{str(error)[1:]}."
        else:
            orgnr = account.customer.orgnr
            if endpoint.scheme == PEPPOL_SCHEME_ORGNR and endpoint.identifier != orgnr:
                errors["peppol"] = (
                    f"{endpoint} är inte kundens eget organisationsnummer – fakturan skulle gå "
                    f"till en annan organisation. Ange 0007:{orgnr} eller mottagarens GLN (0088)."
                )
            cleaned["peppol_scheme"], cleaned["peppol_id"] = endpoint.scheme, endpoint.identifier
    if text["email"]:
        try:
            validate_email(text["email"])
        except ValidationError:
            errors["email"] = (
                f"'{text['email']}' är ingen giltig e-postadress – skriv t.ex. faktura@ale.se."
            )
    delivery = text["delivery"].lower()
    if delivery not in DELIVERY_VALUES:
        errors["delivery"] = "Välj leveranssätt: Peppol, e-post eller papper."
    cleaned["delivery"] = delivery
    if "cost_centre" not in errors:
        try:
            cleaned["cost_centre"] = _cost_centre(text["cost_centre"])
        except InvalidValue:
            errors["cost_centre"] = (
                "Kostnadsstället har tecken som bokföringen inte kan bära – använd bokstäver, "
                "siffror, mellanslag och - _ . / , t.ex. SU-7100."
            )
    if errors:
        raise AccountDataError(errors)
    return cleaned


def update_account(code: str, values: dict[str, str], *, actor: str | None = None) -> AccountUpdate:
    """Change one billing account's fields; audited with each changed value before and after.

    Raises ``BillingAccount.DoesNotExist`` for an unknown code and ``AccountDataError`` when a
    value is wrong (nothing is changed then).
    """
    with transaction.atomic():
        hold_billing_data_lock()
        account = (
            BillingAccount.objects.select_related("customer").select_for_update().get(code=code)
        )
        cleaned = _clean(account, values)
        units = tuple(sorted(account.unit_codes.values_list("code", flat=True)))
        orgnr = account.customer.orgnr
        before = _audited_account(account, orgnr, units)
        for name, value in cleaned.items():
            setattr(account, name, value)
        after = _audited_account(account, orgnr, units)
        changed = changed_fields(before, after, AUDITED_ACCOUNT_FIELDS)
        if changed:
            try:
                with transaction.atomic():
                    account.save()
            except IntegrityError as error:
                raise AccountDataError(
                    {"peppol": f"Databasen nekade ändringen ({error}); kontrollera värdena."}
                ) from error
            record(
                "account.updated",
                f"mottagare {account.code}",
                {**changed, "customer": format_orgnr(orgnr), "via": "webb"},
                actor=actor,
            )
    return AccountUpdate(account, changed, account.missing_data())
