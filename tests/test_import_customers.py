"""Importing customer data: one row per billing account (INTERFACES.md, DOMAIN.md R15)."""

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CUSTOMER_HEADER, GOTEBORG, VGR, customer_row
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.imports.services import import_file

pytestmark = pytest.mark.django_db

MakeCsv = Callable[..., Path]


def vgr_rows(su_units: str = "SU-AKUT,SU-MED") -> list[list[str]]:
    return [
        customer_row(VGR, "Västra Götalandsregionen", "VGR-RS", buyer_reference="GITS-RS",
                     peppol_id="0007:2321000131"),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes=su_units,
                     account_name="Sahlgrenska Universitetssjukhuset", buyer_reference="SU",
                     peppol_id="0088:7350003379782"),
    ]  # fmt: skip


def units() -> dict[str, str]:
    return dict(UnitCode.objects.values_list("code", "account__code"))


def test_customers_accounts_and_unit_codes(csv_file: MakeCsv) -> None:
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row(), *vgr_rows()]))
    assert (result.imported, result.updated, result.unchanged, result.quarantined) == (3, 0, 0, 0)
    vgr = Customer.objects.get(orgnr="2321000131")
    assert vgr.accounts.count() == 2
    default = vgr.accounts.get(is_default=True)
    assert default.code == "VGR-RS"
    su = BillingAccount.objects.get(code="VGR-SU")
    assert (su.name, su.peppol_scheme, su.peppol_id) == (
        "Sahlgrenska Universitetssjukhuset",
        "0088",
        "7350003379782",
    )
    assert su.delivery == "peppol"
    assert su.postal_code == "447 80"
    assert units() == {"SU-AKUT": "VGR-SU", "SU-MED": "VGR-SU"}
    again = import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row(), *vgr_rows()]))
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)


def test_unit_code_moves_between_accounts_in_one_file_whatever_the_order(
    csv_file: MakeCsv,
) -> None:
    rows = [
        *vgr_rows(),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-SKAS", unit_codes="SKAS-MED"),
    ]
    import_file("customers", csv_file(CUSTOMER_HEADER, rows))
    moved = [
        customer_row(VGR, "Västra Götalandsregionen", "VGR-SKAS", unit_codes="SKAS-MED,SU-MED"),
        *vgr_rows(su_units="SU-AKUT"),
    ]
    result = import_file("customers", csv_file(CUSTOMER_HEADER, moved))
    assert (result.updated, result.unchanged, result.quarantined) == (2, 1, 0)
    assert units() == {"SU-AKUT": "VGR-SU", "SU-MED": "VGR-SKAS", "SKAS-MED": "VGR-SKAS"}


def test_unit_code_claimed_by_an_account_outside_the_file_is_quarantined(
    csv_file: MakeCsv,
) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, vgr_rows()))
    claim = customer_row(VGR, "Västra Götalandsregionen", "VGR-SKAS", unit_codes="SU-MED")
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [claim]))
    assert result.quarantined == 1
    assert "SU-MED är redan kopplad till VGR-SU" in result.rows[0].reason
    assert units()["SU-MED"] == "VGR-SU"


def test_second_default_account_is_quarantined(csv_file: MakeCsv) -> None:
    rows = [customer_row(), customer_row(account_code="1442-B")]
    result = import_file("customers", csv_file(CUSTOMER_HEADER, rows))
    assert (result.imported, result.quarantined) == (1, 1)
    assert result.rows[0].line == 3
    assert "har redan en standardmottagare" in result.rows[0].reason
    later = import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row(account_code="X")]))
    assert later.quarantined == 1
    assert "standardmottagaren 1442" in later.rows[0].reason


def test_default_account_can_be_swapped_in_one_file(csv_file: MakeCsv) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, vgr_rows()))
    swapped = [
        customer_row(VGR, "Västra Götalandsregionen", "VGR-RS", unit_codes="RS-IT"),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-SU"),
    ]
    result = import_file("customers", csv_file(CUSTOMER_HEADER, swapped))
    assert result.quarantined == 0
    assert BillingAccount.objects.get(is_default=True).code == "VGR-SU"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (customer_row(orgnr="212000-1455"), "kontrollsiffran stämmer inte"),
        (customer_row(orgnr=""), "orgnr saknas"),
        (customer_row(name=""), "name saknas"),
        (customer_row(account_code=""), "account_code saknas"),
        (customer_row(peppol_id="0007:2120001455"), "peppol_id"),
        (customer_row(peppol_id="0088:7350003379781"), "GLN"),
        (customer_row(peppol_id="9955:SE2120001454"), "tillåtna scheman"),
        (customer_row(email="inte-en-adress"), "ingen giltig e-postadress"),
        (customer_row(delivery="fax"), "delivery 'fax' är okänt"),
    ],
)
def test_invalid_customer_rows(csv_file: MakeCsv, row: list[str], reason: str) -> None:
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [row]))
    assert result.quarantined == 1
    assert reason in result.rows[0].reason
    assert BillingAccount.objects.count() == 0


def test_bad_postal_code(csv_file: MakeCsv) -> None:
    row = customer_row()
    row[CUSTOMER_HEADER.index("postal_code")] = "4478"
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [row]))
    assert "inget svenskt postnummer" in result.rows[0].reason


def test_incomplete_account_is_imported_and_flagged(csv_file: MakeCsv) -> None:
    rows = [
        customer_row(buyer_reference=""),
        customer_row("556123-4567", "Sjöbacka Vård AB", "P1", buyer_reference="", peppol_id="",
                     delivery="email"),
    ]  # fmt: skip
    result = import_file("customers", csv_file(CUSTOMER_HEADER, rows))
    assert result.imported == 2
    municipality = BillingAccount.objects.get(code="1442")
    assert municipality.missing_data() == [
        "beställarreferens saknas (offentlig köpare returnerar fakturan)"
    ]
    private = BillingAccount.objects.get(code="P1")
    assert private.missing_data() == ["leverans via e-post men e-postadress saknas"]


def test_delivery_defaults(csv_file: MakeCsv) -> None:
    rows = [
        customer_row(),
        customer_row("556123-4567", "Sjöbacka Vård AB", "P1", peppol_id="",
                     email="faktura@sjobacka.example"),
        customer_row("556765-4321", "Älvstrandens Omsorg AB", "P2", peppol_id=""),
    ]  # fmt: skip
    import_file("customers", csv_file(CUSTOMER_HEADER, rows))
    assert dict(BillingAccount.objects.values_list("code", "delivery")) == {
        "1442": "peppol",
        "P1": "email",
        "P2": "print",
    }


def test_account_cannot_move_to_another_customer(csv_file: MakeCsv) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    moved = customer_row(GOTEBORG, "Göteborgs Stad", "1442")
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [moved]))
    assert result.quarantined == 1
    assert "kan inte flyttas" in result.rows[0].reason


def test_name_change_updates_and_conflicting_names_in_one_file(csv_file: MakeCsv) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, vgr_rows()))
    renamed = [
        customer_row(VGR, "Västra Götalandsregionen (VGR)", "VGR-RS"),
        customer_row(VGR, "Region Västra Götaland", "VGR-SU", unit_codes="SU-AKUT,SU-MED"),
    ]
    result = import_file("customers", csv_file(CUSTOMER_HEADER, renamed))
    assert (result.updated, result.quarantined) == (1, 1)
    assert "skiljer sig från" in result.rows[0].reason
    assert Customer.objects.get(orgnr="2321000131").name == "Västra Götalandsregionen (VGR)"
