"""The Standard Business Document (SBDH 1.3) around a UBL document, as the Peppol Envelope
Specification asks of a document handed to an access point (BIS Billing 3.0).

``wrap_response`` wraps a receipt (an ApplicationResponse) the same way, as the buyer's access
point delivers it (the demo's simulated access point); ``schema`` loads the SBDH 1.3 schema from
the official artefacts, against which the inbox checks the envelope of every receipt."""

import datetime as dt
from pathlib import Path
from typing import Literal

from lxml import etree

SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
AUTHORITY = "iso6523-actorid-upis"
UBL_NS = {
    "invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "credit_note": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
ROOT = {"invoice": "Invoice", "credit_note": "CreditNote"}
CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


def document_identifier(document: Literal["invoice", "credit_note"]) -> str:
    return f"{UBL_NS[document]}::{ROOT[document]}##{CUSTOMIZATION}::2.1"


def wrap(
    ubl: bytes,
    *,
    sender: str,
    receiver: str,
    document: Literal["invoice", "credit_note"],
    instance_id: str,
    created: dt.datetime,
) -> bytes:
    payload = etree.fromstring(ubl)
    expected = f"{{{UBL_NS[document]}}}{ROOT[document]}"
    if payload.tag != expected:
        raise ValueError(f"dokumentet är inte {ROOT[document]} ({payload.tag})")
    if created.tzinfo is None:
        raise ValueError("CreationDateAndTime behöver en tidszon")

    def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{SBDH_NS}}}{tag}")
        if text is not None:
            element.text = text
        return element

    root = etree.Element(f"{{{SBDH_NS}}}StandardBusinessDocument", nsmap={None: SBDH_NS})
    header = sub(root, "StandardBusinessDocumentHeader")
    sub(header, "HeaderVersion", "1.0")
    for role, value in (("Sender", sender), ("Receiver", receiver)):
        party = sub(header, role)
        identifier = sub(party, "Identifier", value)
        identifier.set("Authority", AUTHORITY)
    identification = sub(header, "DocumentIdentification")
    sub(identification, "Standard", UBL_NS[document])
    sub(identification, "TypeVersion", "2.1")
    sub(identification, "InstanceIdentifier", instance_id)
    sub(identification, "Type", ROOT[document])
    sub(identification, "CreationDateAndTime", created.isoformat(timespec="seconds"))
    scope = sub(header, "BusinessScope")
    for kind, value, scheme in (
        ("DOCUMENTID", document_identifier(document), "busdox-docid-qns"),
        ("PROCESSID", PROCESS, "cenbii-procid-ubl"),
        ("COUNTRY_C1", "SE", None),
    ):
        element = sub(scope, "Scope")
        sub(element, "Type", kind)
        sub(element, "InstanceIdentifier", value)
        if scheme:
            sub(element, "Identifier", scheme)
    root.append(payload)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def unwrap(envelope: bytes) -> bytes:
    """The payload of a Standard Business Document (or the document itself when bare)."""
    root = etree.fromstring(envelope)
    if root.tag != f"{{{SBDH_NS}}}StandardBusinessDocument":
        return envelope
    payload = [child for child in root if not str(child.tag).startswith(f"{{{SBDH_NS}}}")]
    if len(payload) != 1:
        raise ValueError("kuvertet innehåller inte exakt ett dokument")
    return bytes(etree.tostring(payload[0], xml_declaration=True, encoding="UTF-8"))


RESPONSE_NS = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
RESPONSE_SCOPE = {
    "invoice_response": (
        "urn:fdc:peppol.eu:poacc:trns:invoice_response:3",
        "urn:fdc:peppol.eu:poacc:bis:invoice_response:3",
    ),
    "mlr": ("urn:fdc:peppol.eu:poacc:trns:mlr:3", "urn:fdc:peppol.eu:poacc:bis:mlr:3"),
}


def wrap_response(
    ubl: bytes,
    *,
    sender: str,
    receiver: str,
    kind: Literal["invoice_response", "mlr"],
    instance_id: str,
    created: dt.datetime,
) -> bytes:
    """An Invoice Response or Message Level Response in an SBDH from ``sender`` to ``receiver``
    (Peppol participant ids, ``scheme:id``)."""
    payload = etree.fromstring(ubl)
    if payload.tag != f"{{{RESPONSE_NS}}}ApplicationResponse":
        raise ValueError(f"dokumentet är inte ApplicationResponse ({payload.tag})")
    if created.tzinfo is None:
        raise ValueError("CreationDateAndTime behöver en tidszon")
    customization, process = RESPONSE_SCOPE[kind]

    def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{SBDH_NS}}}{tag}")
        if text is not None:
            element.text = text
        return element

    root = etree.Element(f"{{{SBDH_NS}}}StandardBusinessDocument", nsmap={None: SBDH_NS})
    header = sub(root, "StandardBusinessDocumentHeader")
    sub(header, "HeaderVersion", "1.0")
    for role, value in (("Sender", sender), ("Receiver", receiver)):
        sub(sub(header, role), "Identifier", value).set("Authority", AUTHORITY)
    identification = sub(header, "DocumentIdentification")
    sub(identification, "Standard", RESPONSE_NS)
    sub(identification, "TypeVersion", "2.1")
    sub(identification, "InstanceIdentifier", instance_id)
    sub(identification, "Type", "ApplicationResponse")
    sub(identification, "CreationDateAndTime", created.isoformat(timespec="seconds"))
    scope = sub(header, "BusinessScope")
    for scope_type, value, scheme in (
        (
            "DOCUMENTID",
            f"{RESPONSE_NS}::ApplicationResponse##{customization}::2.1",
            "busdox-docid-qns",
        ),
        ("PROCESSID", process, "cenbii-procid-ubl"),
        ("COUNTRY_C1", "SE", None),
    ):
        element = sub(scope, "Scope")
        sub(element, "Type", scope_type)
        sub(element, "InstanceIdentifier", value)
        if scheme:
            sub(element, "Identifier", scheme)
    root.append(payload)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def schema(rules_dir: Path) -> etree.XMLSchema | None:
    """The SBDH 1.3 schema in the official artefacts (``sbdh/xsd``), or None without it.

    Loaded anew by each caller (a few small files): an ``XMLSchema`` keeps its error log in
    itself, so one object must not be shared between threads."""
    path = Path(rules_dir) / "sbdh" / "xsd" / "StandardBusinessDocumentHeader.xsd"
    try:
        return etree.XMLSchema(etree.parse(str(path)))
    except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError):
        return None
