"""Scheduled digests: what a chat's digest rules matched since the last digest, in one message.

One APScheduler job per chat (id ``digest:<chat id>``, a cron trigger in the chat's time zone,
the scheduler itself in UTC), rebuilt from the database at start. Each run is keyed by the
schedule's fire time: the outbox row and the move of the chat's digest period happen in one
transaction, unique per key, so a fire time yields at most one digest however often it is
run. At start, a fire time missed while the service was down is run once (coalesced: only the
latest one), never twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock, to_iso
from bot.models import Chat, ChatStatus, Post, Rule
from bot.regions.places import PlaceMatcher
from bot.render import esc, format_time, highlight, shorten
from bot.schedule import chat_zone, cron_trigger, describe_cron, last_fire_between
from bot.store import Store

log = logging.getLogger(__name__)
TOP_POSTS = 5
TOP_REGIONS = 8
FIRST_PERIOD = dt.timedelta(hours=24)  # a chat's first digest looks back this far at most

Spawn = Callable[[str, Callable[[], Coroutine[Any, Any, Any]]], object]


class DigestService:
    """Builds digests and keeps one scheduler job per chat digest."""

    def __init__(self, store: Store, clock: Clock, default_tz: ZoneInfo,
                 places: PlaceMatcher | None) -> None:
        self._store = store
        self._clock = clock
        self._default_tz = default_tz
        self._places = places
        self.scheduler: AsyncIOScheduler | None = None
        self._spawn: Spawn | None = None

    def tz(self, chat: Chat) -> ZoneInfo:
        """The chat's time zone."""
        return chat_zone(chat, self._default_tz)

    # ------------------------------------------------------------------ scheduling
    async def attach(self, scheduler: AsyncIOScheduler, spawn: Spawn) -> int:
        """Add a job for every chat digest; run each digest missed while down, once."""
        self.scheduler, self._spawn = scheduler, spawn
        now = self._clock.now()
        missed = 0
        for chat in await self._store.chats.with_digest():
            self.schedule(chat)
            assert chat.digest_cron is not None
            since = chat.digest_since or now
            fire = last_fire_between(chat.digest_cron, self.tz(chat), since, now)
            if fire is not None:
                missed += 1
                log.info("digest of chat %d due at %s was missed; sending it now", chat.id,
                         to_iso(fire))
                spawn(f"digest:{chat.id}", self._runner(chat.id))
        return missed

    def schedule(self, chat: Chat) -> None:
        """Add or replace the chat's digest job (or remove it when it has no digest)."""
        if self.scheduler is None:
            return
        job_id = f"digest:{chat.id}"
        if chat.digest_cron is None or chat.status != ChatStatus.ACTIVE:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            return
        self.scheduler.add_job(
            self._fire, cron_trigger(chat.digest_cron, self.tz(chat)), args=(chat.id,),
            id=job_id, replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=3600)

    async def set_schedule(self, chat_id: int, cron: str | None) -> Chat:
        """Store the chat's digest schedule (None: no digest) and re-plan its job."""
        await self._store.chats.set_digest(chat_id, cron)
        chat = await self._store.chats.get(chat_id)
        assert chat is not None  # the command router stores the chat before any handler
        self.schedule(chat)
        return chat

    async def _fire(self, chat_id: int) -> None:
        # A coroutine job runs in the event loop: hand the work to an owned task.
        if self._spawn is not None:
            self._spawn(f"digest:{chat_id}", self._runner(chat_id))

    def _runner(self, chat_id: int) -> Callable[[], Coroutine[Any, Any, bool]]:
        return lambda: self.run_scheduled(chat_id)

    async def run_scheduled(self, chat_id: int) -> bool:
        """The digest for the schedule's latest fire time (once per fire time)."""
        chat = await self._store.chats.get(chat_id)
        if chat is None or chat.digest_cron is None or chat.status != ChatStatus.ACTIVE:
            return False
        now = self._clock.now()
        fire = last_fire_between(chat.digest_cron, self.tz(chat), now - dt.timedelta(days=400),
                                 now) or now
        return await self.send(chat, key=f"digest:{to_iso(fire)}", move_period=True)

    async def send(self, chat: Chat, *, key: str, move_period: bool) -> bool:
        """Build and queue the chat's digest since its last one; False if already queued."""
        now = self._clock.now()
        since = chat.digest_since or now - FIRST_PERIOD
        html, chart = await self.build(chat, since, now)
        return await self._store.outbox.enqueue_digest(chat.id, html, chart, key,
                                                now if move_period else None)

    # ------------------------------------------------------------------ content
    async def build(self, chat: Chat, since: dt.datetime,
                    until: dt.datetime) -> tuple[str, bytes | None]:
        """The digest text (HTML) and, with enough data, a PNG chart of matches over time."""
        tz = self.tz(chat)
        found = await self._store.rules.digest_matches(chat.id, since, until)
        posts: dict[tuple[int, int], tuple[Post, str]] = {}
        per_rule: Counter[int] = Counter()
        rules: dict[int, Rule] = {}
        by_text: set[tuple[int, int]] = set()  # posts a rule matched by their own text
        for rule, post, title, in_image in found:
            posts.setdefault((post.channel_id, post.message_id), (post, title))
            if not in_image:
                by_text.add((post.channel_id, post.message_id))
            per_rule[rule.number] += 1
            rules[rule.number] = rule
        lines = [f"🗞 <b>Digest</b> · {esc(format_time(since, tz))} – "
                 f"{esc(format_time(until, tz))}"]
        if not posts:
            lines.append("No new posts matched this chat's digest rules.")
            if not await self._has_digest_rules(chat.id):
                lines.append("<i>No rule is in digest mode yet: /mode &lt;n&gt; digest"
                             " or /mode &lt;n&gt; both.</i>")
            return "\n".join(lines), None
        n = len(posts)
        lines.append(f"<b>{n}</b> matching post{'s' if n != 1 else ''}.")
        lines.append("\n<b>By rule</b>")
        for number, count in sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"#{number} <code>{esc(shorten(rules[number].expression, 60))}</code>"
                         f" — {count}")
        if self._places is not None:
            places = self._places
            regions: Counter[str] = Counter()
            for post, _ in posts.values():
                regions.update(places.regions(post.text))
            if regions:
                lines.append("\n<b>By region</b>")
                for code, count in regions.most_common(TOP_REGIONS):
                    place = places.gazetteer.places.get(code)
                    name = place.display("en") if place else code
                    lines.append(f"{esc(name)} — {count}")
        lines.append("\n<b>Most viewed</b>")
        top = sorted(posts.values(), key=lambda pt: (-(pt[0].views or 0), pt[0].date))
        for post, title in top[:TOP_POSTS]:
            views = f" · 👁 {_views(post.views)}" if post.views else ""
            snippet = highlight(post.text, [], limit=160) if post.text else (
                f"<i>[{esc(post.media or 'no text')}]</i>")
            if (post.channel_id, post.message_id) not in by_text:
                snippet += " · 📷 text in image"  # what matched is in its picture
            lines.append(f"• <b>{esc(title)}</b>{views} · {esc(format_time(post.date, tz))}\n"
                         f'  {snippet} <a href="{esc(post.permalink)}">open</a>')
        from bot.chart import bucket_counts, render_activity_chart  # matplotlib: ~1 s to import

        buckets, per = bucket_counts([p.date for p, _ in posts.values()], since, until, tz)
        chart = await asyncio.to_thread(
            render_activity_chart, buckets, title=f"Matching posts per {per}", per=per, tz=tz)
        return "\n".join(lines), chart

    async def _has_digest_rules(self, chat_id: int) -> bool:
        return any(r.in_digest for r in await self._store.rules.of_chat(chat_id))

    def describe(self, chat: Chat) -> str:
        """The chat's digest schedule in words."""
        if chat.digest_cron is None:
            return "no digest"
        return f"{describe_cron(chat.digest_cron)} ({self.tz(chat).key})"


def _views(views: int) -> str:
    if views >= 1_000_000:
        return f"{views / 1_000_000:.1f}M"
    if views >= 1000:
        return f"{views / 1000:.1f}k"
    return str(views)
