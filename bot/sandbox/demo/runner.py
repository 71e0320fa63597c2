"""Starting, playing and stopping the demo; ``main`` is ``chanwatch demo``.

``Demo.run`` starts the fake Telegram and the web stand-in, seeds them, starts chanwatch's own
composition root against them, plays the scenes in order and always stops all three.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.app import App
from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher
from bot.sandbox.demo import scenes
from bot.sandbox.demo.interactive import interactive
from bot.sandbox.demo.session import DemoResult, DemoSession
from bot.sandbox.demo.stage import build_stage, demo_settings, ocr_available
from bot.sandbox.demo.transcript import Transcript
from bot.sandbox.server import FakeTelegram
from bot.sandbox.web import WebStandIn


@dataclass(frozen=True)
class DemoOptions:
    """What ``chanwatch demo`` was asked for."""

    posts: int = 80
    speed: float = 10.0  # posts per second
    interactive: bool = False
    data_dir: Path | None = None
    color: bool = False


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

    async def run(self) -> DemoResult:
        """Play the whole demo; always stops the service and the stand-ins."""
        fake = await FakeTelegram.start()
        try:
            web = await WebStandIn.start()
        except BaseException:
            await fake.stop()
            raise
        try:
            data_dir = self.result.data_dir
            stage = build_stage(fake, web, data_dir, self.options.posts)
            transcript = Transcript(fake.world, self.options.color, self._emit,
                                    lines=self.result.transcript, alerts=self.result.alerts)
            self.result.ocr_off = await asyncio.to_thread(ocr_available)
            app = App(demo_settings(data_dir, web.url, ocr=self.result.ocr_off is None),
                      lemmatizer=self._lemmatizer,
                      places=self._places)
            await app.start()
            try:
                await self._play(DemoSession(fake, web, app, stage, transcript, self.result))
            finally:
                transcript.flush()
                await app.stop()
        finally:
            self.result.unscripted = list(fake.world.unscripted)
            await web.close()
            await fake.stop()
        return self.result

    async def _play(self, s: DemoSession) -> None:
        await scenes.opening(s)
        await scenes.replay(s, self.options.posts, self.options.speed)
        await scenes.never_miss(s)
        await scenes.evidence(s)
        await scenes.delivery(s)
        await scenes.archive(s)
        await scenes.preview(s)
        await scenes.closing(s)
        if self.options.interactive:
            await interactive(s)
        s.transcript.line(f"\nDemo finished: {self.result.posts_replayed} posts replayed, "
                          f"{len(self.result.alerts)} alerts sent.")
        s.transcript.line(f"Its database is {self.result.data_dir / 'chanwatch.sqlite3'}")


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
