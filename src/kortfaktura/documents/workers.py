"""Entry points for the processes that share a large export (``documents.services``).

A spawned process imports this module before Django is set up, so nothing here imports models
at load time.
"""

from pathlib import Path
from typing import Any


def start() -> None:
    import multiprocessing
    import os

    import django

    # The parent that started this worker, as spawn recorded it: not os.getppid() after the
    # set-up below, by which time a parent killed meanwhile has been replaced by init.
    parent = multiprocessing.parent_process()
    _exit_with_parent(parent.pid if parent is not None and parent.pid else os.getppid())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    django.setup()


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent died (``kill -9`` of a run) exits too, within a second, instead of
    lingering: it never sees the end of its queue, since every worker holds that queue's
    writing end as well."""
    import os
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def export_chunk(invoice_ids: list[int], file_format: str, directory: Path) -> Any:
    from kortfaktura.documents.services import export_chunk as export

    return export(invoice_ids, file_format, directory)


def validate_chunk(documents: list[tuple[int, bytes]]) -> Any:
    from kortfaktura.documents.issuing import validate_chunk as validate

    return validate(documents)
