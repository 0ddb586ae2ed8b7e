"""The entry point for importing a file of a given kind."""

from pathlib import Path

from kortfaktura.catalog.importing import PriceImporter
from kortfaktura.customers.importing import CustomerImporter
from kortfaktura.imports import engine
from kortfaktura.imports.engine import ImportResult, ProgressCallback
from kortfaktura.orders.importing import BilledImporter, OrderImporter

IMPORTERS: dict[str, type[engine.Importer]] = {
    "customers": CustomerImporter,
    "prices": PriceImporter,
    "orders": OrderImporter,
    "billed": BilledImporter,
}


def import_file(
    kind: str,
    path: Path,
    *,
    created_by: str = "",
    user_id: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    return engine.import_file(
        IMPORTERS[kind], Path(path), created_by=created_by, user_id=user_id, progress=progress
    )
