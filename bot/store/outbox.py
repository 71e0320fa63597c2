"""The outbox: every message the bot sends on its own initiative."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence

import aiosqlite

from bot.clock import to_iso
from bot.match.dedup import BANDS, SIMILAR, bands
from bot.media.phash import distance as phash_distance  # a pure function: no imaging loaded
from bot.models import OutboxStatus, Post
from bot.store.base import Repository
from bot.store.event_json import also_json, event_json, parse_also
from bot.store.records import AlertDraft, HeldAlert, OutboxMessage
from bot.store.rows import opt_dt, stored_alert, to_outbox_message


class OutboxRepository(Repository):
    """Outbox rows: alerts, notices, digests, folds, edits and webhook deliveries."""

    async def alert_post(self, chat_id: int, message_id: int) -> int | None:
        """The post an alert sent into this chat as Telegram message ``message_id`` was about
        (the id of the alert's last part, the one Telegram returned); None: not an alert."""
        row = await self._db.fetchone(
            "SELECT post_id FROM outbox WHERE chat_id = ? AND message_id = ? AND kind = 'alert'"
            " AND post_id IS NOT NULL ORDER BY id DESC LIMIT 1", (chat_id, message_id))
        return int(row[0]) if row is not None else None

    async def on_due(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that made an outbox message pending.

        Every path that queues a message (alerts, edits, deletion notices, folds, digests,
        notices, webhooks, a held alert released) wakes the dispatcher this way, by
        construction rather than by each caller remembering to.
        """
        await self._db.listen("outbox", _OUTBOX_TRIGGERS, listener)

    async def enqueue_notice(self, chat_id: int, html: str, dedup_key: str) -> bool:
        """Queue a bot-initiated notice once per dedup key; return whether it was new."""
        now = to_iso(self._clock.now())
        return await self._write(
            "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key,"
            " next_attempt_at, created_at) VALUES (?, 'notice', ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
            (chat_id, html, new_random_id(), dedup_key, now, now),
        ) > 0

    async def due(self, now: dt.datetime, limit: int = 500) -> list[OutboxMessage]:
        """Each chat's first pending message, if its time has come; oldest first.

        Each is the type of its kind (bot/store/records.py), with what sending it needs: the
        chat's kind, time zone and translation language, the post's text and deletion, the
        alert an edit changes, the webhook's URL and format.

        One per chat keeps every chat's messages in order (a message waiting for its retry
        holds back the ones after it) and lets one chat's backlog never hide the others.
        """
        rows = await self._db.fetchall(
            "SELECT o.*, c.kind AS chat_kind, c.tz, c.translate_lang, c.media_alerts,"
            " r.payload AS ref_payload, r.sent_as AS ref_sent_as,"
            " r.event AS ref_event, r.also AS ref_also, r.buttons AS ref_buttons,"
            " r.message_id AS ref_message_id, r.created_at AS ref_created_at,"
            " r.sent_at AS ref_sent_at, r.post_id AS ref_post_id, rp.text AS ref_post_text,"
            " rp.deleted_at AS ref_post_deleted_at,"
            " p.text AS post_text, p.deleted_at AS post_deleted_at,"
            " w.url AS webhook_url, w.format AS webhook_format"
            " FROM (SELECT MIN(id) AS id FROM outbox WHERE status = 'pending'"
            "       GROUP BY chat_id, COALESCE(webhook_id, 0))"
            " AS head JOIN outbox o ON o.id = head.id JOIN chats c ON c.id = o.chat_id"
            " LEFT JOIN outbox r ON r.id = o.ref_id LEFT JOIN posts rp ON rp.id = r.post_id"
            " LEFT JOIN posts p ON p.id = o.post_id"
            " LEFT JOIN webhooks w ON w.id = o.webhook_id"
            " WHERE o.next_attempt_at <= ? AND (c.status != 'dead' OR o.webhook_id IS NOT NULL)"
            " ORDER BY o.id LIMIT ?",
            (to_iso(now), limit),
        )
        return [to_outbox_message(r) for r in rows]

    async def next_due_time(self) -> dt.datetime | None:
        """Return when the earliest pending (or held) message becomes due."""
        row = await self._db.fetchone(
            "SELECT MIN(next_attempt_at) AS t FROM outbox WHERE id IN"
            " (SELECT MIN(id) FROM outbox WHERE status = 'pending'"
            "  GROUP BY chat_id, COALESCE(webhook_id, 0))"
            " OR status = 'held'"
        )
        return opt_dt(row["t"]) if row else None

    async def oldest_pending(self) -> dt.datetime | None:
        """When the oldest message still waiting to be sent was queued (None: none waits)."""
        row = await self._db.fetchone(
            "SELECT MIN(created_at) AS t FROM outbox WHERE status = 'pending'")
        return opt_dt(row["t"]) if row else None

    async def dead_count(self) -> int:
        """How many messages were given up on (dead letters)."""
        row = await self._db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE status = 'dead'")
        return int(row["n"]) if row else 0

    async def pending_count(self) -> int:
        """How many messages wait to be sent (held ones not counted)."""
        row = await self._db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
        return int(row["n"]) if row else 0

    async def mark_sent(self, item_id: int, message_id: int | None = None,
                        sent_as: str | None = None) -> None:
        """Record that a message was accepted by Telegram (its id, when known, and whether it
        went as a photo with a caption: ``sent_as='photo'``)."""
        now = to_iso(self._clock.now())
        await self._write(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
            " error = NULL, message_id = COALESCE(?, message_id), sent_as = ? WHERE id = ?",
            (now, message_id, sent_as, item_id),
        )

    async def is_pending(self, item_id: int) -> bool:
        """Whether the message is still queued (not sent, dropped or dead-lettered)."""
        row = await self._db.fetchone("SELECT 1 FROM outbox WHERE id = ? AND status = 'pending'",
                                      (item_id,))
        return row is not None

    async def wait_for(self, item: OutboxMessage, until: dt.datetime, reason: str) -> None:
        """Hold a message (and the rest of its lane) until ``until`` without counting an
        attempt: it waits for something it needs (an alert for its photo), not after a
        failure."""
        chat_id, webhook_id = item.lane
        await self._write(
            "UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?),"
            " error = CASE WHEN id = ? THEN ? ELSE error END"
            " WHERE chat_id = ? AND status = 'pending' AND COALESCE(webhook_id, 0) = ?",
            (to_iso(until), item.id, reason, chat_id, webhook_id))

    async def due_held(self, now: dt.datetime) -> dict[int, list[HeldAlert]]:
        """Alerts whose chat's quiet hours have ended, by chat, oldest first."""
        rows = await self._db.fetchall(
            "SELECT o.id, o.chat_id, o.event, o.summary, o.payload, o.buttons, o.also, c.tz,"
            " p.deleted_at AS post_deleted_at FROM outbox o"
            " JOIN chats c ON c.id = o.chat_id LEFT JOIN posts p ON p.id = o.post_id"
            " WHERE o.status = 'held' AND o.next_attempt_at <= ? AND c.status = 'active'"
            " ORDER BY o.chat_id, o.id",
            (to_iso(now),),
        )
        out: dict[int, list[HeldAlert]] = {}
        for r in rows:
            alert = stored_alert(r["event"], r["payload"], r["buttons"], r["summary"])
            out.setdefault(r["chat_id"], []).append(
                HeldAlert(r["id"], alert, parse_also(r["also"]),
                          r["post_deleted_at"] is not None, r["tz"]))
        return out

    async def fold(self, chat_id: int, held_ids: Sequence[int], html: str) -> bool:
        """Replace held alerts by one message in one transaction; False if already folded."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> bool:
            marks = ",".join("?" * len(held_ids))
            cur = await conn.execute(
                f"UPDATE outbox SET status = 'folded', sent_at = ? WHERE status = 'held'"
                f" AND chat_id = ? AND id IN ({marks})", (now, chat_id, *held_ids))
            if cur.rowcount == 0:
                return False
            await conn.execute(
                "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key,"
                " next_attempt_at, created_at) VALUES (?, 'fold', ?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
                (chat_id, html, new_random_id(), f"fold:{min(held_ids)}", now, now),
            )
            return True

        return await self._db.transaction(work)

    async def release_held(self, chat_id: int) -> int:
        """Quiet hours switched off: what was held becomes due now."""
        return await self._write(
            "UPDATE outbox SET next_attempt_at = ? WHERE chat_id = ? AND status = 'held'",
            (to_iso(self._clock.now()), chat_id),
        )

    async def enqueue_digest(
        self, chat_id: int, html: str, chart: bytes | None, key: str,
        period_end: dt.datetime | None,
    ) -> bool:
        """Queue a digest and move the chat's digest period on, atomically; once per key."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute(
                "INSERT INTO outbox (chat_id, kind, payload, attachment, random_id, dedup_key,"
                " next_attempt_at, created_at) VALUES (?, 'digest', ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
                (chat_id, html, chart, new_random_id(), key, now, now),
            )
            if cur.rowcount == 0:
                return False
            if period_end is not None:
                await conn.execute("UPDATE chats SET digest_since = ? WHERE id = ?",
                                   (to_iso(period_end), chat_id))
            return True

        return await self._db.transaction(work)

    async def mark_retry(self, item_id: int, at: dt.datetime, error: str) -> None:
        """Record a failed attempt and when to try again."""

        await self._write(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, error = ?"
            " WHERE id = ?",
            (to_iso(at), error, item_id),
        )

    async def defer_lane(self, lane: tuple[int, int], until: dt.datetime) -> None:
        """Hold every pending message of a lane (chat, webhook or 0) until ``until``."""
        chat_id, webhook_id = lane
        await self._write(
            "UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?)"
            " WHERE chat_id = ? AND status = 'pending' AND COALESCE(webhook_id, 0) = ?",
            (to_iso(until), chat_id, webhook_id),
        )

    async def mark_chat_dead(self, chat_id: int, item_id: int, error: str) -> None:
        """A permanent failure: dead-letter the message and stop alerting the chat."""

        async def work(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?"
                " WHERE id = ?",
                (error, item_id),
            )
            await conn.execute("UPDATE chats SET status = 'dead' WHERE id = ?", (chat_id,))

        await self._db.transaction(work)

    async def mark_dead(self, item_id: int, error: str) -> None:
        """Give up on one message without touching its chat."""

        await self._write(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?"
            " WHERE id = ?",
            (error, item_id),
        )


async def enqueue_alerts(
    conn: aiosqlite.Connection, post: Post, post_id: int, alerts: Sequence[AlertDraft],
    now: str, dedup_since: str,
) -> int:
    """Queue each chat's alert, or, when the chat was alerted on the same story from another
    channel within the window (a forward, near-identical text, or the very same Telegram file:
    a copy-repost), add "also in" to that alert instead (editing it if sent)."""
    if not alerts:
        return 0
    cur = await conn.execute("SELECT story, fingerprint FROM posts WHERE id = ?", (post_id,))
    mine = await cur.fetchone()
    await cur.close()
    same = _story_params(mine["story"], mine["fingerprint"]) if mine is not None else None
    enqueued = 0
    for alert in alerts:
        earlier = None
        if same is not None:
            cur = await conn.execute(_EARLIER_ALERT, {
                "chat": alert.chat_id, "since": dedup_since, "channel": post.channel_id, **same})
            earlier = await cur.fetchone()
            await cur.close()
        if earlier is None and post.media_file is not None:  # a copy-repost: the same file
            cur = await conn.execute(_EARLIER_FILE, (post.media_file.file_id, alert.chat_id,
                                                     dedup_since, post.channel_id))
            earlier = await cur.fetchone()
            await cur.close()
        if earlier is not None:
            await _add_also(conn, alert, earlier["id"], earlier["status"], now)
            enqueued += 1
        else:
            enqueued += await _queue_alert(conn, alert, post_id, now)
    return enqueued


def _story_params(story: str | None, fingerprint: bytes | None) -> dict[str, object]:
    """What ``_EARLIER_ALERT`` looks up for a post: its story, fingerprint and their bands."""
    values = dict(bands(fingerprint))
    return {"story": story, "fingerprint": fingerprint, "similar": SIMILAR,
            **{f"band{n}": values.get(n) for n in range(BANDS)}}


# The chat's earliest alert in the window on the same story (a forward of the same post, or a
# near-identical text) from another channel. Index lookups only, however many alerts the chat
# had: the candidates are the alerts filed under one of the post's fingerprint bands
# (story_bands, migrations/0008_story_bands.sql), which finds every similar enough
# fingerprint (bot/match/dedup.py ``bands``), and the alerts of posts with the same story;
# the outer WHERE is the whole test, as it was when every alert of the window was compared.
# CROSS JOIN fixes the join order: from the candidates to their alert and post, never a scan
# of the chat's alerts (tests/store/test_story_bands.py checks the plan).
_EARLIER_ALERT = (
    "WITH mine (band, value) AS (VALUES "
    + ", ".join(f"({n}, :band{n})" for n in range(BANDS)) + "),"
    " candidates (id) AS ("
    "  SELECT b.alert_id FROM mine CROSS JOIN story_bands b"
    "  WHERE b.chat_id = :chat AND b.band = mine.band AND b.value = mine.value"
    "  AND b.created_at >= :since"
    "  UNION SELECT a.id FROM posts s CROSS JOIN outbox a"
    "  WHERE s.story = :story AND a.post_id = s.id AND a.chat_id = :chat AND a.kind = 'alert')"
    " SELECT o.id, o.status FROM candidates c CROSS JOIN outbox o CROSS JOIN posts p"
    " WHERE o.id = c.id AND p.id = o.post_id"
    " AND o.chat_id = :chat AND o.kind = 'alert' AND o.created_at >= :since"
    " AND o.status != 'dead' AND p.channel_id != :channel"
    " AND (p.story = :story OR similarity(p.fingerprint, :fingerprint) >= :similar)"
    " ORDER BY o.id LIMIT 1"
)


# The chat's earliest alert in the window on a post of another channel that carries the very
# same Telegram file (photo or document id): a copy-repost, known before any download. From
# the few posts with that file to their alert to this chat (the planner would rather range
# over the chat's alerts of the window for each: thousands in a busy chat).
_EARLIER_FILE = (
    "SELECT o.id, o.status FROM post_media pm"
    " CROSS JOIN outbox o INDEXED BY outbox_alert_post CROSS JOIN posts p"
    " WHERE pm.file_id = ? AND o.post_id = pm.post_id AND p.id = o.post_id"
    " AND o.chat_id = ? AND o.kind = 'alert' AND o.created_at >= ? AND o.status != 'dead'"
    " AND p.channel_id != ? ORDER BY o.id LIMIT 1")


# A chat's alerts in the window, from other channels, whose posts carry a hashed image: the
# candidates for "the same picture" (compared in Python: bot/media/phash.py ``distance``).
_EARLIER_IMAGES = (
    "SELECT o.id, o.status, m.phash FROM outbox o JOIN posts p ON p.id = o.post_id"
    " JOIN post_media pm ON pm.post_id = p.id JOIN media m ON m.sha256 = pm.sha256"
    " WHERE o.chat_id = ? AND o.kind = 'alert' AND o.created_at >= ? AND o.id < ?"
    " AND o.status != 'dead' AND p.channel_id != ? AND m.phash IS NOT NULL ORDER BY o.id")


async def also_by_image(conn: aiosqlite.Connection, post_id: int, phash: str,
                        max_distance: int, dedup_since: str, now: str) -> int:
    """The post's picture is hashed: where a chat was alerted within the window on a post of
    another channel with the same picture (at most ``max_distance`` of 64 bits apart), that
    alert gets "also in" this post, and this post's alert to the chat, if not sent yet, is
    dropped (as when the text was the same story). Returns how many alerts were dropped."""
    cur = await conn.execute(
        "SELECT o.id, o.chat_id, o.status, o.event, p.channel_id FROM outbox o"
        " JOIN posts p ON p.id = o.post_id WHERE o.post_id = ? AND o.kind = 'alert'"
        " AND o.status IN ('pending', 'held', 'sent') ORDER BY o.id", (post_id,))
    mine = list(await cur.fetchall())
    await cur.close()
    dropped = 0
    for row in mine:
        event = stored_alert(row["event"], "", None)
        also = getattr(event, "also_in", None)
        if also is None:
            continue  # an alert queued before 0006 names no channel to add
        cur = await conn.execute(_EARLIER_IMAGES, (row["chat_id"], dedup_since, row["id"],
                                                   row["channel_id"]))
        earlier = next((r for r in await cur.fetchall()
                        if phash_distance(r["phash"], phash) <= max_distance),
                       None)
        await cur.close()
        if earlier is None:
            continue
        await _name_in(conn, row["chat_id"], also_json(also), earlier["id"], earlier["status"],
                       now)
        if row["status"] != OutboxStatus.SENT:
            await conn.execute("DELETE FROM outbox WHERE id = ?", (row["id"],))
            dropped += 1
    return dropped


async def _add_also(conn: aiosqlite.Connection, alert: AlertDraft, earlier_id: int,
                    earlier_status: str, now: str) -> None:
    """Name this post in the earlier alert's "also in" line; edit that alert if it was sent."""
    await _name_in(conn, alert.chat_id, also_json(alert.event.also_in), earlier_id,
                   earlier_status, now)


async def _name_in(conn: aiosqlite.Connection, chat_id: int, also: str, earlier_id: int,
                   earlier_status: str, now: str) -> None:
    await conn.execute(
        "UPDATE outbox SET also = json_insert(COALESCE(also, '[]'), '$[#]', json(?))"
        " WHERE id = ?", (also, earlier_id))
    if earlier_status == OutboxStatus.SENT:  # already delivered: edit it to add the line
        await conn.execute(
            "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key, ref_id,"
            " next_attempt_at, created_at) VALUES (?, 'edit', '', ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, dedup_key) DO UPDATE SET status = 'pending',"
            " attempts = 0, error = NULL, random_id = excluded.random_id,"
            " next_attempt_at = excluded.next_attempt_at WHERE outbox.status != 'pending'",
            (chat_id, new_random_id(), f"edit:{earlier_id}", earlier_id, now, now),
        )


async def _queue_alert(conn: aiosqlite.Connection, alert: AlertDraft, post_id: int,
                       now: str) -> int:
    """Queue a chat's alert (held in quiet hours) and its webhook deliveries; 1 if new."""
    event = event_json(alert.event)
    held = alert.held_until is not None
    cur = await conn.execute(
        "INSERT INTO outbox (chat_id, kind, post_id, payload, event, random_id, dedup_key,"
        " status, next_attempt_at, created_at) VALUES (?, 'alert', ?, '', ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
        (alert.chat_id, post_id, event, new_random_id(), alert.event.key,
         OutboxStatus.HELD if held else OutboxStatus.PENDING,
         to_iso(alert.held_until) if alert.held_until else now, now),
    )
    queued = int(cur.rowcount)
    if queued:
        # machines do not sleep: webhooks are not held by quiet hours
        await conn.execute(
            "INSERT INTO outbox (chat_id, kind, post_id, payload, event, random_id, dedup_key,"
            " webhook_id, next_attempt_at, created_at)"
            " SELECT ?, 'webhook', ?, '', ?, 0, 'webhook:' || id || ':' || ?, id, ?, ?"
            " FROM webhooks WHERE status = 'active' AND (chat_id = ? OR chat_id IS NULL)"
            " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
            (alert.chat_id, post_id, event, alert.event.key, now, now, alert.chat_id),
        )
    return queued


def new_random_id() -> int:
    """A random signed 64-bit id for messages.sendMessage, persisted before the first try."""
    return secrets.randbits(64) - (1 << 63)



# A message to send, or an alert held by quiet hours (its due time sets the dispatcher's
# next wake-up), was queued or changed: the dispatcher looks again after the commit.
_OUTBOX_TRIGGERS = (
    "CREATE TEMP TRIGGER IF NOT EXISTS outbox_inserted AFTER INSERT ON main.outbox"
    " WHEN NEW.status IN ('pending', 'held') BEGIN SELECT chanwatch_notify('outbox'); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS outbox_updated"
    " AFTER UPDATE OF status, next_attempt_at ON main.outbox"
    " WHEN NEW.status IN ('pending', 'held') BEGIN SELECT chanwatch_notify('outbox'); END",
)

