from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, settings_from_mapping

GOOD = {
    "TG_API_ID": "12345",
    "TG_API_HASH": "0123456789abcdef0123456789abcdef",
    "TG_BOT_TOKEN": "424242:TEST-token_x",
    "ADMIN_IDS": "500, 501",
}


def test_defaults_and_derived_paths() -> None:
    s = settings_from_mapping(GOOD)
    assert s.api_id == 12345
    assert s.admin_ids == frozenset({500, 501})
    assert s.data_dir == Path("data")
    assert s.database_path == Path("data/chanwatch.sqlite3")
    assert s.user_session_path == Path("data/user.session")
    assert s.bot_session_path == Path("data/bot.session")
    assert s.log_level == "INFO"
    assert s.timezone.key == "UTC"
    assert (s.media, s.media_max_mb, s.media_max_gb) == (True, 50, 20.0)
    assert s.media_dir == Path("data/media")
    off = settings_from_mapping({**GOOD, "MEDIA": "off", "MEDIA_MAX_MB": "0",
                                 "MEDIA_MAX_GB": "0.5"})
    assert (off.media, off.media_max_mb, off.media_max_gb) == (False, 0, 0.5)
    assert s.ocr is None  # OCR is opt-in
    for raw, langs in (("on", "rus+ukr+eng"), ("RUS+eng", "rus+eng"), ("off", None),
                       ("0", None), ("ukr", "ukr")):
        assert settings_from_mapping({**GOOD, "OCR": raw}).ocr == langs, raw


def test_ocr_needs_the_media_store() -> None:
    with pytest.raises(ConfigError, match="OCR: needs MEDIA=on"):
        settings_from_mapping({**GOOD, "MEDIA": "off", "OCR": "rus"})


def test_secrets_never_show() -> None:
    s = settings_from_mapping(GOOD)
    assert "0123456789abcdef" not in repr(s)
    assert "TEST-token" not in repr(s) and "TEST-token" not in str(s.bot_token)
    assert s.bot_token.value == "424242:TEST-token_x"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("TG_API_ID", None, "TG_API_ID: is required"),
        ("TG_API_ID", "abc", "TG_API_ID: must be a positive integer"),
        ("TG_API_ID", "0", "TG_API_ID: must be a positive integer"),
        ("TG_API_HASH", None, "TG_API_HASH: is required"),
        ("TG_API_HASH", "short", "TG_API_HASH: must be the 32 hexadecimal"),
        ("TG_BOT_TOKEN", None, "TG_BOT_TOKEN: is required"),
        ("TG_BOT_TOKEN", "no-colon", "TG_BOT_TOKEN: must look like"),
        ("ADMIN_IDS", None, "ADMIN_IDS: is required"),
        ("ADMIN_IDS", "500,@bob", "ADMIN_IDS: must be comma-separated numeric"),
        ("ADMIN_IDS", " , ", "ADMIN_IDS: must name at least one"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: must be one of"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: unknown time zone"),
        ("SEND_RATE_CHAT", "fast", "SEND_RATE_CHAT: expected a rate like"),
        ("SEND_RATE_GROUP", "0/min", "SEND_RATE_GROUP: expected a rate like"),
        ("DEDUP_WINDOW", "soon", "DEDUP_WINDOW: "),
        ("MEDIA", "maybe", "MEDIA: must be 1 or 0 (on or off), got 'maybe'"),
        ("MEDIA_MAX_MB", "-1", "MEDIA_MAX_MB: must be a whole number from 0 to 4000"),
        ("MEDIA_MAX_MB", "5000", "MEDIA_MAX_MB: must be a whole number from 0 to 4000"),
        ("MEDIA_MAX_GB", "lots", "MEDIA_MAX_GB: must be a number from 0 up, got 'lots'"),
        ("MEDIA_MAX_GB", "-2", "MEDIA_MAX_GB: must be a number from 0 up"),
        ("MEDIA_MAX_GB", "nan", "MEDIA_MAX_GB: must be a number from 0 up"),
        ("WEBHOOK_ALLOW_PRIVATE", "perhaps", "WEBHOOK_ALLOW_PRIVATE: must be 1 or 0"),
        ("OCR", "rus,ukr", "OCR: must be off or tesseract languages joined by + (rus+ukr+eng),"
                           " got 'rus,ukr'"),
        ("OCR", "rus+", "OCR: must be off or tesseract languages"),
        ("OCR", "--psm 6", "OCR: must be off or tesseract languages"),
    ],
)
def test_each_bad_key_gives_one_line_naming_it(key: str, value: str | None, message: str) -> None:
    env = dict(GOOD)
    if value is None:
        env.pop(key, None)
    else:
        env[key] = value
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(env)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert info.value.key == key


def test_env_file_is_read_and_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "TG_API_ID=1\nTG_API_HASH=0123456789abcdef0123456789abcdef\n"
        "TG_BOT_TOKEN=1234:abcdef\nADMIN_IDS=7\nTIMEZONE=Europe/Kyiv\nDATA_DIR=/srv/x\n"
    )
    s = load_settings({"TG_API_ID": "99", "ADMIN_IDS": "8"}, env_file=env_file)
    assert s.api_id == 99
    assert s.admin_ids == frozenset({8})
    assert s.timezone.key == "Europe/Kyiv"
    assert s.database_path == Path("/srv/x/chanwatch.sqlite3")


def test_database_path_override() -> None:
    s = settings_from_mapping({**GOOD, "DATABASE_PATH": "/tmp/x.db", "DATA_DIR": "/d"})
    assert s.database_path == Path("/tmp/x.db")
    assert s.user_session_path == Path("/d/user.session")


def test_env_example_lists_every_setting() -> None:
    root = Path(__file__).parent.parent
    example = (root / ".env.example").read_text()
    readme = (root / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.M)
    assert {"TG_API_ID", "DATA_DIR", "MEDIA", "OCR", "WEB_PASSWORD"} <= set(keys)
    for key in keys:  # every setting the README's table names, with its line in .env.example
        assert re.search(rf"^#? ?{key}=", example, flags=re.M), key


def test_send_rates() -> None:
    settings = settings_from_mapping({**GOOD, "SEND_RATE_CHAT": "1/s", "SEND_RATE_GROUP": "20/min",
                                      "SEND_RATE_TOTAL": "0.5"})
    assert (settings.send_rate_chat, settings.send_rate_group, settings.send_rate_total) == (
        1.0, 20 / 60, 0.5)
    defaults = settings_from_mapping(GOOD)
    assert defaults.send_rate_chat == 0.9 and defaults.send_rate_total == 28.0


def test_dedup_image_wait() -> None:
    assert settings_from_mapping(GOOD).dedup_image_wait.total_seconds() == 0
    assert settings_from_mapping({**GOOD, "DEDUP_IMAGE_WAIT": "3s"}
                                 ).dedup_image_wait.total_seconds() == 3
    for bad in ("2m", "-1", "soon"):
        with pytest.raises(ConfigError, match="DEDUP_IMAGE_WAIT"):
            settings_from_mapping({**GOOD, "DEDUP_IMAGE_WAIT": bad})


def test_backup_settings() -> None:
    s = settings_from_mapping(GOOD)
    assert (s.backup_interval.total_seconds(), s.backup_keep) == (86400, 7)
    assert s.backup_dir == s.data_dir / "backups"
    s = settings_from_mapping({**GOOD, "BACKUP_INTERVAL": "0", "BACKUP_KEEP": "30"})
    assert (s.backup_interval.total_seconds(), s.backup_keep) == (0, 30)
    for key, bad in (("BACKUP_INTERVAL", "daily"), ("BACKUP_KEEP", "0"), ("BACKUP_KEEP", "-2")):
        with pytest.raises(ConfigError, match=key):
            settings_from_mapping({**GOOD, key: bad})


def test_metrics_settings() -> None:
    s = settings_from_mapping(GOOD)
    assert (s.metrics_port, s.metrics_host) == (0, "127.0.0.1")
    s = settings_from_mapping({**GOOD, "METRICS_PORT": "9464", "METRICS_HOST": "0.0.0.0"})
    assert (s.metrics_port, s.metrics_host) == (9464, "0.0.0.0")
    for bad in ("70000", "-1", "http"):
        with pytest.raises(ConfigError, match="METRICS_PORT"):
            settings_from_mapping({**GOOD, "METRICS_PORT": bad})


def test_readme_lists_every_bot_command() -> None:
    from bot.commands import COMMANDS

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("## Bot commands", 1)[1].split("\n## ", 1)[0]
    for command in COMMANDS:
        assert f"`/{command.name}" in table, command.name


def test_retention_days() -> None:
    assert settings_from_mapping(GOOD).retention_days == 0
    assert settings_from_mapping({**GOOD, "RETENTION_DAYS": "365"}).retention_days == 365
    with pytest.raises(ConfigError, match="RETENTION_DAYS"):
        settings_from_mapping({**GOOD, "RETENTION_DAYS": "a year"})
