"""What a preview channel's pages and polls say about it, and what the admins hear of it.

* A page that is disabled (a redirect away from ``/s/``: a group, a user, a restricted
  channel) raises ``Gone``; a page that is not a channel page raises ``FetchFailed``; the
  title of a channel page is kept.
* A channel gone (that, or HTTP 404/410): its status becomes error, it is no longer polled,
  and the admins are told once (when the status changes).
* A poll that failed in a way that may pass: counted, and after ``FAILING_AFTER`` failed
  polls in a row the admins are told once; the channel stays polled, and a poll that
  succeeds ends the streak.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.models import Channel, ChannelStatus
from bot.preview.fetch import FetchFailed, Gone
from bot.preview.parse import PreviewPage
from bot.render import esc
from bot.services.notify import AdminNotifier
from bot.store import Store

log = logging.getLogger(__name__)
FAILING_AFTER = 3  # polls in a row a channel failed before the admins hear of it
DISABLED = "web preview disabled"


@dataclass
class Streak:
    """A channel's failed polls in a row."""

    since: dt.datetime
    count: int = 0


class PreviewHealth:
    """Checks preview pages, and keeps each channel's status and failure streak."""

    def __init__(self, store: Store, notifier: AdminNotifier, clock: Clock) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._failures: dict[int, Streak] = {}

    async def accept(self, channel: Channel, page: PreviewPage, *,
                     title: bool = True) -> PreviewPage:
        """The page if it is a channel page (its title is kept); raise for anything else."""
        if page.disabled:
            raise Gone(DISABLED)
        if not page.recognised:
            raise FetchFailed("the page is not a channel page (malformed?)")
        if title and page.title and page.title != channel.title:
            await self._store.channels.update_identity(channel.id, channel.username, page.title)
        return page

    async def gone(self, channel: Channel, name: str, reason: str) -> None:
        """Stop polling a channel without a web preview; the admins hear of it once."""
        self._failures.pop(channel.id, None)
        if not await self._store.channels.set_status(channel.id, ChannelStatus.ERROR, reason):
            return  # already known: the admins were told when it changed
        log.warning("preview of @%s: %s; the channel is no longer polled", name, reason)
        n = esc(name)
        why = (f"has no public web preview any more (t.me/s/{n} leads to t.me/{n})"
               if reason == DISABLED else f"has no web preview any more ({esc(reason)})")
        stamp = self._clock.now().isoformat(timespec="seconds")
        await self._notifier.tell(
            f"⚠️ Channel <b>{esc(channel.title)}</b> (@{n}) {why}, so it is no longer polled."
            f" /channels shows its status. Watch it live with the account instead: /watch @{n}",
            f"preview-gone:{channel.id}:{stamp}")

    async def failed(self, channel: Channel, name: str, reason: str) -> None:
        """A poll of this channel failed in a way that may pass: tell the admins once, when
        it has failed ``FAILING_AFTER`` polls in a row (again only after it recovered)."""
        streak = self._failures.setdefault(channel.id, Streak(self._clock.now()))
        streak.count += 1
        if streak.count == FAILING_AFTER:
            await self._notifier.tell(
                f"⚠️ The web preview of <b>{esc(channel.title)}</b> (@{esc(name)}) could not be"
                f" read {streak.count} polls in a row ({esc(reason)}). It is still polled and"
                " catches up once its page can be read again.",
                f"preview-failing:{channel.id}:{streak.since.isoformat(timespec='seconds')}")

    def recovered(self, channel_id: int) -> None:
        """A poll of the channel succeeded: its failure streak ends."""
        self._failures.pop(channel_id, None)
