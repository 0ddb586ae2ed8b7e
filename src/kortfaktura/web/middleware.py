"""Request-wide concerns of the web application and the API."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from kortfaktura.audit.actor import acting_as

IDLE_KEY = "kortfaktura_seen"
TOUCH_EVERY_SECONDS = 60


class SessionExpiryMiddleware:
    """Ends a session after SESSION_IDLE_MINUTES without a request.

    The session is written at most once a minute (not on every request), so that twenty users
    clicking through lists do not queue on the database's write lock.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            seen = request.session.get(IDLE_KEY)
            if isinstance(seen, int) and now - seen > settings.SESSION_IDLE_MINUTES * 60:
                logout(request)
            elif not isinstance(seen, int) or now - seen > TOUCH_EVERY_SECONDS:
                request.session[IDLE_KEY] = now
        return self.get_response(request)


class ActorMiddleware:
    """Everything a logged-in user changes is recorded in the audit trail under their name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            with acting_as(request.user.get_username()):
                return self.get_response(request)
        return self.get_response(request)


class HealthMiddleware:
    """Answers ``GET /healthz`` before sessions, authentication and CSRF: it needs no login,
    and it must answer (503) when the database is gone, which loading a session would need."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from kortfaktura.web.views import health

        if request.path_info == health.PATH:
            return health.healthz(request)
        return self.get_response(request)
