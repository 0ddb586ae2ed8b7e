"""The API answers JSON with a Swedish message even where Django answers before ninja does."""

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PREFIX = "/api/v1/"
MESSAGES = {
    404: "finns inte – se /api/v1/docs för API:ets adresser",
    405: "metoden används inte här – se /api/v1/docs för vad adressen tar emot",
}


class JsonErrorsMiddleware:
    """An unknown API address (404) or a method the operation does not take (405) gets
    ``{"error": …}`` instead of an HTML page or an empty body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(PREFIX)
            and response.status_code in MESSAGES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            answer = HttpResponse(
                json.dumps({"error": MESSAGES[response.status_code]}),
                status=response.status_code,
                content_type="application/json",
            )
            if response.has_header("Allow"):
                answer["Allow"] = response["Allow"]
            return answer
        return response
