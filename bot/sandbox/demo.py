"""``chanwatch demo``: the real service against the loopback fake Telegram, as a chat transcript.

One process, no network, no credentials: the fake Telegram serves a user account, the bot and
three channels seeded with real posts; a loopback stand-in for the web (bot/sandbox/web.py)
serves the web preview of one more channel and a LibreTranslate-compatible translator that only
transliterates (and says so); chanwatch's own composition root runs against both with a
temporary data directory; a scripted admin watches the channels and sets rules while the
channels replay their posts, and every message of the bot is printed as it is sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import App
from bot.config import settings_from_mapping
from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher
from bot.sandbox.server import FakeTelegram
from bot.sandbox.web import PreviewChannel, WebStandIn
from bot.sandbox.world import Account, FakeChannel, SentMessage, World

SAMPLE = Path(__file__).resolve().parent / "data" / "demo_posts.jsonl"
ADMIN_ID = 1001
BOT_TOKEN = "1000001:DEMO-token"
SCRIPT = (
    "/start",
    "/watch @rian_ru",
    "/watch https://t.me/bbcrussian",
    "/watch @mash",
    "/watch @no_such_channel",
    "/alert Белгород",
    '/alert "Белгородская область"',
    "/alert беспилотник -Севастополь",
    "/region Белгородская область",
    '/alert дрон "open quote',
    "/ondelete 2 on",
    "/rules",
)
HISTORY = 30  # posts from the end of the sample that the channels "had" before /watch
AFTER = ("/channels",)
# A public channel the account never joins: chanwatch reads it through its web preview.
PREVIEW_CHANNEL = "frontline_preview"
PREVIEW_TITLE = "Фронтовая сводка (web preview)"
PREVIEW_HISTORY = (  # on its page before /watch: stored without alerts by the first poll
    "Утренняя сводка: обстановка на линии соприкосновения без существенных изменений (демо)",
    "В Курской области восстановлено электроснабжение после непогоды (демо)",
    "Итоги дня: подробности в следующем выпуске (демо)",
)
PREVIEW_NEW = ("Беспилотник атаковал легковой автомобиль в Белгородской области,"
               " водитель ранен (демо)")
PREVIEW_INTERVAL = "10s"  # the shortest PREVIEW_INTERVAL; the service's default is 2 min
PREVIEW_INTERVAL_SHOWN = "10 s"

_TAGS = [
    (re.compile(r"<(?:strong|b)>(.*?)</(?:strong|b)>", re.S), "\x1b[1m\\1\x1b[22m"),
    (re.compile(r"<code>(.*?)</code>", re.S), "\x1b[36m\\1\x1b[39m"),
    (re.compile(r'<a href="[^"]*">(.*?)</a>', re.S), "\x1b[4m\\1\x1b[24m"),
    (re.compile(r"<(?:em|i)>(.*?)</(?:em|i)>", re.S), "\x1b[3m\\1\x1b[23m"),
]
_PLAIN = [
    (re.compile(r"<(?:strong|b)>(.*?)</(?:strong|b)>", re.S), r"*\1*"),
    (re.compile(r"<[^>]+>"), ""),
]


@dataclass(frozen=True)
class DemoOptions:
    """What ``chanwatch demo`` was asked for."""

    posts: int = 80
    speed: float = 10.0  # posts per second
    interactive: bool = False
    data_dir: Path | None = None
    color: bool = False


@dataclass
class DemoResult:
    """What happened, for the caller (and the tests)."""

    data_dir: Path
    posts_replayed: int = 0
    alerts: list[SentMessage] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    unscripted: list[Any] = field(default_factory=list)


def load_sample(limit: int | None = None) -> list[dict[str, Any]]:
    """The bundled real posts, oldest first."""
    rows = []
    with SAMPLE.open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def to_terminal(message_html: str, color: bool) -> str:
    """Render the bot's HTML for a terminal: ANSI styles, or *bold* markers when not a tty."""
    out = message_html
    for pattern, repl in _TAGS if color else _PLAIN:
        out = pattern.sub(repl, out)
    if color:
        out = re.sub(r"<[^>]+>", "", out)
    return html.unescape(out)


class Transcript:
    """Prints the conversation: what the admin types, what the bot answers, what channels post."""

    def __init__(self, world: World, result: DemoResult, color: bool,
                 emit: Callable[[str], None]) -> None:
        self._world = world
        self._result = result
        self._color = color
        self._emit = emit
        self._seen = 0
        self._edits_seen = 0

    def line(self, text: str) -> None:
        self._result.transcript.append(text)
        self._emit(text)

    def admin(self, text: str) -> None:
        self.line(f"\n👤 admin › {text}")

    def channel_post(self, channel: str, text: str) -> None:
        self.line(f"   📣 @{channel}: {_short(text)}")

    def web_post(self, channel: str, text: str) -> None:
        """A post published on the web stand-in (a channel read through its web preview)."""
        self.line(f"   🌐 @{channel} (web): {_short(text)}")

    def flush(self) -> None:
        """Print every bot message sent since the last call."""
        sent = self._world.sent
        while self._seen < len(sent):
            message = sent[self._seen]
            self._seen += 1
            body = to_terminal(message.html, self._color)
            if body.startswith("🔔"):
                self._result.alerts.append(message)
            indent = "\n".join("   " + ln for ln in body.splitlines())
            self.line(f"🤖 bot ›\n{indent}{_extras(message)}")
        edited = self._world.edited
        while self._edits_seen < len(edited):
            message = edited[self._edits_seen]
            self._edits_seen += 1
            tail = to_terminal(message.html, self._color).splitlines()[-2:]
            indent = "\n".join("   " + ln for ln in ["…", *tail])
            self.line(f"🤖 bot edits its message {message.msg_id} ›\n{indent}")


def _short(text: str, limit: int = 90) -> str:
    short = " ".join(text.split())
    return short if len(short) <= limit else short[:limit - 1] + "…"


def _extras(message: SentMessage) -> str:
    """Buttons under a message and an attached picture, as the terminal shows them."""
    out = ""
    rows = getattr(message.reply_markup, "rows", None) or []
    if rows:
        out += "\n   " + " ".join(f"[{b.text}]" for row in rows for b in row.buttons)
    photo = getattr(message, "photo", None)
    if photo:
        out += f"\n   [picture: PNG chart, {len(photo) // 1024 + 1} KB]"
    return out


async def _wait(predicate: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


class Demo:
    """Sets up the stand-in world and the real service, then plays the script."""

    def __init__(self, options: DemoOptions, emit: Callable[[str], None],
                 lemmatizer: Lemmatizer | None = None, places: PlaceMatcher | None = None) -> None:
        self.options = options
        self._emit = emit
        self._lemmatizer = lemmatizer
        self._places = places
        data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="chanwatch-demo-"))
        self.result = DemoResult(data_dir=data_dir)
        self.fake: FakeTelegram
        self.web: WebStandIn
        self.app: App
        self.bot: Account
        self.channels: dict[str, FakeChannel] = {}
        self.web_channels: dict[str, PreviewChannel] = {}  # read through their web preview
        self.published: list[tuple[str, Any]] = []  # (channel, message) in replay order

    async def run(self) -> DemoResult:
        """Play the whole demo; always stops the service and the stand-ins."""
        self.fake = await FakeTelegram.start()
        try:
            self.web = await WebStandIn.start()
        except BaseException:
            await self.fake.stop()
            raise
        try:
            self._build_world()
            self.transcript = Transcript(self.fake.world, self.result, self.options.color,
                                         self._emit)
            self.app = App(self._settings(), lemmatizer=self._lemmatizer, places=self._places)
            await self.app.start()
            try:
                await self._play()
            finally:
                self.transcript.flush()
                await self.app.stop()
        finally:
            self.result.unscripted = list(self.fake.world.unscripted)
            await self.web.close()
            await self.fake.stop()
        return self.result

    def _build_world(self) -> None:
        world = self.fake.world
        monitor = world.add_user(1000, "Monitor account")
        bot_user = world.add_user(1000001, "chanwatch demo bot", "chanwatch_demo_bot", bot=True)
        self.admin = world.add_user(ADMIN_ID, "Analyst", "analyst")
        user_acc = world.add_account(monitor)
        self.bot = world.add_account(bot_user, bot_token=BOT_TOKEN)
        sample = load_sample()
        for row in sample:
            if row["channel"] not in self.channels:
                ident = 2_000_000 + len(self.channels)
                self.channels[row["channel"]] = world.add_channel(ident, row["title"],
                                                                  row["channel"])
        # Earlier history, so that /watch has something to backfill (never replayed later).
        if self.options.posts <= len(sample) - HISTORY:
            for row in sample[-HISTORY:]:
                world.post(self.channels[row["channel"]], row["text"], deliver=False)
        # The web-preview channel: its page already shows a few posts of the last hours.
        hour = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
        frontline = self.web.channel(PREVIEW_CHANNEL, PREVIEW_TITLE)
        for back, text in zip(range(len(PREVIEW_HISTORY), 0, -1), PREVIEW_HISTORY, strict=True):
            frontline.add_text(text, date=hour - dt.timedelta(minutes=40 * back))
        self.web_channels[PREVIEW_CHANNEL] = frontline
        data = self.result.data_dir
        data.mkdir(parents=True, exist_ok=True)
        # A fresh auth key per run: sessions from an earlier demo in the same folder are replaced.
        for name, account in (("user", user_acc), ("bot", self.bot)):
            session = data / f"{name}.session"
            session.unlink(missing_ok=True)
            self.fake.write_session(account, session)

    def _settings(self) -> Any:
        return settings_from_mapping({
            "TG_API_ID": "1", "TG_API_HASH": "0" * 32, "TG_BOT_TOKEN": BOT_TOKEN,
            "ADMIN_IDS": str(ADMIN_ID), "DATA_DIR": str(self.result.data_dir),
            "TIMEZONE": "Europe/Moscow", "LOG_LEVEL": "WARNING",
            # the web stand-in: channel previews and the (transliterating) translator
            "PREVIEW_BASE_URL": self.web.url, "PREVIEW_INTERVAL": PREVIEW_INTERVAL,
            "TRANSLATE_URL": self.web.url,
        })

    async def say(self, text: str) -> None:
        """Type a command as the admin and wait for the bot's answer."""
        self.transcript.admin(text)
        before = len(self.fake.world.sent)
        self.fake.world.private_message(self.bot, self.admin, text)
        await _wait(lambda: len(self.fake.world.sent) > before, 15)
        self.transcript.flush()

    async def _play(self) -> None:
        t = self.transcript
        t.line(f"chanwatch demo — data in {self.result.data_dir}")
        t.line("A fake Telegram runs on 127.0.0.1; the real chanwatch service is connected to it.")
        t.line(f"A stand-in for the web (channel web previews, a translator) runs on"
               f" {self.web.url}.")
        for command in SCRIPT:
            await self.say(command)
        await self.replay(self.options.posts, self.options.speed)
        await self.never_miss_scene()
        await self.delivery_scene()
        await self.preview_scene()
        for command in AFTER:
            await self.say(command)
        if self.options.interactive:
            await self.interactive()
        t.line(f"\nDemo finished: {self.result.posts_replayed} posts replayed, "
               f"{len(self.result.alerts)} alerts sent.")
        t.line(f"Its database is {self.result.data_dir / 'chanwatch.sqlite3'}")

    async def replay(self, count: int, speed: float) -> None:
        """Publish ``count`` sample posts, ``speed`` per second, printing alerts as they come."""
        rows = load_sample(count)
        self.transcript.line(f"\n⏩ replaying {len(rows)} real posts at {speed:g} posts/s")
        interval = 1.0 / speed if speed > 0 else 0.0
        before = await self._stored()
        for row in rows:
            message = self.fake.world.post(self.channels[row["channel"]], row["text"])
            self.published.append((row["channel"], message))
            self.transcript.channel_post(row["channel"], row["text"])
            self.result.posts_replayed += 1
            self.transcript.flush()
            await asyncio.sleep(interval)
        await self._settle(before + len(rows))

    async def never_miss_scene(self) -> None:
        """A dropped connection, an edit and a deletion: nothing slips through."""
        t, world = self.transcript, self.fake.world
        mash = self.channels["mash"]
        t.line("\n⚡ The connection to Telegram drops; @mash posts twice meanwhile"
               " (demo texts)")
        before = await self._stored()
        self.fake.drop_connections()
        meanwhile = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
        for text in ("Беспилотник сбит над Белгородом, обломки упали во дворе (демо)",
                     "Погода: в Москве снег (демо)"):
            world.post(mash, text, date=meanwhile)
            t.channel_post("mash", text)
        await self._settle(before + 2)
        plain = next((m for ch, m in self.published
                      if ch == "bbcrussian" and "елгород" not in m.message), None)
        if plain is not None:
            t.line("\n✏️ @bbcrussian edits an earlier post so that it mentions Belgorod (demo)")
            world.edit(self.channels["bbcrussian"], plain.id,
                       plain.message + "\n\nОбновлено: взрывы слышны и в Белгороде.")
            await self._settle_alerts(len(self.result.alerts) + 1)
        alerted = next((m for ch, m in self.published
                        if ch == "rian_ru" and "Белгородской области" in m.message), None)
        if alerted is not None:
            t.line(f"\n🗑 @rian_ru deletes post {alerted.id}, which rule #2 alerted on")
            world.delete(self.channels["rian_ru"], [alerted.id])
            for _ in range(200):
                if any("deleted a post" in line for line in self.result.transcript):
                    break
                await asyncio.sleep(0.05)
                t.flush()

    async def delivery_scene(self) -> None:
        """The same story twice, quiet hours, a mute button and a digest."""
        t, world = self.transcript, self.fake.world
        rian, mash = self.channels["rian_ru"], self.channels["mash"]
        t.line("\n🔁 @rian_ru reports a story; @mash forwards it a minute later (demo texts)")
        text = "Над Белгородом сбит беспилотник, пострадавших нет, сообщил губернатор (демо)"
        before = await self._stored()
        original = world.post(rian, text)
        t.channel_post("rian_ru", text)
        await self._settle(before + 1)
        alert = self.result.alerts[-1] if self.result.alerts else None
        edits = len(world.edited)
        world.post(mash, text, fwd_from_channel=rian.id, fwd_from_msg_id=original.id)
        t.channel_post("mash", "↪ forwarded from @rian_ru: " + text)
        await _wait(lambda: len(world.edited) > edits, 15)
        t.flush()

        now = dt.datetime.now(ZoneInfo("Europe/Moscow"))
        quiet = f"{now - dt.timedelta(hours=1):%H:%M}-{now + dt.timedelta(hours=1):%H:%M}"
        await self.say(f"/quiet {quiet}")
        before = await self._stored()
        late_text = "В Белгороде снова объявлена ракетная опасность (демо)"
        world.post(self.channels["bbcrussian"], late_text)
        t.channel_post("bbcrussian", late_text)
        await self._settle(before + 1)
        t.line("   (quiet hours: the alert is held)")
        await self.say("/quiet off")
        await _wait(lambda: any("Quiet hours are over" in m.text for m in world.sent), 15)
        t.flush()

        if alert is not None and alert.reply_markup is not None:
            button = alert.reply_markup.rows[0].buttons[0]
            answers = len(world.callback_answers)
            world.press_button(self.bot, self.admin, alert, button.type.data)
            await _wait(lambda: len(world.callback_answers) > answers, 15)
            answer = world.callback_answers[-1].message if world.callback_answers else "?"
            t.line(f"\n👆 admin presses [{button.text}] under the first alert → {answer}")

        await self.say("/mode 3 both")
        await self.say("/digest now")
        await _wait(lambda: any("Digest</b> ·" in m.html for m in world.sent), 15)
        t.flush()
        await self.say("/digest 08:00, 20:00")

    async def preview_scene(self) -> None:
        """A channel followed only through its web preview; its alert carries a translation."""
        t, name = self.transcript, PREVIEW_CHANNEL
        frontline = self.web_channels[name]
        t.line(f"\n🌐 @{name} is public, but the account never joins it: chanwatch reads its web"
               f" preview (t.me/s/{name}), served here by the web stand-in. Its page shows"
               " (demo texts):")
        for post in frontline.posts:
            t.web_post(name, html.unescape(post.text.replace("<br/>", "\n")))
        t.line("   The translator at TRANSLATE_URL is the stand-in too: it answers a"
               " transliteration, labelled as such, not a real translation.")
        await self.say("/translate en")
        before = await self._stored()
        await self.say(f"/watch @{name} preview")
        # the first poll (started by /watch) stores the newest page without alerts
        await self._settle(before + len(frontline.posts))
        alerts = len(self.result.alerts)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        frontline.add_text(PREVIEW_NEW, date=now)
        t.line(f"\n🌐 @{name} publishes a new post on its web page (demo text)")
        t.web_post(name, PREVIEW_NEW)
        t.line("   ⏱ web previews are polled by a scheduled job every PREVIEW_INTERVAL"
               f" (2 min by default, shortened to {PREVIEW_INTERVAL_SHOWN} for the demo);"
               " the demo runs that job now")
        await self._poll_preview(before + len(frontline.posts))
        await self._settle_alerts(alerts + 1)
        await self.say("/translate off")

    async def _poll_preview(self, expected_posts: int) -> None:
        """Run the preview job until the new posts are stored and their alerts sent.

        A poll of a channel that another poll (the scheduled one) is reading skips it, so the
        job is run again until the posts are in.
        """
        for _ in range(100):
            await self.app.run_preview()
            if await self._stored() >= expected_posts:
                break
            await asyncio.sleep(0.05)
        await self._settle(expected_posts)

    async def _stored(self) -> int:
        return await self.app.store.posts.count()

    async def _settle_alerts(self, count: int) -> None:
        for _ in range(200):
            self.transcript.flush()
            if len(self.result.alerts) >= count:
                return
            await asyncio.sleep(0.05)

    async def _settle(self, expected_posts: int) -> None:
        store = self.app.store

        async def done() -> bool:
            posts = await store.posts.count()
            return posts >= expected_posts and await store.outbox.pending_count() == 0

        for _ in range(600):  # at most 30 s: ingestion and sending are done by then
            if await done():
                break
            await asyncio.sleep(0.05)
        self.transcript.flush()

    async def interactive(self) -> None:
        """Let the person type as the admin; ``post @channel text`` publishes a post."""
        t = self.transcript
        t.line("\nYour turn. Type bot commands as the admin (/help),"
               " `post @rian_ru some text` to publish a post (on the web stand-in for"
               f" `post @{PREVIEW_CHANNEL} …`), or `quit`.")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, _read_line)
            if line is None or line.strip() in ("quit", "exit"):
                return
            line = line.strip()
            if not line:
                continue
            if line.startswith("post "):
                await self._manual_post(line)
            else:
                await self.say(line)

    async def _manual_post(self, line: str) -> None:
        parts = line.split(maxsplit=2)
        name = parts[1].lstrip("@") if len(parts) > 1 else ""
        if (name not in self.channels and name not in self.web_channels) or len(parts) < 3:
            names = [f"@{c}" for c in self.channels] + [f"@{c} (web)" for c in self.web_channels]
            self.transcript.line(f"   usage: post @channel text (channels: {', '.join(names)})")
            return
        before = await self._stored()
        if name in self.web_channels:
            self.web_channels[name].add_text(
                parts[2], date=dt.datetime.now(dt.UTC).replace(microsecond=0))
            self.transcript.web_post(name, parts[2])
            self.result.posts_replayed += 1
            await self._poll_preview(before + 1)
            return
        self.fake.world.post(self.channels[name], parts[2])
        self.transcript.channel_post(name, parts[2])
        self.result.posts_replayed += 1
        await self._settle(before + 1)


def _read_line() -> str | None:
    try:
        return input("you › ")
    except EOFError:
        return None


async def run_demo(options: DemoOptions, emit: Callable[[str], None] | None = None,
                   lemmatizer: Lemmatizer | None = None,
                   places: PlaceMatcher | None = None) -> DemoResult:
    """Run the demo and return what happened."""
    return await Demo(options, emit or (lambda s: print(s, flush=True)), lemmatizer,
                      places).run()


def main(options: DemoOptions) -> int:
    """Entry point for ``chanwatch demo``; Ctrl-C ends it cleanly."""
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="chanwatch-demo-"))
    options = DemoOptions(options.posts, options.speed, options.interactive, data_dir,
                          color=sys.stdout.isatty())
    # The demo drops the connection on purpose: Telethon's reconnect warnings are noise here.
    logging.getLogger("telethon").setLevel(logging.ERROR)
    # The compiled place index goes to the user's cache: the next demo starts in a second.
    lemmatizer = Lemmatizer()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "chanwatch"
    places = PlaceMatcher.cached(lemmatizer, cache)
    try:
        result = asyncio.run(run_demo(options, lemmatizer=lemmatizer, places=places))
    except KeyboardInterrupt:
        print(f"\nDemo interrupted. Its database is {data_dir / 'chanwatch.sqlite3'}")
        return 130
    if result.unscripted:
        print(f"the Telegram stand-in got requests it was not scripted for: {result.unscripted}",
              file=sys.stderr)
        return 1
    return 0
