"""Entry points for the processes that share a large export (``documents.services``).

A spawned process imports this module before Django is set up, so nothing here imports models
at load time.
"""

from pathlib import Path
from typing import Any


def start() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    django.setup()


def export_chunk(invoice_ids: list[int], file_format: str, directory: Path) -> Any:
    from kortfaktura.documents.services import export_chunk as export

    return export(invoice_ids, file_format, directory)


def validate_chunk(documents: list[tuple[int, bytes]]) -> Any:
    from kortfaktura.documents.issuing import validate_chunk as validate

    return validate(documents)
