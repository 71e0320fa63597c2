"""``chanwatch demo --interactive``: after the script, the person at the terminal is the admin.

Lines are bot commands, except ``post @channel text``, which publishes a post in one of the
demo's channels (on the web stand-in for the channel read through its web preview); ``quit``,
``exit`` or end of input stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.sandbox.demo.session import DemoSession
from bot.sandbox.demo.stage import PREVIEW_CHANNEL


async def interactive(s: DemoSession) -> None:
    """Let the person type as the admin; ``post @channel text`` publishes a post."""
    s.transcript.line("\nYour turn. Type bot commands as the admin (/help),"
                      " `post @rian_ru some text` to publish a post (on the web stand-in for"
                      f" `post @{PREVIEW_CHANNEL} …`), or `quit`.")
    loop = asyncio.get_running_loop()
    while True:
        # input() blocks: it runs in a worker thread so the service keeps running meanwhile
        line = await loop.run_in_executor(None, _read_line)
        if line is None or line.strip() in ("quit", "exit"):
            return
        line = line.strip()
        if not line:
            continue
        if line.startswith("post "):
            await _manual_post(s, line)
        else:
            await s.say(line)


async def _manual_post(s: DemoSession, line: str) -> None:
    channels, web_channels = s.stage.channels, s.stage.web_channels
    parts = line.split(maxsplit=2)
    name = parts[1].lstrip("@") if len(parts) > 1 else ""
    if (name not in channels and name not in web_channels) or len(parts) < 3:
        names = [f"@{c}" for c in channels] + [f"@{c} (web)" for c in web_channels]
        s.transcript.line(f"   usage: post @channel text (channels: {', '.join(names)})")
        return
    before = await s.stored()
    if name in web_channels:
        web_channels[name].add_text(parts[2], date=dt.datetime.now(dt.UTC).replace(microsecond=0))
        s.transcript.web_post(name, parts[2])
        s.result.posts_replayed += 1
        await s.poll_preview(before + 1)
        return
    s.world.post(channels[name], parts[2])
    s.transcript.channel_post(name, parts[2])
    s.result.posts_replayed += 1
    await s.settle(before + 1)


def _read_line() -> str | None:
    try:
        return input("you › ")
    except EOFError:
        return None
