"""Kortfaktura – fakturering av beställda eTjänstekort per beställningsmånad."""

__version__ = "0.1.0"
