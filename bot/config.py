"""Settings: read once from the environment and ``.env``, validated into a frozen object."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.models import WebhookFormat
from bot.webhook_urls import FORMATS, WebhookURLError, check_url_syntax

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
_API_HASH_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_BOT_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{5,}$")
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class Secret:
    """A string that never shows itself in ``repr`` or logs."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "**********"

    def __repr__(self) -> str:
        return "Secret('**********')"


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one chanwatch instance."""

    api_id: int
    api_hash: Secret
    bot_token: Secret
    admin_ids: frozenset[int]
    data_dir: Path
    database_path: Path
    log_level: str
    timezone: ZoneInfo
    reconcile_interval: dt.timedelta = dt.timedelta(minutes=5)
    backfill_posts: int = 200
    deletion_check_interval: dt.timedelta = dt.timedelta(minutes=30)
    deletion_check_window: dt.timedelta = dt.timedelta(hours=48)
    dedup_window: dt.timedelta = dt.timedelta(hours=6)
    log_format: str = "text"  # text | json (bot/logs.py)
    metrics_port: int = 0  # 0: no /metrics (bot/metrics.py)
    disk_free_min_gb: float = 1.0  # warn the admins under this much free disk; 0: never
    retention_days: int = 0  # drop text, versions and media of older posts; 0: keep all
    metrics_host: str = "127.0.0.1"
    backup_interval: dt.timedelta = dt.timedelta(days=1)  # 0: no backups by the service
    backup_keep: int = 7
    # alerts of photo posts wait this long for the photo's hash ("also in" by the picture)
    dedup_image_wait: dt.timedelta = dt.timedelta(0)
    send_rate_chat: float = 0.9  # messages per second
    send_rate_group: float = 19 / 60
    send_rate_total: float = 28.0
    db_busy_timeout: dt.timedelta = dt.timedelta(seconds=5)
    preview_base_url: str = "https://t.me"
    preview_interval: dt.timedelta = dt.timedelta(minutes=2)
    preview_concurrency: int = 4
    webhook_url: Secret | None = None
    webhook_format: WebhookFormat = WebhookFormat.JSON
    webhook_allow_private: bool = False
    translate_url: str | None = None
    translate_api_key: Secret | None = None
    deepl_api_key: Secret | None = None
    deepl_url: str | None = None
    translate_timeout: dt.timedelta = dt.timedelta(seconds=5)
    http_timeout: dt.timedelta = dt.timedelta(seconds=20)
    media: bool = True  # download the media of watched channels (bot/media/)
    media_max_mb: int = 50  # documents (videos, voice, ...) up to this size; 0: photos only
    media_max_gb: float = 20.0  # the whole media store; 0: no limit
    ocr: str | None = None  # tesseract's languages for text in pictures (rus+ukr+eng); None: off

    @property
    def user_session_path(self) -> Path:
        """Telethon SQLite session of the user account that reads channels."""
        return self.data_dir / "user.session"

    @property
    def bot_session_path(self) -> Path:
        """Telethon SQLite session of the bot account that talks to subscribers."""
        return self.data_dir / "bot.session"

    @property
    def media_dir(self) -> Path:
        """The content-addressed media store (bot/media/files.py)."""
        return self.data_dir / "media"

    @property
    def backup_dir(self) -> Path:
        """Where the service's online backups go (bot/store/backup.py)."""
        return self.data_dir / "backups"

    @property
    def heartbeat_path(self) -> Path:
        """File touched by the running service; read by ``chanwatch health``."""
        return self.data_dir / "heartbeat"


def _required(env: Mapping[str, str], key: str) -> str:
    value = env.get(key, "").strip()
    if not value:
        raise ConfigError(key, "is required but not set (see .env.example)")
    return value


def _parse_api_id(env: Mapping[str, str]) -> int:
    raw = _required(env, "TG_API_ID")
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(
            "TG_API_ID", f"must be a positive integer from my.telegram.org, got {raw!r}"
        )
    return int(raw)


def _parse_api_hash(env: Mapping[str, str]) -> Secret:
    raw = _required(env, "TG_API_HASH")
    if not _API_HASH_RE.match(raw):
        raise ConfigError(
            "TG_API_HASH", "must be the 32 hexadecimal characters from my.telegram.org"
        )
    return Secret(raw)


def _parse_bot_token(env: Mapping[str, str]) -> Secret:
    raw = _required(env, "TG_BOT_TOKEN")
    if not _BOT_TOKEN_RE.match(raw):
        raise ConfigError("TG_BOT_TOKEN", "must look like 123456:ABC-token as given by @BotFather")
    return Secret(raw)


def _parse_admin_ids(env: Mapping[str, str]) -> frozenset[int]:
    raw = _required(env, "ADMIN_IDS")
    ids: set[int] = set()
    for part in raw.split(","):
        item = part.strip()
        if not item:
            continue
        if not item.isdigit() or int(item) <= 0:
            raise ConfigError(
                "ADMIN_IDS", f"must be comma-separated numeric Telegram user ids, got {item!r}"
            )
        ids.add(int(item))
    if not ids:
        raise ConfigError("ADMIN_IDS", "must name at least one numeric Telegram user id")
    return frozenset(ids)


def _parse_log_level(env: Mapping[str, str]) -> str:
    raw = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if raw not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return raw


def _parse_timezone(env: Mapping[str, str]) -> ZoneInfo:
    raw = env.get("TIMEZONE", "").strip() or "UTC"
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "TIMEZONE", f"unknown time zone {raw!r} (use an IANA name such as Europe/Kyiv)"
        ) from None


def parse_duration(raw: str) -> dt.timedelta:
    """``30s``, ``5m``, ``2h``, ``1d`` or a plain number of seconds; ValueError otherwise."""
    match = _DURATION_RE.match(raw.strip().lower())
    if not match:
        raise ValueError(f"{raw!r} is not a duration such as 30s, 5m, 2h or 1d")
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _backup_keep(env: Mapping[str, str]) -> int:
    keep = _count(env, "BACKUP_KEEP", 7, 1000)
    if keep < 1:
        raise ConfigError("BACKUP_KEEP", "must be at least 1 (BACKUP_INTERVAL=0 turns backups off)")
    return keep


def _image_wait(env: Mapping[str, str]) -> dt.timedelta:
    value = _duration(env, "DEDUP_IMAGE_WAIT", "0", dt.timedelta(0))
    if value > dt.timedelta(minutes=1):
        raise ConfigError("DEDUP_IMAGE_WAIT", "must be at most 60s: alerts wait that long")
    return value


def _duration(
    env: Mapping[str, str], key: str, default: str, minimum: dt.timedelta
) -> dt.timedelta:
    raw = env.get(key, "").strip() or default
    try:
        value = parse_duration(raw)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
    if value < minimum:
        raise ConfigError(key, f"must be at least {minimum.total_seconds():g}s, got {raw!r}")
    return value


_RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(raw: str) -> float:
    """``1/s``, ``20/min``, ``0.5`` (per second) → messages per second; ValueError otherwise."""
    match = _RATE_RE.match(raw.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"expected a rate like 1/s, 20/min or 0.5, got {raw!r}")
    return float(match.group(1)) / _PER[match.group(2) or "s"]


def _rate(env: Mapping[str, str], key: str, default: str) -> float:
    try:
        return parse_rate(env.get(key, "").strip() or default)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def _url(env: Mapping[str, str], key: str, default: str | None = None) -> str | None:
    raw = env.get(key, "").strip() or default
    if raw is None:
        return None
    if not re.match(r"^https?://[^\s/]+", raw):
        raise ConfigError(key, f"must be an http:// or https:// address, got {raw[:40]!r}")
    return raw.rstrip("/")


def _secret(env: Mapping[str, str], key: str) -> Secret | None:
    raw = env.get(key, "").strip()
    return Secret(raw) if raw else None


def _choice(env: Mapping[str, str], key: str, default: str, options: tuple[str, ...]) -> str:
    raw = env.get(key, "").strip().lower() or default
    if raw not in options:
        raise ConfigError(key, f"must be one of {', '.join(options)}, got {raw!r}")
    return raw


def _switch(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(key, f"must be 1 or 0 (on or off), got {raw!r}")


_OCR_LANGS = re.compile(r"[a-z][a-z_]*(\+[a-z][a-z_]*)*")


def _ocr(env: Mapping[str, str], media: bool) -> str | None:
    """OCR: off, or tesseract's language list (``rus+ukr+eng``); ``on`` means that list."""
    raw = env.get("OCR", "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return None
    if not media:
        raise ConfigError("OCR", "needs MEDIA=on: it reads the pictures the media store keeps")
    if raw in ("1", "true", "yes", "on"):
        return "rus+ukr+eng"
    if not _OCR_LANGS.fullmatch(raw):
        raise ConfigError("OCR", f"must be off or tesseract languages joined by +"
                                 f" (rus+ukr+eng), got {raw!r}")
    return raw


def _amount(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(key, f"must be a number from 0 up, got {raw!r}")
    return value


def _count(env: Mapping[str, str], key: str, default: int, maximum: int) -> int:
    raw = env.get(key, "").strip() or str(default)
    if not raw.isdigit() or int(raw) > maximum:
        raise ConfigError(key, f"must be a whole number from 0 to {maximum}, got {raw!r}")
    return int(raw)


def _webhook_url(env: Mapping[str, str]) -> Secret | None:
    # often carries a token: kept as a secret, and never quoted in errors
    raw = env.get("WEBHOOK_URL", "").strip()
    if not raw:
        return None
    try:
        return Secret(check_url_syntax(raw))
    except WebhookURLError as exc:
        raise ConfigError("WEBHOOK_URL", str(exc)) from None


def settings_from_mapping(env: Mapping[str, str]) -> Settings:
    """Validate a plain mapping of settings; raise ConfigError naming the first bad key."""
    data_dir = Path(env.get("DATA_DIR", "").strip() or "./data").expanduser()
    db_raw = env.get("DATABASE_PATH", "").strip()
    database_path = Path(db_raw).expanduser() if db_raw else data_dir / "chanwatch.sqlite3"
    media = _switch(env, "MEDIA", True)
    return Settings(
        api_id=_parse_api_id(env),
        api_hash=_parse_api_hash(env),
        bot_token=_parse_bot_token(env),
        admin_ids=_parse_admin_ids(env),
        data_dir=data_dir,
        database_path=database_path,
        log_level=_parse_log_level(env),
        log_format=_choice(env, "LOG_FORMAT", "text", LOG_FORMATS),
        timezone=_parse_timezone(env),
        reconcile_interval=_duration(env, "RECONCILE_INTERVAL", "5m", dt.timedelta(seconds=10)),
        backfill_posts=_count(env, "BACKFILL_POSTS", 200, 10_000),
        deletion_check_interval=_duration(
            env, "DELETION_CHECK_INTERVAL", "30m", dt.timedelta(seconds=10)
        ),
        deletion_check_window=_duration(env, "DELETION_CHECK_WINDOW", "48h", dt.timedelta(0)),
        dedup_window=_duration(env, "DEDUP_WINDOW", "6h", dt.timedelta(0)),
        dedup_image_wait=_image_wait(env),
        send_rate_chat=_rate(env, "SEND_RATE_CHAT", "0.9/s"),
        send_rate_group=_rate(env, "SEND_RATE_GROUP", "19/min"),
        send_rate_total=_rate(env, "SEND_RATE_TOTAL", "28/s"),
        preview_base_url=_url(env, "PREVIEW_BASE_URL", "https://t.me") or "https://t.me",
        preview_interval=_duration(env, "PREVIEW_INTERVAL", "2m", dt.timedelta(seconds=10)),
        preview_concurrency=max(1, _count(env, "PREVIEW_CONCURRENCY", 4, 32)),
        webhook_url=_webhook_url(env),
        webhook_format=WebhookFormat(_choice(env, "WEBHOOK_FORMAT", "json", FORMATS)),
        webhook_allow_private=_switch(env, "WEBHOOK_ALLOW_PRIVATE", False),
        translate_url=_url(env, "TRANSLATE_URL"),
        translate_api_key=_secret(env, "TRANSLATE_API_KEY"),
        deepl_api_key=_secret(env, "DEEPL_API_KEY"),
        deepl_url=_url(env, "DEEPL_URL"),
        translate_timeout=_duration(env, "TRANSLATE_TIMEOUT", "5s", dt.timedelta(seconds=1)),
        http_timeout=_duration(env, "HTTP_TIMEOUT", "20s", dt.timedelta(seconds=1)),
        db_busy_timeout=_duration(env, "DB_BUSY_TIMEOUT", "5s", dt.timedelta(0)),
        media=media,
        media_max_mb=_count(env, "MEDIA_MAX_MB", 50, 4000),  # Telegram's largest file: 4 GB
        media_max_gb=_amount(env, "MEDIA_MAX_GB", 20.0),
        ocr=_ocr(env, media),
        backup_interval=_duration(env, "BACKUP_INTERVAL", "1d", dt.timedelta(0)),
        backup_keep=_backup_keep(env),
        metrics_port=_count(env, "METRICS_PORT", 0, 65535),
        disk_free_min_gb=_amount(env, "DISK_FREE_MIN_GB", 1.0),
        retention_days=_count(env, "RETENTION_DAYS", 0, 36500),
        metrics_host=env.get("METRICS_HOST", "").strip() or "127.0.0.1",
    )


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Merge ``.env`` (if present) under the real environment and validate the result."""
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return settings_from_mapping(merged)


def secrets_of(settings: Settings) -> list[str]:
    """The configured values no log line may show (bot/logs.py masks them)."""
    values = [settings.api_hash, settings.bot_token, settings.webhook_url,
              settings.translate_api_key, settings.deepl_api_key]
    out = [v.value for v in values if v is not None]
    out += [v.split(":", 1)[1] for v in out if v == settings.bot_token.value and ":" in v]
    return out
