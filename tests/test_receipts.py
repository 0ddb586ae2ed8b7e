"""Receipts from the access point: Peppol Message Level Responses and BIS Invoice Responses."""

import re
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from lxml import etree

from kortfaktura.delivery.receipts import (
    INVOICE_RESPONSE_STATUS,
    MLR_STATUS,
    Envelope,
    Receipt,
    ReceiptError,
    invoice_response,
    message_level_response,
    parse_receipt,
)

PEPPOL = Path(settings.PEPPOL_RULES_DIR)
IR_EXAMPLES = sorted((PEPPOL / "invoice-response" / "examples").glob("*.xml"))
SVRL = "http://purl.oclc.org/dsdl/svrl"
SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
SELLER = "0007:2321000131"
BUYER = "0007:2120001355"
STATUSES = {
    "delivered",
    "rejected",
    "in_process",
    "accepted",
    "paid",
    "under_query",
    "conditionally_accepted",
}

# The status each official use case names (file name prefix → status).
EXPECTED = {
    "T111-uc001": ("IP", "in_process"),
    "T111-uc002a": ("IP", "in_process"),
    "T111-uc002b": ("IP", "in_process"),
    "T111-uc003": ("AP", "accepted"),
    "T111-uc004a": ("RE", "rejected"),
    "T111-uc004b": ("RE", "rejected"),
    "T111-uc004c": ("RE", "rejected"),
    "T111-uc005": ("CA", "conditionally_accepted"),
    "T111-uc006a": ("UQ", "under_query"),
    "T111-uc006b": ("UQ", "under_query"),
    "T111-uc006c": ("UQ", "under_query"),
    "T111-uc007": ("PD", "paid"),
    "T111-uc008": ("AP", "accepted"),
}

# There are no official MLR examples among the shipped Peppol artifacts (kortfaktura/standards);
# these follow the examples of the Peppol MLR specification (acceptance, acknowledgement,
# rejection with line responses) and are checked against the T71 rules below.
MLR_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:fdc:peppol.eu:poacc:trns:mlr:3</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:poacc:bis:mlr:3</cbc:ProfileID>
  <cbc:ID>MLR-{code}</cbc:ID>
  <cbc:IssueDate>2026-09-01</cbc:IssueDate>
  <cbc:IssueTime>12:00:00</cbc:IssueTime>
  <cac:SenderParty><cbc:EndpointID schemeID="0088">7300010000001</cbc:EndpointID></cac:SenderParty>
  <cac:ReceiverParty><cbc:EndpointID schemeID="0007">2321000131</cbc:EndpointID></cac:ReceiverParty>
  <cac:DocumentResponse>
    <cac:Response><cbc:ResponseCode>{code}</cbc:ResponseCode>{description}</cac:Response>
    <cac:DocumentReference><cbc:ID>{instance}</cbc:ID></cac:DocumentReference>{lines}
  </cac:DocumentResponse>
</ApplicationResponse>
"""
MLR_REJECTION_LINES = """
    <cac:LineResponse>
      <cac:LineReference><cbc:LineID>/Invoice/cbc:DocumentCurrencyCode</cbc:LineID></cac:LineReference>
      <cac:Response>
        <cbc:ResponseCode>RE</cbc:ResponseCode>
        <cbc:Description>Invalid currency code</cbc:Description>
        <cac:Status><cbc:StatusReasonCode>BV</cbc:StatusReasonCode></cac:Status>
      </cac:Response>
    </cac:LineResponse>
    <cac:LineResponse>
      <cac:LineReference><cbc:LineID>NA</cbc:LineID></cac:LineReference>
      <cac:Response>
        <cbc:ResponseCode>RE</cbc:ResponseCode>
        <cbc:Description>Wrong syntax</cbc:Description>
        <cac:Status><cbc:StatusReasonCode>SV</cbc:StatusReasonCode></cac:Status>
      </cac:Response>
    </cac:LineResponse>"""
INSTANCE = "4c0ba1a4-1dd2-4d4e-9e3e-5ab6a2b8a1f0"
MLR_EXAMPLES = {
    "acknowledged": (
        MLR_HEAD.format(code="AB", description="", instance=INSTANCE, lines=""),
        "delivered",
    ),
    "accepted": (
        MLR_HEAD.format(code="AP", description="", instance=INSTANCE, lines=""),
        "delivered",
    ),
    "rejected": (
        MLR_HEAD.format(
            code="RE",
            description="<cbc:Description>Rejected due to validation errors</cbc:Description>",
            instance=INSTANCE,
            lines=MLR_REJECTION_LINES,
        ),
        "rejected",
    ),
}


class Rules:
    """The official compiled Schematron (T111, T71) and the UBL ApplicationResponse schema."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        paths = {
            "T111": PEPPOL / "invoice-response" / "rules" / "PEPPOLBIS-T111.xslt",
            "T71": PEPPOL / "mlr" / "rules" / "PEPPOLBIS-T71.xslt",
        }
        schema = PEPPOL / "xsd" / "maindoc" / "UBL-ApplicationResponse-2.1.xsd"
        missing = [str(path) for path in (*paths.values(), schema) if not path.is_file()]
        if missing:
            pytest.fail(f"the official Peppol receipt rules are missing: {missing}")
        self.processor = PySaxonProcessor(license=False)
        compiler = self.processor.new_xslt30_processor()
        self.stylesheets = {
            name: compiler.compile_stylesheet(stylesheet_file=str(path))
            for name, path in paths.items()
        }
        self.schema = etree.XMLSchema(etree.parse(str(schema)))

    def findings(self, rules: str, xml: bytes) -> list[str]:
        found = []
        if not self.schema.validate(etree.fromstring(xml)):
            found.extend(f"XSD: {error.message}" for error in self.schema.error_log)
        node = self.processor.parse_xml(xml_text=xml.decode("utf-8"))
        report = etree.fromstring(
            self.stylesheets[rules].transform_to_string(xdm_node=node).encode("utf-8")
        )
        for failed in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
            text = " ".join("".join(failed.itertext()).split())
            found.append(f"{failed.get('flag', 'fatal')}: {text} ({failed.get('location')})")
        return found


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules()


@pytest.fixture(scope="module")
def sbdh_schema() -> etree.XMLSchema:
    return etree.XMLSchema(
        etree.parse(str(PEPPOL / "sbdh" / "xsd" / "StandardBusinessDocumentHeader.xsd"))
    )


def wrap(document: bytes, *, sender: str = BUYER, receiver: str = SELLER) -> bytes:
    """The document in an SBDH as an access point would deliver it."""
    root = etree.fromstring(document)
    body = etree.tostring(root, encoding="unicode")
    local = etree.QName(root).localname
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<StandardBusinessDocument xmlns="{SBDH}">
  <StandardBusinessDocumentHeader>
    <HeaderVersion>1.0</HeaderVersion>
    <Sender><Identifier Authority="iso6523-actorid-upis">{sender}</Identifier></Sender>
    <Receiver><Identifier Authority="iso6523-actorid-upis">{receiver}</Identifier></Receiver>
    <DocumentIdentification>
      <Standard>{etree.QName(root).namespace}</Standard>
      <TypeVersion>2.1</TypeVersion>
      <InstanceIdentifier>{uuid.uuid4()}</InstanceIdentifier>
      <Type>{local}</Type>
      <CreationDateAndTime>2026-09-01T12:00:00Z</CreationDateAndTime>
    </DocumentIdentification>
    <BusinessScope>
      <Scope>
        <Type>DOCUMENTID</Type>
        <InstanceIdentifier>urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2::ApplicationResponse##urn:fdc:peppol.eu:poacc:trns:invoice_response:3::2.1</InstanceIdentifier>
        <Identifier>busdox-docid-qns</Identifier>
      </Scope>
      <Scope>
        <Type>PROCESSID</Type>
        <InstanceIdentifier>urn:fdc:peppol.eu:poacc:bis:invoice_response:3</InstanceIdentifier>
        <Identifier>cenbii-procid-ubl</Identifier>
      </Scope>
    </BusinessScope>
  </StandardBusinessDocumentHeader>
  {body}
</StandardBusinessDocument>
""".encode()


def use_case(path: Path) -> str:
    match = re.match(r"T111-uc\d+[a-z]?", path.name)
    assert match, path.name
    return match.group(0)


# --- the official Invoice Response examples -------------------------------------------------


def test_all_official_examples_are_known() -> None:
    assert IR_EXAMPLES, f"no Invoice Response examples in {PEPPOL}"
    assert {use_case(path) for path in IR_EXAMPLES} == set(EXPECTED)


@pytest.mark.parametrize("path", IR_EXAMPLES, ids=lambda path: path.stem)
def test_official_invoice_response_examples(path: Path) -> None:
    receipt = parse_receipt(path.read_bytes())
    code, status = EXPECTED[use_case(path)]
    assert receipt == Receipt(
        kind="invoice_response",
        status=status,
        code=code,
        reason=receipt.reason,
        refers_to_document="inv021",
        refers_to_instance=None,
        issue_date=receipt.issue_date,
        sender="0196:6963495890",
        party_sender="0196:6963495890",
        party_receiver="0196:6841569459",
        envelope=None,
    )
    assert receipt.issue_date is not None
    assert receipt.issue_date.year == 2017


@pytest.mark.parametrize("path", IR_EXAMPLES, ids=lambda path: path.stem)
def test_official_examples_in_an_sbdh(path: Path, sbdh_schema: etree.XMLSchema) -> None:
    wrapped = wrap(path.read_bytes())
    assert sbdh_schema.validate(etree.fromstring(wrapped)), sbdh_schema.error_log
    receipt = parse_receipt(wrapped, envelope_schema=sbdh_schema)
    # The envelope names who sent it (what the access point vouches for); the rest is the same.
    assert receipt.envelope == Envelope(
        sender=BUYER,
        receiver=SELLER,
        standard="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2",
        type="ApplicationResponse",
        problems=(),
    )
    assert receipt.sender == BUYER
    bare = parse_receipt(path.read_bytes())
    assert replace(receipt, sender=bare.sender, envelope=None) == bare


def test_reasons_of_the_official_examples() -> None:
    by_case = {use_case(path): parse_receipt(path.read_bytes()) for path in IR_EXAMPLES}
    assert by_case["T111-uc001"].reason == ""
    assert by_case["T111-uc004a"].reason == (
        "REF: referenserna är felaktiga; A textual explanation for why the invoice is being "
        "rejected. E.g. PO reference is missing."
    )
    assert by_case["T111-uc004c"].reason == (
        "REF: referenserna är felaktiga; CNF: skicka en kreditnota för hela beloppet; "
        "NIN: skicka en ny faktura"
    )
    assert by_case["T111-uc005"].reason == "PAY: betalningsvillkoren är felaktiga; BT-9: 2018-01-15"
    assert "Shipment has not yet been received" in by_case["T111-uc002b"].reason
    assert "BT-13: PO0001" in by_case["T111-uc006a"].reason
    assert by_case["T111-uc007"].issue_date == date(2017, 12, 31)


def test_every_code_maps_to_a_status() -> None:
    assert set(INVOICE_RESPONSE_STATUS) == {"AB", "IP", "UQ", "CA", "RE", "AP", "PD"}
    assert set(MLR_STATUS) == {"AB", "AP", "RE"}
    assert set(INVOICE_RESPONSE_STATUS.values()) | set(MLR_STATUS.values()) <= STATUSES
    assert MLR_STATUS == {"AB": "delivered", "AP": "delivered", "RE": "rejected"}


# --- Message Level Responses ----------------------------------------------------------------


@pytest.mark.parametrize("name", MLR_EXAMPLES)
def test_mlr_examples_pass_the_rules_and_map(name: str, rules: Rules) -> None:
    text, status = MLR_EXAMPLES[name]
    xml = text.encode()
    assert rules.findings("T71", xml) == []
    for content in (xml, wrap(xml, sender="0088:7300010000001")):
        receipt = parse_receipt(content)
        assert receipt.kind == "mlr"
        assert receipt.status == status
        assert receipt.refers_to_instance == INSTANCE
        assert receipt.refers_to_document == INSTANCE
        assert receipt.sender == "0088:7300010000001"
        assert receipt.issue_date == date(2026, 9, 1)


def test_mlr_rejection_reason() -> None:
    receipt = parse_receipt(MLR_EXAMPLES["rejected"][0].encode())
    assert receipt.code == "RE"
    assert receipt.reason == (
        "Rejected due to validation errors; "
        "rad /Invoice/cbc:DocumentCurrencyCode: Invalid currency code; "
        "rad /Invoice/cbc:DocumentCurrencyCode: BV: affärsregel bruten (fel); "
        "Wrong syntax; SV: syntaxfel"
    )


# --- documents we build ---------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(INVOICE_RESPONSE_STATUS))
@pytest.mark.parametrize("reason", ["", 'Fel pris på rad 2 & <3> "citat" – åäö'])
def test_built_invoice_responses_pass_t111(code: str, reason: str, rules: Rules) -> None:
    xml = invoice_response(
        number="F2026-000017",
        status_code=code,
        reason=reason,
        sender=BUYER,
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="IR-1",
    )
    assert rules.findings("T111", xml) == []
    receipt = parse_receipt(xml)
    assert receipt == Receipt(
        kind="invoice_response",
        status=INVOICE_RESPONSE_STATUS[code],
        code=code,
        reason=receipt.reason,
        refers_to_document="F2026-000017",
        refers_to_instance=None,
        issue_date=date(2026, 9, 2),
        sender=BUYER,
        party_sender=BUYER,
        party_receiver=SELLER,
    )
    if reason:
        assert reason in receipt.reason
    if code in ("CA", "UQ", "RE"):
        assert receipt.reason.startswith("OTH: annan anledning")


def test_built_credit_note_response_passes_t111(rules: Rules) -> None:
    xml = invoice_response(
        number="K2026-000003",
        status_code="RE",
        reason="Kreditnotan saknar referens",
        sender=BUYER,
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="IR-2",
        sender_name="Göteborgs Stad",
        receiver_name="Västra Götalandsregionen",
        document_type_code="381",
    )
    assert rules.findings("T111", xml) == []
    assert parse_receipt(wrap(xml)).refers_to_document == "K2026-000003"


@pytest.mark.parametrize("code", sorted(MLR_STATUS))
@pytest.mark.parametrize("reason", ["", "Ogiltig valutakod & <fel>"])
def test_built_mlrs_pass_t71(code: str, reason: str, rules: Rules) -> None:
    instance = str(uuid.uuid4())
    xml = message_level_response(
        instance_id=instance,
        code=code,
        reason=reason,
        sender="0088:7300010000001",
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="MLR-1",
    )
    assert rules.findings("T71", xml) == []
    for content in (xml, wrap(xml, sender="0088:7300010000001")):
        receipt = parse_receipt(content)
        assert receipt.kind == "mlr"
        assert receipt.status == MLR_STATUS[code]
        assert receipt.code == code
        assert receipt.refers_to_instance == instance
        assert receipt.sender == "0088:7300010000001"
        if reason:
            assert reason in receipt.reason


def test_builders_refuse_unknown_codes() -> None:
    with pytest.raises(ValueError, match="statuskod"):
        invoice_response(
            number="F1",
            status_code="XX",
            reason="",
            sender=BUYER,
            receiver=SELLER,
            issue_date=date(2026, 9, 2),
            response_id="IR-1",
        )
    with pytest.raises(ValueError, match="svarskod"):
        message_level_response(
            instance_id=INSTANCE,
            code="PD",
            reason="",
            sender=BUYER,
            receiver=SELLER,
            issue_date=date(2026, 9, 2),
            response_id="MLR-1",
        )
    with pytest.raises(ValueError, match="schema:id"):
        message_level_response(
            instance_id=INSTANCE,
            code="AP",
            reason="",
            sender="2321000131",
            receiver=SELLER,
            issue_date=date(2026, 9, 2),
            response_id="MLR-1",
        )


def test_sender_from_the_envelope_when_the_document_has_none() -> None:
    xml = MLR_EXAMPLES["accepted"][0].replace(
        '<cac:SenderParty><cbc:EndpointID schemeID="0088">7300010000001</cbc:EndpointID>'
        "</cac:SenderParty>",
        "",
    )
    assert parse_receipt(xml.encode()).sender is None
    assert parse_receipt(wrap(xml.encode(), sender="0088:9876549873211")).sender == (
        "0088:9876549873211"
    )


def test_the_envelope_names_the_sender_whatever_the_document_says() -> None:
    """Issue 17: who sent a wrapped receipt is the SBDH's Sender, which the access point vouches
    for; the SenderParty inside is anybody's to write and is kept apart."""
    xml = MLR_EXAMPLES["accepted"][0].encode()
    receipt = parse_receipt(wrap(xml, sender="0088:9876549873211"))
    assert receipt.sender == "0088:9876549873211"
    assert (receipt.party_sender, receipt.party_receiver) == ("0088:7300010000001", SELLER)
    assert receipt.envelope is not None and receipt.envelope.problems == ()


def test_what_is_wrong_with_an_envelope_is_told_in_swedish(
    sbdh_schema: etree.XMLSchema,
) -> None:
    xml = invoice_response(
        number="F1",
        status_code="AP",
        reason="",
        sender=BUYER,
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="IR-1",
    )
    good = wrap(xml)
    assert parse_receipt(good, envelope_schema=sbdh_schema).envelope.problems == ()  # type: ignore[union-attr]
    cases = {
        "schemat för SBDH 1.3 (rad": good.replace(b"<HeaderVersion>1.0</HeaderVersion>", b""),
        "2 avsändare": good.replace(
            b"</Sender>",
            b'</Sender><Sender><Identifier Authority="iso6523-actorid-upis">0007:1</Identifier>'
            b"</Sender>",
        ),
        "inget Peppol-deltagar-id": good.replace(
            b'<Receiver><Identifier Authority="iso6523-actorid-upis">',
            b'<Receiver><Identifier Authority="GLN">',
        ),
        "något annat än ett ApplicationResponse (Standard urn:oasis:names:specification:ubl:"
        "schema:xsd:ApplicationResponse-2, Type Invoice)": good.replace(
            b"<Type>ApplicationResponse</Type>", b"<Type>Invoice</Type>"
        ),
        "saknar StandardBusinessDocumentHeader": re.sub(
            rb"<StandardBusinessDocumentHeader>.*</StandardBusinessDocumentHeader>",
            b"",
            good,
            flags=re.S,
        ),
    }
    for words, content in cases.items():
        envelope = parse_receipt(content, envelope_schema=sbdh_schema).envelope
        assert envelope is not None and envelope.problems, words
        text = " ".join(envelope.problems)
        assert words in text, (words, text)
        assert "Element" not in text and "expected" not in text  # not libxml2's English


def test_the_demo_access_point_wraps_receipts_in_a_valid_sbdh(
    sbdh_schema: etree.XMLSchema,
) -> None:
    from datetime import UTC, datetime

    from kortfaktura.delivery.sbdh import wrap_response

    created = datetime(2026, 9, 2, 12, tzinfo=UTC)
    xml = invoice_response(
        number="100001",
        status_code="RE",
        reason="Referensen saknas",
        sender=BUYER,
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="IR-1",
    )
    wrapped = wrap_response(
        xml,
        sender=BUYER,
        receiver=SELLER,
        kind="invoice_response",
        instance_id="x",
        created=created,
    )
    assert sbdh_schema.validate(etree.fromstring(wrapped)), sbdh_schema.error_log
    receipt = parse_receipt(wrapped, envelope_schema=sbdh_schema)
    assert receipt.envelope is not None and receipt.envelope.problems == ()
    assert (receipt.sender, receipt.envelope.receiver, receipt.code) == (BUYER, SELLER, "RE")
    mlr = message_level_response(
        instance_id=INSTANCE,
        code="AP",
        reason="",
        sender="0088:7300010000001",
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="MLR-1",
    )
    wrapped = wrap_response(
        mlr, sender="0088:7300010000001", receiver=SELLER, kind="mlr", instance_id="y",
        created=created,
    )  # fmt: skip
    assert sbdh_schema.validate(etree.fromstring(wrapped)), sbdh_schema.error_log
    assert parse_receipt(wrapped, envelope_schema=sbdh_schema).envelope.problems == ()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="ApplicationResponse"):
        wrap_response(
            (PEPPOL / "examples" / "base-example.xml").read_bytes(),
            sender=BUYER, receiver=SELLER, kind="mlr", instance_id="z", created=created,
        )  # fmt: skip


# --- what is not a receipt ------------------------------------------------------------------


def test_an_invoice_is_not_a_receipt() -> None:
    invoice = (PEPPOL / "examples" / "base-example.xml").read_bytes()
    for content in (invoice, wrap(invoice)):
        with pytest.raises(ReceiptError, match=r"inget kvitto .* utan Invoice \(urn:oasis"):
            parse_receipt(content)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "den är tom"),
        (b"   \n", "den är tom"),
        (b"\x00\x01\x02garbage", "inte välformad XML"),
        (b"PK\x03\x04 a zip file", "inte välformad XML"),
        (b"<ApplicationResponse>", "inte välformad XML"),
        (b"<html><body>Hej</body></html>", "utan html"),
        (b'<?xml version="1.0"?><a xmlns="urn:x"/>', r"utan a \(urn:x\)"),
        (
            f'<StandardBusinessDocument xmlns="{SBDH}"><StandardBusinessDocumentHeader/>'
            "</StandardBusinessDocument>".encode(),
            "SBDH-kuvertet innehåller inget dokument",
        ),
    ],
)
def test_garbage_is_refused_in_swedish(content: bytes, message: str) -> None:
    with pytest.raises(ReceiptError, match=f"Filen är (inget kvitto|ett).*{message}"):
        parse_receipt(content)


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"\x00\x01\x02garbage", "rad 1, kolumn 1"),
        (b"<ApplicationResponse>", "rad 1, kolumn 22"),
        (b"<a>\n<b></a>", "rad 2, kolumn 8"),
        (b"PK\x03\x04 a zip file", "rad 1, kolumn 1"),
    ],
)
def test_broken_xml_is_described_in_swedish_only(content: bytes, where: str) -> None:
    """Issue 17: where the file breaks off, without libxml2's English message."""
    with pytest.raises(ReceiptError) as raised:
        parse_receipt(content)
    assert str(raised.value) == (f"Filen är inget kvitto: den är inte välformad XML ({where}).")


def test_other_application_responses_are_refused() -> None:
    text = MLR_EXAMPLES["accepted"][0]
    other = text.replace(
        "urn:fdc:peppol.eu:poacc:trns:mlr:3", "urn:example:order_response"
    ).replace("urn:fdc:peppol.eu:poacc:bis:mlr:3", "urn:example:ordering")
    with pytest.raises(ReceiptError, match="varken ett Peppol Message Level Response"):
        parse_receipt(other.encode())
    with pytest.raises(ReceiptError, match="okänd svarskod 'PD'"):
        parse_receipt(text.replace(">AP<", ">PD<").encode())
    with pytest.raises(ReceiptError, match="utan svarskod"):
        parse_receipt(text.replace("<cbc:ResponseCode>AP</cbc:ResponseCode>", "").encode())


def test_entities_and_dtds_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("HEMLIGT")
    external = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        + MLR_EXAMPLES["accepted"][0].split("?>", 1)[1].replace("MLR-AP", "&x;")
    )
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        + MLR_EXAMPLES["accepted"][0].split("?>", 1)[1].replace("MLR-AP", "&c;")
    )
    for content in (external, laughs):
        with pytest.raises(ReceiptError, match="DTD") as raised:
            parse_receipt(content.encode())
        assert "HEMLIGT" not in str(raised.value)


def test_builders_drop_characters_xml_cannot_carry(rules: Rules) -> None:
    xml = invoice_response(
        number="F2026-\x00000018",
        status_code="RE",
        reason="Fel\x01 pris\x0b\n på rad 2",
        sender=BUYER,
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="IR-\x1f3",
        sender_name="\x02",
    )
    assert rules.findings("T111", xml) == []
    receipt = parse_receipt(xml)
    assert receipt.refers_to_document == "F2026-000018"
    assert receipt.reason == "OTH: annan anledning; Fel pris på rad 2"
    mlr = message_level_response(
        instance_id=INSTANCE,
        code="RE",
        reason="\x07",
        sender=BUYER,
        receiver=SELLER,
        issue_date=date(2026, 9, 2),
        response_id="MLR-2",
    )
    assert rules.findings("T71", mlr) == []
    assert parse_receipt(mlr).status == "rejected"
