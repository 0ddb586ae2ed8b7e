"""Logging in and out."""

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


def logout(request: HttpRequest) -> HttpResponse:
    """POST logs out (CSRF-protected); a GET (an old bookmark) shows the button instead."""
    if request.method == "POST":
        return auth_views.LogoutView.as_view()(request)
    return render(request, "web/logout.html", {"page_title": "Logga ut"})


urlpatterns = [
    path(
        "logga-in/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logga-ut/", logout, name="logout"),
]
