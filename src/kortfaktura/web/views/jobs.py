"""A background job's page and the fragment its progress bar polls."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from kortfaktura.jobs.models import Job
from kortfaktura.web.views.common import require


def _job(request: HttpRequest, pk: int) -> Job:
    # Jobs are shared staff work: a colleague told "an import is running" can follow it too.
    return get_object_or_404(Job.objects.all(), pk=pk)


@require("access.view_billing")
def job_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "web/job.html", {"job": _job(request, pk), "page_title": "Arbete"})


@require("access.view_billing")
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "web/job_progress.html", {"job": _job(request, pk)})


urlpatterns = [
    path("jobb/<int:pk>/", job_page, name="job"),
    path("jobb/<int:pk>/status/", job_progress, name="job_progress"),
]
