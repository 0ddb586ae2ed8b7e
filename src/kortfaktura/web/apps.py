from django.apps import AppConfig


class WebConfig(AppConfig):
    """The web application for billing staff, finance, auditors and customers (issue 12)."""

    name = "kortfaktura.web"
    label = "web"
    verbose_name = "Webbgränssnitt"
