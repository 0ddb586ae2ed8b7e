"""Django settings, read from the environment with safe defaults for local use.

Environment variables:
- ``DATABASE_URL``: ``postgres://user@host:port/name``; unset means the embedded SQLite database.
- ``KORTFAKTURA_DATA_DIR``: where the SQLite file and generated files live (default ``./var``).
- ``SECRET_KEY``: signs sessions; unset = a random key kept in ``DATA_DIR/secret_key``.
- ``DEBUG``: ``1`` to enable Django's debug mode.
- ``KORTFAKTURA_SQLITE_TIMEOUT``: seconds a SQLite writer waits for another (default 30).
- ``KORTFAKTURA_DEBUG``: ``1`` shows the traceback of an unexpected error on stderr too.
- ``ALLOWED_HOSTS``: comma-separated host names for ``serve``.
- ``KORTFAKTURA_SIE_SERIES``, ``KORTFAKTURA_FISCAL_YEAR_START``, ``KORTFAKTURA_ACCOUNT_*``:
  bookkeeping, the SIE export's voucher series, financial year and accounts (docs/accounting.md).
"""

import datetime as dt
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from kortfaktura import standards

DATA_DIR = Path(os.environ.get("KORTFAKTURA_DATA_DIR", "var")).resolve()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in DATA_DIR/secret_key (mode 600),
    made on first use: sessions and CSRF tokens are never signed with a key from the source."""
    from_environment = os.environ.get("SECRET_KEY", "").strip()
    if from_environment:
        return from_environment
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    except OSError:
        return "kortfaktura-unreadable-key-" + os.urandom(16).hex()
    import secrets

    key = secrets.token_urlsafe(50)
    if not DATA_DIR.is_dir():
        return key  # no data directory yet, so no database and no session to keep either
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        pass  # a read-only data directory: this process's key, sessions end with it
    return key


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("DEBUG", "") == "1"
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "kortfaktura.imports",
    "kortfaktura.audit",
    "kortfaktura.customers",
    "kortfaktura.catalog",
    "kortfaktura.orders",
    "kortfaktura.billing",
    "kortfaktura.documents",
    "kortfaktura.review",
    "kortfaktura.accounting",
    "kortfaktura.payments",
    "kortfaktura.delivery",
    "kortfaktura.access",
    "kortfaktura.jobs",
    "kortfaktura.cycle",
    # the task engine: Django 6's django.tasks (backport) and its database backend
    "django_tasks",
    "django_tasks_db",
    "kortfaktura.web",
    "kortfaktura.api",
    # ninja serves the API docs' Swagger UI from its own static files (no CDN)
    "ninja",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # GET /healthz answers here, before anything that needs the database (sessions, logins)
    "kortfaktura.web.middleware.HealthMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kortfaktura.web.middleware.SessionExpiryMiddleware",
    "kortfaktura.web.middleware.ActorMiddleware",
    "kortfaktura.api.middleware.JsonErrorsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: it answers a locked-out login attempt
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kortfaktura.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kortfaktura.web.navigation.context",
            ],
        },
    },
]

WSGI_APPLICATION = "kortfaktura.wsgi.application"


class SettingError(ImproperlyConfigured):
    """A setting from the environment that cannot work; the message says why and what to do, in
    Swedish, and the command line shows it as it is (``setting`` names the variable)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
DATABASE_URL_EXAMPLE = "postgres://kortfaktura@localhost:5432/kortfaktura"


def _database_from_url(url: str) -> dict[str, object]:
    """DATABASE_URL checked part by part first, so that a typo is answered in Swedish and never
    with the URL parser's English (nor with the password, which is never shown)."""
    advice = f"Rätta DATABASE_URL, t.ex. {DATABASE_URL_EXAMPLE}, eller ta bort den för SQLite."
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "Invalid IPv6 URL"
        raise SettingError(
            "DATABASE_URL",
            "DATABASE_URL: adressen går inte att tolka (t.ex. en hakparentes som inte stängs). "
            + advice,
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in POSTGRES_SCHEMES:
        shown = f"'{scheme}://'" if scheme else "inget schema"
        raise SettingError(
            "DATABASE_URL",
            f"DATABASE_URL har {shown}, men Kortfaktura använder PostgreSQL (postgres://) eller "
            f"den inbyggda SQLite-databasen (DATABASE_URL tom). {advice}",
        )
    port_text = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
    try:
        port = parts.port
    except ValueError:  # "Port could not be cast to integer value", "Port out of range"
        port = None
    if port_text and not port:
        raise SettingError(
            "DATABASE_URL",
            f"DATABASE_URL: porten '{port_text}' är inget tal mellan 1 och 65535. {advice}",
        )
    if not parts.path.strip("/"):
        raise SettingError(
            "DATABASE_URL", f"DATABASE_URL saknar databasens namn efter värden. {advice}"
        )
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError:  # dj-database-url's own checks, in English
        raise SettingError("DATABASE_URL", f"DATABASE_URL går inte att tolka. {advice}") from None
    # A server that does not answer (a dropped packet, a host that is gone) is reported within
    # seconds, by every command and by GET /healthz, instead of hanging for the operating
    # system's TCP timeout. ?connect_timeout=N in the URL overrides it.
    options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
    options.setdefault("connect_timeout", _connect_timeout())
    config["OPTIONS"] = options
    return config


def _connect_timeout() -> int:
    text = os.environ.get("KORTFAKTURA_DB_CONNECT_TIMEOUT", "10").strip()
    if not text.isdigit() or not 0 < int(text) < 3600:
        raise SettingError(
            "KORTFAKTURA_DB_CONNECT_TIMEOUT",
            f"KORTFAKTURA_DB_CONNECT_TIMEOUT är '{text}' men ska vara ett antal sekunder, "
            "t.ex. 10.",
        )
    return int(text)


def _database_from_environment() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return _database_from_url(url)
    return _sqlite_database(DATA_DIR / "kortfaktura.sqlite3")


def _sqlite_timeout() -> float:
    text = os.environ.get("KORTFAKTURA_SQLITE_TIMEOUT", "30").strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86_400:
        raise SettingError(
            "KORTFAKTURA_SQLITE_TIMEOUT",
            f"KORTFAKTURA_SQLITE_TIMEOUT är '{text}' men ska vara ett antal sekunder, t.ex. 30.",
        )
    return seconds


def _sqlite_database(path: Path) -> dict[str, object]:
    options: dict[str, object] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue up
        # instead of failing half-way with "database is locked".
        "transaction_mode": "IMMEDIATE",
        # Seconds a writer waits for another one before "database is locked".
        "timeout": _sqlite_timeout(),
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
        ),
    }
    # Django's SQLite backend, but a file this user may not write is opened read-only.
    return {"ENGINE": "kortfaktura.sqlite_backend", "NAME": str(path), "OPTIONS": options}


DATABASES = {"default": _database_from_environment()}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("KORTFAKTURA_STATIC_ROOT") or None
# The application serves its own static files (vendored htmx, its CSS and JS) straight from the
# installed packages: no collectstatic step, no CDN.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# The web application (issue 12; docs/web.md)
AUTHENTICATION_BACKENDS = [
    # first, as django-axes asks: it refuses a login while the user or address is locked out
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:overview"
LOGOUT_REDIRECT_URL = "web:login"
# Five failed logins lock the user name from that address for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("KORTFAKTURA_LOGIN_ATTEMPTS", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False
# Cookies only over HTTPS (browsers also accept them from http://localhost and 127.0.0.1);
# KORTFAKTURA_SECURE_COOKIES=0 only for a test installation behind plain HTTP on another host.
_secure_cookies = os.environ.get("KORTFAKTURA_SECURE_COOKIES", "1") != "0"
SESSION_COOKIE_SECURE = _secure_cookies
CSRF_COOKIE_SECURE = _secure_cookies
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A session ends after this many idle minutes, and always at the end of the working day (12 h).
# Django's database sessions, but a busy SQLite database does not turn a page into a 400.
SESSION_ENGINE = "kortfaktura.web.sessions"
SESSION_IDLE_MINUTES = int(os.environ.get("KORTFAKTURA_SESSION_IDLE_MINUTES", "30"))
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("KORTFAKTURA_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]
BEHIND_PROXY = os.environ.get("KORTFAKTURA_BEHIND_PROXY", "") == "1"
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    # Behind the proxy every request comes from the proxy's address: throttle logins (and
    # record them) by the client's address, the one the proxy appends to X-Forwarded-For.
    AXES_IPWARE_PROXY_COUNT = 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
# No inline script or style anywhere: everything comes from the application's own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The task engine (docs/architecture.md): tasks are rows in our own database, taken by
# ``kortfaktura worker`` processes (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, an exclusive
# transaction on SQLite). IMMEDIATE_TASKS runs a task inside the call that queues it: for tests
# about a page (Django's test client in a transaction) and KORTFAKTURA_JOBS_IN_BACKGROUND=0.
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
TASKS = (
    IMMEDIATE_TASKS
    if os.environ.get("KORTFAKTURA_JOBS_IN_BACKGROUND", "1") == "0"
    else DATABASE_TASKS
)
# A worker that has not been heard of for this long (seconds) is dead: its task is taken up
# again. A live worker reports every WORKER_HEARTBEAT seconds, also while a task runs.
WORKER_LEASE = int(os.environ.get("KORTFAKTURA_WORKER_LEASE", "60") or 60)
WORKER_HEARTBEAT = max(1, WORKER_LEASE // 6)
# A task is tried this many times (a worker that died counts as a try) before it is failed.
TASK_ATTEMPTS = int(os.environ.get("KORTFAKTURA_TASK_ATTEMPTS", "3") or 3)
# The wait before try n+1 is TASK_BACKOFF * 2**(n-1) seconds (30 s, 60 s, …).
TASK_BACKOFF = float(os.environ.get("KORTFAKTURA_TASK_BACKOFF", "30") or 0)
# Uploaded files larger than this are refused before they are read (bytes; default 200 MB).
UPLOAD_LIMIT = int(os.environ.get("KORTFAKTURA_UPLOAD_LIMIT", str(200 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The seller on every invoice (DOMAIN.md §6). Bankgiro and terms are settings, not code; the
# default Bankgiro number is a demo number with a valid check digit, not VGR's.
SELLER = {
    "name": os.environ.get("KORTFAKTURA_SELLER_NAME", "Västra Götalandsregionen"),
    "department": os.environ.get("KORTFAKTURA_SELLER_DEPARTMENT", "GITS"),
    "street": os.environ.get("KORTFAKTURA_SELLER_STREET", "Regionens Hus"),
    "postal_code": os.environ.get("KORTFAKTURA_SELLER_POSTAL_CODE", "405 44"),
    "city": os.environ.get("KORTFAKTURA_SELLER_CITY", "Göteborg"),
    "country": "SE",
    "orgnr": os.environ.get("KORTFAKTURA_SELLER_ORGNR", "2321000131"),
    "vat_number": os.environ.get("KORTFAKTURA_SELLER_VAT", "SE232100013101"),
    "bankgiro": os.environ.get("KORTFAKTURA_BANKGIRO", "123-4566"),
    "email": os.environ.get("KORTFAKTURA_SELLER_EMAIL", "gits@vgregion.se"),
    "f_skatt": os.environ.get("KORTFAKTURA_F_SKATT", "") == "1",
}
PAYMENT_TERMS_DAYS = int(os.environ.get("KORTFAKTURA_PAYMENT_TERMS_DAYS", "30"))
# Reminders (R23): one per overdue invoice and step, this many days after the due date (or the
# previous reminder's new due date), with a new due date this many days after the reminder.


def _days(name: str, default: int, least: int = 0) -> int:
    text = os.environ.get(name, str(default)).strip()
    if not text.isdigit() or not least <= int(text) <= 3650:
        raise SettingError(
            name, f"{name} är '{text}' men ska vara ett heltal från {least}, t.ex. {default}."
        )
    return int(text)


def _kronor(name: str, most: Decimal, example: str) -> Decimal:
    text = os.environ.get(name, "0").strip().replace(",", ".").replace(" ", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or not Decimal(0) <= amount <= most:
        raise SettingError(
            name,
            f"{name} är '{os.environ.get(name)}' men ska vara ett belopp i kronor från 0 till "
            f"{most:.0f}, t.ex. {example}.",
        )
    return amount.quantize(Decimal("0.01"))


REMINDER_DAYS = _days("KORTFAKTURA_REMINDER_DAYS", 10)
REMINDER_STEPS = _days("KORTFAKTURA_REMINDER_STEPS", 1)  # 0: no reminders
REMINDER_DUE_DAYS = _days("KORTFAKTURA_REMINDER_DUE_DAYS", 10, least=1)
# Reminder fee and late-payment interest: off, as R23 says for public bodies. The fee only where
# the customer agreed to it, at most what the Swedish debt-collection rules allow for a written
# reminder (60 kr); the interest as räntelagen 6 §: the Riksbank's reference rate (a setting,
# since it changes twice a year and this machine asks nobody) plus 8 percentage points.
REMINDER_FEE_LIMIT = Decimal("60.00")
REMINDER_FEE = _kronor("KORTFAKTURA_REMINDER_FEE", REMINDER_FEE_LIMIT, "60")
_late_interest = os.environ.get("KORTFAKTURA_LATE_INTEREST", "0").strip()
if _late_interest not in ("", "0", "1"):
    raise SettingError(
        "KORTFAKTURA_LATE_INTEREST",
        f"KORTFAKTURA_LATE_INTEREST är '{_late_interest}' men ska vara 1 (dröjsmålsränta visas på "
        "påminnelser) eller 0 (ingen, standard).",
    )
LATE_INTEREST = _late_interest == "1"
REFERENCE_RATE_EXAMPLE = "2026-01-01=2,00;2026-07-01=1,75"


def _reference_rates(text: str) -> tuple[tuple[dt.date, Decimal], ...]:
    """``1,75`` (one rate for every day) or ``2026-01-01=2,00;2026-07-01=1,75`` (each rate for
    the half-year it starts in, as the Riksbank sets it on 1 January and 1 July). Raises
    ``ValueError`` naming the entry that cannot be read."""

    def rate(value: str) -> Decimal:
        value = value.strip().rstrip("%").strip()
        if not re.fullmatch(r"-?\d{1,2}([.,]\d{1,4})?", value):
            raise ValueError(value)
        return Decimal(value.replace(",", "."))

    text = text.strip()
    if not text:
        raise ValueError("")
    if "=" not in text:
        return ((dt.date.min, rate(text)),)
    entries = []
    for part in text.strip(";").split(";"):
        day, equals, value = part.partition("=")
        if not equals or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day.strip()):
            raise ValueError(part.strip())
        try:
            starts = dt.date.fromisoformat(day.strip())
        except ValueError:
            raise ValueError(part.strip()) from None
        try:
            entries.append((starts, rate(value)))
        except ValueError:
            raise ValueError(part.strip()) from None
    if len({day for day, _ in entries}) != len(entries):
        raise ValueError("samma datum två gånger")
    return tuple(sorted(entries))


REFERENCE_RATES: tuple[tuple[dt.date, Decimal], ...] = ()
if LATE_INTEREST:
    try:
        REFERENCE_RATES = _reference_rates(os.environ.get("KORTFAKTURA_REFERENCE_RATE", ""))
    except ValueError as unread:
        raise SettingError(
            "KORTFAKTURA_REFERENCE_RATE",
            (f"KORTFAKTURA_REFERENCE_RATE: '{unread}' går inte att läsa. " if str(unread) else "")
            + "KORTFAKTURA_LATE_INTEREST=1 kräver KORTFAKTURA_REFERENCE_RATE: Riksbankens "
            "referensränta i procent, en för alla dagar (t.ex. 1,75) eller en från varje "
            f"halvårsskifte (t.ex. {REFERENCE_RATE_EXAMPLE}); dröjsmålsräntan blir den plus "
            "8 procentenheter enligt räntelagen.",
        ) from None
FIRST_INVOICE_NUMBER = int(os.environ.get("KORTFAKTURA_FIRST_INVOICE_NUMBER", "100001"))
# Internal charges and internal credits (R17) have a series of their own: eight digits starting
# with 9, told apart at a glance from the six-digit invoice numbers.
FIRST_INTERNAL_NUMBER = int(os.environ.get("KORTFAKTURA_FIRST_INTERNAL_NUMBER", "90000001"))
# Orders of this period are billed only by separate (--legacy) runs (DOMAIN.md R7).
LEGACY_PERIOD = (
    os.environ.get("KORTFAKTURA_LEGACY_FROM", "2019-01-01"),
    os.environ.get("KORTFAKTURA_LEGACY_TO", "2020-02-28"),
)

# Bookkeeping (SIE 4 export, docs/accounting.md): the voucher series, the first month of the
# financial year, and the chart of accounts with BAS defaults. Every account is changeable.
SIE_SERIES = os.environ.get("KORTFAKTURA_SIE_SERIES", "KF")
_fiscal_start = os.environ.get("KORTFAKTURA_FISCAL_YEAR_START", "1").strip()
# Not a number: 0, which the export refuses with a Swedish message naming the setting.
FISCAL_YEAR_START_MONTH = int(_fiscal_start) if _fiscal_start.isdigit() else 0
ACCOUNTS = {
    "receivable": os.environ.get("KORTFAKTURA_ACCOUNT_RECEIVABLE", "1510"),
    # Revenue by VAT rate, for lines without a revenue account of their own (from the price row).
    "revenue": {
        "25": os.environ.get("KORTFAKTURA_ACCOUNT_REVENUE_25", "3001"),
        "12": os.environ.get("KORTFAKTURA_ACCOUNT_REVENUE_12", "3002"),
        "6": os.environ.get("KORTFAKTURA_ACCOUNT_REVENUE_6", "3003"),
        "0": os.environ.get("KORTFAKTURA_ACCOUNT_REVENUE_0", "3004"),
    },
    # Output VAT by VAT rate.
    "vat": {
        "25": os.environ.get("KORTFAKTURA_ACCOUNT_VAT_25", "2611"),
        "12": os.environ.get("KORTFAKTURA_ACCOUNT_VAT_12", "2621"),
        "6": os.environ.get("KORTFAKTURA_ACCOUNT_VAT_6", "2631"),
    },
    "rounding": os.environ.get("KORTFAKTURA_ACCOUNT_ROUNDING", "3740"),
    # Internal charges (R17): the unit's cost (with its cost centre) and the internal revenue.
    "internal_cost": os.environ.get("KORTFAKTURA_ACCOUNT_INTERNAL_COST", "6540"),
    "internal_revenue": os.environ.get("KORTFAKTURA_ACCOUNT_INTERNAL_REVENUE", "3990"),
    # Payments (R21, DOMAIN.md §5): the bank account they arrive on, against receivables.
    "bank": os.environ.get("KORTFAKTURA_ACCOUNT_BANK", "1930"),
}
# Payments are vouchers of their own series, numbered by the payment's id.
SIE_PAYMENT_SERIES = os.environ.get("KORTFAKTURA_SIE_PAYMENT_SERIES", "KFB")
# Names in the SIE file's #KONTO rows (BAS 2026); KORTFAKTURA_ACCOUNT_NAMES adds or renames,
# e.g. "3011=Försäljning eTjänstekort;3990=Interna intäkter". A revenue account that is not
# named here is called "Intäkter <nr>".
ACCOUNT_NAMES = {
    "1510": "Kundfordringar",
    "1930": "Företagskonto/checkkonto/affärskonto",
    "2611": "Utgående moms på försäljning inom Sverige, 25 %",
    "2621": "Utgående moms på försäljning inom Sverige, 12 %",
    "2631": "Utgående moms på försäljning inom Sverige, 6 %",
    "3001": "Försäljning inom Sverige, 25 % moms",
    "3002": "Försäljning inom Sverige, 12 % moms",
    "3003": "Försäljning inom Sverige, 6 % moms",
    "3004": "Försäljning inom Sverige, momsfri",
    "3740": "Öres- och kronutjämning",
    "3990": "Övriga ersättningar och intäkter",
    "6540": "IT-tjänster",
} | {
    number.strip(): name.strip()
    for number, _, name in (
        pair.partition("=")
        for pair in os.environ.get("KORTFAKTURA_ACCOUNT_NAMES", "").split(";")
        if "=" in pair
    )
    if number.strip() and name.strip()
}

# The official OpenPEPPOL validation artefacts (rules/, xsd/): by default those shipped inside the
# package (kortfaktura/standards/peppol, see its SOURCE.md); the variable points at another copy.
PEPPOL_RULES_DIR = Path(
    os.environ.get("KORTFAKTURA_PEPPOL_RULES_DIR", "").strip() or standards.PEPPOL
)

# Processes that render and validate documents in large exports.
# Without the rules, issuing refuses (a document that could never be valid must not get a
# number); set to 1 to issue anyway, recording the documents as "unchecked".
ISSUE_WITHOUT_VALIDATION = os.environ.get("KORTFAKTURA_ISSUE_WITHOUT_VALIDATION", "") == "1"
DOCUMENT_WORKERS = int(os.environ.get("KORTFAKTURA_DOCUMENT_WORKERS", min(2, os.cpu_count() or 1)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Delivery (R20; docs/operations.md). Empty = the channel is not set up; `deliver` then refuses
# to hand documents to that channel and names the variable.
PEPPOL_OUTBOX = os.environ.get("KORTFAKTURA_PEPPOL_OUTBOX", "").strip()
PEPPOL_INBOX = os.environ.get("KORTFAKTURA_PEPPOL_INBOX", "").strip()
SSH_KEY = os.environ.get("KORTFAKTURA_SSH_KEY", "").strip()
SMTP_URL = os.environ.get("KORTFAKTURA_SMTP_URL", "").strip()
MAIL_FROM = os.environ.get("KORTFAKTURA_MAIL_FROM", "").strip()
PRINT_DIR = os.environ.get("KORTFAKTURA_PRINT_DIR", "").strip()
PEPPOL_SENDER = os.environ.get("KORTFAKTURA_PEPPOL_SENDER", "0007:2321000131").strip()
# The access point's Peppol participant id (scheme:id): the only sender whose Message Level
# Responses count (R20). Unset, every MLR is quarantined with a reason saying to set it.
PEPPOL_AP_ID = os.environ.get("KORTFAKTURA_PEPPOL_AP_ID", "").strip()
# The largest file read from the Peppol inbox (bytes); a receipt is a few kilobytes, and a
# larger file is quarantined unread. Anything but a positive whole number means the default.
_inbox_max = os.environ.get("KORTFAKTURA_INBOX_MAX_BYTES", "").strip()
INBOX_MAX_BYTES = int(_inbox_max) if _inbox_max.isdigit() and int(_inbox_max) > 0 else 10_000_000

# The monthly cycle (DOMAIN.md R24, R25; docs/operations.md, Månadscykeln).
# Dual control: who made or last regenerated a draft cannot issue it; "0" for a one-person office.
DUAL_CONTROL = os.environ.get("KORTFAKTURA_DUAL_CONTROL", "1").strip() != "0"
ORDER_INBOX = os.environ.get("KORTFAKTURA_ORDER_INBOX", "").strip()
# Where the bank leaves payment files (BgMax, camt.054), read by the schedule (R21, R24).
PAYMENT_INBOX = os.environ.get("KORTFAKTURA_PAYMENT_INBOX", "").strip()
# "0": the workers run tasks but do not tick the schedule (a trial or test installation, or one
# where the schedule is ticked elsewhere with kortfaktura schedule tick).
SCHEDULE = os.environ.get("KORTFAKTURA_SCHEDULE", "1").strip() != "0"
_billing_day = os.environ.get("KORTFAKTURA_BILLING_DAY", "3").strip()
# The bank day of the month on which the monthly draft is made; 1–20 (a month has at least 19
# bank days in Sweden, but a later day leaves no time to issue before the month ends).
BILLING_DAY = int(_billing_day) if _billing_day.isdigit() and 1 <= int(_billing_day) <= 20 else 3
BASE_URL = os.environ.get("KORTFAKTURA_BASE_URL", "").strip().rstrip("/")
