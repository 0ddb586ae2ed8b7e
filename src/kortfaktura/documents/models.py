"""The Peppol document of each issued invoice and credit note, as it was issued (R13).

The UBL is kept as it was rendered and validated when the number became final, compressed, so
that exporting it years later gives the same bytes, and so that the review can prove that the
stored content still matches the hash recorded on the invoice (R18). The database refuses to
change or delete a stored document (migration ``documents/0001``).
"""

import zlib

from django.db import models

from kortfaktura.billing.models import Invoice


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
        return zlib.decompress(bytes(self.content))
