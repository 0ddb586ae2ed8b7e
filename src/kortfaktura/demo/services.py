"""``kortfaktura demo``: load the demo data through the same imports a user runs."""

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from django.core.management import call_command

from kortfaktura.customers.models import Customer
from kortfaktura.demo import generator
from kortfaktura.imports.engine import ImportResult, ProgressCallback
from kortfaktura.imports.services import import_file

ProgressFactory = Callable[[str], AbstractContextManager[ProgressCallback]]


def reset_database() -> None:
    """Remove all data (not the schema); only for the demo."""
    call_command("flush", interactive=False, verbosity=0)


def load_demo_data(
    directory: Path,
    today: dt.date,
    *,
    progress: ProgressFactory | None = None,
    orders_per_year: int = generator.ORDERS_PER_YEAR,
) -> tuple[generator.DemoFiles, list[ImportResult]]:
    files = generator.generate(directory, today, orders_per_year=orders_per_year)
    results = []
    for kind, path in (
        ("customers", files.customers),
        ("prices", files.prices),
        ("orders", files.orders),
        ("billed", files.billed),
    ):
        if progress is None:
            results.append(import_file(kind, path, created_by="demo"))
            continue
        with progress(f"Importerar {path.name}") as callback:
            results.append(import_file(kind, path, created_by="demo", progress=callback))
    Customer.objects.filter(orgnr__in=files.demo_orgnrs).update(is_demo_data=True)
    return files, results
