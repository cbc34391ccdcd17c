"""qiportal settings: one module driven by environment variables (STYLE §2).

Unset means the embedded default: SQLite file database, Celery tasks run eagerly
after commit, no server needed. ``DATABASE_URL`` selects PostgreSQL,
``CELERY_BROKER_URL`` selects a broker (Redis in production) and a worker.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("QIPORTAL_DATA_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # pytest sets PYTEST_VERSION; tests run with an insecure throw-away key.
    if not DEBUG and not env_bool("QIPORTAL_ALLOW_INSECURE_KEY") and not os.environ.get("PYTEST_VERSION"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (set DEBUG=1 or QIPORTAL_ALLOW_INSECURE_KEY=1 for local use)."
        )
    SECRET_KEY = "insecure-local-development-key-not-for-production"

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "django_htmx",
    "axes",
    "centres",
    "indicators",
    "datasheets",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "qiportal.middleware.GermanFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last (django-axes): a lock-out becomes the login page
]

ROOT_URLCONF = "qiportal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "qiportal.wsgi.application"

DATA_DIR.mkdir(parents=True, exist_ok=True)
_sqlite_path = DATA_DIR / "qiportal.sqlite3"
DATABASES = {"default": dj_database_url.config(env="DATABASE_URL", default=f"sqlite:///{_sqlite_path}", conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A local worker and the web server share the file: wait for locks, WAL mode.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("QIPORTAL_TEST_SQLITE")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if os.environ.get("PYTEST_VERSION"):
    # Tests log users in thousands of times; a slow hash buys nothing there.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "de"
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True
# One date format on every page, TT.MM.JJJJ (issue 9): qiportal/formats/<lang>/formats.py.
FORMAT_MODULE_PATH = ["qiportal.formats"]

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it (collectstatic fills it)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if DEBUG or os.environ.get("PYTEST_VERSION"):
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Uploads: the Datenblatt limit is 5 MB (SPEC §2), defined only here (the upload form,
# datasheets.services and datasheets.safety read it); the request may carry a little more.
DATASHEET_MAX_BYTES = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = DATASHEET_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = DATASHEET_MAX_BYTES + 1024 * 1024
# Evidence files answering an Abweichung (issue 9): PDF, PNG or JPEG, checked by content in
# indicators.evidence; each file at most this many bytes (default 10 MB). Larger files go
# to a temporary file during the upload (FILE_UPLOAD_MAX_MEMORY_SIZE), never into memory.
QIPORTAL_EVIDENCE_MAX_BYTES = int(os.environ.get("QIPORTAL_EVIDENCE_MAX_BYTES", str(10 * 1024 * 1024)))

# Security headers. CSP is Django's own (6.0+): no inline script, no third-party origin.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# Login throttling (issue 8, django-axes). After QIPORTAL_LOGIN_FAILURE_LIMIT failed logins
# (default 5) for one user name, or from one address, logins with that user name or from
# that address are refused -- the right password too -- until QIPORTAL_LOGIN_COOLOFF_MINUTES
# (default 15) have passed since the last counted failure, or until the certification
# office unlocks them (page "Anmeldesperren"). The login page says so, with HTTP 429.
# Failures during a lock-out are not counted (the cool-off does not grow); a successful
# login does not wipe the failures of its address (an attacker's own account would
# otherwise reset them). Successful logins are not stored (AXES_DISABLE_ACCESS_LOG).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("QIPORTAL_LOGIN_FAILURE_LIMIT", "5"))
_cooloff_minutes = float(os.environ.get("QIPORTAL_LOGIN_COOLOFF_MINUTES", "15"))
if AXES_FAILURE_LIMIT < 1 or _cooloff_minutes <= 0:
    raise ImproperlyConfigured("QIPORTAL_LOGIN_FAILURE_LIMIT must be >= 1 and QIPORTAL_LOGIN_COOLOFF_MINUTES > 0.")
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "qiportal.login.lockout_response"  # the login page with the message
AXES_CLIENT_IP_CALLABLE = "qiportal.login.client_ip_address"
# Reverse proxies in front of the application that append the client address to
# X-Forwarded-For (0: the address is REMOTE_ADDR). Behind one TLS proxy set 1, or every
# user shares the proxy's address and one lock-out locks out everyone.
QIPORTAL_PROXY_COUNT = int(os.environ.get("QIPORTAL_PROXY_COUNT", "0"))

# HTTPS (issue 8). One switch, QIPORTAL_HTTPS=1 (served over TLS, directly or behind a TLS
# proxy): redirect http to https, HSTS for one year with subdomains (and preload), Secure
# cookies; each still overridable by its own variable. With DEBUG off the session and CSRF
# cookies are Secure even without the switch; DEBUG=1 and the tests (http://testserver, a
# live server over http) keep plain http working.
QIPORTAL_HTTPS = env_bool("QIPORTAL_HTTPS", default=False)
_plain_http_ok = DEBUG or bool(os.environ.get("PYTEST_VERSION"))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=QIPORTAL_HTTPS)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=QIPORTAL_HTTPS or not _plain_http_ok)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS proxy: the header the proxy sets, e.g. QIPORTAL_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO
# (value "https"; "NAME=value" for another value). Only if the proxy always sets or
# strips it: a client could otherwise claim https.
_proxy_ssl_header = os.environ.get("QIPORTAL_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl_header:
    _name, _sep, _value = _proxy_ssl_header.partition("=")
    if not _name.startswith("HTTP_"):
        raise ImproperlyConfigured("QIPORTAL_PROXY_SSL_HEADER names a request.META key such as HTTP_X_FORWARDED_PROTO.")
    SECURE_PROXY_SSL_HEADER = (_name, _value or "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if QIPORTAL_HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)

# Celery: no broker configured -> tasks run eagerly (in process, after commit).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL or env_bool("CELERY_TASK_ALWAYS_EAGER")
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "queue"
    for _sub in ("in", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "in"),
        "data_folder_out": str(_queue_dir / "in"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_queue_dir / "control"),
    }
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "qiportal")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "60"))
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 30
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 512 * 1024  # KiB
# Nothing lost (issue 8): a message is acknowledged after its task ran and requeued when
# the worker child running it dies; Redis hands an unacknowledged message to another
# worker after ``visibility_timeout`` seconds, which must exceed the longest time a task
# may hold it (the hard time limits below, plus a prefetched wait): 3 x the longest.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# Parsing an uploaded workbook in the worker (issue 4): soft time limit (s) of the
# validation task and the extra address space (MB) it may take.
QIPORTAL_PARSE_TIME_LIMIT = float(os.environ.get("QIPORTAL_PARSE_TIME_LIMIT", "30"))
QIPORTAL_PARSE_MEMORY_MB = int(os.environ.get("QIPORTAL_PARSE_MEMORY_MB", "768"))
# Processing that dies (issue 8): soft time limit (s) of the evaluation task; attempts
# per step before a revision fails with ``processing_aborted``; a revision awaiting a
# task with no activity for ``QIPORTAL_STUCK_AFTER`` seconds is handed to the broker
# again by the recovery job, which Celery beat runs every ``QIPORTAL_RECOVER_INTERVAL``
# seconds (``celery -A qiportal beat``, or ``worker -B`` on a single machine).
QIPORTAL_EVALUATE_TIME_LIMIT = float(os.environ.get("QIPORTAL_EVALUATE_TIME_LIMIT", "60"))
QIPORTAL_PROCESSING_MAX_ATTEMPTS = int(os.environ.get("QIPORTAL_PROCESSING_MAX_ATTEMPTS", "3"))
QIPORTAL_STUCK_AFTER = float(os.environ.get("QIPORTAL_STUCK_AFTER", "300"))
QIPORTAL_RECOVER_INTERVAL = float(os.environ.get("QIPORTAL_RECOVER_INTERVAL", "60"))
_longest_task = max(QIPORTAL_PARSE_TIME_LIMIT, QIPORTAL_EVALUATE_TIME_LIMIT) + 30  # hard limit
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **globals().get("CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    "visibility_timeout": int(os.environ.get("QIPORTAL_VISIBILITY_TIMEOUT", 3 * _longest_task)),
}
# Celery evaluates crontab schedules in its own time zone: the portal's (Europe/Berlin).
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "revisions-recover": {
        "task": "datasheets.tasks.revisions_recover_task",
        "schedule": QIPORTAL_RECOVER_INTERVAL,
    },
    # The daily digest mail per person (issue 9), 06:00 Europe/Berlin.
    "digests-daily": {
        "task": "indicators.tasks.digests_send_task",
        "schedule": crontab(hour=6, minute=0),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("QIPORTAL_BEAT_SCHEDULE_FILE", str(DATA_DIR / "celerybeat-schedule"))

# Mail (issue 9: the daily digest), Django's MAILERS: the console backend (mails printed
# to the log) unless EMAIL_HOST is set in the environment; then SMTP with EMAIL_PORT
# (default 587), EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS (default on).
# No secrets in the repository: they come from the environment only.
_email_host = os.environ.get("EMAIL_HOST", "").strip()
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": int(os.environ.get("EMAIL_PORT", "587")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", default=True),
                "timeout": 30,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "QI-Portal KHT <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute links in mails (no request there): scheme, host and port, no trailing slash.
QIPORTAL_BASE_URL = os.environ.get("QIPORTAL_BASE_URL", "http://localhost:8000").rstrip("/")

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
