"""The API object: /api/v1/ with the schema at openapi.json and docs at docs (no CDN: ninja's own
static files). Each area (imports, runs, invoices, …) is a router in ``routers/``."""

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
    return api.create_response(
        request, {"error": "ogiltig begäran", "detail": _plain(exc.errors)}, status=422
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


def _service_error_handler(status: int) -> Any:
    def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
        return _error(request, str(exc), status)

    return handler


def _register_service_errors() -> None:
    for error_class, status in _service_errors():
        api.add_exception_handler(error_class, _service_error_handler(status))


_register_service_errors()


def _plain(errors: Any) -> Any:
    return [
        {key: value for key, value in error.items() if key in ("loc", "msg", "type")}
        for error in errors
    ]


def register_routers() -> None:
    from kortfaktura.api.routers import ROUTERS

    for prefix, router in ROUTERS:
        api.add_router(prefix, router)


register_routers()
