"""The official artifacts shipped inside the package (src/kortfaktura/standards, issue 18):
SOURCE.md names every file with its SHA-256, each has its licence, the program validates with
them by default, and scripts/update-peppol-rules.sh replaces them only with a release that passes
the official examples."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from lxml import etree

from kortfaktura import standards
from kortfaktura.documents import validation

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([^`]+)` \| ([0-9a-f]{64}) \|$", re.MULTILINE)
NOT_VENDORED = {"SOURCE.md", "__init__.py"}


def listed(source: Path) -> dict[str, str]:
    return dict(ROW.findall(source.read_text(encoding="utf-8")))


def files_in(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in directory.rglob("*")
        if path.is_file()
        and path.relative_to(directory).as_posix() not in NOT_VENDORED
        and "__pycache__" not in path.parts
    }


def test_every_shipped_file_has_the_checksum_that_source_md_names() -> None:
    expected = listed(standards.SOURCE)
    actual = files_in(standards.HERE)
    assert len(expected) >= 40
    assert sorted(actual) == sorted(expected), "SOURCE.md and the files name different files"
    changed = [name for name in expected if actual[name] != expected[name]]
    assert not changed, f"changed since SOURCE.md was written: {changed}"


def test_each_artifact_group_names_its_licence_and_the_licence_texts_are_there() -> None:
    text = standards.SOURCE.read_text(encoding="utf-8")
    named = set(re.findall(r"`LICENSES/([^`]+)`", text))
    assert named >= {
        "EUPL-1.2.txt", "Apache-2.0.txt", "OpenPeppol.txt", "OASIS-UBL-2.1.txt",
        "SBDH-1.3.txt", "ISO-20022.txt", "CEN-EN16931.txt",
    }  # fmt: skip
    for name in named:
        assert (standards.HERE / "LICENSES" / name).stat().st_size > 300, name
    assert "EUROPEAN UNION PUBLIC LICENCE v. 1.2" in (
        standards.HERE / "LICENSES" / "EUPL-1.2.txt"
    ).read_text(encoding="utf-8")


def test_the_program_validates_with_the_shipped_rules_by_default() -> None:
    if os.environ.get("KORTFAKTURA_PEPPOL_RULES_DIR"):
        pytest.skip("KORTFAKTURA_PEPPOL_RULES_DIR points at another copy")
    assert Path(settings.PEPPOL_RULES_DIR) == standards.PEPPOL
    assert str(standards.PEPPOL).startswith(str(Path(validation.__file__).parents[1]))
    validator = validation.get_validator()
    assert validator is not None
    example = (standards.PEPPOL / "examples" / "base-example.xml").read_bytes()
    assert validator.fatal(validator.validate(example)) == []


def test_the_camt_054_schema_is_shipped_and_loads() -> None:
    schema = etree.XMLSchema(etree.parse(str(standards.CAMT_054_XSD)))
    document = etree.fromstring(
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>'
        b"<GrpHdr><MsgId>1</MsgId><CreDtTm>2026-11-02T10:00:00</CreDtTm></GrpHdr>"
        b"</BkToCstmrDbtCdtNtfctn></Document>"
    )
    # A notification without any Ntfctn is invalid: the schema really is the camt.054 one.
    assert not schema.validate(document)
    assert "Ntfctn" in str(schema.error_log)


# --- scripts/update-peppol-rules.sh ----------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The update script and the shipped artifacts in a tree of their own: the test's changes
    never reach the working tree."""
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    for name in ("update-peppol-rules.sh", "peppol_rules.py", "ensure-venv.sh"):
        shutil.copy2(ROOT / "scripts" / name, tree / "scripts" / name)
    shutil.copytree(
        standards.HERE,
        tree / "src" / "kortfaktura" / "standards",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tree


def release_from(tmp_path: Path, examples: list[str]) -> Path:
    """A "new release": the current rules and only the given official examples."""
    release = tmp_path / "release"
    shutil.copytree(standards.PEPPOL / "rules", release / "rules")
    (release / "examples").mkdir()
    for name in examples:
        shutil.copy2(standards.PEPPOL / "examples" / name, release / "examples" / name)
    return release


def update(tree: Path, release: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts" / "update-peppol-rules.sh"), str(release)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=300,
    )


@pytest.mark.slow
def test_a_new_release_replaces_the_folders_it_has_and_source_md_follows(
    checkout: Path, tmp_path: Path
) -> None:
    release = release_from(tmp_path, ["base-example.xml", "base-creditnote-correction.xml"])
    (release / "examples" / "new-example.xml").write_bytes(
        (standards.PEPPOL / "examples" / "vat-category-Z.xml").read_bytes()
    )
    result = update(checkout, release)
    assert result.returncode == 0, result.stderr
    shipped = checkout / "src" / "kortfaktura" / "standards"
    assert sorted(path.name for path in (shipped / "peppol" / "examples").iterdir()) == [
        "base-creditnote-correction.xml", "base-example.xml", "new-example.xml",
    ]  # fmt: skip
    # The folders the release lacks stay as they were.
    assert files_in(shipped / "peppol" / "xsd") == files_in(standards.PEPPOL / "xsd")
    assert (shipped / "peppol" / "invoice-response" / "rules" / "PEPPOLBIS-T111.xslt").is_file()
    assert listed(shipped / "SOURCE.md") == files_in(shipped)
    assert "godkänt" in result.stdout


@pytest.mark.slow
def test_a_release_whose_examples_fail_the_rules_changes_nothing(
    checkout: Path, tmp_path: Path
) -> None:
    release = release_from(tmp_path, ["base-example.xml"])
    broken = re.sub(
        rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>",
        b"",
        (release / "examples" / "base-example.xml").read_bytes(),
    )
    (release / "examples" / "base-example.xml").write_bytes(broken)
    shipped = checkout / "src" / "kortfaktura" / "standards"
    before = files_in(shipped), (shipped / "SOURCE.md").read_bytes()
    result = update(checkout, release)
    assert result.returncode == 1
    assert "PEPPOL-EN16931-R003" in result.stderr
    assert "ingenting har ändrats" in result.stderr
    assert "Traceback" not in result.stderr
    assert (files_in(shipped), (shipped / "SOURCE.md").read_bytes()) == before


@pytest.mark.slow
def test_a_release_whose_rules_find_nothing_changes_nothing(checkout: Path, tmp_path: Path) -> None:
    """A do-nothing stylesheet passes every good example; it must still be refused."""
    release = release_from(tmp_path, ["base-example.xml"])
    (release / "rules" / "CEN-EN16931-UBL.xslt").write_text(
        '<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" '
        'xmlns:svrl="http://purl.oclc.org/dsdl/svrl">'
        '<xsl:template match="/"><svrl:schematron-output/></xsl:template></xsl:stylesheet>',
        encoding="utf-8",
    )
    shipped = checkout / "src" / "kortfaktura" / "standards"
    before = files_in(shipped), (shipped / "SOURCE.md").read_bytes()
    result = update(checkout, release)
    assert result.returncode == 1, result.stdout
    assert "hittar inget fel" in " ".join(result.stderr.split())
    assert "ingenting har ändrats" in result.stderr and "Traceback" not in result.stderr
    assert (files_in(shipped), (shipped / "SOURCE.md").read_bytes()) == before


def test_the_update_script_refuses_a_folder_without_rules(checkout: Path, tmp_path: Path) -> None:
    result = update(checkout, tmp_path)
    assert result.returncode == 1
    assert "saknar rules/CEN-EN16931-UBL.xslt" in result.stderr
