"""One lock that imports and issuing share, so that no import changes an order, a customer or a
price between the checks of an issue and its commit (DOMAIN.md R13).

SQLite needs none: its transactions start IMMEDIATE (settings), so writers already queue up.
PostgreSQL gets a transaction-scoped advisory lock, released at commit or rollback.
"""

from django.db import connection

BILLING_DATA_LOCK = 0x4B46_0001  # "KF" 1: any fixed number that no other lock of ours uses


def hold_billing_data_lock() -> None:
    """Wait for, then hold until the end of the current transaction, the billing-data lock."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("the billing-data lock is held by a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BILLING_DATA_LOCK])
