"""Användare: users, their roles and API tokens. Every write goes through access.services,
which records it in the audit trail; password hashes and token digests are never shown."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kortfaktura.access import services
from kortfaktura.access.models import ApiToken
from kortfaktura.access.roles import ROLE_BY_GROUP, ROLES, Role
from kortfaktura.web.views.common import paginate, require

FIELD_LIMIT = 200


def _users() -> Any:
    return (
        get_user_model()
        .objects.select_related("kortfaktura_profile__customer")
        .prefetch_related("groups")
        .order_by("username")
    )


def _role(user: Any) -> Role | None:
    # From the prefetched groups: no query per row.
    for group in user.groups.all():
        if group.name in ROLE_BY_GROUP:
            return ROLE_BY_GROUP[group.name]
    return None


def _customer(user: Any) -> Any:
    profile = getattr(user, "kortfaktura_profile", None)
    return profile.customer if profile is not None else None


def _role_choices() -> list[tuple[str, str]]:
    return [(key, role.name) for key, role in ROLES.items()]


@require("access.manage_users")
def index(request: HttpRequest) -> HttpResponse:
    page = paginate(request, _users())
    rows = [{"user": user, "role": _role(user), "customer": _customer(user)} for user in page.rows]
    return render(
        request,
        "web/users/index.html",
        {"page_title": "Användare", "page": page, "rows": rows},
    )


def _new_form(
    request: HttpRequest, form: dict[str, str], errors: list[str], status: int = 200
) -> HttpResponse:
    context = {
        "page_title": "Ny användare",
        "form": form,
        "errors": errors,
        "roles": _role_choices(),
        "role_descriptions": list(ROLES.values()),
    }
    return render(request, "web/users/new.html", context, status=status)


@require("access.manage_users", section="users")
def new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _new_form(request, {"username": "", "role": "", "orgnr": "", "email": ""}, [])
    form = {
        name: request.POST.get(name, "").strip()[:FIELD_LIMIT]
        for name in ("username", "role", "orgnr", "email")
    }
    password = request.POST.get("password", "")
    repeated = request.POST.get("password2", "")
    errors: list[str] = []
    if form["role"] not in ROLES:
        errors.append("Välj en roll.")
    if not password:
        errors.append("Ange ett lösenord.")
    elif password != repeated:
        errors.append("Lösenorden är inte lika – skriv samma lösenord i båda fälten.")
    username = form["username"]
    if username and get_user_model().objects.filter(username=username).exists():
        # add_user would quietly reset that user's password and role: here it must be deliberate.
        errors.append(
            f"Användaren {username} finns redan – ändra rollen på användarens sida i listan."
        )
    if not errors:
        try:
            result = services.add_user(
                username,
                form["role"],
                password,
                form["orgnr"] if form["role"] == "kund" else None,
                form["email"],
            )
        except services.AccessError as error:
            errors.append(_sentence(str(error)))
        else:
            messages.success(request, f"Användaren {result.user.get_username()} är skapad.")
            return redirect("web:user", result.user.pk)
    return _new_form(request, form, errors, status=400)


def _sentence(message: str) -> str:
    """The services' messages are written for the command line: say them as a sentence, and
    name the form's field where they name a command-line option."""
    message = message.replace("--orgnr ORGNR", "ett organisationsnummer").replace(
        "--orgnr", "Organisationsnummer"
    )
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", ")")) else message + "."


def _detail(
    request: HttpRequest,
    person: Any,
    errors: list[str],
    form: dict[str, str],
    status: int = 200,
) -> HttpResponse:
    tokens = ApiToken.objects.filter(user=person).order_by("-created_at")
    role = _role(person)
    customer = _customer(person)
    context = {
        "page_title": f"Användare {person.get_username()}",
        "person": person,
        "role": role,
        "customer": customer,
        "tokens": tokens,
        "roles": _role_choices(),
        "errors": errors,
        "form": form
        or {
            "role": next((key for key, r in ROLES.items() if r == role), ""),
            "orgnr": customer.orgnr if customer else "",
        },
        "is_self": person.pk == request.user.pk,
    }
    return render(request, "web/users/detail.html", context, status=status)


@require("access.manage_users", section="users")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(_users(), pk=pk)
    return _detail(request, person, [], {})


@require("access.manage_users", section="users")
@require_POST
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(_users(), pk=pk)
    form = {name: request.POST.get(name, "").strip()[:FIELD_LIMIT] for name in ("role", "orgnr")}
    if person.pk == request.user.pk:
        return _detail(
            request,
            person,
            ["Du kan inte ändra din egen roll – be en annan administratör."],
            form,
            status=400,
        )
    try:
        changed = services.set_role(
            person.get_username(),
            form["role"],
            form["orgnr"] if form["role"] == "kund" else None,
        )
    except services.AccessError as error:
        return _detail(request, person, [_sentence(str(error))], form, status=400)
    if changed:
        messages.success(
            request, f"{person.get_username()} har nu rollen {ROLES[form['role']].name}."
        )
    else:
        messages.info(request, "Rollen var redan den valda – ingenting ändrades.")
    return redirect("web:user", person.pk)


@require("access.manage_users", section="users")
@require_POST
def set_active(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(_users(), pk=pk)
    active = request.POST.get("active") == "1"
    if not active and person.pk == request.user.pk:
        return _detail(
            request,
            person,
            ["Du kan inte spärra dig själv – be en annan administratör."],
            {},
            status=400,
        )
    try:
        services.set_active(person.get_username(), active)
    except services.AccessError as error:
        return _detail(request, person, [_sentence(str(error))], {}, status=400)
    if active:
        messages.success(request, f"{person.get_username()} kan logga in igen.")
    else:
        messages.success(
            request,
            f"{person.get_username()} är spärrad: kan inte logga in, och användarens "
            "API-nycklar gäller inte längre.",
        )
    return redirect("web:user", person.pk)


@never_cache
@require("access.manage_users", section="users")
@require_POST
def create_token(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(_users(), pk=pk)
    try:
        token = services.create_token(person.get_username())
    except services.AccessError as error:
        return _detail(request, person, [_sentence(str(error))], {}, status=400)
    # Shown once, in this response only: only the token's digest is stored.
    return render(
        request,
        "web/users/token.html",
        {"page_title": "Ny API-nyckel", "person": person, "token": token},
    )


urlpatterns = [
    path("anvandare/", index, name="users"),
    path("anvandare/ny/", new, name="user_new"),
    path("anvandare/<int:pk>/", detail, name="user"),
    path("anvandare/<int:pk>/roll/", change_role, name="user_role"),
    path("anvandare/<int:pk>/aktiv/", set_active, name="user_active"),
    path("anvandare/<int:pk>/api-nyckel/", create_token, name="user_token"),
]
