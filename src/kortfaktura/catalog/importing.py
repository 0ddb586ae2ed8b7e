"""Import of the price list: one row per product and validity period (INTERFACES.md)."""

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from django.db import IntegrityError, transaction
from django.db.models import Q

from kortfaktura.audit.services import changed_fields
from kortfaktura.catalog.models import DEFAULT_VAT_RATE, Price, Product
from kortfaktura.imports.engine import Importer
from kortfaktura.imports.models import ImportKind
from kortfaktura.imports.values import InvalidValue, parse_date, parse_decimal, too_long
from kortfaktura.orders.services import resolve_order_references

# DOMAIN.md R3: the Swedish VAT rates, in percent. ``25``, ``25,0`` and ``25 %`` are 25; a
# fraction such as ``0,25`` is refused rather than guessed (0,25 % is no rate either).
VAT_RATES = frozenset(Decimal(rate) for rate in ("25", "12", "6", "0"))
MAX_UNIT_PRICE = Decimal("1000000")


@dataclass
class PriceRow:
    line: int
    values: list[str]
    product_code: str
    product_name: str
    unit_price: Decimal
    vat_rate: Decimal
    valid_from: dt.date
    valid_to: dt.date | None
    revenue_account: str = ""


ACCOUNT_NUMBER = re.compile(r"[0-9]{4,6}")


def describe_period(valid_from: dt.date, valid_to: dt.date | None) -> str:
    end = valid_to.isoformat() if valid_to else "tills vidare"
    return f"{valid_from.isoformat()}–{end}"


class PriceImporter(Importer):
    kind = ImportKind.PRICES
    required_columns: ClassVar[tuple[str, ...]] = (
        "product_code",
        "product_name",
        "unit_price",
        "valid_from",
    )
    optional_columns: ClassVar[tuple[str, ...]] = ("vat_rate", "valid_to", "revenue_account")

    def parse(self, line: int, values: list[str]) -> PriceRow:
        def get(column: str) -> str:
            index = self.columns.get(column)
            return values[index].strip() if index is not None else ""

        for column in self.required_columns:
            if not get(column):
                raise InvalidValue(f"{column} saknas – fältet är obligatoriskt i prislistan")
        code, name = get("product_code"), " ".join(get("product_name").split())
        message = too_long(code, 32, "product_code") or too_long(name, 200, "product_name")
        if message:
            raise InvalidValue(message)
        unit_price = parse_decimal(get("unit_price"), "unit_price", places=2)
        if unit_price < 0:
            raise InvalidValue(
                f"unit_price {get('unit_price')} är negativt – ange priset exkl. moms"
            )
        if unit_price > MAX_UNIT_PRICE:
            raise InvalidValue(
                f"unit_price {get('unit_price')} är större än högsta tillåtna styckpris "
                "1 000 000 kr – kontrollera beloppet (exkl. moms, i kronor)"
            )
        vat_rate = DEFAULT_VAT_RATE
        if get("vat_rate"):
            vat_rate = parse_decimal(get("vat_rate").rstrip("%").strip(), "vat_rate", places=2)
            if vat_rate not in VAT_RATES:
                raise InvalidValue(
                    f"vat_rate {get('vat_rate')} är ingen svensk momssats – ange procent: "
                    "25, 12, 6 eller 0 (inte andelar som 0,25)"
                )
        valid_from = parse_date(get("valid_from"), "valid_from")
        valid_to = parse_date(get("valid_to"), "valid_to") if get("valid_to") else None
        if valid_to is not None and valid_to < valid_from:
            raise InvalidValue(
                f"valid_to {valid_to.isoformat()} ligger före valid_from {valid_from.isoformat()}"
            )
        revenue_account = get("revenue_account")
        if revenue_account and not ACCOUNT_NUMBER.fullmatch(revenue_account):
            raise InvalidValue(
                f"revenue_account '{revenue_account[:20]}' är inget konto – ange kontonumret i "
                "bokföringen med 4–6 siffror 0–9, t.ex. 3001 (lämna tomt för standardkontot)"
            )
        if revenue_account and not revenue_account.startswith("3"):
            raise InvalidValue(
                f"revenue_account {revenue_account} är inget intäktskonto – intäkter bokförs i "
                "kontoklass 3 (BAS), t.ex. 3001; lämna tomt för standardkontot"
            )
        return PriceRow(
            line,
            values,
            code,
            name,
            unit_price.quantize(Decimal("0.01")),
            vat_rate.quantize(Decimal("0.01")),
            valid_from,
            valid_to,
            revenue_account,
        )

    def process(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        parsed: list[PriceRow] = []
        keys: dict[tuple[str, dt.date], int] = {}
        names: dict[str, tuple[str, int]] = {}
        for line, values in rows:
            try:
                row = self.parse(line, values)
            except InvalidValue as error:
                self.quarantine(line, values, str(error))
                continue
            key = (row.product_code, row.valid_from)
            if key in keys:
                self.quarantine(
                    line,
                    values,
                    f"priset för {row.product_code} från {row.valid_from.isoformat()} finns redan "
                    f"på rad {keys[key]} – varje period ska finnas på en rad",
                )
                continue
            first = names.get(row.product_code)
            if first is not None and first[0] != row.product_name:
                self.quarantine(
                    line,
                    values,
                    f"product_name '{row.product_name}' skiljer sig från '{first[0]}' på rad "
                    f"{first[1]} för samma artikel {row.product_code}",
                )
                continue
            keys[key] = line
            names.setdefault(row.product_code, (row.product_name, line))
            parsed.append(row)
        existing = set(
            Price.objects.filter(
                product__code__in={row.product_code for row in parsed}
            ).values_list("product__code", "valid_from")
        )
        # Changes to existing periods first: a file that closes the old period and opens a new
        # one must not depend on the order of its rows.
        parsed.sort(key=lambda row: ((row.product_code, row.valid_from) not in existing, row.line))
        for row in parsed:
            self._apply(row)

    def _apply(self, row: PriceRow) -> None:
        product = Product.objects.filter(code=row.product_code).first()
        price = (
            Price.objects.filter(product=product, valid_from=row.valid_from).first()
            if product is not None
            else None
        )
        if price is not None:
            # An absent column leaves the field as it is (INTERFACES.md): without a valid_to
            # column an existing period is not reopened, without vat_rate its rate is kept.
            if not self.has("valid_to"):
                row.valid_to = price.valid_to
            if not self.has("vat_rate"):
                row.vat_rate = price.vat_rate
            if not self.has("revenue_account"):
                row.revenue_account = price.revenue_account
        overlap = Price.objects.filter(product=product).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=row.valid_from)
        )
        if price is not None:
            overlap = overlap.exclude(pk=price.pk)
        if row.valid_to is not None:
            overlap = overlap.filter(valid_from__lte=row.valid_to)
        clash = overlap.order_by("valid_from").first() if product is not None else None
        if clash is not None:
            self.quarantine(
                row.line,
                row.values,
                f"perioden {describe_period(row.valid_from, row.valid_to)} för {row.product_code} "
                f"överlappar befintligt pris {clash.unit_price} kr "
                f"({describe_period(clash.valid_from, clash.valid_to)}) – avsluta det gamla priset "
                "med valid_to dagen före det nya priset börjar",
            )
            return
        renamed = False
        if product is None:
            product = Product.objects.create(code=row.product_code, name=row.product_name)
            self.audit(
                "product.created",
                f"artikel {row.product_code}",
                {
                    **changed_fields(None, {"code": row.product_code, "name": row.product_name}),
                    "line": row.line,
                },
            )
        elif product.name != row.product_name:
            self.audit(
                "product.updated",
                f"artikel {row.product_code}",
                {"name": {"before": product.name, "after": row.product_name}, "line": row.line},
            )
            product.name = row.product_name
            product.save(update_fields=["name", "updated_at"])
            renamed = True
        values = {
            "unit_price": row.unit_price,
            "vat_rate": row.vat_rate,
            "valid_to": row.valid_to,
            "revenue_account": row.revenue_account,
        }
        label = f"pris {row.product_code} {row.valid_from.isoformat()}"
        try:
            with transaction.atomic():
                if price is None:
                    Price.objects.create(product=product, valid_from=row.valid_from, **values)
                    self.audit(
                        "price.created",
                        label,
                        {
                            **changed_fields(None, {"valid_from": row.valid_from, **values}),
                            "line": row.line,
                        },
                    )
                    self.imported += 1
                    return
                before = {key: getattr(price, key) for key in values}
                changed = any(getattr(price, key) != value for key, value in values.items())
                for key, value in values.items():
                    setattr(price, key, value)
                price.save()
                if changed:
                    self.audit(
                        "price.updated", label, {**changed_fields(before, values), "line": row.line}
                    )
        except IntegrityError as error:
            self.quarantine(
                row.line, row.values, f"priset kunde inte sparas: databasen nekade ({error})"
            )
            return
        if changed or renamed:
            self.updated += 1
        else:
            self.unchanged += 1

    def finish(self) -> None:
        resolve_order_references()
