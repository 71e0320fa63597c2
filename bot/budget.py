"""Send budgets: token buckets that keep the bot under Telegram's limits before it is told.

Telegram lets a bot send about 1 message per second to one chat, 20 per minute to one group
and about 30 per second in all, and answers more with FloodWait. The dispatcher asks these
buckets before each send, so in normal operation it never provokes a FloodWait at all.
Time is whatever the injected clock says (seconds since an arbitrary origin), so tests and the
fan-out benchmark run on a simulated clock.
"""

from __future__ import annotations

from dataclasses import dataclass

_EPS = 1e-4  # tokens; clocks tick in microseconds, so exact refills round down


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity``; one token per message."""

    __slots__ = ("_at", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one token")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 if one is available now)."""
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _EPS else missing / self.rate

    def take(self, now: float) -> None:
        """Spend one token (call only when ``wait`` said 0)."""
        self._refill(now)
        self._tokens -= 1.0

    def idle(self, now: float) -> bool:
        """Whether the bucket is full again (and may be forgotten)."""
        self._refill(now)
        return self._tokens >= self.capacity - _EPS


@dataclass(frozen=True)
class Limits:
    """Telegram's documented bot limits (messages per second), with the bursts we allow."""

    # Telegram's figures are 1/s per chat, 20/min per group and 30/s overall. Telegram counts
    # arrivals, and network jitter bunches sends up, so the bot aims a little lower
    # (bench/fanout.py --jitter-ms shows the FloodWaits exact pacing provokes).
    per_chat: float = 0.9
    per_group: float = 19 / 60
    overall: float = 28.0
    chat_burst: float = 1.0
    group_burst: float = 1.0
    overall_burst: float = 1.0


class SendBudgets:
    """Per-chat, per-group and global buckets; a message goes only when all three allow it."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._chats: dict[int, TokenBucket] = {}
        self._groups: dict[int, TokenBucket] = {}
        self._overall: TokenBucket | None = None

    def _bucket(self, table: dict[int, TokenBucket], key: int, rate: float, burst: float,
                now: float) -> TokenBucket:
        bucket = table.get(key)
        if bucket is None:
            if len(table) > 10_000:  # forget full buckets: they behave exactly like new ones
                for k in [k for k, b in table.items() if b.idle(now)]:
                    del table[k]
            bucket = table[key] = TokenBucket(rate, burst, now)
        return bucket

    def chat_wait(self, chat_id: int, is_group: bool, now: float) -> float:
        """Seconds until this chat (and its group budget) may receive a message."""
        lim = self.limits
        wait = self._bucket(self._chats, chat_id, lim.per_chat, lim.chat_burst, now).wait(now)
        if is_group:
            group = self._bucket(self._groups, chat_id, lim.per_group, lim.group_burst, now)
            wait = max(wait, group.wait(now))
        return wait

    def overall_wait(self, now: float) -> float:
        """Seconds until the bot as a whole may send again."""
        if self._overall is None:
            self._overall = TokenBucket(self.limits.overall, self.limits.overall_burst, now)
        return self._overall.wait(now)

    def take(self, chat_id: int, is_group: bool, now: float) -> None:
        """Spend one message of this chat's, its group's and the global budget."""
        lim = self.limits
        self._bucket(self._chats, chat_id, lim.per_chat, lim.chat_burst, now).take(now)
        if is_group:
            self._bucket(self._groups, chat_id, lim.per_group, lim.group_burst, now).take(now)
        if self._overall is None:
            self._overall = TokenBucket(lim.overall, lim.overall_burst, now)
        self._overall.take(now)
