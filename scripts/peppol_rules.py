"""Helper of scripts/update-peppol-rules.sh: checks a Peppol release, writes SOURCE.md's checksums.

    python scripts/peppol_rules.py verify DIR      # DIR laid out as kortfaktura/standards/peppol
    python scripts/peppol_rules.py checksums ROOT  # ROOT = src/kortfaktura/standards

``verify`` compiles the rules of DIR and runs every official example through them: each example
invoice and credit note must pass the UBL 2.1 schema and both rule sets (CEN, then Peppol) without
a fatal finding, and each Invoice Response example the ApplicationResponse schema and the T111
rules; the T71 (MLR) rules and the SBDH schema must at least load. Then the program's own
self-test: each rule set must also reject a known-bad variant of the example (rules that find
nothing would let every document through). Exit 0 when all passes, 1 with every failure listed
otherwise. It needs the project's dependencies (lxml, saxonche) and the installed package.
"""

import hashlib
import re
import sys
from pathlib import Path

SVRL = "http://purl.oclc.org/dsdl/svrl"
REQUIRED = (
    "rules/CEN-EN16931-UBL.xslt",
    "rules/PEPPOL-EN16931-UBL.xslt",
    "xsd/maindoc/UBL-Invoice-2.1.xsd",
    "xsd/maindoc/UBL-CreditNote-2.1.xsd",
    "xsd/maindoc/UBL-ApplicationResponse-2.1.xsd",
    "sbdh/xsd/StandardBusinessDocumentHeader.xsd",
    "invoice-response/rules/PEPPOLBIS-T111.xslt",
    "mlr/rules/PEPPOLBIS-T71.xslt",
)
START, END = "<!-- checksums -->", "<!-- /checksums -->"
NOT_VENDORED = {"SOURCE.md", "__init__.py"}


def _fatal(svrl: str) -> list[str]:
    from lxml import etree

    report = etree.fromstring(svrl.encode("utf-8"))
    return [
        f"{failed.get('id', '?')}: {' '.join(''.join(failed.itertext()).split())[:200]}"
        for failed in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report")
        if failed.get("flag", "fatal") == "fatal"
    ]


def verify(directory: Path) -> list[str]:
    from lxml import etree
    from saxonche import PySaxonProcessor

    missing = [name for name in REQUIRED if not (directory / name).is_file()]
    if missing:
        return [f"saknas i {directory}: {name}" for name in missing]
    problems: list[str] = []
    processor = PySaxonProcessor(license=False)
    compiler = processor.new_xslt30_processor()

    def stylesheet(name: str):  # type: ignore[no-untyped-def]
        return compiler.compile_stylesheet(stylesheet_file=str(directory / name))

    def schema(name: str) -> etree.XMLSchema:
        return etree.XMLSchema(etree.parse(str(directory / name)))

    billing = [
        stylesheet("rules/CEN-EN16931-UBL.xslt"),
        stylesheet("rules/PEPPOL-EN16931-UBL.xslt"),
    ]
    response_rules = stylesheet("invoice-response/rules/PEPPOLBIS-T111.xslt")
    stylesheet("mlr/rules/PEPPOLBIS-T71.xslt")
    schema("sbdh/xsd/StandardBusinessDocumentHeader.xsd")
    schemas = {
        "Invoice": schema("xsd/maindoc/UBL-Invoice-2.1.xsd"),
        "CreditNote": schema("xsd/maindoc/UBL-CreditNote-2.1.xsd"),
        "ApplicationResponse": schema("xsd/maindoc/UBL-ApplicationResponse-2.1.xsd"),
    }
    cases = [(path, billing) for path in sorted((directory / "examples").glob("*.xml"))]
    cases += [
        (path, [response_rules])
        for path in sorted((directory / "invoice-response" / "examples").glob("*.xml"))
    ]
    if not any(rules is billing for _, rules in cases):
        problems.append(f"inga officiella exempel i {directory / 'examples'}")
    for path, rules in cases:
        where = path.relative_to(directory)
        tree = etree.parse(str(path))
        root = etree.QName(tree.getroot()).localname
        if root not in schemas:
            problems.append(f"{where}: okänt dokument {root}")
            continue
        if not schemas[root].validate(tree):
            problems += [f"{where}: XSD rad {e.line}: {e.message}" for e in schemas[root].error_log]
        node = processor.parse_xml(xml_text=path.read_text(encoding="utf-8"))
        found = [f"{where}: {problem}" for problem in problems if problem.startswith(f"{where}:")]
        for sheet in rules:
            findings = _fatal(sheet.transform_to_string(xdm_node=node))
            found += [f"{where}: {finding}" for finding in findings]
            problems += [f"{where}: {finding}" for finding in findings]
        print(f"  {where}: {'fel' if found else 'godkänt'}")
    return problems + _self_test(directory)


def _self_test(directory: Path) -> list[str]:
    """What Kortfaktura checks whenever it loads rules: they reject known-bad documents."""
    from kortfaktura.documents.validation import PeppolValidator, RulesUnusable

    try:
        PeppolValidator(directory)
    except RulesUnusable as error:
        return [str(error)]
    print("  självtest: reglerna underkänner felaktiga varianter av exemplet")
    return []


def checksum_table(root: Path) -> str:
    rows = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in NOT_VENDORED and "__pycache__" not in relative:
            rows.append(f"| `{relative}` | {hashlib.sha256(path.read_bytes()).hexdigest()} |")
    return "\n".join(["| file | SHA-256 |", "|---|---|", *rows])


def write_checksums(root: Path) -> None:
    source = root / "SOURCE.md"
    text = source.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{source} saknar markeringarna {START} … {END}")
    replacement = f"{START}\n{checksum_table(root)}\n{END}"
    source.write_text(pattern.sub(lambda _: replacement, text), encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("verify", "checksums"):
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(argv[1])
    if argv[0] == "checksums":
        write_checksums(target)
        return 0
    problems = verify(target)
    for problem in problems:
        print(f"FEL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
