"""Settings for the shop, read from the environment in this one place.

With nothing set the shop runs on embedded defaults (SQLite, local-memory cache,
eager Celery tasks, console email); each variable switches one part to a real service.
"""

from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "shop",
    "accounts",
    "catalog",
    "shipping",
    "orders",
    "payments",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "shop.database_down.DatabaseDownMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shop.middleware.InputGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.StaffMFAMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

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
                "shop.context_processors.shop",
                "orders.context_processors.cart",
                "catalog.context_processors.catalog",
            ],
        },
    },
]

# Data

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES:
    # A request made while PostgreSQL is down gets the 503 page in seconds, not a hang.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    )

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "shop.cache_backend.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="shop"),
            # Redis is a cache: when it is gone a page goes on without it (shop.cache_backend)
            # after waiting a fraction of a second, not seconds.
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    # Sessions are read from Redis and kept in the database, so a Redis flush or restart
    # signs nobody out and empties no cart.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Celery: the broker is Redis when configured; otherwise tasks run in-process.

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A task taken by a worker that dies before acknowledging it goes back to the queue after
# this many seconds (acks_late); keep it above the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_TASK_SERIALIZER = "json"
# No task result is read back; storing none keeps queueing independent of the result store.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_BEAT_SCHEDULE = {
    # Hands the outbox's due rows to the workers: what the broker missed at commit or lost.
    "dispatch-outbox": {"task": "shop.tasks.dispatch_outbox", "schedule": 30},
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders", "schedule": 5 * 60},
    "close-resolved-tickets": {
        "task": "support.tasks.close_resolved_tickets",
        "schedule": 60 * 60,
    },
    "build-recommendations": {
        "task": "catalog.tasks.build_recommendations",
        "schedule": crontab(hour=3, minute=0),
    },
    "reprice": {"task": "catalog.tasks.reprice", "schedule": crontab(hour=4, minute=0)},
    "fold-units-sold": {"task": "catalog.tasks.fold_units_sold", "schedule": 60},
    "poll-carriers": {"task": "shipping.tasks.poll_carriers", "schedule": 15 * 60},
    "replenish-stock": {
        "task": "shipping.tasks.replenish_stock",
        "schedule": crontab(hour=2, minute=0),
    },
    "check-books": {"task": "payments.tasks.check_books", "schedule": crontab(hour=5, minute=0)},
}

# Email

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shop@example.com")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Accounts (django-allauth)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:profile"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Staff without an authenticator app (TOTP) are sent to set one up before any other page.
STAFF_REQUIRE_MFA = env.bool("STAFF_REQUIRE_MFA", default=not DEBUG)

# Internationalisation

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Static and media files

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Shoppers' uploads (ticket attachments): outside MEDIA_ROOT, so no /media/ URL ever serves
# them; support hands each out through a view that checks who asks.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "private_media")
_private, _public = Path(PRIVATE_MEDIA_ROOT).resolve(), Path(MEDIA_ROOT).resolve()
if _private.is_relative_to(_public) or _public.is_relative_to(_private):
    raise ImproperlyConfigured("PRIVATE_MEDIA_ROOT and MEDIA_ROOT must not contain each other.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: strict unless DEBUG is on; the proxy header is set when behind a TLS proxy.

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# An enforced Content-Security-Policy on every page (django-csp): scripts and styles only from
# the shop's own static files, no inline code, so pages cached whole need no per-request nonce.
# data: images are allauth's two-factor QR code. The card payment page adds Stripe's hosts
# itself (payments.views.pay); no other page names them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if env("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env("SECURE_PROXY_SSL_HEADER"), "https")

# The shop

SHOP_NAME = env("SHOP_NAME", default="Shop")
SHOP_CURRENCY = env("SHOP_CURRENCY", default="EUR")
# Where the shop is reached from outside, for links in emails (no request to build them from).
SHOP_BASE_URL = env("SHOP_BASE_URL", default="http://127.0.0.1:8000")
# Printed in bank transfer instructions, e.g. "IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX".
SHOP_BANK_ACCOUNT = env("SHOP_BANK_ACCOUNT", default="")
# Prices include tax; the rate comes from the country the order ships to.
SHOP_TAX_RATES = {
    "AT": Decimal("0.20"),
    "BE": Decimal("0.21"),
    "CN": Decimal("0.13"),
    "DE": Decimal("0.19"),
    "ES": Decimal("0.21"),
    "FR": Decimal("0.20"),
    "GB": Decimal("0.20"),
    "IT": Decimal("0.22"),
    "NL": Decimal("0.21"),
}
SHOP_DEFAULT_TAX_RATE = Decimal(env("SHOP_DEFAULT_TAX_RATE", default="0.20"))
# Card orders still awaiting payment after this long are cancelled and their stock released.
ORDER_UNPAID_MINUTES = env.int("ORDER_UNPAID_MINUTES", default=30)
# Bank transfer orders likewise after this many days, with a reminder email halfway.
ORDER_BANK_TRANSFER_DAYS = env.int("ORDER_BANK_TRANSFER_DAYS", default=7)
# Customer service: staff answer a new ticket within this many hours; a delivered order may be
# returned for this many days; resolved tickets close after this many days without a reply.
SUPPORT_FIRST_RESPONSE_HOURS = env.int("SUPPORT_FIRST_RESPONSE_HOURS", default=24)
RETURN_WINDOW_DAYS = env.int("RETURN_WINDOW_DAYS", default=30)
SUPPORT_CLOSE_RESOLVED_AFTER_DAYS = env.int("SUPPORT_CLOSE_RESOLVED_AFTER_DAYS", default=7)
# The most units of one variant a cart line may hold.
CART_MAX_QUANTITY = 10
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
