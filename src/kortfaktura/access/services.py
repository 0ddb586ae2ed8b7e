"""Users and API tokens: every write goes through here and into the audit trail."""

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from kortfaktura.access.models import ApiToken, Profile
from kortfaktura.access.roles import ROLES, ensure_roles
from kortfaktura.audit.services import record
from kortfaktura.customers.identifiers import InvalidIdentifier, normalize_orgnr
from kortfaktura.customers.models import Customer

TOKEN_PREFIX = "kf_"
# Django's own rule for user names: letters (å, ä, ö too), digits and . _ @ + -
USERNAME = re.compile(r"[\w.@+-]{1,150}")
USERNAME_LIMIT = 150


# Names the system itself acts under in the audit trail: a person must never look like it.
RESERVED = {
    "system": "månadscykelns egna steg står som system i granskningsloggen (R24), och dess utkast "
    "får utfärdas av vem som helst (R25)",
}
# Letters of other scripts that look like Latin ones, as a person reading a name would take them.
CONFUSABLE = str.maketrans(
    "аеорсухіјѕԁԛԝӏαβεηικνορτυχ",
    "aeopcyxijsdqwlabenikvoptux",
)


def skeleton(username: str) -> str:
    """What a name looks like: case, compatibility forms and look-alike letters folded."""
    return unicodedata.normalize("NFKC", username).casefold().translate(CONFUSABLE)


class AccessError(Exception):
    """A request about users or tokens that cannot be carried out; the message is Swedish."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _customer(role: str, orgnr: str | None) -> Customer | None:
    if role != "kund":
        if orgnr:
            raise AccessError("--orgnr gäller bara rollen kund: de andra rollerna ser alla kunder")
        return None
    if not orgnr:
        raise AccessError(
            "rollen kund behöver --orgnr ORGNR: den organisation vars fakturor användaren ser"
        )
    try:
        number = normalize_orgnr(orgnr)
    except InvalidIdentifier as error:
        raise AccessError(f"{orgnr!r} är inget giltigt organisationsnummer: {error}") from error
    customer = Customer.objects.filter(orgnr=number).first()
    if customer is None:
        raise AccessError(
            f"ingen kund har organisationsnummer {number[:6]}-{number[6:]} – läs in kunden först "
            "(kortfaktura import customers FIL)"
        )
    return customer


def check_password(password: str, username: str = "") -> None:
    user_model = get_user_model()
    try:
        validate_password(password, user_model(username=username))
    except ValidationError as error:
        raise AccessError("lösenordet duger inte: " + " ".join(error.messages)) from error


def _known(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"okänd roll {role!r}: välj en av {', '.join(ROLES)}")


def _apply_role(user: Any, role: str, customer: Customer | None) -> None:
    """The role's group (its only one), staff status for an administrator, a Kund's
    organisation; inside the caller's transaction."""
    user.is_staff = role == "admin"
    user.save(update_fields=["is_staff"])
    user.groups.set([Group.objects.get(name=ROLES[role].name)])
    Profile.objects.update_or_create(user=user, defaults={"customer": customer})


@dataclass(frozen=True)
class UserResult:
    user: AbstractBaseUser
    created: bool


def _checked_email(email: str | None) -> str | None:
    """The address notifications go to (R24), checked; None leaves it as it is."""
    if email is None:
        return None
    email = email.strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        raise AccessError(
            f"{email!r} är ingen e-postadress – ange t.ex. anna.andersson@vgregion.se"
        ) from None
    return email


def add_user(
    username: str,
    role: str,
    password: str,
    orgnr: str | None = None,
    email: str | None = None,
) -> UserResult:
    """Create the user, or give an existing one this role, organisation and password; ``email``
    (None: unchanged) is where the monthly cycle's notifications go."""
    username = username.strip()
    if not USERNAME.fullmatch(username):
        raise AccessError(
            f"användarnamnet måste vara 1–{USERNAME_LIMIT} tecken: bokstäver, siffror och "
            ". _ @ + - (t.ex. åsa.svensson) – det står i granskningsloggen och ska gå att läsa"
        )
    if username.casefold() in RESERVED:
        raise AccessError(
            f"användarnamnet {username!r} är reserverat: {RESERVED[username.casefold()]} – välj "
            "ett annat namn"
        )
    shape = skeleton(username)
    lookalike = next(
        (
            other
            for other in get_user_model()
            .objects.exclude(username=username)
            .values_list("username", flat=True)
            .iterator()
            if skeleton(other) == shape
        ),
        None,
    )
    if lookalike is not None:
        raise AccessError(
            f"det finns redan en användare {lookalike!r}, som bara skiljer sig i stora och små "
            "bokstäver eller i tecken som ser likadana ut (t.ex. ett kyrilliskt а för ett latinskt "
            "a) – välj ett annat namn, så att granskningsloggen inte kan blanda ihop dem"
        )
    _known(role)
    customer = _customer(role, orgnr)
    address = _checked_email(email)
    check_password(password, username)
    ensure_roles()
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username)
        before_role = [group.name for group in user.groups.all()] if not created else []
        before_email = user.email
        user.set_password(password)
        user.is_active = True
        if address is not None:
            user.email = address
        user.save()
        _apply_role(user, role, customer)
        record(
            "användare skapad" if created else "användare ändrad",
            f"användare {username}",
            {
                "roll": {
                    "before": before_role[0] if before_role else None,
                    "after": ROLES[role].name,
                },
                "organisation": customer.orgnr if customer else None,
                **(
                    {"e-post": {"before": before_email or None, "after": user.email or None}}
                    if user.email != before_email
                    else {}
                ),
            },
        )
    return UserResult(user, created)


def set_role(username: str, role: str, orgnr: str | None = None) -> bool:
    """Give an existing user another role (and, for a Kund, organisation); False if unchanged."""
    _known(role)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise AccessError(f"användaren {username!r} finns inte")
    customer = _customer(role, orgnr)
    ensure_roles()
    with transaction.atomic():
        before_role = next(iter(user.groups.values_list("name", flat=True)), None)
        profile, _ = Profile.objects.get_or_create(user=user)
        before_orgnr = profile.customer.orgnr if profile.customer is not None else None
        after_orgnr = customer.orgnr if customer else None
        if before_role == ROLES[role].name and before_orgnr == after_orgnr:
            return False
        _apply_role(user, role, customer)
        record(
            "användare ändrad",
            f"användare {username}",
            {
                "roll": {"before": before_role, "after": ROLES[role].name},
                "organisation": {"before": before_orgnr, "after": after_orgnr},
            },
        )
    return True


def set_active(username: str, active: bool) -> None:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise AccessError(f"användaren {username!r} finns inte")
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            ApiToken.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())
        record(
            "användare aktiverad" if active else "användare spärrad",
            f"användare {username}",
        )


def create_token(username: str) -> str:
    """A new API token for the user; the token itself is returned once and never stored."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise AccessError(
            f"användaren {username!r} finns inte – skapa den först med kortfaktura user add"
        )
    if not user.is_active:
        raise AccessError(f"användaren {username!r} är spärrad")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        ApiToken.objects.create(user=user, digest=_digest(token), prefix=token[:10])
        record("API-nyckel skapad", f"användare {username}", {"nyckel": token[:10] + "…"})
    return token


def user_for_token(token: str) -> AbstractBaseUser | None:
    """The active user a bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(token), revoked_at=None, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
