"""The authorization matrix (issue 12, "Must show"): every page of the web application and every
operation of the REST API, for every role, a Kund of another organisation and an anonymous
visitor, answers what access/roles.py allows, and nothing more.

The pages come from the URL resolver (namespace ``web``) and the operations from the live OpenAPI
schema, so a new page or operation is tested without editing this file, except for one line in
the tables below that says which permission it needs. Path parameters are filled from the seeded
world (``browser.seed_world``): always with Vårgårda's objects, which the Kund of Vårgårda may see
and the Kund of Borås (another organisation) may not even know exist.

Writes (POST, PUT, PATCH, DELETE) are sent only by those who may not make them: each must be
refused (403, or 404 where the object is another organisation's) with the database unchanged.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from browser import OTHER_KUND, OWN_KUND, seed_world
from kortfaktura.access.roles import PERMISSIONS, ROLES

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonym"
# Who knocks: the four staff roles, a Kund of Vårgårda, a Kund of Borås and nobody at all.
ACTORS = ("admin", "ekonomi", "fakturering", "granskare", OWN_KUND, OTHER_KUND, ANONYMOUS)
ROLE_OF = {
    "admin": "admin",
    "ekonomi": "ekonomi",
    "fakturering": "fakturering",
    "granskare": "granskare",
    OWN_KUND: "kund",
    OTHER_KUND: "kund",
}
ANYONE = None  # not even a login is needed
LOGGED_IN = ()  # any logged-in user, whatever the role


@dataclass(frozen=True)
class Access:
    """Who may do what on one page or operation, in access/roles.py's permission names.

    read: any one of these permissions allows a GET (``LOGGED_IN``: every user; ``ANYONE``: even
    an anonymous visitor). write: any one of these allows a POST (or PUT/PATCH/DELETE); none =
    the page takes no writes. own: the path names one of Vårgårda's objects, so a Kund of another
    organisation gets 404 even where its role may read such pages. ok: the status of an allowed
    GET (302 for a page that redirects, 405 where GET is not offered). anonymous: the status for
    an anonymous visitor where it is not the way to the login page.
    """

    read: tuple[str, ...] | None
    write: tuple[str, ...] = ()
    own: bool = False
    ok: int = 200
    anonymous: int | None = None


BILLING = ("view_billing",)
BILLING_OR_OWN = ("view_billing", "view_own")
REVIEW = ("view_review",)
USERS = ("manage_users",)


def only(permission: str, **options: Any) -> Access:
    """A page of one permission, for reading it as well as for writing through it."""
    return Access((permission,), write=(permission,), **options)


# --- The web application: URL name → access -------------------------------------------------
WEB: dict[str, Access] = {
    # the health of the installation, for monitors: no login, no data (issue 18)
    "healthz": Access(ANYONE),
    # the login page sends a logged-in user on to the overview
    "login": Access(LOGGED_IN, ok=302, anonymous=200),
    # logging out is a POST (CSRF-protected); a GET shows the button (and, anonymous, a link)
    "logout": Access(LOGGED_IN, ok=200, anonymous=200),
    "job": Access(BILLING),
    "job_progress": Access(BILLING),
    "overview": Access(LOGGED_IN),
    # Import
    "imports": Access(BILLING),
    "import_upload": only("import_files", ok=302),  # GET goes back to the form
    "import": Access(BILLING),
    # Kunder, Priser
    "customers": Access(BILLING),
    "customer": Access(BILLING, own=True),
    "account_edit": only("edit_customers", own=True),
    "prices": Access(BILLING),
    "price_add": only("edit_prices", ok=302),  # GET goes back to the list
    # Beställningar
    "orders": Access(BILLING_OR_OWN),
    "order": Access(BILLING_OR_OWN, own=True),
    # Körningar
    "runs": Access(BILLING),
    "run_new": only("draft_runs"),
    "run": Access(BILLING),
    "run_issue": only("issue_runs"),
    "run_discard": only("discard_runs"),
    "run_notify": only("draft_runs", ok=405),  # POST only: tell the issuers (issue 21)
    "run_deliveries": Access(BILLING),  # an issued run's delivery progress (htmx fragment)
    "run_regenerate": only("draft_runs", ok=302),  # POST only; GET goes back to the run
    "run_draft": Access(BILLING),  # a draft document (R25): never a Kund's
    "run_draft_pdf": Access(BILLING),
    # Fakturor
    "invoices": Access(BILLING_OR_OWN),
    "invoice": Access(BILLING_OR_OWN, own=True),
    "invoice_document": Access(BILLING_OR_OWN, own=True),
    "invoice_credit": only("credit_invoices", own=True),
    # Ändringar
    "changes": Access(BILLING),
    "changes_decide": only("decide_changes"),
    # Leveranser
    "deliveries": Access(BILLING),
    "delivery_resend": only("deliver_documents", ok=405),
    # GET without a choice: 400, "choose a run or numbers" (never the whole history)
    "deliver_now": only("deliver_documents", ok=400),
    # Betalningar and Kundreskontra (R21, R22): staff read; Ekonomi reads files and decides
    "payments": Access(BILLING),
    "payments_upload": only("manage_payments", ok=405),
    "payment_assign": only("manage_payments", ok=405),
    "payment_refund": only("manage_payments", ok=405),
    "invoice_dispute": only("manage_payments", ok=405),
    "invoice_dispute_close": only("manage_payments", ok=405),
    "receivables": Access(BILLING),
    # Genomlysning: a Granskare may compute the review again (it changes no data)
    "review": Access(REVIEW),
    "review_refresh": only("view_review", ok=405),
    "review_download": Access(REVIEW),
    # Bokföring
    "bookkeeping": Access(BILLING),
    "bookkeeping_preview": only("export_bookkeeping"),
    "bookkeeping_new_export": only("export_bookkeeping", ok=405),
    "bookkeeping_export": Access(BILLING),
    "bookkeeping_download": Access(BILLING),
    # Granskningslogg, Användare
    "audit": Access(REVIEW),
    "users": Access(USERS),
    "user_new": only("manage_users"),
    "user": Access(USERS),
    "user_role": only("manage_users", ok=405),
    "user_active": only("manage_users", ok=405),
    "user_token": only("manage_users", ok=405),
}

# How a path parameter is filled: (URL name, parameter) first, then the parameter alone.
# The values name keys of the seeded world (browser.seed_world); a list tries each value.
WEB_PARAMETERS: dict[tuple[str, str] | str, Any] = {
    ("job", "pk"): "jobs.fakturering",
    ("job_progress", "pk"): "jobs.fakturering",
    ("import", "pk"): "batch",
    ("run", "run_id"): ["issued_run", "draft_run"],
    ("run_issue", "run_id"): "draft_run",
    ("run_discard", "run_id"): "draft_run",
    ("run_notify", "run_id"): "draft_run",
    ("run_deliveries", "run_id"): "issued_run",
    ("run_regenerate", "run_id"): "draft_run",
    ("run_draft", "run_id"): "draft_run",
    ("run_draft", "invoice_id"): "draft_invoice",
    ("run_draft_pdf", "run_id"): "draft_run",
    ("run_draft_pdf", "invoice_id"): "draft_invoice",
    ("review_download", "pk"): "review_job",
    ("review_download", "kind"): ["html", "xlsx"],
    ("bookkeeping_export", "pk"): "sie_export",
    ("bookkeeping_download", "pk"): "sie_export",
    ("user", "pk"): "user_pk",
    ("user_role", "pk"): "user_pk",
    ("user_active", "pk"): "user_pk",
    ("user_token", "pk"): "user_pk",
    "number": "own_invoice",
    "payment_id": "unmatched_payment",
    "orgnr": "own.orgnr",
    "code": "own.account",
    "order_id": "own_orders.0",
    "file_format": ["pdf", "ubl", "xlsx", "csv"],
}

# --- The REST API: "METHOD /path/{param}" → access ------------------------------------------
API: dict[str, Access] = {
    "GET /api/v1/me": Access(LOGGED_IN),
    "GET /api/v1/imports": Access(BILLING),
    "GET /api/v1/imports/{import_id}": Access(BILLING),
    "GET /api/v1/imports/{import_id}/quarantine": Access(BILLING),
    "POST /api/v1/imports/{kind}": only("import_files"),
    "GET /api/v1/jobs/{job_id}": Access(BILLING),
    "GET /api/v1/runs": Access(BILLING),
    "POST /api/v1/runs": only("draft_runs"),
    "POST /api/v1/runs/preview": only("draft_runs"),
    "GET /api/v1/runs/{run_id}": Access(BILLING),
    "POST /api/v1/runs/{run_id}/issue": only("issue_runs"),
    "POST /api/v1/runs/{run_id}/discard": only("discard_runs"),
    "GET /api/v1/runs/{run_id}/drafts/{account_code}/{month}": Access(BILLING),
    "GET /api/v1/invoices": Access(BILLING_OR_OWN),
    "GET /api/v1/invoices/{number}": Access(BILLING_OR_OWN, own=True),
    "GET /api/v1/invoices/{number}/document": Access(BILLING_OR_OWN, own=True),
    "POST /api/v1/invoices/{number}/credit": only("credit_invoices", own=True),
    "GET /api/v1/changes": Access(BILLING),
    "POST /api/v1/changes/accept": only("decide_changes"),
    "POST /api/v1/changes/reject": only("decide_changes"),
    "GET /api/v1/review": Access(REVIEW),
    # a Kund reads its own organisation through the API (the web has no customer page for it)
    "GET /api/v1/customers": Access(BILLING_OR_OWN),
    "GET /api/v1/customers/{orgnr}": Access(BILLING_OR_OWN, own=True),
    "GET /api/v1/orders": Access(BILLING_OR_OWN),
    "GET /api/v1/orders/{order_id}": Access(BILLING_OR_OWN, own=True),
    "GET /api/v1/deliveries": Access(BILLING),
    "POST /api/v1/deliveries/{number}/resend": only("deliver_documents", own=True),
    # Payments and receivables (R21, R22): staff; a Kund sees paid/open on its own invoices
    "GET /api/v1/payments": Access(BILLING),
    "POST /api/v1/payments/import": only("manage_payments"),
    "GET /api/v1/receivables": Access(BILLING),
}
API_PARAMETERS: dict[tuple[str, str] | str, Any] = {
    ("GET /api/v1/jobs/{job_id}", "job_id"): "jobs.fakturering",
    ("POST /api/v1/runs/{run_id}/issue", "run_id"): "draft_run",
    ("POST /api/v1/runs/{run_id}/discard", "run_id"): "draft_run",
    ("GET /api/v1/runs/{run_id}/drafts/{account_code}/{month}", "run_id"): "draft_run",
    "account_code": "own.account",
    "month": "2020-04",
    "import_id": "batch",
    "kind": "orders",
    "number": "own_invoice",
    "run_id": ["issued_run", "draft_run"],
    "orgnr": "own.orgnr",
    "order_id": "own_orders.0",
    "format": ["pdf", "ubl", "xlsx", "csv"],
}
# Optional query parameters that are worth trying every value of.
API_QUERIES: dict[str, list[str]] = {
    "GET /api/v1/invoices/{number}/document": ["format"],
}

# What a Kund of Vårgårda must never see (Borås's name, order ids and card holders), and
# what a Kund of Borås must never see of Vårgårda.
SECRETS_OF = {
    OWN_KUND: lambda world: [
        world["other"]["name"],
        *world["other_orders"],
        "BS-APR",
        *world["other_holders"],
    ],
    OTHER_KUND: lambda world: [
        world["own"]["name"],
        *world["own_orders"],
        *world["may_orders"],
        "VG-APR",
        *world["own_holders"],
    ],
}


def permissions_of(actor: str) -> set[str]:
    if actor == ANONYMOUS:
        return set()
    return set(ROLES[ROLE_OF[actor]].permissions)


def expected_read(access: Access, actor: str, *, api: bool) -> int:
    if access.read is ANYONE:
        return access.ok
    if actor == ANONYMOUS:
        if access.anonymous is not None:
            return access.anonymous
        return 401 if api else 302
    if access.read and not permissions_of(actor) & set(access.read):
        return 403
    if access.own and actor == OTHER_KUND:
        return 404
    return access.ok


def may_write(access: Access, actor: str) -> bool:
    return bool(permissions_of(actor) & set(access.write))


def refused_write(access: Access, actor: str, *, api: bool) -> set[int]:
    """The answers that refuse a write: log in first, not your role, or not your object."""
    if actor == ANONYMOUS:
        return {401} if api else {302}
    if access.own and actor == OTHER_KUND:
        return {403, 404}
    return {403}


# --- Filling paths from the world -----------------------------------------------------------


def _value(world: dict[str, Any], key: Any, actor: str) -> list[str]:
    if isinstance(key, list):
        return [value for item in key for value in _value(world, item, actor)]
    if not isinstance(key, str) or not re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)*", key):
        return [str(key)]
    value: Any = world
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)]
        else:
            return [key]  # a literal, such as a format
    return [str(value)]


def fill(
    name: str,
    params: list[str],
    table: dict[Any, Any],
    world: dict[str, Any],
    actor: str,
) -> list[dict[str, str]]:
    """Every combination of values for the route's parameters; fails for an unknown one."""
    combos: list[dict[str, str]] = [{}]
    for param in params:
        key = table.get((name, param), table.get(param))
        assert key is not None, (
            f"{name}: parameter {param!r} is not filled; add it to the parameter table"
        )
        combos = [
            {**combo, param: value} for combo in combos for value in _value(world, key, actor)
        ]
    return combos


def web_routes() -> list[tuple[str, str, list[str]]]:
    """(URL name, route with <converter:param>, parameters) of every page in namespace web."""
    found: list[tuple[str, str, list[str]]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
                if namespace == "" and entry.namespace:
                    inner = entry.namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern) and namespace == "web" and entry.name:
                route = prefix + str(entry.pattern)
                found.append((entry.name, route, re.findall(r"<(?:\w+:)?(\w+)>", route)))

    walk(get_resolver().url_patterns, "/", "")
    return found


def web_paths(world: dict[str, Any], actor: str) -> Iterator[tuple[str, str, Access]]:
    from django.urls import reverse

    for name, _, params in web_routes():
        access = WEB[name]
        for kwargs in fill(name, params, WEB_PARAMETERS, world, actor):
            yield name, reverse(f"web:{name}", kwargs=kwargs), access


def api_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) of every operation in the OpenAPI schema."""
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def api_paths(
    schema: dict[str, Any], world: dict[str, Any], actor: str
) -> Iterator[tuple[str, str, str, dict[str, Any], Access]]:
    for method, template, operation in api_operations(schema):
        key = f"{method} {template}"
        access = API[key]
        params = re.findall(r"{(\w+)}", template)
        query_params = [
            parameter["name"]
            for parameter in operation.get("parameters", [])
            if parameter.get("in") == "query"
            and (parameter.get("required") or parameter["name"] in API_QUERIES.get(key, []))
        ]
        for kwargs in fill(key, params + query_params, API_PARAMETERS, world, actor):
            path = template
            for param in params:
                path = path.replace("{" + param + "}", kwargs[param])
            query = "&".join(f"{param}={kwargs[param]}" for param in query_params)
            yield method, path + (f"?{query}" if query else ""), key, operation, access


# --- A minimal valid body, so a refused write is refused for the role, not for the body ------


def example_body(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    if "$ref" in node:
        target: Any = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return example_body(schema, target)
    for combined in ("allOf", "anyOf", "oneOf"):
        if combined in node:
            return example_body(schema, node[combined][0])
    kind = node.get("type")
    if "enum" in node:
        return node["enum"][0]
    if "default" in node:
        return node["default"]
    if kind == "object" or "properties" in node:
        return {
            name: example_body(schema, node["properties"][name])
            for name in node.get("required", [])
        }
    if kind == "array":
        item = example_body(schema, node.get("items", {}))
        return [item] * max(1, int(node.get("minItems", 1)))
    if kind == "integer":
        return 1
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if node.get("format") == "date":
        return "2020-03-01"
    return "x"


def send_write(
    client: Client, schema: dict[str, Any], method: str, path: str, operation: dict[str, Any]
) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = example_body(schema, content["application/json"]["schema"])
        return client.generic(method, path, json.dumps(body), content_type="application/json")
    if "multipart/form-data" in content:
        from django.core.files.uploadedfile import SimpleUploadedFile

        form = example_body(schema, content["multipart/form-data"]["schema"])
        upload = SimpleUploadedFile("matris.csv", b"order_id\r\n", content_type="text/csv")
        data = {key: (upload if value == "x" else value) for key, value in form.items()}
        return client.post(path, data)
    return client.generic(method, path)


# --- The fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Seeded once for the module, inside a transaction that is rolled back at its end; each
    test runs in a savepoint of its own within it."""
    from django.db import transaction
    from django.test import override_settings

    data = tmp_path_factory.mktemp("world")
    # Reports and exports are written under DATA_DIR: a directory of this module's own.
    with override_settings(DATA_DIR=data), django_db_blocker.unblock(), transaction.atomic():
        yield seed_world(data / "outbox")
        transaction.set_rollback(True)


@pytest.fixture
def clients(world: dict[str, Any]) -> dict[str, Client]:
    from django.contrib.auth import get_user_model

    made: dict[str, Client] = {}
    for actor in ACTORS:
        client = Client(raise_request_exception=False)
        if actor != ANONYMOUS:
            client.force_login(get_user_model().objects.get(username=actor))
        made[actor] = client
    return made


# Bookkeeping of the visit itself, not a change that a write made.
VISIT_COLUMNS = {"last_used_at", "last_login"}


def fingerprint() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the application owns, and its users and groups (without the
    columns that record a visit)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models():
        label = model._meta.app_label
        if label in ("sessions", "axes", "contenttypes", "admin"):
            continue
        rows[model._meta.label] = [
            {key: str(value) for key, value in row.items() if key not in VISIT_COLUMNS}
            for row in model.objects.order_by("pk").values()
        ]
    return rows


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _leaks(actor: str, world: dict[str, Any], where: str, body: str) -> list[str]:
    if actor not in SECRETS_OF:
        return []
    return [
        f"{where}: {actor} ser {secret!r}" for secret in SECRETS_OF[actor](world) if secret in body
    ]


# --- The tests ------------------------------------------------------------------------------


def test_every_page_and_operation_is_in_the_tables(client: Client) -> None:
    """A new page or operation needs one line in the table: which permission it takes."""
    missing = [name for name, _, _ in web_routes() if name not in WEB]
    assert not missing, f"pages without a line in WEB: {missing}"
    schema = client.get("/api/v1/openapi.json").json()
    operations = {f"{method} {path}" for method, path, _ in api_operations(schema)}
    assert not operations - set(API), f"operations without a line in API: {operations - set(API)}"
    used = {name for access in [*WEB.values(), *API.values()] for name in access.write}
    used |= {name for access in [*WEB.values(), *API.values()] for name in access.read or ()}
    assert used <= set(PERMISSIONS), used - set(PERMISSIONS)


@pytest.mark.parametrize("actor", ACTORS)
def test_web_pages_answer_each_actor_as_the_roles_allow(
    actor: str, world: dict[str, Any], clients: dict[str, Client]
) -> None:
    client = clients[actor]
    wrong: list[str] = []
    leaks: list[str] = []
    for name, path, access in web_paths(world, actor):
        response = client.get(path)
        expected = expected_read(access, actor, api=False)
        if response.status_code != expected:
            wrong.append(f"GET {path} ({name}): {response.status_code}, väntat {expected}")
        elif expected == 302 and actor == ANONYMOUS:
            location = response.headers.get("Location", "")
            if not location.startswith("/logga-in/?next="):
                wrong.append(f"GET {path}: skickas till {location}, inte till inloggningen")
        leaks += _leaks(actor, world, f"GET {path}", _body(response))
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("actor", ACTORS)
def test_api_operations_answer_each_actor_as_the_roles_allow(
    actor: str, world: dict[str, Any], client: Client
) -> None:
    from kortfaktura.access.services import create_token

    schema = client.get("/api/v1/openapi.json").json()
    headers = {} if actor == ANONYMOUS else {"Authorization": f"Bearer {create_token(actor)}"}
    api = Client(raise_request_exception=False, headers=headers)
    wrong: list[str] = []
    leaks: list[str] = []
    for method, path, key, _, access in api_paths(schema, world, actor):
        if method != "GET":
            continue
        response = api.get(path)
        expected = expected_read(access, actor, api=True)
        if response.status_code != expected:
            wrong.append(f"GET {path} ({key}): {response.status_code}, väntat {expected}")
        leaks += _leaks(actor, world, f"GET {path}", _body(response))
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)


def test_writes_by_those_who_may_not_are_refused_and_change_nothing(
    world: dict[str, Any], clients: dict[str, Client], client: Client
) -> None:
    """Every page and operation that takes writes, POSTed (or PUT, PATCH, DELETE) by every
    actor whose role may not: refused, and not one row of the database differs afterwards."""
    from kortfaktura.access.services import create_token

    schema = client.get("/api/v1/openapi.json").json()
    api_clients = {
        actor: Client(
            raise_request_exception=False,
            headers={}
            if actor == ANONYMOUS
            else {"Authorization": f"Bearer {create_token(actor)}"},
        )
        for actor in ACTORS
    }
    before = fingerprint()
    wrong: list[str] = []
    sent = 0
    for actor in ACTORS:
        for name, path, access in web_paths(world, actor):
            if not access.write or may_write(access, actor):
                continue
            response = clients[actor].post(path, {})
            sent += 1
            refused = refused_write(access, actor, api=False)
            if response.status_code not in refused:
                wrong.append(
                    f"{actor}: POST {path} ({name}): {response.status_code}, väntat {refused}"
                )
        for method, path, _key, operation, access in api_paths(schema, world, actor):
            if method == "GET" or may_write(access, actor):
                continue
            response = send_write(api_clients[actor], schema, method, path, operation)
            sent += 1
            refused = refused_write(access, actor, api=True)
            if response.status_code not in refused:
                wrong.append(f"{actor}: {method} {path}: {response.status_code}, väntat {refused}")
    assert not wrong, "\n".join(wrong)
    after = fingerprint()
    changed = [label for label in before if before[label] != after.get(label)]
    assert not changed, f"refused writes changed {changed}"
    assert sent > 0


def test_a_job_is_followed_by_every_staff_member_and_by_no_kund(
    world: dict[str, Any], clients: dict[str, Client]
) -> None:
    """Jobs are shared staff work: a colleague told that an import runs can follow it."""
    job = world["jobs"]["fakturering"]
    for actor in ("admin", "ekonomi", "fakturering", "granskare"):
        assert clients[actor].get(f"/jobb/{job}/").status_code == 200
        assert clients[actor].get(f"/jobb/{job}/status/").status_code == 200
    for actor in (OWN_KUND, OTHER_KUND):
        assert clients[actor].get(f"/jobb/{job}/").status_code == 403
