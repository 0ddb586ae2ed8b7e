"""The Peppol document of each issued invoice and credit note, as it was issued (R13).

The UBL is kept as it was rendered and validated when the number became final, compressed, so
that exporting it years later gives the same bytes, and so that the review can prove that the
stored content still matches the hash recorded on the invoice (R18). The database refuses to
change or delete a stored document (migration ``documents/0001``).
"""

import logging
import zlib

from django.db import models

from kortfaktura.billing.models import Invoice

logger = logging.getLogger(__name__)


class DamagedDocument(ValueError):
    """A stored document that no longer unpacks; the message says so in Swedish, instead of
    zlib's "Error -3 while decompressing data: …"."""


class IssuedDocument(models.Model):
    invoice = models.OneToOneField(
        Invoice, primary_key=True, on_delete=models.PROTECT, related_name="issued_document"
    )
    format = models.CharField(max_length=8, default="ubl")
    content = models.BinaryField("innehåll (zlib)")

    class Meta:
        verbose_name = "utfärdat dokument"
        verbose_name_plural = "utfärdade dokument"

    def __str__(self) -> str:
        return f"{self.format} för {self.invoice_id}"

    @staticmethod
    def pack(content: bytes) -> bytes:
        return zlib.compress(content, 6)

    def unpacked(self) -> bytes:
        try:
            return zlib.decompress(bytes(self.content))
        except zlib.error as error:
            logger.debug("stored document of invoice %s: %s", self.invoice_id, error)
            raise DamagedDocument(
                "det lagrade Peppol-dokumentet går inte att packa upp – det har skadats eller "
                "ändrats i databasen efter utfärdandet. Kör kortfaktura review och återställ "
                "databasen från en säkerhetskopia (dokumentet görs aldrig om: det ska vara exakt "
                "det som utfärdades)"
            ) from None
