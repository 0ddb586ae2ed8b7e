"""Validation of UBL documents with the official OpenPEPPOL BIS Billing 3.0 rules.

A document is valid when the UBL 2.1 schema accepts it and neither the EN 16931 (CEN) rules nor
the Peppol rules (including the Swedish SE-R rules) report a finding flagged ``fatal``. The rules
are compiled Schematron (XSLT 2.0), run with Saxon (``saxonche``); the schema with lxml.

The rules are read from ``settings.PEPPOL_RULES_DIR`` (default: the copy shipped in the package,
``kortfaktura/standards/peppol``; ``KORTFAKTURA_PEPPOL_RULES_DIR`` points at another). Where they
are absent, ``get_validator`` says so once and returns None: nothing pretends to have validated.

Rules that are there but cannot judge (a stylesheet Saxon cannot compile, or one that has been
replaced by something that finds nothing) raise ``RulesUnusable`` with a Swedish message: before
a validator is used, each rule set must pass the official example and reject a known-bad variant
of it (a wrong amount due for the EN 16931 rules, a wrong specification identifier for the Peppol
rules, an unknown element for the schema). That costs a few milliseconds once per process.
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


class RulesUnusable(Exception):
    """The rules are there but cannot be used to judge a document (Swedish message)."""


# The known-bad variants of the official example: (what to change, the rule set that must find
# a fatal error in it). Each breaks one rule that the release has carried for years.
UBL_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
UBL_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
EXAMPLE = "examples/base-example.xml"


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
        try:
            self._stylesheets = [
                (name, compiler.compile_stylesheet(stylesheet_file=str(rules_dir / name)))
                for name in STYLESHEETS
            ]
            self._schemas = {
                root: etree.XMLSchema(etree.parse(str(rules_dir / path)))
                for root, path in SCHEMAS.items()
            }
        except Exception as error:  # Saxon's or libxml2's own (English) words go to the log
            logger.warning("the rules in %s cannot be loaded: %s", rules_dir, error)
            raise RulesUnusable(
                f"Peppol-reglerna i {rules_dir} går inte att läsa in (en regelfil eller ett "
                "schema är skadat eller ofullständigt) – ta bort KORTFAKTURA_PEPPOL_RULES_DIR för "
                "att använda reglerna som följer med programmet, eller ersätt dem med en hel "
                "utgåva (scripts/update-peppol-rules.sh)"
            ) from None
        self._self_test()

    def _self_test(self) -> None:
        """Each rule set passes the official example and rejects its known-bad variant."""
        from kortfaktura.standards import PEPPOL

        example = etree.parse(str(PEPPOL / EXAMPLE)).getroot()
        if self.fatal(self.validate(etree.tostring(example, encoding="UTF-8"))):
            raise RulesUnusable(
                f"Peppol-reglerna i {self.rules_dir} underkänner OpenPeppols eget exempel – "
                "reglerna är trasiga, ofullständiga eller av fel utgåva; ersätt dem med en hel "
                "utgåva (scripts/update-peppol-rules.sh)"
            )
        for what, rule_set, bad in _known_bad(example):
            if rule_set == "XSD":
                schema = self._schemas["Invoice"]
                found = not schema.validate(bad)
            else:
                node = self._processor.parse_xml(xml_text=etree.tostring(bad, encoding="unicode"))
                sheet = dict(self._stylesheets)[rule_set]
                found = any(
                    finding.flag == "fatal"
                    for finding in _findings(sheet.transform_to_string(xdm_node=node))
                )
            if not found:
                raise RulesUnusable(
                    f"Peppol-reglerna i {self.rules_dir} hittar inget fel i ett dokument med "
                    f"{what} ({rule_set}) – de kontrollerar alltså ingenting och kan inte "
                    "användas; ersätt dem med en hel utgåva (scripts/update-peppol-rules.sh)"
                )

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


def _known_bad(example: "etree._Element") -> list[tuple[str, str, "etree._Element"]]:
    """(what is wrong, the rule set that must say so, the document) for the self-test."""
    namespaces = {"cbc": UBL_CBC, "cac": UBL_CAC}

    def changed(path: str, text: str) -> "etree._Element":
        copy = etree.fromstring(etree.tostring(example))
        element = copy.find(path, namespaces)
        assert element is not None, path
        element.text = text
        return copy

    payable = example.find("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces)
    assert payable is not None and payable.text is not None
    wrong_amount = f"{float(payable.text) + 1000:.2f}"
    unknown = etree.fromstring(etree.tostring(example))
    unknown.insert(0, etree.Element(f"{{{UBL_CBC}}}NoSuchElement"))
    return [
        (
            "fel belopp att betala",
            STYLESHEETS[0],
            changed("cac:LegalMonetaryTotal/cbc:PayableAmount", wrong_amount),
        ),
        (
            "fel specifikations-id",
            STYLESHEETS[1],
            changed("cbc:CustomizationID", "urn:cen.eu:en16931:2017"),
        ),
        ("ett okänt element", "XSD", unknown),
    ]


def rules_directory() -> Path:
    return Path(settings.PEPPOL_RULES_DIR)


def get_validator() -> PeppolValidator | None:
    """The validator for this process (compiling the rules takes a few seconds), or None when
    the rules are absent; ``RulesUnusable`` when they are there but cannot judge."""
    loaded = load_validator()
    if isinstance(loaded, RulesUnusable):
        raise loaded
    return loaded


@cache
def load_validator() -> PeppolValidator | RulesUnusable | None:
    """Loaded once per process; a failure is kept too, so it is not compiled again each time."""
    directory = rules_directory()
    if not all((directory / name).is_file() for name in (*STYLESHEETS, *SCHEMAS.values())):
        logger.warning(
            "Peppol-reglerna finns inte i %s: dokumenten valideras inte. "
            "Ange KORTFAKTURA_PEPPOL_RULES_DIR.",
            directory,
        )
        return None
    try:
        return PeppolValidator(directory)
    except RulesUnusable as error:
        return error
