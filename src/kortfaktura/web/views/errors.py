"""Error pages in Swedish, with the menu for a logged-in user."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader


def bad_request(request: HttpRequest, exception: Any = None) -> HttpResponse:
    # Without context processors: a request refused for its Host header has no user yet.
    return HttpResponse(loader.get_template("400.html").render(), status=400)


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: whatever failed must not fail the error page too.
    return HttpResponse(loader.get_template("500.html").render(), status=500)
