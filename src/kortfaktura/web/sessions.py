"""Sessions in the database, as Django's own, except that a busy database does not end a page.

On SQLite one transaction writes at a time, and issuing a large run holds the write lock for as
long as it takes (R4: numbers and documents commit together). A page that only refreshes its
session's idle time (``SessionExpiryMiddleware``, at most once a minute) would wait
``KORTFAKTURA_SQLITE_TIMEOUT`` seconds and then answer 400 ("session interrupted"). Saving an
existing session is therefore given up, with a warning in the log, when the database is busy:
the session keeps its earlier state and is written at the next request. Creating a session (a
login) and ending one (a logout) are not touched: they still fail when they cannot be stored.
"""

import logging

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db.utils import OperationalError

logger = logging.getLogger("kortfaktura.web")


class SessionStore(DatabaseSessionStore):
    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create=must_create)
        except UpdateError as error:
            if must_create or not isinstance(error.__context__, OperationalError):
                raise
            logger.warning(
                "sessionen sparades inte (databasen är upptagen: %s); den sparas vid nästa "
                "sidvisning",
                error.__context__,
            )
