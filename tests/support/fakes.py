"""Stand-ins shared by several test modules: a recording sender, a Telegram that must not be
called, the dispatcher driven on the fake clock, the environment of a child `chanwatch`, and
the clock the tests move by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from bot.dispatcher import Dispatcher
from bot.services.ports import Outgoing, ResolvedChannel
from bot.store import Store
from tests.support.harness import settings_env


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.current = start or dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)

    async def sleep(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=max(0.0, seconds))
        self.slept.append(seconds)
        await asyncio.sleep(0)


class RecordingSender:
    """Records sends with the clock's time; ``failures[chat_id]`` lists exceptions to raise."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, str, int]] = []
        self.times: list[tuple[int, dt.datetime]] = []
        self.messages: list[Outgoing] = []
        self.failures: dict[int, list[BaseException]] = {}
        self.next_id = 100

    async def deliver(self, message: Outgoing) -> int | None:
        queue = self.failures.get(message.chat_id)
        if queue:
            raise queue.pop(0)
        self.sent.append((message.chat_id, message.html, message.random_id))
        self.times.append((message.chat_id, self.clock.now()))
        self.messages.append(message)
        self.next_id += 1
        return self.next_id


async def run_until_empty(dispatcher: Dispatcher, store: Store, clock: FakeClock,
                          limit: int = 10_000) -> None:
    """Drive the dispatcher on the fake clock the way ``run`` does, until nothing is pending."""
    for _ in range(limit):
        retry_in = await dispatcher.drain()
        if await store.outbox.pending_count() == 0:
            return
        due = await store.outbox.next_due_time()
        wait = retry_in if retry_in is not None else 5.0
        if due is not None and due > clock.now():
            wait = min(wait, (due - clock.now()).total_seconds())
        await clock.sleep(max(wait, 0.001))
    raise AssertionError("outbox never drained")


class NoTelegram:
    """Channel directory for tests that must never reach Telegram: any call fails the test."""

    async def resolve_channel(self, username: str) -> ResolvedChannel:
        raise AssertionError("unexpected Telegram call")

    async def join(self, channel: ResolvedChannel) -> None:
        raise AssertionError("unexpected Telegram call")

    async def leave(self, channel_id: int, access_hash: int | None) -> None:
        raise AssertionError("unexpected Telegram call")


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "ADMIN_"))}
    env.update(settings_env(data_dir))
    env["XDG_CACHE_HOME"] = str(data_dir / ".cache")  # CLI tools cache the place index there
    env.update(extra)
    return env


async def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
