"""Översikt."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from kortfaktura.web.views.common import require


@require()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/placeholder.html", {"page_title": "Översikt"})


urlpatterns = [
    path("", index, name="overview"),
]
