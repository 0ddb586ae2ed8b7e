"""Organisation numbers, GLN and Peppol endpoints (DOMAIN.md R15)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from kortfaktura.customers.identifiers import (
    InvalidIdentifier,
    format_orgnr,
    is_public_body,
    normalize_gln,
    normalize_orgnr,
    parse_peppol_endpoint,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("212000-1355", "2120001355"),  # Göteborg
        ("2120001454", "2120001454"),  # Vårgårda
        (" 232100-0131 ", "2321000131"),  # VGR
        ("16212000-1454", "2120001454"),  # 12-digit form with the 16 prefix
        ("162120001454", "2120001454"),
    ],
)
def test_valid_organisation_numbers_are_normalised(given: str, expected: str) -> None:
    assert normalize_orgnr(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("212000-1356", "kontrollsiffran stämmer inte"),
        ("21200013", "har 8 siffror"),
        ("ABC000-1355", "10 siffror"),
        ("", "saknas"),
        ("192120001454", "har 12 siffror"),
    ],
)
def test_invalid_organisation_numbers_say_why(given: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        normalize_orgnr(given)


@given(st.from_regex(r"[0-9]{9}", fullmatch=True), st.integers(min_value=1, max_value=9))
def test_any_wrong_check_digit_is_refused(body: str, shift: int) -> None:
    check = luhn.calc_check_digit(body)
    assert normalize_orgnr(body + check) == body + check
    wrong = str((int(check) + shift) % 10)
    with pytest.raises(InvalidIdentifier):
        normalize_orgnr(body + wrong)


def test_format_and_public_body() -> None:
    assert format_orgnr("2120001454") == "212000-1454"
    assert is_public_body("2120001454")
    assert is_public_body("2321000131")
    assert not is_public_body("5561234567")


def test_gln_check_digit() -> None:
    assert normalize_gln("7350003379782") == "7350003379782"
    with pytest.raises(InvalidIdentifier, match="kontrollsiffran"):
        normalize_gln("7350003379783")
    with pytest.raises(InvalidIdentifier, match="13 siffror"):
        normalize_gln("735000337978")


@pytest.mark.parametrize(
    ("given", "scheme", "identifier"),
    [
        ("0007:2120001454", "0007", "2120001454"),
        ("0007:212000-1454", "0007", "2120001454"),
        ("0088:7350003379782", "0088", "7350003379782"),
        (" 0088 : 7350003379782 ", "0088", "7350003379782"),
    ],
)
def test_valid_peppol_endpoints(given: str, scheme: str, identifier: str) -> None:
    endpoint = parse_peppol_endpoint(given)
    assert (endpoint.scheme, endpoint.identifier) == (scheme, identifier)
    assert str(endpoint) == f"{scheme}:{identifier}"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("0007:2120001455", "schema 0007.*kontrollsiffran"),
        ("0088:7350003379781", "schema 0088.*kontrollsiffran"),
        ("9955:SE232100013101", "tillåtna scheman är 0007"),
        ("2120001454", "schema:id"),
        ("0007:", "schema:id"),
    ],
)
def test_invalid_peppol_endpoints(given: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        parse_peppol_endpoint(given)
