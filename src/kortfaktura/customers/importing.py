"""Import of customer data: one row per billing account (fakturamottagare), INTERFACES.md.

Customer files are small, so all rows are read and checked against each other first, then
against the database, then applied. That lets a file move a unit code from one account to another
or swap which account is the default, whatever the order of its rows.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from kortfaktura.audit.services import changed_fields
from kortfaktura.customers.identifiers import (
    InvalidIdentifier,
    format_orgnr,
    normalize_orgnr,
    parse_peppol_endpoint,
)
from kortfaktura.customers.models import BillingAccount, Customer, DeliveryChannel, UnitCode
from kortfaktura.imports.engine import Importer
from kortfaktura.imports.models import ImportKind
from kortfaktura.imports.values import InvalidValue, too_long
from kortfaktura.orders.services import resolve_order_references

LIMITS = {
    "name": 200,
    "account_code": 64,
    "account_name": 200,
    "buyer_reference": 100,
    "email": 254,
    "street": 200,
    "city": 100,
    "cost_centre": 64,
}
DELIVERY_VALUES = {choice.value for choice in DeliveryChannel}
# What the audit trail compares, field by field, for each billing account (DOMAIN.md R19).
AUDITED_ACCOUNT_FIELDS = (
    "customer",
    "name",
    "is_default",
    "unit_codes",
    "buyer_reference",
    "peppol_scheme",
    "peppol_id",
    "email",
    "street",
    "postal_code",
    "city",
    "delivery",
    "cost_centre",
)


@dataclass
class AccountRow:
    line: int
    values: list[str]
    orgnr: str
    name: str
    code: str
    account_name: str
    unit_codes: tuple[str, ...]
    buyer_reference: str
    peppol_scheme: str
    peppol_id: str
    email: str
    street: str
    postal_code: str
    city: str
    delivery: str
    cost_centre: str = ""
    # The optional columns the file has: an absent column leaves its field as it is.
    present: frozenset[str] = frozenset()

    @property
    def is_default(self) -> bool:
        return not self.unit_codes

    def account_fields(self, *, new: bool) -> dict[str, object]:
        fields: dict[str, object] = {
            "is_default": self.is_default,
            "street": self.street,
            "postal_code": self.postal_code,
            "city": self.city,
        }
        given = self.present
        if new or "account_name" in given:
            fields["name"] = self.account_name
        if new or "buyer_reference" in given:
            fields["buyer_reference"] = self.buyer_reference
        if new or "peppol_id" in given:
            fields["peppol_scheme"] = self.peppol_scheme
            fields["peppol_id"] = self.peppol_id
        if new or "email" in given:
            fields["email"] = self.email
        if new or "delivery" in given:
            fields["delivery"] = self.delivery
        if new or "cost_centre" in given:
            fields["cost_centre"] = self.cost_centre
        return fields


def _audited_account(
    account: BillingAccount, orgnr: str, unit_codes: tuple[str, ...]
) -> dict[str, object]:
    values: dict[str, object] = {
        name: getattr(account, name)
        for name in AUDITED_ACCOUNT_FIELDS
        if name not in ("customer", "unit_codes")
    }
    return {**values, "customer": format_orgnr(orgnr), "unit_codes": ", ".join(unit_codes)}


COST_CENTRE = re.compile(r"[0-9A-Za-zÅÄÖåäöÉé .,/_-]*")


def _cost_centre(text: str) -> str:
    """A cost centre as the finance system and SIE (code page 437) can carry it: letters, digits
    and a few separators; anything else would be changed on the way and could make two cost
    centres one."""
    cleaned = " ".join(text.split())
    if not COST_CENTRE.fullmatch(cleaned):
        raise InvalidValue(
            f"cost_centre '{cleaned[:30]}' har tecken som bokföringen inte kan bära – använd "
            "bokstäver, siffror, mellanslag och - _ . / , t.ex. SU-7100"
        )
    return cleaned


def _postal_code(text: str) -> str:
    digits = text.replace(" ", "")
    if len(digits) != 5 or not digits.isdigit():
        raise InvalidValue(
            f"postal_code '{text}' är inget svenskt postnummer – skriv fem siffror, t.ex. 405 44"
        )
    return f"{digits[:3]} {digits[3:]}"


class CustomerImporter(Importer):
    kind = ImportKind.CUSTOMERS
    required_columns: ClassVar[tuple[str, ...]] = (
        "orgnr",
        "name",
        "account_code",
        "street",
        "postal_code",
        "city",
    )
    optional_columns: ClassVar[tuple[str, ...]] = (
        "account_name",
        "unit_codes",
        "buyer_reference",
        "peppol_id",
        "email",
        "delivery",
        "cost_centre",
    )

    def value(self, values: list[str], column: str) -> str:
        index = self.columns.get(column)
        return values[index].strip() if index is not None else ""

    def parse(self, line: int, values: list[str]) -> AccountRow:
        get = self.value
        for column in ("orgnr", "name", "account_code", "street", "postal_code", "city"):
            if not get(values, column):
                raise InvalidValue(f"{column} saknas – fältet är obligatoriskt för en kund")
        try:
            orgnr = normalize_orgnr(get(values, "orgnr"))
        except InvalidIdentifier as error:
            raise InvalidValue(f"orgnr: {error}") from None
        name = " ".join(get(values, "name").split())
        account_name = " ".join(get(values, "account_name").split()) or name
        peppol_scheme = peppol_id = ""
        if get(values, "peppol_id"):
            try:
                endpoint = parse_peppol_endpoint(get(values, "peppol_id"))
            except InvalidIdentifier as error:
                raise InvalidValue(f"peppol_id: {error}") from None
            peppol_scheme, peppol_id = endpoint.scheme, endpoint.identifier
        email = get(values, "email")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise InvalidValue(
                    f"email '{email}' är ingen giltig e-postadress – skriv t.ex. faktura@ale.se"
                ) from None
        delivery = get(values, "delivery").lower()
        if not delivery:
            delivery = "peppol" if peppol_scheme else ("email" if email else "print")
        if delivery not in DELIVERY_VALUES:
            raise InvalidValue(
                f"delivery '{get(values, 'delivery')}' är okänt – tillåtna värden: "
                "peppol, email, print"
            )
        unit_codes = tuple(
            sorted({code.strip() for code in get(values, "unit_codes").split(",") if code.strip()})
        )
        for code in unit_codes:
            if len(code) > 64:
                raise InvalidValue(f"enhetskoden '{code[:20]}…' är för lång (högst 64 tecken)")
        row = AccountRow(
            line=line,
            values=values,
            orgnr=orgnr,
            name=name,
            code=get(values, "account_code"),
            account_name=account_name,
            unit_codes=unit_codes,
            buyer_reference=get(values, "buyer_reference"),
            peppol_scheme=peppol_scheme,
            peppol_id=peppol_id,
            email=email,
            street=" ".join(get(values, "street").split()),
            postal_code=_postal_code(get(values, "postal_code")),
            city=" ".join(get(values, "city").split()),
            delivery=delivery,
            cost_centre=_cost_centre(get(values, "cost_centre")),
            present=frozenset(column for column in self.optional_columns if self.has(column)),
        )
        for column, text in (
            ("name", row.name),
            ("account_code", row.code),
            ("account_name", row.account_name),
            ("buyer_reference", row.buyer_reference),
            ("email", row.email),
            ("street", row.street),
            ("city", row.city),
            ("cost_centre", row.cost_centre),
        ):
            message = too_long(text, LIMITS[column], column)
            if message:
                raise InvalidValue(message)
        return row

    def process(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        # Without a unit_codes column an existing account keeps its unit codes (and with them
        # whether it is the default account); the checks below must see them.
        self._kept_units = {} if self.has("unit_codes") else self._existing_units()
        accepted = self._check_within_file(rows)
        # A row held back may be one that other rows relied on (e.g. the old default account
        # that had to give up its flag): check again until no more rows are held back, so what
        # is applied is something the database constraints accept.
        while True:
            checked = self._check_against_database(accepted)
            if len(checked) == len(accepted):
                break
            accepted = checked
        self._apply(accepted)

    @staticmethod
    def _existing_units() -> dict[str, tuple[str, ...]]:
        units: dict[str, list[str]] = {}
        for account_code, code in UnitCode.objects.values_list("account__code", "code"):
            units.setdefault(account_code, []).append(code)
        return {account_code: tuple(sorted(codes)) for account_code, codes in units.items()}

    def _check_within_file(self, rows: Iterator[tuple[int, list[str]]]) -> list[AccountRow]:
        accepted: list[AccountRow] = []
        code_lines: dict[str, int] = {}
        names: dict[str, tuple[str, int]] = {}
        default_lines: dict[str, AccountRow] = {}
        unit_lines: dict[tuple[str, str], AccountRow] = {}
        for line, values in rows:
            try:
                row = self.parse(line, values)
            except InvalidValue as error:
                self.quarantine(line, values, str(error))
                continue
            if not self.has("unit_codes"):
                row.unit_codes = self._kept_units.get(row.code, ())
            problem = None
            if row.code in code_lines:
                problem = (
                    f"account_code {row.code} förekommer redan på rad {code_lines[row.code]} – "
                    "varje fakturamottagare ska finnas på en rad"
                )
            elif row.orgnr in names and names[row.orgnr][0] != row.name:
                first_name, first_line = names[row.orgnr]
                problem = (
                    f"namnet '{row.name}' skiljer sig från '{first_name}' på rad {first_line} för "
                    f"samma organisationsnummer {format_orgnr(row.orgnr)} – en kund har ett "
                    "juridiskt namn; ange förvaltningens namn i account_name"
                )
            elif row.is_default and row.orgnr in default_lines:
                other = default_lines[row.orgnr]
                problem = (
                    f"kunden {format_orgnr(row.orgnr)} har redan en standardmottagare utan "
                    f"unit_codes ({other.code} på rad {other.line}) – ange unit_codes för "
                    "den här mottagaren"
                )
            else:
                for code in row.unit_codes:
                    claimed = unit_lines.get((row.orgnr, code))
                    if claimed is not None:
                        problem = (
                            f"enhetskoden {code} är redan kopplad till {claimed.code} på rad "
                            f"{claimed.line} – en enhet kan bara ha en fakturamottagare"
                        )
                        break
            if problem is not None:
                self.quarantine(line, values, problem)
                continue
            code_lines[row.code] = line
            names.setdefault(row.orgnr, (row.name, line))
            if row.is_default:
                default_lines[row.orgnr] = row
            for code in row.unit_codes:
                unit_lines[(row.orgnr, code)] = row
            accepted.append(row)
        return accepted

    def _check_against_database(self, rows: list[AccountRow]) -> list[AccountRow]:
        in_file = {row.code for row in rows}
        accounts = {
            account.code: account
            for account in BillingAccount.objects.select_related("customer").filter(
                code__in=in_file
            )
        }
        orgnrs = {row.orgnr for row in rows}
        defaults = {
            account.customer.orgnr: account
            for account in BillingAccount.objects.select_related("customer").filter(
                customer__orgnr__in=orgnrs, is_default=True
            )
        }
        unit_owners = {
            (unit.customer.orgnr, unit.code): unit.account
            for unit in UnitCode.objects.select_related("customer", "account").filter(
                customer__orgnr__in=orgnrs
            )
        }
        accepted = []
        for row in rows:
            problem = None
            existing = accounts.get(row.code)
            if existing is not None and existing.customer.orgnr != row.orgnr:
                problem = (
                    f"fakturamottagaren {row.code} tillhör kunden "
                    f"{format_orgnr(existing.customer.orgnr)} och kan inte flyttas till "
                    f"{format_orgnr(row.orgnr)} – använd en ny account_code för den nya kunden"
                )
            current_default = defaults.get(row.orgnr)
            if (
                problem is None
                and row.is_default
                and current_default is not None
                and current_default.code != row.code
                and current_default.code not in in_file
            ):
                problem = (
                    f"kunden har redan standardmottagaren {current_default.code} – ange "
                    "unit_codes för den här mottagaren, eller ta med "
                    f"{current_default.code} i filen med unit_codes"
                )
            if problem is None:
                for code in row.unit_codes:
                    owner = unit_owners.get((row.orgnr, code))
                    if owner is not None and owner.code != row.code and owner.code not in in_file:
                        problem = (
                            f"enhetskoden {code} är redan kopplad till {owner.code} – ta med "
                            f"{owner.code} i filen utan den enheten för att flytta den"
                        )
                        break
            if problem is not None:
                self.quarantine(row.line, row.values, problem)
                continue
            accepted.append(row)
        return accepted

    def _apply(self, rows: list[AccountRow]) -> None:
        customers = {
            customer.orgnr: customer
            for customer in Customer.objects.filter(orgnr__in={row.orgnr for row in rows})
        }
        accounts = {
            account.code: account
            for account in BillingAccount.objects.select_related("customer").filter(
                code__in={row.code for row in rows}
            )
        }
        old_units = {
            code: tuple(sorted(account.unit_codes.values_list("code", flat=True)))
            for code, account in accounts.items()
        }
        renamed: set[str] = set()
        problems_before = {code: set(account.missing_data()) for code, account in accounts.items()}
        for row in rows:
            customer = customers.get(row.orgnr)
            if customer is None:
                customer = Customer.objects.create(orgnr=row.orgnr, name=row.name)
                customers[row.orgnr] = customer
                self.audit(
                    "customer.created",
                    f"kund {format_orgnr(row.orgnr)}",
                    {
                        **changed_fields(
                            None, {"orgnr": format_orgnr(row.orgnr), "name": row.name}
                        ),
                        "line": row.line,
                    },
                )
            elif customer.name != row.name:
                self.audit(
                    "customer.updated",
                    f"kund {format_orgnr(row.orgnr)}",
                    {"name": {"before": customer.name, "after": row.name}, "line": row.line},
                )
                customer.name = row.name
                customer.save(update_fields=["name", "updated_at"])
                renamed.add(row.orgnr)
        # Release unit codes and default flags first, so rows can swap them in any order.
        UnitCode.objects.filter(account__in=accounts.values()).delete()
        BillingAccount.objects.filter(pk__in=[a.pk for a in accounts.values()]).update(
            is_default=False
        )
        for row in rows:
            customer = customers[row.orgnr]
            account = accounts.get(row.code)
            fields = row.account_fields(new=account is None)
            before = (
                None
                if account is None
                else _audited_account(account, account.customer.orgnr, old_units[row.code])
            )
            if account is None:
                account = BillingAccount.objects.create(customer=customer, code=row.code, **fields)
                self.imported += 1
            else:
                changed = any(getattr(account, key) != value for key, value in fields.items())
                for key, value in fields.items():
                    setattr(account, key, value)
                account.save()
                if changed or old_units[row.code] != row.unit_codes or row.orgnr in renamed:
                    self.updated += 1
                else:
                    self.unchanged += 1
            UnitCode.objects.bulk_create(
                UnitCode(customer=customer, account=account, code=code) for code in row.unit_codes
            )
            account.customer = customer
            audited = changed_fields(
                before,
                _audited_account(account, row.orgnr, row.unit_codes),
                AUDITED_ACCOUNT_FIELDS,
            )
            if audited:
                self.audit(
                    "account.created" if before is None else "account.updated",
                    f"mottagare {row.code}",
                    {**audited, "line": row.line},
                )
            became = [
                problem
                for problem in account.missing_data()
                if problem not in problems_before.get(row.code, set())
            ]
            if became:
                what = "blev" if row.code in problems_before else "är ny och"
                self.warnings.append(
                    f"rad {row.line}: fakturamottagaren {row.code} {what} ofullständig – "
                    f"{'; '.join(became)}. Dess fakturor hålls tillbaka tills uppgiften finns"
                )

    def finish(self) -> None:
        resolve_order_references()
