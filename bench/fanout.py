"""Fan-out throughput: one alert to 1,000 chats plus background traffic, on a simulated clock.

Drives chanwatch's real outbox ``Dispatcher`` (real send budgets, real SQLite outbox) against
a simulated Telegram that enforces the bot limits itself: more than 1 message to one chat
within 1 s, more than 20 to one group within 60 s or more than 30 in all within any 1 s
answers ``FloodWait`` (counted as ``floodwaits``; the goal is 0). Every send also costs
network latency (``--latency-ms``, half on the way in, half on the way back; Telegram checks
the limits when the request arrives), so a dispatcher sending one message at a time would be
capped at 1000 / latency messages/s.

Scenario (defaults): 5 busy private chats and 3 groups already have 30 messages queued each,
then one alert is queued for 1,000 private chats; the dispatcher is driven the way
``Dispatcher.run`` drives it (``drain``, then sleep until the soonest budget or due time)
until nothing is pending.

``msgs_per_s`` is the throughput while the fan-out is going on: every message sent from the
first send until the last copy of the alert went out, divided by that time. This is where
demand exceeds the 30/s limit, so it measures the dispatcher against ``limit_per_s`` (goal:
at least 90 %). After that only the backlogs remain, and the group backlogs can legally go out
at only one message per 3 s per group, so ``overall_msgs_per_s`` (all messages / first to
last send) mostly measures the scenario's tail, not the dispatcher.

The simulated clock: ``sleep`` puts a future on a heap at now + seconds (whole microseconds,
rounded up). A driver advances ``now`` to the earliest sleeper only when everything else is
blocked on the clock: no database call is in flight (``Database.fetchall``/``transaction``
are wrapped to count calls, since aiosqlite works in a thread the event loop cannot see), and
then the driver yields to the event loop ``SETTLE_YIELDS`` times in a row without any task
starting or finishing a database call or going to sleep on the clock. Simulated time passes
only in ``sleep``, so the wall time is the database work and Python overhead.

Prints one JSON line.   Usage: python bench/fanout.py [--chats N] [--latency-ms MS] [...]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import datetime as dt
import heapq
import itertools
import json
import logging
import math
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bot.dispatcher import IDLE_WAIT, Dispatcher
from bot.models import ChatKind
from bot.services.ports import FloodWait, Outgoing
from bot.store import Database, Store, apply_migrations

T = TypeVar("T")
SETTLE_YIELDS = 30  # event-loop turns without any activity before simulated time moves on
PER_CHAT_WINDOW, GROUP_WINDOW, GROUP_LIMIT, OVERALL_WINDOW, OVERALL_LIMIT = 1.0, 60.0, 20, 1.0, 30
US = 1_000_000  # the simulator keeps time in whole microseconds: no float rounding at the edges
GROUP_BASE = -1001000000000


class VirtualClock:
    """A ``bot.clock.Clock`` whose time moves only when every task waits on it (see above)."""

    def __init__(self, start: dt.datetime) -> None:
        self._start = start
        self._us = 0  # simulated microseconds since start
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._io = 0  # database calls in flight
        self._io_idle = asyncio.Event()
        self._io_idle.set()
        self._activity = 0  # bumped whenever a task touches the database or the clock

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(microseconds=self._us)

    def micros(self) -> int:
        """Simulated microseconds since the start."""
        return self._us

    async def sleep(self, seconds: float) -> None:
        due = self._us + max(0, math.ceil(seconds * 1e6 - 1e-6))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (due, next(self._seq), future))
        self._activity += 1
        await future

    def track(self, call: Callable[..., Awaitable[T]]) -> Callable[..., Coroutine[Any, Any, T]]:
        """Wrap an async call that waits on something other than the clock (a DB thread)."""

        async def tracked(*args: Any, **kwargs: Any) -> T:
            self._io += 1
            self._activity += 1
            self._io_idle.clear()
            try:
                return await call(*args, **kwargs)
            finally:
                self._io -= 1
                self._activity += 1
                if self._io == 0:
                    self._io_idle.set()

        return tracked

    async def _settle(self, task: asyncio.Future[Any]) -> None:
        """Return once every task waits on the clock (or ``task`` has finished)."""
        while not task.done():
            await self._io_idle.wait()
            mark = self._activity
            for _ in range(SETTLE_YIELDS):
                await asyncio.sleep(0)
                if self._activity != mark or self._io or task.done():
                    break
            else:
                return

    async def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion, moving simulated time on whenever all tasks wait."""
        task = asyncio.ensure_future(main)
        while True:
            await self._settle(task)
            if task.done():
                return task.result()
            if not self._sleepers:
                task.cancel()
                raise RuntimeError("deadlock: nothing sleeps on the clock and no I/O pending")
            self._us = max(self._us, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self._us:
                future = heapq.heappop(self._sleepers)[2]
                if not future.done():
                    future.set_result(None)


class SimulatedTelegram:
    """The bot side of Telegram: latency, the bot limits, FloodWait for whoever breaks them."""

    def __init__(self, clock: VirtualClock, latency: float, jitter: float,
                 rng: random.Random) -> None:
        self.clock = clock
        self.latency = latency
        self.jitter = jitter
        self.rng = rng
        self.sends: list[tuple[int, int]] = []  # (arrival µs, chat) of accepted messages
        self._last: dict[int, int] = {}
        self._group: dict[int, collections.deque[int]] = collections.defaultdict(
            collections.deque)
        self._overall: collections.deque[int] = collections.deque()
        self.floodwaits: collections.Counter[str] = collections.Counter()
        self.flooded_chats: set[int] = set()
        self._next_id = 1000

    def _leg(self) -> float:
        return max(0.0, self.latency / 2 + self.rng.uniform(-self.jitter, self.jitter) / 2)

    def _too_soon(self, chat: int, t: int) -> tuple[str, float] | None:
        """Which limit a message arriving at ``t`` µs would break, and for how long, if any."""
        last = self._last.get(chat)
        if last is not None and t - last < PER_CHAT_WINDOW * US:
            return "chat", PER_CHAT_WINDOW - (t - last) / US
        if chat < 0:
            window = self._group[chat]
            while window and t - window[0] >= GROUP_WINDOW * US:
                window.popleft()
            if len(window) >= GROUP_LIMIT:
                return "group", GROUP_WINDOW - (t - window[0]) / US
        while self._overall and t - self._overall[0] >= OVERALL_WINDOW * US:
            self._overall.popleft()
        if len(self._overall) >= OVERALL_LIMIT:
            return "overall", OVERALL_WINDOW - (t - self._overall[0]) / US
        return None

    async def deliver(self, message: Outgoing) -> int | None:
        await self.clock.sleep(self._leg())  # the request travels
        t = self.clock.micros()
        broken = self._too_soon(message.chat_id, t)
        if broken is None:
            self._last[message.chat_id] = t
            if message.chat_id < 0:
                self._group[message.chat_id].append(t)
            self._overall.append(t)
            self.sends.append((t, message.chat_id))
            self._next_id += 1
        await self.clock.sleep(self._leg())  # the answer travels back
        if broken is not None:
            self.floodwaits[broken[0]] += 1
            self.flooded_chats.add(message.chat_id)
            raise FloodWait(max(1, math.ceil(broken[1])))
        return self._next_id


async def pending(store: Store) -> int:
    return await store.outbox.pending_count()


async def drive(dispatcher: Dispatcher, store: Store, clock: VirtualClock) -> int:
    """What ``Dispatcher.run`` does, on the simulated clock, until nothing is pending."""
    rounds = 0
    while True:
        retry_in = await dispatcher.drain()
        rounds += 1
        if await pending(store) == 0:
            return rounds
        now = clock.now()
        wait = IDLE_WAIT if retry_in is None else min(IDLE_WAIT, retry_in)
        due = await store.outbox.next_due_time()
        if due is not None and due > now:
            wait = min(wait, (due - now).total_seconds())
        await clock.sleep(max(wait, 0.01))


def max_in_window(times: list[int], window: float) -> int:
    """The most sends inside any half-open window [t, t + window), times in µs."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + round(window * US)) - i
                for i, t in enumerate(ordered)), default=0)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def main(args: argparse.Namespace) -> dict[str, object]:
    wall_started = time.perf_counter()
    clock = VirtualClock(dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC))
    telegram = SimulatedTelegram(clock, args.latency_ms / 1000, args.jitter_ms / 1000,
                                 random.Random(args.seed))
    with tempfile.TemporaryDirectory(prefix="chanwatch-fanout-") as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        try:
            await apply_migrations(db, clock)
            store = Store(db, clock)
            busy = list(range(1, args.busy_chats + 1))
            groups = [GROUP_BASE - i for i in range(1, args.groups + 1)]
            fans = list(range(10_000, 10_000 + args.chats))
            for chat in busy + fans:
                await store.chats.upsert(chat, ChatKind.PRIVATE, None)
            for chat in groups:
                await store.chats.upsert(chat, ChatKind.GROUP, None)
            for n in range(args.backlog):  # background traffic, already queued
                for chat in busy + groups:
                    await store.outbox.enqueue_notice(chat, f"background {n} for {chat}", f"bg:{n}")
            for chat in fans:  # then the alert everybody subscribed to
                await store.outbox.enqueue_notice(chat, "🔔 <b>Alert</b>: the story of the day",
                                                  "alert")
            messages = await pending(store)
            setup_seconds = time.perf_counter() - wall_started

            db.fetchall = clock.track(db.fetchall)  # type: ignore[method-assign]
            db.transaction = clock.track(db.transaction)  # type: ignore[method-assign]
            dispatcher = Dispatcher(store, telegram, clock, frozenset(),
                                    rng=random.Random(args.seed),
                                    max_in_flight=args.max_in_flight)
            run_started = time.perf_counter()
            rounds = await clock.run(drive(dispatcher, store, clock))
            run_seconds = time.perf_counter() - run_started
        finally:
            await db.close()

    sends = telegram.sends
    times = [t for t, _ in sends]
    fan_set = set(fans)
    alert_times = [t / US for t, chat in sends if chat in fan_set]
    first, last = min(times) / US, max(times) / US
    fanout_end = max(alert_times)
    in_fanout = sum(1 for t in times if t <= fanout_end * US)
    by_chat: dict[int, list[int]] = collections.defaultdict(list)
    for t, chat in sends:
        by_chat[chat].append(t)
    gaps = [(b - a) / US for ts in by_chat.values() for a, b in itertools.pairwise(sorted(ts))]
    floodwaits = sum(telegram.floodwaits.values())
    return {
        "chats": args.chats, "busy_chats": args.busy_chats, "groups": args.groups,
        "backlog_each": args.backlog, "messages": messages, "sent": len(sends),
        "msgs_per_s": round(in_fanout / (fanout_end - first), 2) if fanout_end > first else None,
        "limit_per_s": OVERALL_LIMIT,
        "floodwaits": floodwaits,
        "floodwaits_by_limit": dict(telegram.floodwaits),
        "dispatcher_floodwaits": dispatcher.floodwaits,
        "per_chat_violations": telegram.floodwaits["chat"],
        "flooded_chats": len(telegram.flooded_chats),
        "fanout_seconds": round(fanout_end - first, 3),
        "overall_msgs_per_s": round(len(sends) / (last - first), 2) if last > first else None,
        "simulated_seconds": round(last, 3),
        "max_in_any_1s": max_in_window(times, OVERALL_WINDOW),
        "max_group_in_any_60s": max((max_in_window(by_chat[g], GROUP_WINDOW) for g in groups),
                                    default=0),
        "min_gap_same_chat_s": round(min(gaps), 6) if gaps else None,
        "alert_delivered_s": {"p50": round(statistics.median(alert_times), 2),
                              "p95": round(quantile(alert_times, 0.95), 2),
                              "max": round(fanout_end, 2)},
        "latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms,
        "max_in_flight": args.max_in_flight, "drain_rounds": rounds,
        "setup_wall_seconds": round(setup_seconds, 2),
        "wall_seconds": round(run_seconds, 2),
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)  # a FloodWait logs a warning per message
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000, help="private chats the alert goes to")
    parser.add_argument("--busy-chats", type=int, default=5,
                        help="private chats with a backlog")
    parser.add_argument("--groups", type=int, default=3, help="groups with a backlog")
    parser.add_argument("--backlog", type=int, default=30,
                        help="messages queued for each busy chat and group")
    parser.add_argument("--latency-ms", type=float, default=60.0,
                        help="round trip of one send")
    parser.add_argument("--jitter-ms", type=float, default=0.0,
                        help="round trip varies by up to ± this much")
    parser.add_argument("--max-in-flight", type=int, default=8,
                        help="the dispatcher's concurrent sends")
    parser.add_argument("--seed", type=int, default=1)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
