"""The API object: /api/v1/ with the schema at openapi.json and docs at docs (no CDN: ninja's own
static files). Each area (imports, runs, invoices, …) is a router in ``routers/``."""

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from kortfaktura.api.security import AUTH

api = NinjaAPI(
    title="Kortfaktura",
    version="1",
    description=(
        "Fakturering av beställda eTjänstekort. Samma JSON som kommandoradens `--json`, samma "
        "roller som webbgränssnittet. Autentisering: `Authorization: Bearer NYCKEL` "
        '(`kortfaktura token create ANVÄNDARE`). Listor svarar `{"items": [...], "count": N}` '
        "med `?limit=` och `?offset=`."
    ),
    auth=AUTH,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return api.create_response(request, {"error": message}, status=status)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    response = _error(
        request,
        "inloggning krävs: skicka Authorization: Bearer NYCKEL (kortfaktura token create)",
        401,
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, "din roll får inte göra det här", 403)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, "finns inte", 404)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 in the error shape: one Swedish sentence naming each field that failed, and the same
    per field in ``detail``."""
    detail = [
        {
            "loc": list(error.get("loc", ())),
            "field": _field(error.get("loc", ())),
            "type": error.get("type", ""),
            "msg": _swedish(error),
        }
        for error in exc.errors
    ]
    text = "; ".join(
        f"{item['field']}: {item['msg']}" if item["field"] else item["msg"] for item in detail
    )
    return api.create_response(
        request, {"error": f"ogiltig begäran – {text}", "detail": detail}, status=422
    )


HTTP_ERRORS = {
    400: "begäran kunde inte läsas – skicka giltig JSON eller giltiga formulärfält",
    403: "begäran nekades: CSRF-kontrollen misslyckades (skicka Authorization: Bearer NYCKEL)",
    405: "metoden stöds inte här",
    429: "för många förfrågningar – vänta en stund och försök igen",
}


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own refusals (unreadable body, CSRF), in Swedish and in the error shape."""
    message = HTTP_ERRORS.get(exc.status_code, "begäran kunde inte utföras")
    return _error(request, message, exc.status_code)


def _service_errors() -> list[tuple[type[Exception], int]]:
    """The services' refusals, whose message is a Swedish sentence meant for the caller: 400 a
    request that is wrong in itself, 409 one that the data's state refuses, 422 a file that
    cannot be used."""
    from kortfaktura.api.routers.common import TooLarge
    from kortfaktura.billing.errors import BillingError, UsageError
    from kortfaktura.delivery.channels import MissingSetting
    from kortfaktura.delivery.services import DeliveryError
    from kortfaktura.documents.pdf import RenderError
    from kortfaktura.documents.services import ExportError
    from kortfaktura.imports.engine import ImportFailed
    from kortfaktura.jobs.services import JobBusy
    from kortfaktura.payments.services import PaymentError
    from kortfaktura.review.services import ReportError

    return [
        (TooLarge, 413),
        (UsageError, 400),
        (BillingError, 409),
        (ExportError, 409),
        (RenderError, 409),
        (DeliveryError, 409),
        (MissingSetting, 409),
        (JobBusy, 409),
        (ReportError, 409),
        (ImportFailed, 422),
        (PaymentError, 422),
    ]


# The services are shared with the command line, whose options their messages name; the API
# names its fields instead: ``--to 2026-10-31`` → ``"to": "2026-10-31"``, ``--title`` → ``fältet
# title``.
OPTION_FIELDS = {
    "from": "from",
    "to": "to",
    "title": "title",
    "customer": "customers",
    "issue-date": "issue_date",
    "reason": "reason",
    "order": "orders",
    "channel": "channel",
}
_OPTION = "|".join(re.escape(option) for option in sorted(OPTION_FIELDS, key=len, reverse=True))
OPTION_WITH_VALUE = re.compile(rf"--({_OPTION}) (\d{{4}}-\d{{2}}-\d{{2}}|'[^']*')")
# Not in a command line written out for a person (``--reason TEXT``): it stays as it is.
OPTION_ALONE = re.compile(rf"--({_OPTION})\b(?!-| [A-ZÅÄÖ]{{2,}})")


def api_message(text: str) -> str:
    """A service's message with the command line's options as the API's fields."""

    def valued(match: re.Match[str]) -> str:
        value = match.group(2).strip("'")
        return f'"{OPTION_FIELDS[match.group(1)]}": "{value}"'

    text = OPTION_WITH_VALUE.sub(valued, text)
    text = text.replace("--legacy", '"legacy": true')
    return OPTION_ALONE.sub(lambda match: f"fältet {OPTION_FIELDS[match.group(1)]}", text)


def _service_error_handler(status: int) -> Any:
    def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
        return _error(request, api_message(str(exc)), status)

    return handler


def _register_service_errors() -> None:
    for error_class, status in _service_errors():
        api.add_exception_handler(error_class, _service_error_handler(status))


_register_service_errors()


def _field(loc: Any) -> str:
    """``limit`` for ``["query", "limit"]``, ``from`` for ``["body", "body", "from"]`` (the body's
    parameter name is the second part), ``lines.0.qty`` for a nested one."""
    parts = [str(part) for part in loc]
    if parts[:1] == ["body"]:
        parts = parts[2:]
    elif parts:
        parts = parts[1:]
    return ".".join(parts)


def _or(expected: Any) -> str:
    """pydantic's ``'a', 'b' or 'c'`` in Swedish."""
    return str(expected).replace(" or ", " eller ")


# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) that a
# request can make, in Swedish; ``ctx`` fills in the limits.
VALIDATION_TEXTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: "saknas – fältet är obligatoriskt",
    "extra_forbidden": lambda ctx: "finns inte – ta bort fältet",
    "int_parsing": lambda ctx: "ska vara ett heltal",
    "int_type": lambda ctx: "ska vara ett heltal",
    "int_from_float": lambda ctx: "ska vara ett heltal",
    "float_parsing": lambda ctx: "ska vara ett tal",
    "float_type": lambda ctx: "ska vara ett tal",
    "decimal_parsing": lambda ctx: "ska vara ett tal",
    "decimal_type": lambda ctx: "ska vara ett tal",
    "bool_parsing": lambda ctx: "ska vara true eller false",
    "bool_type": lambda ctx: "ska vara true eller false",
    "string_type": lambda ctx: "ska vara en text",
    "string_too_short": lambda ctx: f"ska ha minst {ctx.get('min_length')} tecken",
    "string_too_long": lambda ctx: f"får ha högst {ctx.get('max_length')} tecken",
    "string_pattern_mismatch": lambda ctx: "innehåller tecken eller en form som inte tillåts",
    "too_short": lambda ctx: f"ska ha minst {ctx.get('min_length')} element",
    "too_long": lambda ctx: f"får ha högst {ctx.get('max_length')} element",
    "list_type": lambda ctx: "ska vara en lista",
    "dict_type": lambda ctx: "ska vara ett JSON-objekt",
    "model_type": lambda ctx: "ska vara ett JSON-objekt",
    "model_attributes_type": lambda ctx: "ska vara ett JSON-objekt",
    "json_invalid": lambda ctx: "är inte giltig JSON",
    "greater_than": lambda ctx: f"ska vara större än {ctx.get('gt')}",
    "greater_than_equal": lambda ctx: f"ska vara minst {ctx.get('ge')}",
    "less_than": lambda ctx: f"ska vara mindre än {ctx.get('lt')}",
    "less_than_equal": lambda ctx: f"får vara högst {ctx.get('le')}",
    "literal_error": lambda ctx: f"ska vara ett av {_or(ctx.get('expected', ''))}",
    "enum": lambda ctx: f"ska vara ett av {_or(ctx.get('expected', ''))}",
    "date_parsing": lambda ctx: "ska vara ett datum ÅÅÅÅ-MM-DD, t.ex. 2026-10-01",
    "date_from_datetime_parsing": lambda ctx: "ska vara ett datum ÅÅÅÅ-MM-DD, t.ex. 2026-10-01",
    "date_from_datetime_inexact": lambda ctx: "ska vara ett datum ÅÅÅÅ-MM-DD utan klockslag",
    "date_type": lambda ctx: "ska vara ett datum ÅÅÅÅ-MM-DD, t.ex. 2026-10-01",
    "datetime_parsing": lambda ctx: "ska vara en tidpunkt enligt ISO 8601",
    "datetime_from_date_parsing": lambda ctx: "ska vara en tidpunkt enligt ISO 8601",
    "datetime_type": lambda ctx: "ska vara en tidpunkt enligt ISO 8601",
    "uuid_parsing": lambda ctx: "ska vara ett UUID",
    "uuid_type": lambda ctx: "ska vara ett UUID",
}


def _swedish(error: Any) -> str:
    explain = VALIDATION_TEXTS.get(str(error.get("type", "")))
    if explain is None:
        return "har ett ogiltigt värde"
    return explain(dict(error.get("ctx") or {}))


def register_routers() -> None:
    from kortfaktura.api.routers import ROUTERS

    for prefix, router in ROUTERS:
        api.add_router(prefix, router)


register_routers()
