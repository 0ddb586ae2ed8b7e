"""Validation of UBL documents with the official OpenPEPPOL BIS Billing 3.0 rules.

A document is valid when the UBL 2.1 schema accepts it and neither the EN 16931 (CEN) rules nor
the Peppol rules (including the Swedish SE-R rules) report a finding flagged ``fatal``. The rules
are compiled Schematron (XSLT 2.0), run with Saxon (``saxonche``); the schema with lxml.

The rules are read from ``settings.PEPPOL_RULES_DIR`` (default: the copy shipped in the package,
``kortfaktura/standards/peppol``; ``KORTFAKTURA_PEPPOL_RULES_DIR`` points at another). Where they
are absent, ``get_validator`` says so once and returns None: nothing pretends to have validated.
"""

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from lxml import etree

logger = logging.getLogger(__name__)

SVRL = "http://purl.oclc.org/dsdl/svrl"
STYLESHEETS = ("rules/CEN-EN16931-UBL.xslt", "rules/PEPPOL-EN16931-UBL.xslt")
SCHEMAS = {
    "Invoice": "xsd/maindoc/UBL-Invoice-2.1.xsd",
    "CreditNote": "xsd/maindoc/UBL-CreditNote-2.1.xsd",
}


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. BR-CO-15, PEPPOL-EN16931-R010, SE-R-005, or XSD
    flag: str  # fatal | warning
    text: str
    location: str = ""

    def __str__(self) -> str:
        return f"[{self.rule}, {self.flag}] {self.text}" + (
            f" ({self.location})" if self.location else ""
        )


class PeppolValidator:
    def __init__(self, rules_dir: Path) -> None:
        from saxonche import PySaxonProcessor

        self.rules_dir = rules_dir
        self._processor = PySaxonProcessor(license=False)
        compiler = self._processor.new_xslt30_processor()
        self._stylesheets = [
            (name, compiler.compile_stylesheet(stylesheet_file=str(rules_dir / name)))
            for name in STYLESHEETS
        ]
        self._schemas = {
            root: etree.XMLSchema(etree.parse(str(rules_dir / path)))
            for root, path in SCHEMAS.items()
        }

    def validate(self, xml: bytes) -> list[Finding]:
        """Every finding of the schema and both rule sets (CEN first, then Peppol)."""
        try:
            tree = etree.fromstring(xml)
        except etree.XMLSyntaxError as error:
            logger.debug("not well-formed: %s", error)
            line, column = error.position
            return [Finding("XML", "fatal", f"inte välformad XML (rad {line}, kolumn {column})")]
        findings: list[Finding] = []
        schema = self._schemas.get(etree.QName(tree).localname)
        if schema is None:
            return [Finding("XSD", "fatal", f"okänt dokument {etree.QName(tree).localname}")]
        if not schema.validate(tree):
            findings.extend(
                Finding("XSD", "fatal", _schema_text(error), f"rad {error.line}")
                for error in schema.error_log
            )
        node = self._processor.parse_xml(xml_text=xml.decode("utf-8"))
        for _, stylesheet in self._stylesheets:
            report = stylesheet.transform_to_string(xdm_node=node)
            findings.extend(_findings(report))
        return findings

    @staticmethod
    def fatal(findings: list[Finding]) -> list[Finding]:
        return [finding for finding in findings if finding.flag == "fatal"]


# libxml2's schema messages are English ("Element '{…}X': This element is not expected. …");
# the finding says the same in Swedish by the kind of error, with the element's path.
_SCHEMA_KINDS = (
    (("ELEMENT_CONTENT", "COMPLEX_TYPE_2", "ELT_"), "elementet står på fel plats, eller ett "
     "element som krävs saknas"),
    (("DATATYPE", "PATTERN", "LENGTH", "ENUMERATION", "FACET", "TOTALDIGITS", "FRACTIONDIGITS",
      "MININCLUSIVE", "MAXINCLUSIVE", "VALUE"), "värdet har inte den form som schemat kräver"),
    (("ATTRIBUTE", "COMPLEX_TYPE_3", "COMPLEX_TYPE_4"), "ett attribut saknas eller är inte "
     "tillåtet"),
)  # fmt: skip


def _schema_text(error: "etree._LogEntry") -> str:
    logger.debug("schema: %s", error.message)
    kind = error.type_name or ""
    reason = next(
        (text for needles, text in _SCHEMA_KINDS if any(n in kind for n in needles)),
        "följer inte schemat",
    )
    return f"UBL 2.1-schemat godtar inte {error.path or 'dokumentet'}: {reason}"


def _findings(svrl: str) -> list[Finding]:
    report = etree.fromstring(svrl.encode("utf-8"))
    found = []
    for failed in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = " ".join("".join(failed.itertext()).split())
        found.append(
            Finding(
                failed.get("id", ""), failed.get("flag", "fatal"), text, failed.get("location", "")
            )
        )
    return found


def rules_directory() -> Path:
    return Path(settings.PEPPOL_RULES_DIR)


@cache
def get_validator() -> PeppolValidator | None:
    """The validator for this process (compiling the rules takes a few seconds), or None."""
    directory = rules_directory()
    if not all((directory / name).is_file() for name in (*STYLESHEETS, *SCHEMAS.values())):
        logger.warning(
            "Peppol-reglerna finns inte i %s: dokumenten valideras inte. "
            "Ange KORTFAKTURA_PEPPOL_RULES_DIR.",
            directory,
        )
        return None
    return PeppolValidator(directory)
