"""The running demo as its scenes see it, and the moves every scene is made of.

A ``DemoSession`` holds the stand-ins, the started service, the cast and the transcript; its
methods type a command as the admin and wait until posts are stored and their alerts sent, so
that each scene prints the bot's answers right after what caused them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import App
from bot.sandbox.demo.stage import Stage
from bot.sandbox.demo.transcript import Transcript
from bot.sandbox.server import FakeTelegram
from bot.sandbox.web import WebStandIn
from bot.sandbox.world import SentMessage, World


@dataclass
class DemoResult:
    """What happened, for the caller (and the tests)."""

    data_dir: Path
    posts_replayed: int = 0
    alerts: list[SentMessage] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    unscripted: list[Any] = field(default_factory=list)
    media_kept: list[Path] = field(default_factory=list)  # files still there after deletion
    ocr_off: str | None = None  # why text in pictures was not read (tesseract missing)


async def wait_for(predicate: Callable[[], bool], within: float) -> bool:
    """Poll ``predicate`` until it holds or ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@dataclass
class DemoSession:
    """The stand-ins, the service and the cast while the script plays."""

    fake: FakeTelegram
    web: WebStandIn
    app: App
    stage: Stage
    transcript: Transcript
    result: DemoResult
    published: list[tuple[str, Any]] = field(default_factory=list)  # (channel, message), in order

    @property
    def world(self) -> World:
        """The fake Telegram's world: channels, accounts and what the bot sent."""
        return self.fake.world

    async def say(self, text: str) -> None:
        """Type a command as the admin and wait for the bot's answer."""
        self.transcript.admin(text)
        before = len(self.world.sent)
        self.world.private_message(self.stage.bot, self.stage.admin, text)
        await wait_for(lambda: len(self.world.sent) > before, 15)
        self.transcript.flush()

    async def stored(self) -> int:
        """How many posts the service has stored so far."""
        return await self.app.store.posts.count()

    async def settle(self, expected_posts: int) -> None:
        """Wait until ``expected_posts`` are stored and the outbox is empty, then print."""
        store = self.app.store

        async def done() -> bool:
            posts = await store.posts.count()
            return posts >= expected_posts and await store.outbox.pending_count() == 0

        for _ in range(600):  # at most 30 s: ingestion and sending are done by then
            if await done():
                break
            await asyncio.sleep(0.05)
        self.transcript.flush()

    async def settle_alerts(self, count: int) -> None:
        """Print the bot's messages until ``count`` alerts have been sent (at most 10 s)."""
        for _ in range(200):
            self.transcript.flush()
            if len(self.result.alerts) >= count:
                return
            await asyncio.sleep(0.05)

    async def poll_preview(self, expected_posts: int) -> None:
        """Run the preview job until the new posts are stored and their alerts sent.

        A poll of a channel that another poll (the scheduled one) is reading skips it, so the
        job is run again until the posts are in.
        """
        for _ in range(100):
            await self.app.run_preview()
            if await self.stored() >= expected_posts:
                break
            await asyncio.sleep(0.05)
        await self.settle(expected_posts)
