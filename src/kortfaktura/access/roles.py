"""The five roles (issue 12, docs/web.md) as Django groups with this app's permissions.

A role is a group; what a role may do is the set of permissions below, checked by every view and
API operation with ``user.has_perm``. The table is the single source: ``ensure_roles`` makes the
database's groups match it after every migration.
"""

from dataclasses import dataclass
from typing import Any

PERMISSIONS: dict[str, str] = {
    "view_billing": "Se kunder, priser, beställningar, körningar, fakturor och leveranser",
    "view_review": "Se genomlysningen och granskningsloggen",
    "manage_users": "Hantera användare och API-nycklar",
    "import_files": "Läsa in filer",
    "edit_customers": "Ändra kunduppgifter",
    "edit_prices": "Ändra priser",
    "draft_runs": "Skapa och förhandsgranska utkast till körningar",
    "discard_runs": "Kasta utkast till körningar",
    "issue_runs": "Utfärda körningar",
    "credit_invoices": "Kreditera fakturor",
    "decide_changes": "Godkänna och avvisa ändringar",
    "export_bookkeeping": "Exportera bokföring (SIE)",
    "deliver_documents": "Leverera och skicka om dokument",
    "manage_payments": "Läsa in betalfiler, koppla och återbetala betalningar",
    "view_own": "Se den egna organisationens fakturor och beställningar",
}

_STAFF_READ = ("view_billing", "view_review")


@dataclass(frozen=True)
class Role:
    key: str  # as on the command line: user add --role KEY
    name: str  # the group's name, shown in the application
    permissions: tuple[str, ...]
    description: str


ROLES: dict[str, Role] = {
    role.key: role
    for role in (
        Role(
            "admin",
            "Administratör",
            tuple(name for name in PERMISSIONS if name != "view_own"),
            "användare, inställningar och allt annat",
        ),
        Role(
            "ekonomi",
            "Ekonomi",
            (
                *_STAFF_READ,
                "issue_runs",
                "discard_runs",
                "credit_invoices",
                "decide_changes",
                "export_bookkeeping",
                "manage_payments",
            ),
            "utfärdar körningar, krediterar, beslutar om ändringar, sköter betalningarna och "
            "exporterar bokföring",
        ),
        Role(
            "fakturering",
            "Faktureringsadministratör",
            (
                *_STAFF_READ,
                "import_files",
                "edit_customers",
                "edit_prices",
                "draft_runs",
                "discard_runs",
                "deliver_documents",
            ),
            "läser in filer, sköter kunder och priser, gör utkast och levererar",
        ),
        Role(
            "granskare",
            "Granskare",
            _STAFF_READ,
            "läser allt, ändrar ingenting: genomlysningen och granskningsloggen",
        ),
        Role(
            "kund",
            "Kund",
            ("view_own",),
            "en organisation: dess egna fakturor, interna debiteringar och beställningar",
        ),
    )
}
ROLE_BY_GROUP = {role.name: role for role in ROLES.values()}


def ensure_roles() -> None:
    """Create or correct the groups and their permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from kortfaktura.access.models import Profile

    content_type = ContentType.objects.get_for_model(Profile)
    by_name: dict[str, Permission] = {}
    for codename, name in PERMISSIONS.items():
        permission, _ = Permission.objects.update_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        by_name[codename] = permission
    for role in ROLES.values():
        group, _ = Group.objects.get_or_create(name=role.name)
        group.permissions.set([by_name[codename] for codename in role.permissions])


def ensure_roles_after_migrate(**kwargs: Any) -> None:
    ensure_roles()


def role_of(user: Any) -> Role | None:
    """The user's role (its first role group), None for an anonymous visitor or no role."""
    if not getattr(user, "is_authenticated", False):
        return None
    for name in user.groups.values_list("name", flat=True):
        if name in ROLE_BY_GROUP:
            return ROLE_BY_GROUP[name]
    return None
