"""Ändringar."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from kortfaktura.web.views.common import require


@require("access.view_billing")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/placeholder.html", {"page_title": "Ändringar"})


urlpatterns = [
    path("andringar/", index, name="changes"),
]
