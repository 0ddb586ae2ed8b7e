from django.conf import settings
from django.db import models

from kortfaktura.customers.models import Customer


class Profile(models.Model):
    """What the user model lacks: the organisation a Kund belongs to."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kortfaktura_profile"
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="organisation (för rollen Kund)",
    )

    class Meta:
        verbose_name = "profil"
        # The permissions themselves are created by roles.ensure_roles (one table, roles.py).
        default_permissions = ()

    def __str__(self) -> str:
        return f"profil för {self.user}"


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its SHA-256 is stored: the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField("början av nyckeln", max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API-nyckel"
        verbose_name_plural = "API-nycklar"
        default_permissions = ()

    def __str__(self) -> str:
        return f"API-nyckel {self.prefix}… för {self.user}"
