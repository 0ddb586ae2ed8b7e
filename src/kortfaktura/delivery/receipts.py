"""Receipts from the Peppol access point: Message Level Responses and BIS Invoice Responses.

Both are UBL 2.1 ``ApplicationResponse`` documents, delivered bare or wrapped in a Standard
Business Document Header (SBDH). ``parse_receipt`` reads one into a ``Receipt`` and maps its
response code to a delivery status; anything that is not such a receipt raises ``ReceiptError``
with a Swedish message saying what the file is, so that the caller can quarantine it. The SBDH
around a receipt is read into an ``Envelope`` with what is wrong with it (``problems``); whether
the receipt may be trusted (who sent it, to whom, for which delivery) is decided by the inbox
(``kortfaktura.delivery.inbox``), which knows the deliveries and the settings.

``invoice_response`` and ``message_level_response`` build receipts (for tests and for the demo's
simulated access point); they pass the official T111 and T71 rules.

Parsing is safe: no network, no DTD, no entity expansion.
"""

from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

UBL_APPLICATION_RESPONSE = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
PARTICIPANT_AUTHORITY = "iso6523-actorid-upis"  # the scheme of Peppol participant ids in an SBDH
NAMESPACES = {"ar": UBL_APPLICATION_RESPONSE, "cac": CAC, "cbc": CBC, "sh": SBDH}

MLR_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:mlr:3"
MLR_PROFILE = "urn:fdc:peppol.eu:poacc:bis:mlr:3"
IR_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
IR_PROFILE = "urn:fdc:peppol.eu:poacc:bis:invoice_response:3"
IR_PROFILES = (IR_PROFILE, "urn:peppol:bis:billing_with_response")

# Response code → our delivery status.
MLR_STATUS = {
    "AB": "delivered",  # message acknowledgement: the receiving access point has it
    "AP": "delivered",  # accepted: the receiving access point accepted it
    "RE": "rejected",  # rejected by the receiving access point
}
INVOICE_RESPONSE_STATUS = {
    "AB": "delivered",  # message acknowledgement: the buyer has received it
    "IP": "in_process",  # in process
    "UQ": "under_query",  # under query: the buyer asks something
    "CA": "conditionally_accepted",  # conditionally accepted
    "RE": "rejected",  # rejected
    "AP": "accepted",  # accepted
    "PD": "paid",  # fully paid (payment initiated)
}

# OpenPeppol clarification codes of the Invoice Response (listID → code → Swedish text).
CLARIFICATION = {
    "OPStatusReason": {
        "NON": "ingen anledning angiven",
        "REF": "referenserna är felaktiga",
        "LEG": "juridiska uppgifter är felaktiga",
        "REC": "mottagaren är okänd",
        "QUA": "kvaliteten motsvarar inte avtalet",
        "DEL": "leveransen stämmer inte",
        "PRI": "priserna är felaktiga",
        "QTY": "antalen är felaktiga",
        "ITM": "artikeln är felaktig",
        "PAY": "betalningsvillkoren är felaktiga",
        "UNR": "varan eller tjänsten är inte mottagen",
        "FIN": "finansieringsvillkoren är felaktiga",
        "PPD": "delvis betald",
        "OTH": "annan anledning",
    },
    "OPStatusAction": {
        "NOA": "ingen åtgärd krävs",
        "PIN": "lämna de uppgifter som saknas",
        "NIN": "skicka en ny faktura",
        "CNF": "skicka en kreditnota för hela beloppet",
        "CNP": "skicka en kreditnota för en del",
        "CNA": "skicka en kreditnota för det angivna beloppet",
        "OTH": "annan åtgärd",
    },
}
# Status reason codes of the Message Level Response.
MLR_REASON = {
    "BV": "affärsregel bruten (fel)",
    "BW": "affärsregel bruten (varning)",
    "SV": "syntaxfel",
    "FD": "fel i innehållet",
}


class ReceiptError(Exception):
    """The content is not a receipt this module can read (the message is Swedish)."""


@dataclass(frozen=True)
class Envelope:
    """The Standard Business Document Header around a receipt, as the access point wrote it."""

    sender: str | None  # the one Sender's Identifier (None when there is not exactly one)
    receiver: str | None  # the one Receiver's Identifier (None when there is not exactly one)
    standard: str  # DocumentIdentification/Standard
    type: str  # DocumentIdentification/Type
    # Swedish sentences saying why the envelope cannot be trusted; empty when nothing was found.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    kind: str  # "mlr" | "invoice_response"
    # delivered | rejected | in_process | accepted | paid | under_query | conditionally_accepted
    status: str
    code: str  # the response code as given, e.g. "RE"
    reason: str  # the reasons, clarifications and notes, joined with "; "
    refers_to_document: str | None  # IR: the invoice/credit note number; MLR: the message's id
    refers_to_instance: str | None  # MLR: the SBDH instance identifier of the message it answers
    issue_date: date | None
    # Who sent it, scheme:id: the envelope's Sender when wrapped (what the access point vouches
    # for), else the document's SenderParty.
    sender: str | None
    party_sender: str | None = None  # the document's SenderParty/EndpointID
    party_receiver: str | None = None  # the document's ReceiverParty/EndpointID
    envelope: Envelope | None = None  # the SBDH, when the document came wrapped in one


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _text(element: etree._Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _first(element: etree._Element, path: str) -> etree._Element | None:
    return element.find(path, NAMESPACES)


def _value(element: etree._Element, path: str) -> str:
    return _text(_first(element, path))


def _describe(root: etree._Element) -> str:
    qname = etree.QName(root)
    return f"{qname.localname} ({qname.namespace})" if qname.namespace else qname.localname


def _endpoint(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    value = _text(element)
    if not value:
        return None
    scheme = (element.get("schemeID") or "").strip()
    return f"{scheme}:{value}" if scheme else value


def _identifiers(header: etree._Element, role: str) -> list[tuple[str, str]]:
    """(value, Authority) of each Sender's or Receiver's Identifier in the header."""
    return [
        (_text(identifier), (identifier.get("Authority") or "").strip())
        for identifier in header.findall(f"sh:{role}/sh:Identifier", NAMESPACES)
    ]


def _envelope(root: etree._Element, schema: etree.XMLSchema | None) -> Envelope:
    """The SBDH of ``root`` and everything that stops it from vouching for its document."""
    problems: list[str] = []
    if schema is not None and not schema.validate(root):
        # libxml2's own words are English: only where the first error is, in Swedish.
        first = schema.error_log[0] if schema.error_log else None
        where = f" (rad {first.line})" if first is not None and first.line else ""
        problems.append(f"SBDH-kuvertet följer inte schemat för SBDH 1.3{where}.")
    header = _first(root, "sh:StandardBusinessDocumentHeader")
    if header is None:
        problems.append("SBDH-kuvertet saknar StandardBusinessDocumentHeader.")
        return Envelope(None, None, "", "", tuple(problems))
    parties: dict[str, str | None] = {}
    for role, name in (("Sender", "avsändare"), ("Receiver", "mottagare")):
        found = _identifiers(header, role)
        parties[role] = (found[0][0] or None) if len(found) == 1 else None
        if len(found) != 1:
            problems.append(f"SBDH-kuvertet har {len(found)} {name}, inte exakt en.")
        elif not found[0][0]:
            problems.append(f"SBDH-kuvertets {name} saknar id.")
        elif found[0][1] != PARTICIPANT_AUTHORITY:
            problems.append(
                f"SBDH-kuvertets {name} {found[0][0]} är inget Peppol-deltagar-id "
                f"(Authority {found[0][1] or 'saknas'}, ska vara {PARTICIPANT_AUTHORITY})."
            )
    standard = _value(header, "sh:DocumentIdentification/sh:Standard")
    type_ = _value(header, "sh:DocumentIdentification/sh:Type")
    if standard != UBL_APPLICATION_RESPONSE or type_ != "ApplicationResponse":
        problems.append(
            "SBDH-kuvertet säger att det innehåller något annat än ett ApplicationResponse "
            f"(Standard {standard or 'saknas'}, Type {type_ or 'saknas'})."
        )
    return Envelope(parties["Sender"], parties["Receiver"], standard, type_, tuple(problems))


def _payload(
    root: etree._Element, schema: etree.XMLSchema | None
) -> tuple[etree._Element, Envelope | None]:
    """The UBL document inside an SBDH (or the root itself), and the envelope."""
    if etree.QName(root).namespace != SBDH:
        return root, None
    if etree.QName(root).localname != "StandardBusinessDocument":
        raise ReceiptError(f"Filen är inget kvitto: den är ett SBDH-element {_describe(root)}.")
    documents = [
        child
        for child in root
        if isinstance(child.tag, str) and etree.QName(child).namespace != SBDH
    ]
    if not documents:
        raise ReceiptError("Filen är inget kvitto: SBDH-kuvertet innehåller inget dokument.")
    if len(documents) > 1:
        raise ReceiptError(
            f"Filen är inget kvitto: SBDH-kuvertet innehåller {len(documents)} dokument."
        )
    return documents[0], _envelope(root, schema)


def _issue_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _join(parts: list[str]) -> str:
    seen: list[str] = []
    for part in parts:
        text = " ".join(part.split())
        if text and text not in seen:
            seen.append(text)
    return "; ".join(seen)


def _status_reasons(response: etree._Element, *, mlr: bool) -> list[str]:
    parts = [_text(description) for description in response.findall("cbc:Description", NAMESPACES)]
    for status in response.findall("cac:Status", NAMESPACES):
        for code_element in status.findall("cbc:StatusReasonCode", NAMESPACES):
            code = _text(code_element)
            if not code:
                continue
            if mlr:
                meaning = MLR_REASON.get(code)
            else:
                meaning = CLARIFICATION.get(code_element.get("listID", ""), {}).get(code) or (
                    CLARIFICATION["OPStatusReason"].get(code)
                    or CLARIFICATION["OPStatusAction"].get(code)
                )
            parts.append(f"{code}: {meaning}" if meaning else code)
        parts.extend(_text(text) for text in status.findall("cbc:StatusReason", NAMESPACES))
        parts.extend(_text(text) for text in status.findall("cbc:Description", NAMESPACES))
        for condition in status.findall("cac:Condition", NAMESPACES):
            attribute = _value(condition, "cbc:AttributeID")
            descriptions = ", ".join(
                _text(d) for d in condition.findall("cbc:Description", NAMESPACES) if _text(d)
            )
            if attribute and descriptions:
                parts.append(f"{attribute}: {descriptions}")
            else:
                parts.append(attribute or descriptions)
    return parts


def parse_receipt(content: bytes, *, envelope_schema: etree.XMLSchema | None = None) -> Receipt:
    """A Message Level Response or Invoice Response, bare or in an SBDH; else ReceiptError.

    An SBDH is checked against ``envelope_schema`` (the SBDH 1.3 schema, when given) and read
    into ``Receipt.envelope`` with what is wrong with it; that is not an error here.
    """
    if not content or not content.strip():
        raise ReceiptError("Filen är inget kvitto: den är tom.")
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as error:
        # libxml2's message is English: only where the file breaks off, in Swedish.
        line, column = error.position
        raise ReceiptError(
            f"Filen är inget kvitto: den är inte välformad XML (rad {line}, kolumn {column})."
        ) from None
    if root is None:
        raise ReceiptError("Filen är inget kvitto: den innehåller inget XML-element.")
    if root.getroottree().docinfo.doctype:
        raise ReceiptError("Filen är inget kvitto: den innehåller en DTD, vilket kvitton inte får.")
    document, envelope = _payload(root, envelope_schema)
    qname = etree.QName(document)
    if qname.namespace != UBL_APPLICATION_RESPONSE or qname.localname != "ApplicationResponse":
        raise ReceiptError(
            f"Filen är inget kvitto (UBL ApplicationResponse) utan {_describe(document)}."
        )
    customization = _value(document, "cbc:CustomizationID")
    profile = _value(document, "cbc:ProfileID")
    if customization.startswith(MLR_CUSTOMIZATION) or profile == MLR_PROFILE:
        kind, statuses = "mlr", MLR_STATUS
    elif customization.startswith(IR_CUSTOMIZATION) or profile in IR_PROFILES:
        kind, statuses = "invoice_response", INVOICE_RESPONSE_STATUS
    else:
        raise ReceiptError(
            "Filen är ett ApplicationResponse men varken ett Peppol Message Level Response "
            "eller ett Invoice Response (CustomizationID "
            f"{customization or 'saknas'}, ProfileID {profile or 'saknas'})."
        )
    name = "Message Level Response" if kind == "mlr" else "Invoice Response"
    response = _first(document, "cac:DocumentResponse/cac:Response")
    code = _value(document, "cac:DocumentResponse/cac:Response/cbc:ResponseCode")
    if response is None or not code:
        raise ReceiptError(f"Filen är ett {name} utan svarskod (ResponseCode).")
    if code not in statuses:
        raise ReceiptError(
            f"Filen är ett {name} med okänd svarskod {code!r} (kända: {', '.join(statuses)})."
        )
    parts = [_text(note) for note in document.findall("cbc:Note", NAMESPACES)]
    parts.extend(_status_reasons(response, mlr=kind == "mlr"))
    for line in document.findall("cac:DocumentResponse/cac:LineResponse", NAMESPACES):
        line_id = _value(line, "cac:LineReference/cbc:LineID")
        for line_response in line.findall("cac:Response", NAMESPACES):
            texts = _status_reasons(line_response, mlr=kind == "mlr")
            location = f"rad {line_id}: " if line_id and line_id != "NA" else ""
            parts.extend(f"{location}{text}" for text in texts if text)
    reference = _value(document, "cac:DocumentResponse/cac:DocumentReference/cbc:ID") or None
    party_sender = _endpoint(_first(document, "cac:SenderParty/cbc:EndpointID"))
    return Receipt(
        kind=kind,
        status=statuses[code],
        code=code,
        reason=_join(parts),
        refers_to_document=reference,
        refers_to_instance=reference if kind == "mlr" else None,
        issue_date=_issue_date(_value(document, "cbc:IssueDate")),
        sender=envelope.sender if envelope is not None else party_sender,
        party_sender=party_sender,
        party_receiver=_endpoint(_first(document, "cac:ReceiverParty/cbc:EndpointID")),
        envelope=envelope,
    )


def _clean(value: str) -> str:
    """``value`` on one line, without the characters XML 1.0 cannot carry."""
    allowed = "".join(
        character
        for character in value
        if character in "\t\n\r"
        or ("\x20" <= character <= "\ud7ff")
        or ("\ue000" <= character <= "\ufffd")
        or character >= "\U00010000"
    )
    return " ".join(allowed.split())


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    scheme, separator, identifier = _clean(endpoint).partition(":")
    if not separator or not scheme.strip() or not identifier.strip():
        raise ValueError(f"Peppol-adressen {endpoint!r} ska ha formen schema:id, t.ex. 0007:…")
    return scheme.strip(), identifier.strip()


def _endpoint_xml(endpoint: str) -> str:
    scheme, identifier = _split_endpoint(endpoint)
    return f"<cbc:EndpointID schemeID={quoteattr(scheme)}>{escape(identifier)}</cbc:EndpointID>"


def _header(customization: str, profile: str, response_id: str, issue_date: date) -> str:
    if not _clean(response_id):
        raise ValueError("Kvittot behöver ett id (response_id).")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ApplicationResponse xmlns="{UBL_APPLICATION_RESPONSE}" '
        f'xmlns:cac="{CAC}" xmlns:cbc="{CBC}">\n'
        f"  <cbc:CustomizationID>{customization}</cbc:CustomizationID>\n"
        f"  <cbc:ProfileID>{profile}</cbc:ProfileID>\n"
        f"  <cbc:ID>{escape(_clean(response_id))}</cbc:ID>\n"
        f"  <cbc:IssueDate>{issue_date.isoformat()}</cbc:IssueDate>\n"
    )


def invoice_response(
    *,
    number: str,
    status_code: str,
    reason: str,
    sender: str,
    receiver: str,
    issue_date: date,
    response_id: str,
    sender_name: str | None = None,
    receiver_name: str | None = None,
    document_type_code: str = "380",
) -> bytes:
    """A Peppol BIS Invoice Response 3 (T111) from the buyer ``sender`` to the seller ``receiver``.

    ``status_code`` is one of AB, IP, UQ, CA, RE, AP, PD. A non-empty ``reason`` is given as the
    status reason; CA, UQ and RE carry the clarification code OTH (the rules require one).
    ``document_type_code`` is 380 for an invoice, 381 for a credit note.
    """
    if status_code not in INVOICE_RESPONSE_STATUS:
        raise ValueError(f"Okänd statuskod {status_code!r} för ett Invoice Response.")
    if not _clean(number):
        raise ValueError("Invoice Response behöver fakturans nummer.")
    reason = _clean(reason)
    status = ""
    if status_code in ("CA", "UQ", "RE"):
        status = (
            '        <cbc:StatusReasonCode listID="OPStatusReason">OTH</cbc:StatusReasonCode>\n'
            "        <cbc:StatusReason>"
            f"{escape(reason or 'Ingen orsak angiven')}</cbc:StatusReason>\n"
        )
    elif reason:
        status = f"        <cbc:StatusReason>{escape(reason)}</cbc:StatusReason>\n"
    if status:
        status = f"      <cac:Status>\n{status}      </cac:Status>\n"

    def party(element: str, endpoint: str, name: str | None) -> str:
        registration = _clean(name or "") or _split_endpoint(endpoint)[1]
        return (
            f"  <cac:{element}>\n"
            f"    {_endpoint_xml(endpoint)}\n"
            "    <cac:PartyLegalEntity>\n"
            f"      <cbc:RegistrationName>{escape(registration)}</cbc:RegistrationName>\n"
            "    </cac:PartyLegalEntity>\n"
            f"  </cac:{element}>\n"
        )

    text = (
        _header(IR_CUSTOMIZATION, IR_PROFILE, response_id, issue_date)
        + party("SenderParty", sender, sender_name)
        + party("ReceiverParty", receiver, receiver_name)
        + "  <cac:DocumentResponse>\n"
        "    <cac:Response>\n"
        f"      <cbc:ResponseCode>{status_code}</cbc:ResponseCode>\n"
        f"{status}"
        "    </cac:Response>\n"
        "    <cac:DocumentReference>\n"
        f"      <cbc:ID>{escape(_clean(number))}</cbc:ID>\n"
        f"      <cbc:DocumentTypeCode>{escape(_clean(document_type_code))}</cbc:DocumentTypeCode>\n"
        "    </cac:DocumentReference>\n"
        "  </cac:DocumentResponse>\n"
        "</ApplicationResponse>\n"
    )
    return text.encode("utf-8")


def message_level_response(
    *,
    instance_id: str,
    code: str,
    reason: str,
    sender: str,
    receiver: str,
    issue_date: date,
    response_id: str,
) -> bytes:
    """A Peppol Message Level Response (T71) answering the message ``instance_id``.

    ``code`` is AB, AP or RE. A rejection carries ``reason`` as the description and as one line
    response with status reason BV (business rule violation, fatal).
    """
    if code not in MLR_STATUS:
        raise ValueError(f"Okänd svarskod {code!r} för ett Message Level Response.")
    if not _clean(instance_id):
        raise ValueError("Message Level Response behöver meddelandets instansidentitet.")
    reason = _clean(reason)
    description = f"      <cbc:Description>{escape(reason)}</cbc:Description>\n" if reason else ""
    line = ""
    if code == "RE":
        line = (
            "    <cac:LineResponse>\n"
            "      <cac:LineReference>\n"
            "        <cbc:LineID>NA</cbc:LineID>\n"
            "      </cac:LineReference>\n"
            "      <cac:Response>\n"
            "        <cbc:ResponseCode>RE</cbc:ResponseCode>\n"
            f"        <cbc:Description>{escape(reason or 'Avvisat')}</cbc:Description>\n"
            "        <cac:Status>\n"
            "          <cbc:StatusReasonCode>BV</cbc:StatusReasonCode>\n"
            "        </cac:Status>\n"
            "      </cac:Response>\n"
            "    </cac:LineResponse>\n"
        )
    text = (
        _header(MLR_CUSTOMIZATION, MLR_PROFILE, response_id, issue_date)
        + f"  <cac:SenderParty>\n    {_endpoint_xml(sender)}\n  </cac:SenderParty>\n"
        + f"  <cac:ReceiverParty>\n    {_endpoint_xml(receiver)}\n  </cac:ReceiverParty>\n"
        + "  <cac:DocumentResponse>\n"
        "    <cac:Response>\n"
        f"      <cbc:ResponseCode>{code}</cbc:ResponseCode>\n"
        f"{description}"
        "    </cac:Response>\n"
        "    <cac:DocumentReference>\n"
        f"      <cbc:ID>{escape(_clean(instance_id))}</cbc:ID>\n"
        "    </cac:DocumentReference>\n"
        f"{line}"
        "  </cac:DocumentResponse>\n"
        "</ApplicationResponse>\n"
    )
    return text.encode("utf-8")
