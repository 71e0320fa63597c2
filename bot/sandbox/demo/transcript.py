"""How the demo prints the chat: what the admin types, what the bot answers, what channels post.

The bot's Telegram HTML is turned into terminal text: ANSI styles on a terminal, ``*bold*``
markers otherwise; buttons under a message are shown in brackets, an attached chart as a note.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.sandbox.world import SentMessage, World

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


def to_terminal(message_html: str, color: bool) -> str:
    """Render the bot's HTML for a terminal: ANSI styles, or *bold* markers when not a tty."""
    out = message_html
    for pattern, repl in _TAGS if color else _PLAIN:
        out = pattern.sub(repl, out)
    if color:
        out = re.sub(r"<[^>]+>", "", out)
    return html.unescape(out)


class Transcript:
    """Prints the conversation: what the admin types, what the bot answers, what channels post.

    Every printed line is also appended to ``lines``, and every alert the bot sends to
    ``alerts`` (both owned by the caller: the demo's result).
    """

    def __init__(self, world: World, color: bool, emit: Callable[[str], None], *,
                 lines: list[str], alerts: list[SentMessage]) -> None:
        self._world = world
        self._color = color
        self._emit = emit
        self._lines = lines
        self._alerts = alerts
        self._seen = 0
        self._edits_seen = 0

    def line(self, text: str) -> None:
        """Print one line (or block) of the transcript."""
        self._lines.append(text)
        self._emit(text)

    def admin(self, text: str) -> None:
        """What the admin types to the bot."""
        self.line(f"\n👤 admin › {text}")

    def channel_post(self, channel: str, text: str) -> None:
        """A post published in a channel of the fake Telegram."""
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
                self._alerts.append(message)
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
    if photo:  # an alert sent as the post's photo (/media on), or a digest's chart
        what = "the post's photo, the alert is its caption" if message.text.startswith(
            "🔔") else "PNG chart"
        out += f"\n   [picture: {what}, {len(photo) // 1024 + 1} KB]"
    return out
