"""The API object: /api/v1/ with the schema at openapi.json and docs at docs (no CDN: ninja's own
static files). Each area (imports, runs, invoices, …) is a router in ``routers/``."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

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
