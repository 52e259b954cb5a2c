"""Settings shared by every environment. Environment-specific modules import from here."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

from portal.plugins import discover_plugin_apps

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PORTAL_DIR = BASE_DIR / "portal"
VAR_DIR = Path(os.environ.get("CONCORD_VAR_DIR", BASE_DIR / "var"))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

# Plugins: built-ins are listed here, third-party ones come from the `concord.plugins`
# entry-point group; a deployment can leave any out with CONCORD_EXCLUDED_PLUGINS.
CONCORD_BUILTIN_PLUGINS = [
    "governance",
    "knowledge_base.policies",
    "knowledge_base.training",
    "plugins.announcements",
    "plugins.patron_notices",
]
CONCORD_EXCLUDED_PLUGINS = env_list("CONCORD_EXCLUDED_PLUGINS")

CORE_APPS = [
    "portal.accounts",
    "portal.members",
    "portal.audit",
    "portal.home",
    "portal.api",
    "portal",
]

INSTALLED_APPS = [
    *CORE_APPS,
    *discover_plugin_apps(CONCORD_BUILTIN_PLUGINS, exclude=CONCORD_EXCLUDED_PLUGINS),
    "wagtail.contrib.forms",
    "wagtail.contrib.table_block",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "guardian",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "portal.sso",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    # First, so that everything below shares one request's memory (portal/per_request.py).
    "portal.per_request.PerRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.sso.middleware.ProviderFormActionMiddleware",
    "portal.accounts.middleware.RequireMFAMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
                "portal.context_processors.consortium",
                "portal.context_processors.site_navigation",
            ],
        },
    },
]

# The database and the broker come from the environment in every settings module;
# dev falls back to a SQLite file and the embedded broker.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'concord.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default holds a web server, a worker and beat at once: readers never
    # wait for a writer (WAL), writers take the lock when their transaction begins
    # (IMMEDIATE, so two writers never deadlock upgrading a read lock), and a writer that
    # finds the lock taken waits for it rather than failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# How often beat fans out the periodic signal that plugins' jobs listen to.
CONCORD_PERIODIC_SECONDS = float(os.environ.get("CONCORD_PERIODIC_SECONDS", "300"))

# The audit chain (portal/audit, docs/security.md): the key of its hashes, which the
# database never holds (empty: derived from SECRET_KEY), and where checkpoints of its head
# go: an append-only file and/or the office's mailbox (daily).
AUDIT_CHAIN_KEY = os.environ.get("AUDIT_CHAIN_KEY", "")
AUDIT_CHECKPOINT_FILE = os.environ.get("AUDIT_CHECKPOINT_FILE", "")
AUDIT_CHECKPOINT_EMAILS = env_list("AUDIT_CHECKPOINT_EMAILS")
AUDIT_CHECKPOINT_MAIL_HOURS = float(os.environ.get("AUDIT_CHECKPOINT_MAIL_HOURS", "24"))

# The key that signs training badges (knowledge_base/training/badges.py): an Ed25519 private
# key in PEM, given in the environment (newlines may be written as \n) or as a file that a
# secret store mounts. Every web and worker machine must sign with the same one; production
# refuses to start without it. Neither set: a key generated in VAR_DIR/keys (the demo).
TRAINING_BADGE_SIGNING_KEY = os.environ.get("TRAINING_BADGE_SIGNING_KEY", "").replace("\\n", "\n")
if os.environ.get("TRAINING_BADGE_KEY_FILE"):
    TRAINING_BADGE_KEY_FILE = Path(os.environ["TRAINING_BADGE_KEY_FILE"])

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# Accounts: log in by email, verified addresses, rate limits, TOTP + recovery codes.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "signup": "20/m/ip",
}
# People are invited by the office or their director; nobody signs themselves up.
ACCOUNT_ADAPTER = "portal.accounts.adapter.InvitationOnlyAdapter"
# Passkeys (WebAuthn) stand beside the authenticator app: as the second factor after a
# password, and on their own as a password-free sign-in (a passkey that asks for the
# device's PIN or fingerprint proves two factors at once). Browsers allow WebAuthn only on
# https (or http://localhost); the passkey is bound to the host name people sign in at.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_FORMS = {"add_webauthn": "portal.accounts.forms.AddPasskeyForm"}
MFA_TOTP_ISSUER = "Concord"
# Single sign-on per member library (portal/sso, docs/sign-in.md): the office connects a
# library's SAML or OpenID Connect provider; the sign-in page sends an address in its
# domains there. A provider signs in only people already invited, never signs anyone up.
ACCOUNT_FORMS = {"login": "portal.accounts.forms.SignInForm"}
SOCIALACCOUNT_ADAPTER = "portal.sso.adapter.LibrarySignInAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {"saml": {"provider_class": "portal.sso.saml.LibrarySAMLProvider"}}
# Roles whose members must have MFA before they can use the portal.
CONCORD_MFA_REQUIRED_ROLES = ["consortium_admin", "director"]

# guardian holds resolved per-library grants; no anonymous user row is needed.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
# One date format on every page, report and PDF: the short formats are the long ones.
FORMAT_MODULE_PATH = ["portal.formats"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "static"))
STATICFILES_DIRS = [PORTAL_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# --- Files (docs/deploy.md, "Files"). Everything Concord keeps goes through two storages:
# "default" for Wagtail's images, renditions and documents, and "private" for personal data
# (patron import uploads, printed letters), which only portal views that check access
# serve, or signed URLs that live five minutes. CONCORD_STORAGE=local keeps both on this
# machine's disk (the demo, a single machine); CONCORD_STORAGE=s3 keeps them in
# S3-compatible object storage that every web and worker machine shares.
CONCORD_STORAGE = os.environ.get("CONCORD_STORAGE", "local")
S3_BUCKET = os.environ.get("S3_BUCKET", "")
# Personal data in a bucket of its own when set; otherwise under private/ in S3_BUCKET.
S3_PRIVATE_BUCKET = os.environ.get("S3_PRIVATE_BUCKET", "")
S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")  # empty: AWS itself
S3_REGION = os.environ.get("S3_REGION", "")
# Empty: boto3's own chain (AWS_ACCESS_KEY_ID, an instance or task role, ...).
S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY", "")
# Media URLs are signed and live this long (pages embed them); private ones five minutes.
S3_URL_SECONDS = int(os.environ.get("S3_URL_SECONDS", "3600"))
# A host that serves the bucket's media/ prefix publicly (a CDN): its URLs are not signed.
S3_MEDIA_DOMAIN = os.environ.get("S3_MEDIA_DOMAIN", "")


def file_storages(staticfiles: str) -> dict:
    """STORAGES for CONCORD_STORAGE, with ``staticfiles`` as the static files' backend.

    Static files are part of the release (``collectstatic`` on each web machine or in the
    image), not kept data, so they stay on the machine.
    """
    static = {"staticfiles": {"BACKEND": staticfiles}}
    if CONCORD_STORAGE == "local":
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "private": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": VAR_DIR / "private"},
            },
            **static,
        }

    def s3(bucket: str, location: str, **options) -> dict:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "location": location,
                "endpoint_url": S3_ENDPOINT_URL or None,
                "region_name": S3_REGION or None,
                "access_key": S3_ACCESS_KEY_ID or None,
                "secret_key": S3_SECRET_ACCESS_KEY or None,
                # Most S3-compatible servers (MinIO, Ceph) want bucket/key paths.
                "addressing_style": "path" if S3_ENDPOINT_URL else None,
                "signature_version": "s3v4",
                "default_acl": None,  # the bucket's policy decides, never a public ACL
                "file_overwrite": False,  # two uploads of one name keep both
                # Reading a large patron file spills to disk after 5 MB, not to memory.
                "max_memory_size": 5 * 1024 * 1024,
                **options,
            },
        }

    return {
        "default": s3(
            S3_BUCKET,
            "media",
            querystring_expire=S3_URL_SECONDS,
            custom_domain=S3_MEDIA_DOMAIN or None,
        ),
        "private": s3(
            S3_PRIVATE_BUCKET or S3_BUCKET,
            "" if S3_PRIVATE_BUCKET else "private",
            querystring_auth=True,
            querystring_expire=300,
        ),
        **static,
    }


def media_origins() -> list[str]:
    """Where pages load media from, besides the portal itself (for img-src and media-src)."""
    if CONCORD_STORAGE != "s3":
        return []
    if S3_MEDIA_DOMAIN:
        return [f"https://{S3_MEDIA_DOMAIN}"]
    if S3_ENDPOINT_URL:
        parts = urlsplit(S3_ENDPOINT_URL)
        return [f"{parts.scheme}://{parts.netloc}"]
    # AWS names a bucket's host with or without its region.
    hosts = [f"{S3_BUCKET}.s3.amazonaws.com"]
    if S3_REGION:
        hosts.append(f"{S3_BUCKET}.s3.{S3_REGION}.amazonaws.com")
    return [f"https://{host}" for host in hosts]


STORAGES = file_storages("django.contrib.staticfiles.storage.StaticFilesStorage")
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The consortium's name on pages and mail; empty: the root member library's name.
CONSORTIUM_NAME = os.environ.get("CONSORTIUM_NAME", "")
WAGTAIL_SITE_NAME = CONSORTIUM_NAME or "Concord"
WAGTAILADMIN_BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "pptx", "rtf", "txt", "xlsx"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
WAGTAIL_USER_CUSTOM_FIELDS = ["full_name"]
# No autosave while a page is written. On the add screen the first autosave creates the
# page and turns the screen into its edit screen; a Publish clicked while that happens is
# posted to the add screen again, which refuses it ("slug already in use") and leaves a
# second draft: seen when the office published an announcement on a busy machine.
WAGTAIL_AUTOSAVE_INTERVAL = 0

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "false").lower() == "true"
EMAIL_USE_SSL = os.environ.get("EMAIL_USE_SSL", "false").lower() == "true"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Concord <office@concord.invalid>")
# Mail providers' bounce and complaint webhooks (django-anymail) answer only with this
# basic-auth "user:password" set.
ANYMAIL = {"WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # WeasyPrint narrates every render step at INFO.
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # Django's task framework logs every run of every task at INFO (Wagtail's reference
        # index alone: hundreds a seed); failures still show at WARNING and above.
        "django_tasks": {"level": "WARNING"},
    },
}

# --- Security headers (portal/security.py adds the admin's allowance and Permissions-Policy)
# Embeds in pages (wagtail.embeds) come only from these players; a deployment adds others
# with CSP_FRAME_SRC (comma-separated origins).
CONCORD_CSP_FRAME_SRC = env_list(
    "CSP_FRAME_SRC",
    "https://www.youtube-nocookie.com,https://www.youtube.com,https://player.vimeo.com",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # Inline scripts only with the request's nonce: {{ request.csp_nonce }}.
        "script-src": [SELF, NONCE],
        # Style attributes carry library colours and Wagtail's admin sets inline styles.
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:", *media_origins()],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "media-src": [SELF, *media_origins()],
        "frame-src": [SELF, *CONCORD_CSP_FRAME_SRC],
        # Wagtail's live preview frames the portal's own pages; nothing else may.
        # X_FRAME_OPTIONS below says the same to browsers that ignore CSP.
        "frame-ancestors": [SELF],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}
CONCORD_CSP_ADMIN_PREFIXES = ["/admin/"]
# The same rule as frame-ancestors 'self' (Django's default DENY would break the preview).
X_FRAME_OPTIONS = "SAMEORIGIN"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# The admin asks no third party for avatars or release news: it would tell them who works
# here and when, and the CSP above would block it anyway.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAIL_ENABLE_UPDATE_CHECK = False

# Sessions: a working day; allauth ends the session when the browser closes unless the
# person ticks "Remember me".
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 8)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Uploads: size and type are checked before anything is stored. Wagtail checks images and
# documents against these; Django refuses larger request bodies outright.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
WAGTAILIMAGES_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
WAGTAILIMAGES_MAX_IMAGE_PIXELS = 40_000_000
# No SVG: an SVG can carry script.
WAGTAILIMAGES_EXTENSIONS = ["avif", "gif", "jpg", "jpeg", "png", "webp"]
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
