"""``GET /healthz``: the health of the installation for a monitor (INTERFACES.md), the same
object as ``kortfaktura check --json``: 200 when every check passes, 503 when one fails.

No login and no CSRF token: a monitor has neither, and the answer holds no business data (only
whether the parts work, and what to do when one does not). It is answered by
``HealthMiddleware`` before sessions and authentication, so that it works when the database does
not (a request with a session cookie would otherwise need the database first); the URL pattern
names the page for the rest of the application. The expensive parts (compiling the rules,
network probes) are reused within a process, see ``operations.health``.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from kortfaktura.operations import health

PATH = "/healthz"


@csrf_exempt
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    found = health.report(health.run_checks(deep=False))
    response = JsonResponse(
        found,
        status=200 if found["status"] == "ok" else 503,
        json_dumps_params={"ensure_ascii": False, "indent": 2},
    )
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [path(PATH.lstrip("/"), healthz, name="healthz")]
