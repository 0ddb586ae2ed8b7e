"""The official artifacts of the standards Kortfaktura implements, shipped inside the package so
that an installation needs nothing beside it.

- ``PEPPOL``: the OpenPeppol validation rules (EN 16931, Peppol BIS Billing 3.0 with the Swedish
  SE-R rules, Invoice Response T111, Message Level Response T71) as compiled Schematron, the UBL
  2.1 and SBDH 1.3 schemas and the official examples; the default of
  ``KORTFAKTURA_PEPPOL_RULES_DIR``, laid out as that setting expects.
- ``CAMT_054_XSD``: the ISO 20022 camt.054.001.02 schema (incoming-payment notifications).

``SOURCE.md`` names each file's release, origin and SHA-256 (a test compares them) and
``LICENSES/`` holds the licence texts; ``scripts/update-peppol-rules.sh`` replaces the Peppol files
with a newer release. This module imports nothing of Kortfaktura or Django, so any layer may use it.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
PEPPOL = HERE / "peppol"
CAMT_054_XSD = HERE / "iso20022" / "camt.054.001.02.xsd"
SOURCE = HERE / "SOURCE.md"
