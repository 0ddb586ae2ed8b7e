"""Delivery of issued documents to their recipients: Peppol, e-mail and print (DOMAIN.md R20)."""
