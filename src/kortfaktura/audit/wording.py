"""The audit trail's action codes, detail keys and coded values in Swedish, for everything that
shows the trail to a person (the command line's table and the web application's page)."""

ACTION_LABELS = {
    "import.customers": "import av kunder",
    "import.prices": "import av priser",
    "import.orders": "import av beställningar",
    "import.billed": "import av tidigare fakturerat",
    "import.failed": "misslyckad import",
    "customer.created": "ny kund",
    "customer.updated": "ändrad kund",
    "account.created": "ny fakturamottagare",
    "account.updated": "ändrad fakturamottagare",
    "product.created": "ny artikel",
    "product.updated": "ändrad artikel",
    "price.created": "nytt pris",
    "price.updated": "ändrat pris",
    "run.drafted": "körning föreslagen",
    "run.regenerated": "körning föreslagen igen",
    "run.discarded": "körning kasserad",
    "run.issued": "körning utfärdad",
    "credit_note.issued": "kreditfaktura utfärdad",
    "change.accepted": "ändring godkänd",
    "change.rejected": "ändring avvisad",
    "export.documents": "dokument exporterade",
    "review.report": "genomlysning",
    "chain.started": "kedjorna påbörjade",
}
# Swedish words for the detail keys in the table (--json keeps the keys), in the order they are
# shown: PostgreSQL's jsonb does not keep the order in which they were written.
DETAIL_LABELS = {
    "imported": "nya", "updated": "ändrade", "unchanged": "oförändrade",
    "quarantined": "i karantän", "changes_for_decision": "väntar på beslut",
    "changes_applied": "ändringar genomförda", "error": "fel",
    "period": "period", "title": "rubrik", "numbers": "nummer", "number": "nummer",
    "credits": "krediterar", "invoices": "fakturor", "orders": "beställningar",
    "held_back": "tillbakahållna", "net": "netto", "vat": "moms", "payable": "att betala",
    "issue_date": "fakturadatum", "due_date": "förfallodag", "legacy": "äldre period",
    "grouping": "per", "customers": "kunder", "whole_invoice": "hela fakturan",
    "order_ids": "beställnings-id", "order_id": "beställning", "changes": "ändringar",
    "invoice": "faktura", "credit_note": "kreditfaktura", "reason": "orsak",
    "format": "format", "run": "körning", "documents": "dokument", "files": "filer",
    "invalid": "ogiltiga", "failed": "ej skrivna", "directory": "katalog",
    "orgnr": "organisationsnummer", "name": "namn", "customer": "kund",
    "is_default": "standardmottagare", "unit_codes": "enheter",
    "buyer_reference": "beställarreferens", "peppol_scheme": "Peppol-schema",
    "peppol_id": "Peppol-id", "email": "e-post", "street": "gatuadress",
    "postal_code": "postnummer", "city": "ort", "delivery": "leverans", "code": "kod",
    "valid_from": "från", "valid_to": "till", "unit_price": "à-pris", "vat_rate": "momssats",
    "ordered_at": "beställd", "order_date": "beställningsdatum", "product_code": "artikelkod",
    "unit_code": "enhetskod", "line": "rad", "file": "fil", "kind": "typ", "status": "status",
    "size_bytes": "byte", "sha256": "SHA-256", "batch": "import", "blank_lines": "tomma rader",
    "unknown_columns": "okända kolumner", "checksum": "kontrollsumma", "balanced": "går ihop",
    "before": "före", "after": "efter", "field": "fält", "order": "beställning",
    "chain": "kedja", "series": "serie", "first": "första", "last": "sista", "hash": "länk",
    "heads": "kedjornas huvuden",
    # A new price from the web that ends the open one (issue 21 item 4).
    "ends": "avslutar", "next": "följs av", "revenue_account": "intäktskonto",
    "overlaps": "överlappar exporterna (id)",
}  # fmt: skip
# Codes among the values, in Swedish (by the key they stand under).
VALUE_WORDS = {
    "status": {"draft": "utkast", "issued": "utfärdad", "discarded": "kasserad",
               "failed": "misslyckad"},
    "grouping": {"month": "fakturamottagare och månad", "run": "fakturamottagare"},
    "kind": {"customers": "kunder", "prices": "priser", "orders": "beställningar",
             "billed": "tidigare fakturerat"},
}  # fmt: skip
