"""Settings for the onprem license server.

Everything that differs between installations is read from the environment (see
``core/env.py`` and the README's "Configuration" table). With nothing set, the server runs
in the embedded mode: SQLite under ``ONPREM_DATA_DIR``, a filesystem Celery broker, no Redis.
"""

from core import listeners as _listeners
from core.env import (
    BASE_DIR,
    data_dir,
    database_config,
    env_bool,
    env_int,
    env_list,
    env_str,
    secret_key,
)

DATA_DIR = data_dir()
LOG_DIR = DATA_DIR / "logs"
LOG_DIR.mkdir(exist_ok=True)

SECRET_KEY = secret_key(DATA_DIR)
DEBUG = env_bool("DEBUG", False)

ONPREM_HOST = env_str("ONPREM_HOST", "localhost")
ONPREM_PORT = env_int("ONPREM_PORT", 8443)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [ONPREM_HOST, "localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS",
    [f"https://{host}:{ONPREM_PORT}" for host in (ONPREM_HOST, "localhost", "127.0.0.1")],
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for FORM_RENDERER
    "rest_framework",
    "oauth2_provider",
    "django_celery_beat",
    "core",
    "onprem",
    "accounts",
    "licensing",
    "sync",
    "admin_widgets",
    "drf_spectacular",  # the REST API's OpenAPI 3 schema (licensing/api)
]

MIDDLEWARE = [
    "core.observability.RequestIdMiddleware",
    "core.metrics.MetricsMiddleware",
    # On a product listener: the device endpoints only, anything else 404 here (core/listeners.py).
    "core.listeners.ProductListenerMiddleware",
    # Device messages over capacity get 503 + Retry-After here, before the rest of the stack.
    "licensing.transport.admission.DeviceAdmissionMiddleware",
    "core.db_unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.SystemSettingsMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "accounts.middleware.FirstLoginWizardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "onprem.urls"
WSGI_APPLICATION = "onprem.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.product",
            ],
        },
    },
]

# Every form field renders through templates/includes/forms/ (core/forms.py).
FORM_RENDERER = "core.forms.FormRenderer"

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'onprem.sqlite3'}")
# A multi-host URL (a pg_auto_failover formation, docs/operations.md) connects to whichever host
# takes writes (target_session_attrs=read-write): after a failover, the new primary.
DATABASES = {"default": database_config(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
# A persistent connection the database dropped (restart, failover) is replaced at the next request,
# not reused into an error (docs/operations.md, tests/faults/test_postgres_restart.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web workers and the Celery worker write side by side: WAL lets readers go on while
    # one writer writes, IMMEDIATE transactions take the write lock up front (no deadlocking
    # upgrade from a read lock), and the busy timeout makes a second writer wait, not fail.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery ----------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    # One machine, several processes (gunicorn workers, Celery): a file cache is shared by all.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }
    # kombu's filesystem transport: the broker is a folder, so no server is needed.
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # The exchange -> queue bindings (fan-out, the worker's remote-control mailbox) live here;
        # kombu's default is a relative "control" folder in whatever directory a process runs in.
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# How often the worker proves it is alive (shown by the system-health readout).
ONPREM_HEARTBEAT_SECONDS = env_int("ONPREM_HEARTBEAT_SECONDS", 60)
# High availability (docs/operations.md): the pg_auto_failover monitor's postgres:// URI; the
# High Availability Status widget reads the cluster from it and beat copies its events into the
# event log every ONPREM_HA_EVENTS_SECONDS. Empty: the widget reads PostgreSQL's replication views.
ONPREM_HA_MONITOR_URL = env_str("ONPREM_HA_MONITOR_URL", "")
ONPREM_HA_FORMATION = env_str("ONPREM_HA_FORMATION", "default")
ONPREM_HA_EVENTS_SECONDS = env_int("ONPREM_HA_EVENTS_SECONDS", 20)
# The address the operator's keepalived or load balancer moves to the active host (shown, not used).
ONPREM_HA_VIRTUAL_ADDRESS = env_str("ONPREM_HA_VIRTUAL_ADDRESS", "")

# --- Authentication and sessions -------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# The Security widget's Password tab decides (length, character classes, user name, common
# passwords, history); the validator reads its settings at each change (accounts/password_validators.py).
AUTH_PASSWORD_VALIDATORS = [{"NAME": "accounts.password_validators.SecurityPolicyValidator"}]
# The guide: "a non-configurable timeout ... if there has been no activity for 10 minutes".
IDLE_TIMEOUT_SECONDS = 600
SESSION_COOKIE_AGE = 12 * 3600  # an absolute ceiling; the idle timeout logs out much sooner
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_NAME = "onprem_session"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
CSRF_COOKIE_HTTPONLY = True

# --- HTTPS and headers --------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("ONPREM_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalization -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語"), ("zh-hans", "中文"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from the finders; an empty root is fine
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- TLS material for the embedded server ---------------------------------------------------
TLS_CERT_FILE = env_str("ONPREM_TLS_CERT", str(DATA_DIR / "tls" / "server.crt"))
TLS_KEY_FILE = env_str("ONPREM_TLS_KEY", str(DATA_DIR / "tls" / "server.key"))

# --- REST framework and OAuth2 ----------------------------------------------------------------
# Every API view: a Bearer token of the embedded OAuth2 server (accounts/api_auth.py), the API
# Console on, and refusals as 403 {"status": "ERROR", "statusMessage": ...} (never 401).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api_auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_auth.IsApiCaller", "accounts.api_auth.ApiConsoleEnabled"],
    "EXCEPTION_HANDLER": "accounts.api_auth.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The REST API's OpenAPI 3 description (/api/v1/schema, licensing/api).
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SSM On-Prem REST API",
    "DESCRIPTION": 'The 14 APIs of the guide\'s chapter "Using Smart Software Manager On-Prem APIs", '
    "the local accounts list, and the token endpoint. Every API path is served under /api/v1/ and "
    '/backend/api/v1/. Every error is {"status": "ERROR", "statusMessage": ...}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The token endpoint, the /backend paths and the body content types (licensing/api/schema_extensions.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "licensing.api.schema_extensions.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ReplyStatusEnum": "licensing.api.schemas.STATUSES",
        "ItemStatusEnum": "licensing.api.schemas.ITEM_STATUSES",
        "ComplianceStatusEnum": "licensing.api.schemas.COMPLIANCE",
        "SubscriptionStatusEnum": "licensing.api.schemas.SUBSCRIPTION_STATUSES",
        "ExportControlEnum": "licensing.api.schemas.EXPORT_CONTROL",
        "BillingTypeEnum": "licensing.api.schemas.BILLING_TYPES",
        "ErrorStatusEnum": "licensing.api.schemas.ERROR_STATUS",
        "WireBooleanEnum": "licensing.api.schemas.WIRE_BOOLEANS",
    },
}
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,  # the guide: API tokens are valid one hour
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # API grants: client_credentials and password only, no refresh tokens (the guide: "a new
    # client secret is needed after this time"), grant expiry and the API Console enforced.
    # The guide's Resource Owner Grant is the password grant: kept on past DOT 4's default.
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False,
    "OAUTH2_VALIDATOR_CLASS": "accounts.oauth_validator.ApiGrantValidator",
    "OAUTH2_SERVER_CLASS": "accounts.oauth_validator.ApiTokenServer",
    "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": 0,
}
# Named so migrations that point at DOT's application model resolve (DOT's default model).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
# Failed token requests and failed sign-ins, counted per client id / username and per client
# IP in a fixed window (accounts/services/ratelimit.py); over a limit: 429 + Retry-After / a form error.
ONPREM_RATE_LIMIT_FAILURES = env_int("ONPREM_RATE_LIMIT_FAILURES", 20)  # per client id or username
ONPREM_RATE_LIMIT_FAILURES_PER_IP = env_int("ONPREM_RATE_LIMIT_FAILURES_PER_IP", 100)
ONPREM_RATE_LIMIT_WINDOW_SECONDS = env_int("ONPREM_RATE_LIMIT_WINDOW_SECONDS", 60)
ONPREM_CLEAR_TOKENS_SECONDS = env_int("ONPREM_CLEAR_TOKENS_SECONDS", 3600)
SILENCED_SYSTEM_CHECKS = [
    # The guide's API Toolkit has "Resource Owner Grants": the password grant is a product
    # feature, kept deliberately (issued only to grants an administrator creates).
    "oauth2_provider.W002",
    # HSTS preload lists are for public hostnames; an on-premises server is not on them.
    "security.W021",
]

# --- Logging: files under the data dir (the Support Center reads them) and the console -------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The file is JSON lines with the request id (core/observability.py); the console is for people.
    # scrub_secrets is put on every handler at the end of this module (core/log_scrub.py).
    "filters": {
        "request_id": {"()": "core.observability.RequestIdFilter"},
        "not_shed": {"()": "licensing.transport.admission.NotShedFilter"},
        "scrub_secrets": {"()": "core.log_scrub.ScrubSecretsFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d [%(request_id)s] %(message)s"},
        "json": {"()": "core.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
        "file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(LOG_DIR / "onprem.log"),
            "formatter": "json",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console", "file"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own default handlers (a DEBUG-only console and mail_admins on "django", the
        # runserver request log on "django.server") are replaced by these, so every handler that
        # writes a line is one of this config (and carries scrub_secrets, below).
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # A shed device message is not a server error (licensing/transport/admission.py).
        "django.request": {"filters": ["not_shed"]},
    },
}

# --- Email (the Settings widget's Email tab; EMAIL_HOST/PORT apply until it is saved) ------
EMAIL_BACKEND = "core.mail.SettingsEmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ssm-onprem@localhost")

# --- Access Management: LDAP sign-in (configured at run time from the database) -----------------
# Local passwords first (the guide: local authentication is primary), then the LDAP directory
# configured in the Access Management widget. OAuth2 ADFS / SSO users sign in through their
# provider's callback and keep their session through the model backend.
AUTHENTICATION_BACKENDS = [
    *globals().get("AUTHENTICATION_BACKENDS", ["django.contrib.auth.backends.ModelBackend"]),
    "accounts.ldap_backend.LDAPBackend",
]
LOGGING["loggers"]["django_auth_ldap"] = {"level": env_str("LDAP_LOG_LEVEL", "WARNING")}

# --- Device protocol (licensing/transport, docs/protocol.md) ---------------------------------
# Largest device message accepted (bytes); larger ones get 413 before the body is read.
ONPREM_DEVICE_MAX_MESSAGE_BYTES = env_int("ONPREM_DEVICE_MAX_MESSAGE_BYTES", 1024 * 1024)
# A product instance's Last Contact is rewritten only when it moves by more than this (seconds); the
# Failed to Connect / Renew alerts count days (docs/performance.md, "last_contact_at").
ONPREM_CONTACT_WRITE_SECONDS = env_int("ONPREM_CONTACT_WRITE_SECONDS", 300)
# The guide's device URLs include plain http://; device messages are signed, so those paths
# are answered over HTTP too instead of being redirected (a redirected POST loses its body).
SECURE_REDIRECT_EXEMPT = [
    *globals().get("SECURE_REDIRECT_EXEMPT", []),
    r"^SmartTransport$",
    r"^Transportgateway/services/DeviceRequestHandler$",
    r"^cslu/v1/pi/",
]

# --- Listeners by role (core/listeners.py, docs/running.md "Listeners") -----------------------
# The management listener (ONPREM_BIND) serves everything; the product listeners
# (ONPREM_PRODUCT_HTTPS_BIND, ONPREM_PRODUCT_HTTP_BIND) the device endpoints only, told apart by
# the port that accepted the request. ONPREM_PRODUCT_HOST and ONPREM_PRODUCT_HTTPS_PORT /
# ONPREM_PRODUCT_HTTP_PORT: the name and ports devices reach them at (Inventory > General).
ONPREM_LISTENERS = _listeners.configured()
ONPREM_PRODUCT_PORTS = _listeners.product_ports(ONPREM_LISTENERS)
ONPREM_PRODUCT_URLCONF = "onprem.urls_product"
ONPREM_PRODUCT_HOST = env_str("ONPREM_PRODUCT_HOST", "")
ONPREM_PRODUCT_HTTPS_PORT = env_int("ONPREM_PRODUCT_HTTPS_PORT", 0)
ONPREM_PRODUCT_HTTP_PORT = env_int("ONPREM_PRODUCT_HTTP_PORT", 0)

# --- Synchronization with CSSM (sync/, docs/synchronization.md) ----------------------------
# Where CSSM answers (default: the CSSM emulator, `manage.py cssm_emulator`), the CA file its
# HTTPS certificate is verified with (empty: the system's trust store; verification is never off),
# an optional PEM file with the CSSM root every document must chain to (else pinned on first use),
# and how often the scheduler looks for accounts that are due.
ONPREM_CSSM_URL = env_str("ONPREM_CSSM_URL", "https://127.0.0.1:18443")
ONPREM_CSSM_CA_FILE = env_str("ONPREM_CSSM_CA_FILE", "")
ONPREM_CSSM_ROOT_FILE = env_str("ONPREM_CSSM_ROOT_FILE", "")
ONPREM_CSSM_TIMEOUT = env_int("ONPREM_CSSM_TIMEOUT", 120)
ONPREM_SYNC_CHECK_SECONDS = env_int("ONPREM_SYNC_CHECK_SECONDS", 300)

# --- Fault tolerance of background work (docs/operations.md, tests/faults/) ----------------------
# Tasks are acknowledged after they ran (CELERY_TASK_ACKS_LATE above); a task whose pool process
# died under it (killed, out of memory) is handed back to the broker instead of being acknowledged
# as done. Every task is idempotent (alerts are recomputed in one transaction, a sync claims its
# account, housekeeping deletes what is expired); a mail may go out twice rather than never.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A Redis that is down or unreachable must fail a cache call quickly (the system settings then come
# from the database, core/system_settings.py), not hold a request for the OS's connect timeout.
if REDIS_URL:
    CACHES["default"].setdefault("OPTIONS", {}).update(socket_connect_timeout=2, socket_timeout=2)

# --- Reliability: request size limits and security headers (docs/reliability.md) ------------
# The size middleware answers 413 from the declared Content-Length before anything is parsed
# (per-path limits in core/limits.py; the device endpoints keep ONPREM_DEVICE_MAX_MESSAGE_BYTES).
# The headers middleware adds Content-Security-Policy and Permissions-Policy to every response.
_security_index = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")
MIDDLEWARE[_security_index + 1 : _security_index + 1] = [
    "core.security_headers.SecurityHeadersMiddleware",
    "core.limits.RequestSizeLimitMiddleware",
    # The device endpoints are answered here, without the browser middleware after this point
    # (session, locale, CSRF, authentication, messages, settings, language): core/device_path.py.
    "core.device_path.DevicePathMiddleware",
]
ONPREM_DEVICE_URLCONF = "onprem.urls_product"
ONPREM_MAX_REQUEST_BYTES = env_int("ONPREM_MAX_REQUEST_BYTES", 1024 * 1024)  # any other path
DATA_UPLOAD_MAX_MEMORY_SIZE = ONPREM_MAX_REQUEST_BYTES  # request.body and form fields (not files)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads (sync files) spool to a temp file
# oauthlib logs every issued access token at DEBUG ("Issuing token ... {'access_token': ...}"):
# kept at INFO whatever LOG_LEVEL says (tests/reliability/test_reliability_secrets_in_logs.py).
LOGGING["loggers"]["oauthlib"] = {"level": "INFO"}
# drf-spectacular's deploy check builds the schema from the root URLconf, where the API is mounted
# twice on purpose (/api/v1 and /backend/api/v1), and warns about every operationId twice over;
# the served schema comes from licensing.api.schema_urls and is tested in tests/api.
SPECTACULAR_SETTINGS["ENABLE_DJANGO_DEPLOY_CHECK"] = False
# No secret in any log line (core/log_scrub.py): the filter goes on every handler, last of all
# so a handler added above is covered too; on handlers, records of every logger pass it.
for _handler in LOGGING["handlers"].values():
    _handler["filters"] = ["scrub_secrets", *(f for f in _handler.get("filters", []) if f != "scrub_secrets")]
