"""The demo's world before the first command: the cast, the channels, their sample posts.

The fake Telegram gets a monitor account, the bot and the admin, and one channel per channel of
the bundled real posts (bot/sandbox/data/demo_posts.jsonl), with some earlier history for
``/watch`` to backfill; the web stand-in gets a channel that is only read through its web
preview. ``demo_settings`` points chanwatch's own settings at both stand-ins.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telethon.tl import types as tl

from bot.config import Settings, settings_from_mapping
from bot.sandbox.server import FakeTelegram
from bot.sandbox.web import PreviewChannel, WebStandIn
from bot.sandbox.world import Account, FakeChannel

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "demo_posts.jsonl"
ADMIN_ID = 1001
BOT_TOKEN = "1000001:DEMO-token"
HISTORY = 30  # posts from the end of the sample that the channels "had" before /watch
# A public channel the account never joins: chanwatch reads it through its web preview.
PREVIEW_CHANNEL = "frontline_preview"
PREVIEW_TITLE = "Фронтовая сводка (web preview)"
DEMO_OCR = "rus+ukr+eng"  # text in pictures, when tesseract is installed
PREVIEW_HISTORY = (  # on its page before /watch: stored without alerts by the first poll
    "Утренняя сводка: обстановка на линии соприкосновения без существенных изменений (демо)",
    "В Курской области восстановлено электроснабжение после непогоды (демо)",
    "Итоги дня: подробности в следующем выпуске (демо)",
)
PREVIEW_INTERVAL = "10s"  # the shortest PREVIEW_INTERVAL; the service's default is 2 min
PREVIEW_INTERVAL_SHOWN = "10 s"


def load_sample(limit: int | None = None) -> list[dict[str, Any]]:
    """The bundled real posts, oldest first."""
    rows = []
    with SAMPLE.open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


@dataclass
class Stage:
    """Who is in the stand-in world: the admin, the bot's account and the channels by name."""

    admin: tl.User
    bot: Account
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    web_channels: dict[str, PreviewChannel] = field(default_factory=dict)  # web preview only


def build_stage(fake: FakeTelegram, web: WebStandIn, data_dir: Path, posts: int) -> Stage:
    """Seed both stand-ins and write the sessions chanwatch logs in with into ``data_dir``."""
    world = fake.world
    monitor = world.add_user(1000, "Monitor account")
    bot_user = world.add_user(1000001, "chanwatch demo bot", "chanwatch_demo_bot", bot=True)
    admin = world.add_user(ADMIN_ID, "Analyst", "analyst")
    user_acc = world.add_account(monitor)
    stage = Stage(admin=admin, bot=world.add_account(bot_user, bot_token=BOT_TOKEN))
    sample = load_sample()
    for row in sample:
        if row["channel"] not in stage.channels:
            ident = 2_000_000 + len(stage.channels)
            stage.channels[row["channel"]] = world.add_channel(ident, row["title"],
                                                               row["channel"])
    # Earlier history, so that /watch has something to backfill (never replayed later).
    if posts <= len(sample) - HISTORY:
        for row in sample[-HISTORY:]:
            world.post(stage.channels[row["channel"]], row["text"], deliver=False)
    # The web-preview channel: its page already shows a few posts of the last hours.
    hour = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    frontline = web.channel(PREVIEW_CHANNEL, PREVIEW_TITLE)
    for back, text in zip(range(len(PREVIEW_HISTORY), 0, -1), PREVIEW_HISTORY, strict=True):
        frontline.add_text(text, date=hour - dt.timedelta(minutes=40 * back))
    stage.web_channels[PREVIEW_CHANNEL] = frontline
    data_dir.mkdir(parents=True, exist_ok=True)
    # A fresh auth key per run: sessions from an earlier demo in the same folder are replaced.
    for name, account in (("user", user_acc), ("bot", stage.bot)):
        session = data_dir / f"{name}.session"
        session.unlink(missing_ok=True)
        fake.write_session(account, session)
    return stage


def ocr_available() -> str | None:
    """Why the demo cannot read text in pictures (tesseract missing), or None when it can."""
    from bot.media.ocr import OcrReader, OcrUnavailable

    try:
        OcrReader(DEMO_OCR).check()
    except OcrUnavailable as exc:
        return str(exc)
    return None


def demo_settings(data_dir: Path, web_url: str, ocr: bool = False) -> Settings:
    """chanwatch's settings for the demo: the admin, the data folder and the web stand-in."""
    return settings_from_mapping({
        "OCR": DEMO_OCR if ocr else "off",
        "TG_API_ID": "1", "TG_API_HASH": "0" * 32, "TG_BOT_TOKEN": BOT_TOKEN,
        "ADMIN_IDS": str(ADMIN_ID), "DATA_DIR": str(data_dir),
        "TIMEZONE": "Europe/Moscow", "LOG_LEVEL": "WARNING",
        # the web stand-in: channel previews and the (transliterating) translator
        "PREVIEW_BASE_URL": web_url, "PREVIEW_INTERVAL": PREVIEW_INTERVAL,
        "TRANSLATE_URL": web_url,
    })
