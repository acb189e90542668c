"""Tasktrack settings, read from the environment with safe development defaults.

DATABASE_URL unset: the development database (tasktrack.devdb) when it is running. REDIS_URL unset:
in-process cache and channel layer.
With DEBUG off, SECRET_KEY and ALLOWED_HOSTS must be set.
"""

import ipaddress
import os
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from tasktrack import devdb

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_choice(name: str, choices: list[str], default: str) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def database_from_url(url: str) -> dict:
    """Turn postgres://user:pass@host:port/name into a DATABASES entry with a connection pool.

    As in libpq, ?host=/a/directory&port=… names a Unix socket (postgres://user@/name?host=…).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be postgres://…, not {parts.scheme}://")
    query = parse_qs(parts.query)
    return {
        "ENGINE": "tasktrack.db",  # django.db.backends.postgresql, with a quicker pool recovery
        "NAME": unquote(parts.path.lstrip("/")) or "tasktrack",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or query.get("host", [""])[0],
        "PORT": str(parts.port or query.get("port", [""])[0]),
        # Django's psycopg pool instead of CONN_MAX_AGE (left at its default, 0): under daphne
        # each request runs in its own thread, where persistent connections pile up.
        # Each connection is tested as it leaves the pool, so one PostgreSQL closed meanwhile (a
        # restart, a failover, pg_terminate_backend) is replaced instead of failing the next
        # request. tasktrack.db replaces all the dead ones at once.
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "pool": {
                "min_size": int(os.environ.get("DB_POOL_MIN", "1")),
                "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
                "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
            },
            "connect_timeout": 5,
        },
    }


def redis_url_for_tests(url: str) -> str:
    """Tests run on their own Redis database index so they never touch a developer's data."""
    parts = urlsplit(url)
    index = os.environ.get("REDIS_TEST_DB", "15")
    return urlunsplit((parts.scheme, parts.netloc, f"/{index}", parts.query, parts.fragment))


DEBUG = env_bool("DEBUG", True)
TESTING = bool(os.environ.get("PYTEST_VERSION"))  # pytest sets it for the run and its children

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-change-me-tasktrack-0123456789abcdefghijklmnop"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "accounts",
    "boards",
    "aggregates",
    "api",
    "rest_framework",
    "drf_spectacular",
    "jobs",
    "webhooks",
    "imports",
    "notifications",
    "procrastinate.contrib.django",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "tasktrack.middleware.ForwardedClientMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tasktrack.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "tasktrack.middleware.RejectNullCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # The user's time zone (Profile.time_zone) for due dates: after the user is known.
    "tasktrack.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tasktrack.middleware.DatabaseUnavailableMiddleware",
    "boards.live.middleware.LiveClientMiddleware",
    # Last, as axes asks: turns a locked-out log-in into its 429 page (tasktrack.login.locked_out).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tasktrack.urls"
ASGI_APPLICATION = "tasktrack.asgi.application"
WSGI_APPLICATION = "tasktrack.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Partials as builtins: moving to Django 6 (partials built in) is a settings change.
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# PostgreSQL only. Unset, the development database that `make run` starts (tasktrack.devdb) if it
# is running, so `manage.py shell` beside `make run` reaches the same data; tests never use it
# unasked (`make test` sets DATABASE_URL). Otherwise a stand-in engine whose every use says how to
# start one, so commands that need no database (makemigrations, collectstatic) still run.
DATABASE_URL = os.environ.get("DATABASE_URL", "") or ("" if TESTING else devdb.running_url(BASE_DIR / ".data"))
DATABASES = {
    "default": database_from_url(DATABASE_URL) if DATABASE_URL else {"ENGINE": "tasktrack.devdb", "NAME": "tasktrack"}
}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL and TESTING:
    REDIS_URL = redis_url_for_tests(REDIS_URL)

# A dead Redis must never hang a request: every client gives up well under a second.
REDIS_CONNECT_TIMEOUT = float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.3"))
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.5"))

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tasktrack.channel_layer.RedisChannelLayer",  # receives despite the short timeouts
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                        "socket_timeout": REDIS_SOCKET_TIMEOUT,
                    }
                ],
                "capacity": 500,
                "expiry": 30,
                "receive_timeout": REDIS_SOCKET_TIMEOUT / 2,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Open board sockets one user may hold over every server process (boards.live.sockets); one more is
# closed with 4429. A process that dies without closing its sockets frees them after WS_SOCKET_TTL s.
WS_SOCKETS_PER_USER = int(os.environ.get("WS_SOCKETS_PER_USER", "20"))
WS_SOCKET_TTL = float(os.environ.get("WS_SOCKET_TTL", "60"))

DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Sessions live in PostgreSQL and are read through Redis (tasktrack.sessions: Django's cached_db,
# the cached copy kept at most SESSION_CACHE_SECONDS): a signed-in request costs no session query.
# Without Redis the cache is each process's own memory, where a log-out in one process would leave
# the session cached in the others: then the database alone.
SESSION_ENGINE = "tasktrack.sessions" if REDIS_URL else "django.contrib.sessions.backends.db"
SESSION_CACHE_SECONDS = int(os.environ.get("SESSION_CACHE_SECONDS", "300"))

# Heavy requests (CSV exports, insights over more than INSIGHTS_HEAVY_DAYS days) running at once,
# per user over all processes (counted in Redis) and per process; beyond either: 429 (boards.web.heavy).
HEAVY_REQUESTS_PER_USER = int(os.environ.get("HEAVY_REQUESTS_PER_USER", "2"))
HEAVY_REQUESTS_PER_PROCESS = int(os.environ.get("HEAVY_REQUESTS_PER_PROCESS", "4"))
INSIGHTS_HEAVY_DAYS = int(os.environ.get("INSIGHTS_HEAVY_DAYS", "90"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Fast hashing for the test suite only; everything else keeps Django's default.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out log-in before any password is checked (tasktrack/login.py).
    "axes.backends.AxesStandaloneBackend",
    # Log-in by username or e-mail address (a ModelBackend, permissions included).
    "accounts.backends.UsernameOrEmailBackend",
]

# Log-in protection (django-axes; tasktrack/login.py says why these keys and limits). Failures
# are counted in the cache (Redis), like our other rate limits, for LOGIN_LOCKOUT_MINUTES after
# the last one; a correct password resets its username's counts.
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "50"))
AXES_HANDLER = "tasktrack.login.LoginLimitHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURES_PER_USERNAME", "5"))
AXES_LOCKOUT_PARAMETERS = [["username"], ["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True
# A refused attempt (already locked out) neither counts nor extends the lock: Retry-After holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "tasktrack.login.client_ip"
AXES_USERNAME_CALLABLE = "tasktrack.login.username_of"
AXES_LOCKOUT_CALLABLE = "tasktrack.login.locked_out"
# The cache handler keeps no rows: axes' admin pages would only ever be empty.
AXES_ENABLE_ADMIN = False

# The REST API (api/, README "REST API"): JSON only, token or session, per-token rate limits
# (requests a minute, reads and writes counted apart; over: 429 with Retry-After).
API_RATE_READ = int(os.environ.get("API_RATE_READ", "1200"))
API_RATE_WRITE = int(os.environ.get("API_RATE_WRITE", "600"))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",  # first: a 401 says "WWW-Authenticate: Bearer"
        "rest_framework.authentication.SessionAuthentication",  # the browser: CSRF checked on writes
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.handle",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # JSON's numbers as numbers, dates as ISO 8601.
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tasktrack API",
    "DESCRIPTION": "Workspaces, projects, columns, cards, comments, labels, members, events and counts. "
    "Authenticate with `Authorization: Bearer tt_…` (a personal access token from your account page).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"CategoryEnum": "api.serializers.CATEGORIES", "RoleEnum": "api.serializers.ROLES"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# E-mail (password resets): printed to the console in development, SMTP from the environment in
# production. Tests capture it in django.core.mail.outbox whatever is set here.
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10  # seconds: a stuck mail server must not hold a request for ever
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Tasktrack <tasktrack@localhost>")
# Where e-mails link to: the site's address as its users reach it, without a trailing slash.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Notification e-mails: one digest per user at most this often; the first notification of a
# quiet spell starts the wait, the ones that follow ride along.
NOTIFY_EMAIL_DELAY_SECONDS = int(os.environ.get("NOTIFY_EMAIL_DELAY_SECONDS", "300"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:
    # Development serves static files from the finders; STATIC_ROOT exists only after collectstatic.
    warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Card attachments (boards.services.attachments), through Django's storage API: files under
# MEDIA_ROOT by default, or in an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set (README).
# Never served from MEDIA_URL: every download goes through boards.web.attachments, which checks
# membership.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / ".data" / "media"))
MEDIA_URL = "media/"
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)))
# Every uploaded file passes this handler first: it refuses files on any route but the upload
# one, and there files over ATTACHMENT_MAX_BYTES, while they stream in (tasktrack.uploads).
FILE_UPLOAD_HANDLERS = [
    "tasktrack.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# Board imports (imports/): the largest file taken, and the most cards one import may hold.
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(50 * 1024 * 1024)))
IMPORT_MAX_CARDS = int(os.environ.get("IMPORT_MAX_CARDS", "50000"))
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    # Credentials come from boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a
    # profile, an instance role); the endpoint makes any S3-compatible store work (MinIO, R2, ...).
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "location": os.environ.get("AWS_S3_LOCATION", ""),
            "default_acl": None,  # the bucket stays private: downloads go through our view
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Production hardening: on whenever DEBUG is off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
# The proxies (addresses or networks) whose X-Forwarded-For entries are believed: the client is the
# rightmost entry that is not one of them (tasktrack.middleware.ForwardedClientMiddleware).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1") if env_bool("BEHIND_PROXY", False) else []
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or a network") from None
X_FRAME_OPTIONS = "DENY"
# Seconds a daphne process gives requests in flight after SIGTERM (tasktrack.shutdown); it exits at
# most 2 s later whatever still runs. tasktrack.serve reads the same variable.
SHUTDOWN_TIMEOUT = float(os.environ.get("SHUTDOWN_TIMEOUT", "10"))
# Sent by tasktrack.middleware.ContentSecurityPolicyMiddleware (django-csp), which adds this host's
# ws:// and wss:// origins to connect-src on each request. No inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes: failed log-ins and lock-outs (WARNING), not every successful one (INFO).
    "loggers": {
        "django_redis": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # procrastinate: what workers do (INFO), not the task list it registers in every process.
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
        "procrastinate.jobs": {"level": "WARNING"},  # "Deferred 1 job", on every write
    },
}

# The queue (procrastinate, in this database). Workers: `python manage.py procrastinate worker`;
# jobs that succeeded are deleted, failed ones stay for the admin to see.
PROCRASTINATE_WORKER_DEFAULTS = {"delete_jobs": "successful"}

# Webhooks (webhooks/): deliveries to loopback, link-local, private and other non-global addresses
# are refused (server-side request forgery) unless this is on, for an instance whose receivers
# live on its own network. Failed deliveries are retried with growing pauses (the first after
# WEBHOOKS_RETRY_FIRST_WAIT seconds, each at most WEBHOOKS_RETRY_MAX_WAIT) for WEBHOOKS_RETRY_FOR
# seconds; a webhook whose last WEBHOOKS_DISABLE_AFTER deliveries all failed is switched off.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False)
WEBHOOKS_RETRY_FIRST_WAIT = int(os.environ.get("WEBHOOKS_RETRY_FIRST_WAIT", "30"))
WEBHOOKS_RETRY_MAX_WAIT = int(os.environ.get("WEBHOOKS_RETRY_MAX_WAIT", str(4 * 3600)))
WEBHOOKS_RETRY_FOR = int(os.environ.get("WEBHOOKS_RETRY_FOR", str(24 * 3600)))
WEBHOOKS_DISABLE_AFTER = int(os.environ.get("WEBHOOKS_DISABLE_AFTER", "20"))

# Who may create an account: "open" (anyone), "invitation" (only through a workspace
# invitation link; the default), or "closed" (only `createsuperuser` and the admin).
SIGNUP_MODE = env_choice("SIGNUP_MODE", ["open", "invitation", "closed"], default="invitation")
