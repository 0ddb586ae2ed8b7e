"""Django's SQLite backend, opening a database this user may not write read-only (``base``)."""
