"""Every login, logout and failed login goes into the audit trail (issue 12)."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed


def _client(request: Any) -> dict[str, str]:
    if request is None:
        return {}
    from django.conf import settings

    address = str(request.META.get("REMOTE_ADDR", ""))
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if getattr(settings, "BEHIND_PROXY", False) and forwarded:
        address = forwarded.rsplit(",", maxsplit=1)[-1].strip()[:100]  # the hop our own proxy added
    return {"adress": address}


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from kortfaktura.audit.services import record

    record(
        "inloggning",
        f"användare {user.get_username()}",
        _client(request),
        actor=user.get_username(),
    )


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from kortfaktura.audit.services import record

    if user is not None:
        record(
            "utloggning",
            f"användare {user.get_username()}",
            _client(request),
            actor=user.get_username(),
        )


def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    from kortfaktura.audit.services import record

    username = str(credentials.get("username", ""))[:150]
    record(
        "misslyckad inloggning",
        f"användare {username}",
        _client(request),
        actor="anonym",
    )


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="kortfaktura_login")
    user_logged_out.connect(_logged_out, dispatch_uid="kortfaktura_logout")
    user_login_failed.connect(_login_failed, dispatch_uid="kortfaktura_login_failed")
