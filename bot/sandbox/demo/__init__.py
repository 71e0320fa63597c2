"""``chanwatch demo``: the real service against the loopback fake Telegram, as a chat transcript.

One process, no network, no credentials: the fake Telegram serves a user account, the bot and
three channels seeded with real posts; a loopback stand-in for the web (bot/sandbox/web.py)
serves the web preview of one more channel and a LibreTranslate-compatible translator that only
transliterates (and says so); chanwatch's own composition root runs against both with a
temporary data directory; a scripted admin watches the channels and sets rules while the
channels replay their posts, and every message of the bot is printed as it is sent.

The parts: ``stage`` (the cast, the channels and their sample posts, the demo's settings),
``transcript`` (how the chat is printed), ``session`` (the running demo and the moves scenes
are made of), ``scenes`` (the script), ``interactive`` (the ``--interactive`` loop) and
``runner`` (start, play, stop; ``main``).
"""

from bot.sandbox.demo.runner import Demo, DemoOptions, main, run_demo
from bot.sandbox.demo.session import DemoResult
from bot.sandbox.demo.stage import SAMPLE, load_sample
from bot.sandbox.demo.transcript import Transcript, to_terminal

__all__ = [
    "SAMPLE",
    "Demo",
    "DemoOptions",
    "DemoResult",
    "Transcript",
    "load_sample",
    "main",
    "run_demo",
    "to_terminal",
]
