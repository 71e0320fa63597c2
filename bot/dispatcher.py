"""The outbox dispatcher: the one task that sends what the bot says on its own initiative.

Guarantees (README, "Delivery guarantees"):
- every message is an outbox row written in the same transaction as what caused it, with a
  ``random_id`` persisted before the first attempt; a resend after a crash reuses it, so
  Telegram drops the duplicate;
- per-chat, per-group and global token buckets keep the bot under Telegram's limits, so in
  normal operation no FloodWait is provoked; one that comes anyway pauses only that chat;
- messages of one chat go out in order, one at a time; different chats go out concurrently
  (up to ``max_in_flight``), so a slow chat never holds up the rest;
- transient failures retry with exponential backoff and jitter; permanent ones (blocked,
  kicked, chat gone, no right to write) dead-letter the chat: its rules pause, admins are told
  once, and ``/start`` from the chat resumes it.

Each row arrives as the type of its kind (``bot.store.records``: alert, notice, digest, fold,
edit, webhook delivery) and ``_deliver`` matches on it. Alerts are rendered here, when they
are sent (``bot.render``), from the event ingest stored, with what is known only now: how long
the alert waited, whether the post is gone, "also in", the chat's time zone, the translation.

A ``/media on`` chat's alert goes as the post's photo with the alert as its caption. Alerts
never wait for downloads, but such an alert waits for its photo: while the downloader has it
queued, the alert (and its chat's lane after it) is looked at again every ``PHOTO_POLL``
seconds, at most ``PHOTO_WAIT`` after it was queued; then, or when the photo was not kept, it
goes as text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import assert_never
from zoneinfo import ZoneInfo

from bot.budget import SendBudgets
from bot.clock import Clock
from bot.media.lookup import AlertPictures
from bot.models import ChatKind
from bot.render import (
    alert_buttons,
    esc,
    render_alert,
    render_also_notice,
    render_fold,
    render_summary,
    webhook_event,
)
from bot.schedule import zone
from bot.services.notify import AdminNotifier
from bot.services.ports import (
    AlertTranslator,
    FloodWait,
    MessageRejected,
    MessageSender,
    Outgoing,
    PermanentSendError,
    WebhookPoster,
)
from bot.store import Store
from bot.store.records import (
    AlertMessage,
    DigestMessage,
    EditMessage,
    FoldMessage,
    NoticeMessage,
    OutboxMessage,
    TelegramMessage,
    WebhookDelivery,
)

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
IDLE_WAIT = 5.0
MAX_IN_FLIGHT = 8
QUEUED_NOTE_AFTER = dt.timedelta(minutes=1)  # an alert this late in the queue says so
PHOTO_WAIT = dt.timedelta(seconds=15)  # a /media on alert waits this long for its photo
PHOTO_POLL = dt.timedelta(seconds=0.25)
# Chats served per round: about two seconds of the overall budget, so a chat with a backlog
# gets its next message about when its own budget allows, even during a large fan-out.
BATCH = 60


class Dispatcher:
    """Sends due outbox rows within the send budgets; a FloodWait pauses only its chat."""

    def __init__(
        self, store: Store, sender: MessageSender, clock: Clock, admin_ids: frozenset[int],
        *, rng: random.Random | None = None, base_backoff: float = 2.0,
        on_chat_dead: Callable[[], Awaitable[None]] | None = None,
        budgets: SendBudgets | None = None, max_in_flight: int = MAX_IN_FLIGHT,
        batch: int = BATCH, webhooks: WebhookPoster | None = None,
        translator: AlertTranslator | None = None, default_tz: ZoneInfo | None = None,
        pictures: AlertPictures | None = None, image_wait: dt.timedelta = dt.timedelta(0),
    ) -> None:
        self._pictures = pictures  # None: media is not kept (MEDIA=off), alerts are text
        self._image_wait = image_wait  # DEDUP_IMAGE_WAIT: text alerts wait for the photo too
        self._default_tz = default_tz or ZoneInfo("UTC")  # TIMEZONE, for chats without /tz
        self._batch = batch
        self._webhooks = webhooks
        self._translator = translator
        self._on_chat_dead = on_chat_dead
        self._store = store
        self._sender = sender
        self._clock = clock
        self._admins = AdminNotifier(store, admin_ids)
        self._rng = rng or random.Random()
        self._base_backoff = base_backoff
        self.budgets = budgets or SendBudgets()
        self._max_in_flight = max_in_flight
        self._paused: dict[tuple[int, int], dt.datetime] = {}
        self._busy: dict[tuple[int, int], asyncio.Task[bool]] = {}
        self._wake = asyncio.Event()
        self._origin = clock.now()
        self._listening = False
        self.floodwaits = 0  # FloodWaits Telegram answered (the budgets aim to keep this 0)
        self.sent: Counter[str] = Counter()  # messages sent, by kind (bot/metrics.py)
        # told an alert's post date when the alert is sent (the latency histogram)
        self.on_alert_sent: Callable[[dt.datetime], None] | None = None

    def wake(self) -> None:
        """Tell the dispatcher that something new is due."""
        self._wake.set()

    def _t(self) -> float:
        """The clock as seconds, for the token buckets."""
        return (self._clock.now() - self._origin).total_seconds()

    async def run(self) -> None:
        """Send forever (until cancelled), sleeping while nothing is due.

        Woken at once by every commit that queues a message (``Store.on_outbox_due``);
        ``IDLE_WAIT`` is only a safety net.
        """
        if not self._listening:
            await self._store.outbox.on_due(self.wake)
            self._listening = True
        try:
            await self._loop()
        finally:
            # a send cut off here is resent after restart with the same random_id
            pending = [t for t in self._busy.values() if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                retry_in = await self.drain()
            except Exception:
                # e.g. the database locked by another process: wait a little, keep going
                log.exception("dispatcher round failed; retrying shortly")
                await asyncio.sleep(IDLE_WAIT)
                continue
            await self._sleep(retry_in)

    async def drain(self) -> float | None:
        """Send what is due and within budget.

        Returns the seconds until a chat held back by its budget may receive again (None if
        nothing was held back), so the caller knows when to come back.
        """
        await self.fold_due()
        blocked: set[tuple[int, int]] = set()  # lanes already handled this round
        # sends still in flight from the last round stay in flight: no round waits for them
        busy = self._busy = {k: t for k, t in self._busy.items() if not t.done()}
        soonest: float | None = None  # on the bucket clock (self._t())

        def later(seconds: float) -> None:
            nonlocal soonest
            at = self._t() + seconds
            soonest = at if soonest is None else min(soonest, at)

        due = await self._store.outbox.due(self._clock.now(), limit=self._batch)
        for item in due:
            lane = item.lane
            if lane in blocked:
                continue
            blocked.add(lane)  # one message per lane per round, in order
            if lane in busy:
                later(0.05)  # its previous message is still in flight
                continue
            until = self._paused.get(lane)
            if until is not None and until > self._clock.now():
                later((until - self._clock.now()).total_seconds())
                continue
            if await self._photo_pending(item):  # before its budget: waiting spends none
                later(PHOTO_POLL.total_seconds())
                continue
            # webhooks do not spend the bot's budget
            telegram = isinstance(item, TelegramMessage)
            is_group = isinstance(item, TelegramMessage) and item.chat_kind is not ChatKind.PRIVATE
            if telegram:
                wait = self.budgets.chat_wait(item.chat_id, is_group, self._t())
                if wait > 0:
                    later(wait)
                    continue
                while (wait := self.budgets.overall_wait(self._t())) > 0:
                    await self._clock.sleep(wait + 1e-6)
            while len(busy) >= self._max_in_flight:
                await asyncio.wait(busy.values(), return_when=asyncio.FIRST_COMPLETED)
                for done in [k for k, t in busy.items() if t.done()]:
                    del busy[done]
            if telegram:
                self.budgets.take(item.chat_id, is_group, self._t())
            busy[lane] = asyncio.ensure_future(self._attempt(item))
            await asyncio.sleep(0)  # let it go out now, at the moment its budget was spent
            if telegram:  # its next message
                later(self.budgets.chat_wait(item.chat_id, is_group, self._t()))
        if len(due) >= self._batch:
            return 0.0  # more is due than one round takes: go on at once
        if busy:  # the queue is drained: let the last sends finish
            await asyncio.gather(*busy.values())
        return None if soonest is None else max(0.0, soonest - self._t())

    async def _photo_pending(self, item: OutboxMessage) -> bool:
        """Whether an alert waits for its photo (and so its lane): held for PHOTO_POLL while
        the downloader has the photo queued, up to PHOTO_WAIT in a /media on chat (it is sent
        as the photo) and up to DEDUP_IMAGE_WAIT in any chat (so that "also in" by the
        picture can drop it). True too when the alert is gone meanwhile (dropped for "also
        in"): nothing to send."""
        if not isinstance(item, AlertMessage) or self._pictures is None or item.post_id is None:
            return False
        limit = max(PHOTO_WAIT if item.media_alerts else dt.timedelta(0), self._image_wait)
        if self._clock.now() - item.created_at >= limit:
            return False
        if not await self._pictures.pending(item.post_id):
            # the transaction that stored the photo may have dropped this alert: the same
            # picture was alerted on from another channel ("also in" by image)
            return not await self._store.outbox.is_pending(item.id)
        await self._store.outbox.wait_for(item, self._clock.now() + PHOTO_POLL,
                                          "waiting for its photo")
        return True

    async def fold_due(self) -> int:
        """Quiet hours ended: fold each chat's held alerts into one message."""
        folded = 0
        for chat_id, held in (await self._store.outbox.due_held(self._clock.now())).items():
            html = render_fold([render_summary(h.alert, zone(h.tz, self._default_tz),
                                               also=h.also, deleted=h.post_deleted)
                                for h in held])
            if await self._store.outbox.fold(chat_id, [h.id for h in held], html):
                folded += 1
        return folded

    async def _sleep(self, retry_in: float | None) -> None:
        now = self._clock.now()
        wait = IDLE_WAIT if retry_in is None else min(IDLE_WAIT, retry_in)
        due = await self._store.outbox.next_due_time()
        if due is not None and due > now:  # what is due already waits for its budget
            wait = min(wait, (due - now).total_seconds())
        wait = max(wait, 0.01)
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for returns normally when this
        # task is cancelled in the very step the wake-up arrives, and the loop above then never
        # ends (the service's stop hung on it; tests/services/test_dispatcher.py).
        try:
            async with asyncio.timeout(wait):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _translation(self, post_id: int | None, text: str | None,
                           lang: str | None) -> str:
        """The translation block under an alert ("" when the chat does not translate)."""
        if not lang or not text or post_id is None or self._translator is None:
            return ""
        # bounded by TRANSLATE_TIMEOUT (cached per post and language); a failure adds a note
        return await self._translator.block(post_id, text, lang)

    async def _alert(self, item: AlertMessage) -> Outgoing:
        """An alert, rendered now: with its wait, a deletion meanwhile, "also in", translation."""
        waited = self._clock.now() - item.created_at
        translation = await self._translation(item.post_id, item.post_text,
                                              item.translate_lang)
        html = render_alert(
            item.alert, zone(item.tz, self._default_tz), deleted=item.post_deleted,
            queued_for=waited if waited >= QUEUED_NOTE_AFTER else None, also=item.also,
            translation=translation)
        buttons = alert_buttons(item.alert)
        if item.media_alerts and self._pictures is not None and item.post_id is not None:
            picture = await self._pictures.for_post(item.post_id)
            if picture is not None and picture.data is not None:  # pending past PHOTO_WAIT: text
                return Outgoing(item.chat_id, html, item.random_id, buttons,
                                photo=picture.data, captioned=True, photo_key=picture.sha256)
        return Outgoing(item.chat_id, html, item.random_id, buttons)

    async def _edit(self, item: EditMessage) -> Outgoing:
        """A sent alert rendered again as it was sent, with its longer "also in" line."""
        if item.message_id is None:
            # the alert went out but its message id is unknown (resent after a crash):
            # say it in a new message instead of editing
            return Outgoing(item.chat_id, render_also_notice(item.also), item.random_id)
        waited = item.waited
        translation = await self._translation(item.post_id, item.post_text,
                                              item.translate_lang)
        html = render_alert(
            item.alert, zone(item.tz, self._default_tz), deleted=item.deleted_before_sent,
            queued_for=waited if waited is not None and waited >= QUEUED_NOTE_AFTER else None,
            also=item.also, translation=translation)
        return Outgoing(item.chat_id, html, item.random_id, alert_buttons(item.alert),
                        edit_message_id=item.message_id, captioned=item.sent_as_photo,
                        fallback_html=render_also_notice(item.also))

    async def _post_webhook(self, item: WebhookDelivery) -> None:
        """POST the event, shaped for the webhook's format (payload v1 for ``json``)."""
        if self._webhooks is None or item.url is None:
            raise PermanentSendError("webhooks are not available")
        if item.alert is not None:
            event = webhook_event(item.alert, deleted=item.post_deleted)
        else:  # a test event, or an alert queued before 0006: its JSON as it was stored
            event = json.loads(item.payload)
            if event.get("type") == "alert" and item.post_deleted:
                event["deleted_before_sent"] = True
        await self._webhooks.post(item.url, item.format, event)

    async def _deliver(self, item: OutboxMessage) -> tuple[int | None, str | None]:
        """Send one outbox row as what its kind is: the Telegram id of the message, if any,
        and how it went (``'photo'``: a photo with the alert as its caption)."""
        match item:
            case WebhookDelivery():
                await self._post_webhook(item)
                return None, None
            case AlertMessage():
                message = await self._alert(item)
            case EditMessage():
                message = await self._edit(item)
            case DigestMessage():
                message = Outgoing(item.chat_id, item.html, item.random_id, photo=item.chart)
            case NoticeMessage() | FoldMessage():
                message = Outgoing(item.chat_id, item.html, item.random_id)
            case _:
                assert_never(item)
        sent_as = "photo" if message.captioned and message.edit_message_id is None else None
        return await self._sender.deliver(message), sent_as

    async def _attempt(self, item: OutboxMessage) -> bool:
        """Send one message; return False if its lane can no longer receive anything."""
        try:
            message_id, sent_as = await self._deliver(item)
        except FloodWait as exc:
            self.floodwaits += 1
            until = self._clock.now() + dt.timedelta(seconds=exc.seconds)
            self._paused[item.lane] = until
            log.warning("flood wait %ds for chat %d", exc.seconds, item.chat_id)
            await self._store.outbox.mark_retry(item.id, until, f"FLOOD_WAIT_{exc.seconds}")
            # every waiting message of that lane waits too, so it never crowds out the others
            await self._store.outbox.defer_lane(item.lane, until)
        except PermanentSendError as exc:
            if isinstance(item, WebhookDelivery):
                log.warning("webhook %d of chat %d failed for good: %s", item.webhook_id,
                            item.chat_id, exc)
                if await self._store.webhooks.mark_dead(item.webhook_id, item.id, str(exc)):
                    await self._admins.tell_chat(
                        item.chat_id, f"⚠️ A webhook of this chat stopped ({esc(str(exc))})."
                        " /webhook list shows it; add it again once it works.",
                        f"webhook-dead:{item.webhook_id}")
                return False
            log.warning("chat %d cannot receive messages: %s", item.chat_id, exc)
            await self._store.outbox.mark_chat_dead(item.chat_id, item.id, str(exc))
            await self._tell_admins(item.chat_id, str(exc), item.id)
            if self._on_chat_dead:
                await self._on_chat_dead()  # its rules stop matching until /start
            return False
        except MessageRejected as exc:
            log.error("message %d to chat %d rejected: %s", item.id, item.chat_id, exc)
            await self._store.outbox.mark_dead(item.id, str(exc))
        except Exception as exc:  # network trouble, server errors: retry with backoff
            if item.attempts + 1 >= MAX_ATTEMPTS:
                log.error("message %d to chat %d failed %d times, giving up: %s",
                          item.id, item.chat_id, MAX_ATTEMPTS, exc)
                await self._store.outbox.mark_dead(item.id, f"gave up: {exc}")
                return True
            delay = min(MAX_BACKOFF, self._base_backoff * 2 ** item.attempts)
            delay *= 0.5 + self._rng.random()  # jitter: retries from many chats spread out
            log.warning("message %d to chat %d failed (%s); retry in %.1fs",
                        item.id, item.chat_id, exc, delay)
            await self._store.outbox.mark_retry(
                item.id, self._clock.now() + dt.timedelta(seconds=delay), str(exc)[:500]
            )
        else:
            await self._store.outbox.mark_sent(item.id, message_id, sent_as)
            self._count_sent(item)
        return True

    def _count_sent(self, item: OutboxMessage) -> None:
        kind = {AlertMessage: "alert", EditMessage: "edit", DigestMessage: "digest",
                FoldMessage: "fold", NoticeMessage: "notice", WebhookDelivery: "webhook"}
        self.sent[kind.get(type(item), "other")] += 1
        post = getattr(getattr(item, "alert", None), "post", None)
        if isinstance(item, AlertMessage) and post is not None and self.on_alert_sent:
            self.on_alert_sent(post.date)

    async def _tell_admins(self, chat_id: int, reason: str, item_id: int) -> None:
        text = (f"⚠️ Chat <code>{chat_id}</code> can no longer receive alerts ({esc(reason)})."
                " Its alerts are paused until someone there sends /start again.")
        await self._admins.tell(text, f"chat-dead:{chat_id}:{item_id}", skip_chat=chat_id)
