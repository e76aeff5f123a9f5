"""Configuration read from the environment (QMS_* variables)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


WORD_IMPORT_LIMITS = (
    "WORD_MAX_UNPACKED_MB",
    "WORD_MAX_PART_MB",
    "WORD_MAX_RATIO",
    "WORD_MAX_PARTS",
    "WORD_MAX_XML_ELEMENTS",
    "WORD_MAX_BLOCK_MB",
)


class Config:
    """Shared defaults; every value may be overridden by a QMS_* variable."""

    TESTING = False
    DATA_DIR = Path(os.environ.get("QMS_DATA_DIR", PROJECT_ROOT / "instance"))
    SECRET_KEY: str | None = None
    # HMAC key of the audit trail, kept outside the database (QMS_TRAIL_KEY or
    # DATA_DIR/trail.key); development and tests create the file on first use.
    TRAIL_KEY: str | None = None
    TRAIL_KEY_CREATE = True
    DATABASE_URL = os.environ.get("QMS_DATABASE_URL", "")
    SESSION_MINUTES = _env_int("QMS_SESSION_MINUTES", 30)
    MAX_UPLOAD_MB = _env_int("QMS_MAX_UPLOAD_MB", 20)
    # Markdown bodies above this size are refused (issue: "a body over 2 MB").
    MAX_BODY_BYTES = 2 * 1024 * 1024
    # Word (.docx) import: what an uploaded file may unpack to, checked from the zip
    # directory before anything is parsed and while parsing, so that no upload within
    # MAX_UPLOAD_MB can exhaust a worker. Each may be set by QMS_<NAME>.
    WORD_MAX_UNPACKED_MB = 100  # all parts together
    WORD_MAX_PART_MB = 50  # any one part
    WORD_MAX_RATIO = 200  # unpacked ÷ packed size of a part over 1 MB
    WORD_MAX_PARTS = 2000
    WORD_MAX_XML_ELEMENTS = 300_000  # all XML parts together (a 50-page file has 30,000)
    WORD_MAX_BLOCK_MB = 8  # one paragraph or table of the body, as Word XML
    # Failed sign-ins for one username within LOCKOUT_MINUTES pause it for LOCKOUT_MINUTES;
    # failed sign-ins from one client address within the same window pause that address.
    LOCKOUT_ATTEMPTS = 5
    LOCKOUT_MINUTES = _env_int("QMS_LOCKOUT_MINUTES", 15)
    ADDRESS_ATTEMPTS = 20
    # Days an API token lives unless its creator names fewer.
    TOKEN_DAYS = _env_int("QMS_TOKEN_DAYS", 90)
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("QMS_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None
    # Superseded/obsolete revisions are shown with a banner ("banner") or refused ("block").
    OBSOLETE_REVISIONS = os.environ.get("QMS_OBSOLETE_REVISIONS", "banner")
    SMTP_HOST = os.environ.get("QMS_SMTP_HOST", "")
    SMTP_PORT = _env_int("QMS_SMTP_PORT", 25)
    SMTP_USER = os.environ.get("QMS_SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("QMS_SMTP_PASSWORD", "")
    SMTP_SENDER = os.environ.get("QMS_SMTP_SENDER", "qms@localhost")
    # QMS_WORKER=1: `qms worker` sends mail and updates the search index; the web process
    # leaves both to it. Without it the web process does both after each commit.
    WORKER = False
    MAIL_MAX_ATTEMPTS = 8  # tries of one message by the worker before it is "failed"
    MAIL_RETRY_SECONDS = 60  # wait before the first retry; doubled for each next one
    # Whole answers of the busiest pages and API reads kept per worker process
    # (qms/pagecache.py): at most this many MB (0 turns the cache off), each at most
    # PAGE_CACHE_SECONDS old. Any committed write makes every kept answer a miss.
    PAGE_CACHE_MB = 32.0
    PAGE_CACHE_SECONDS = 300

    def __init__(self) -> None:
        # Read the environment when the configuration is made, not when the module loads.
        env = os.environ
        self.DATA_DIR = Path(env.get("QMS_DATA_DIR") or PROJECT_ROOT / "instance")
        self.SECRET_KEY = env.get("QMS_SECRET_KEY") or type(self).SECRET_KEY
        self.TRAIL_KEY = env.get("QMS_TRAIL_KEY") or None
        self.DATABASE_URL = env.get("QMS_DATABASE_URL", "")
        self.SESSION_MINUTES = _env_int("QMS_SESSION_MINUTES", 30)
        self.MAX_UPLOAD_MB = _env_int("QMS_MAX_UPLOAD_MB", 20)
        self.LOCKOUT_MINUTES = _env_int("QMS_LOCKOUT_MINUTES", 15)
        self.TOKEN_DAYS = _env_int("QMS_TOKEN_DAYS", 90)
        self.BABEL_DEFAULT_TIMEZONE = env.get("QMS_TIMEZONE", "Asia/Shanghai")
        self.OBSOLETE_REVISIONS = env.get("QMS_OBSOLETE_REVISIONS", "banner")
        self.SMTP_HOST = env.get("QMS_SMTP_HOST", "")
        self.SMTP_PORT = _env_int("QMS_SMTP_PORT", 25)
        self.SMTP_USER = env.get("QMS_SMTP_USER", "")
        self.SMTP_PASSWORD = env.get("QMS_SMTP_PASSWORD", "")
        self.SMTP_SENDER = env.get("QMS_SMTP_SENDER", "qms@localhost")
        self.WORKER = env.get("QMS_WORKER", "").strip().lower() in ("1", "true", "yes", "on")
        self.MAIL_MAX_ATTEMPTS = _env_int("QMS_MAIL_MAX_ATTEMPTS", 8)
        self.MAIL_RETRY_SECONDS = _env_int("QMS_MAIL_RETRY_SECONDS", 60)
        self.PAGE_CACHE_MB = float(env.get("QMS_PAGE_CACHE_MB") or type(self).PAGE_CACHE_MB)
        self.PAGE_CACHE_SECONDS = _env_int("QMS_PAGE_CACHE_SECONDS", 300)
        for name in WORD_IMPORT_LIMITS:
            setattr(self, name, _env_int(f"QMS_{name}", getattr(type(self), name)))
        if not self.DATABASE_URL:
            self.DATABASE_URL = f"sqlite:///{Path(self.DATA_DIR) / 'qms.sqlite3'}"

    @property
    def MAX_CONTENT_LENGTH(self) -> int:
        return self.MAX_UPLOAD_MB * 1024 * 1024

    @property
    def PERMANENT_SESSION_LIFETIME(self) -> timedelta:
        return timedelta(minutes=self.SESSION_MINUTES)


class DevConfig(Config):
    def __init__(self) -> None:
        super().__init__()
        if not self.SECRET_KEY:
            self.SECRET_KEY = _dev_secret(Path(self.DATA_DIR))


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - tests only
    SESSION_MINUTES = 30


class ProdConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    TRAIL_KEY_CREATE = False

    def __init__(self) -> None:
        super().__init__()
        if not self.SECRET_KEY:
            raise RuntimeError(
                "QMS_SECRET_KEY is not set: the production configuration refuses to start "
                "without a secret key."
            )
        from qms.trail.keys import TrailKeyMissing, load_key

        try:
            load_key(self.TRAIL_KEY, self.DATA_DIR, create=False)
        except TrailKeyMissing as missing:
            raise RuntimeError(
                f"{missing} The production configuration refuses to start without the "
                "audit-trail key."
            ) from None


def _dev_secret(data_dir: Path) -> str:
    """A per-installation key kept in instance/, so sessions survive a restart."""
    import secrets

    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def config_for(name: str | None) -> Config:
    name = name or os.environ.get("QMS_ENV", "development")
    classes: dict[str, type[Config]] = {
        "development": DevConfig,
        "production": ProdConfig,
        "testing": TestConfig,
    }
    try:
        return classes[name]()
    except KeyError:
        raise RuntimeError(
            f"Unknown QMS_ENV {name!r}; use development, production or testing"
        ) from None
