from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccessConfig(AppConfig):
    """Who may do what: users, roles, API tokens and the one place that scopes a customer's view."""

    name = "kortfaktura.access"
    label = "access"
    verbose_name = "Behörigheter"

    def ready(self) -> None:
        from kortfaktura.access import roles, signals

        signals.connect()
        post_migrate.connect(roles.ensure_roles_after_migrate, sender=self)
