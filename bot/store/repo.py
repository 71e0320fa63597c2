"""Repository: every SQL statement of chanwatch, parameterised, returning dataclasses."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from bot.clock import Clock, from_iso, to_iso
from bot.match.dedup import SIMILAR, fingerprint, story_key
from bot.models import (
    AlertDraft,
    Buttons,
    ButtonSpec,
    Channel,
    ChannelStats,
    Chat,
    ChatKind,
    OutboxItem,
    Post,
    Role,
    Rule,
    Webhook,
)
from bot.store.db import Database

Span = tuple[int, int]


@dataclass(frozen=True)
class RuleHitRecord:
    """A rule that matched a post, with the character spans that fired."""

    rule_id: int
    spans: Sequence[Span]
    chat_id: int = 0  # the rule's chat (needed only when storing an edit's matches)


@dataclass(frozen=True)
class SaveResult:
    """What storing one post did."""

    post_id: int
    created: bool
    alerts_enqueued: int


@dataclass(frozen=True)
class EditResult:
    """What recording an edit did."""

    post_id: int
    changed: bool
    alerted_chats: frozenset[int]


@dataclass(frozen=True)
class DeletedPost:
    """A post just marked deleted, with the chats that asked to hear about it."""

    post_id: int
    channel_id: int
    message_id: int
    text: str
    permalink: str
    notify: tuple[tuple[int, int], ...]  # (chat id, rule number)


def alert_key(post: Post) -> str:
    """One alert per chat per post; an album (one grouped_id) counts as one post."""
    if post.grouped_id:
        return f"album:{post.channel_id}:{post.grouped_id}"
    return f"post:{post.channel_id}:{post.message_id}"


def _opt_dt(value: str | None) -> dt.datetime | None:
    return from_iso(value) if value else None


def _channel(row: sqlite3.Row) -> Channel:
    return Channel(
        id=row["id"],
        username=row["username"],
        title=row["title"],
        access_hash=row["access_hash"],
        cursor=row["cursor"],
        status=row["status"],
        added_at=from_iso(row["added_at"]),
        last_error=row["last_error"],
        source=row["source"],
    )


def _post(r: sqlite3.Row) -> Post:
    """A stored post (rows joined with channels carry its username)."""
    return Post(
        channel_id=r["channel_id"], message_id=r["message_id"], date=from_iso(r["date"]),
        text=r["text"], permalink=r["permalink"], views=r["views"], forwards=r["forwards"],
        fwd_from=r["fwd_from"], reply_to=r["reply_to"], grouped_id=r["grouped_id"],
        media=r["media"], edit_date=_opt_dt(r["edit_date"]), channel_username=r["username"],
    )


def _chat(row: sqlite3.Row) -> Chat:
    return Chat(
        id=row["id"], kind=ChatKind(row["kind"]), title=row["title"], tz=row["tz"],
        status=row["status"], quiet_start=row["quiet_start"], quiet_end=row["quiet_end"],
        digest_cron=row["digest_cron"], digest_since=_opt_dt(row["digest_since"]),
        translate_lang=row["translate_lang"],
    )


def _rule(row: sqlite3.Row) -> Rule:
    return Rule(
        id=row["id"], chat_id=row["chat_id"], number=row["number"],
        expression=row["expression"], mode=row["mode"], created_at=from_iso(row["created_at"]),
        notify_deleted=bool(row["notify_deleted"]), muted_until=_opt_dt(row["muted_until"]),
    )


def _buttons_json(buttons: Buttons) -> str | None:
    if not buttons:
        return None
    return json.dumps([[{k: v for k, v in (("text", b.text), ("data", b.data), ("url", b.url))
                         if v is not None} for b in row] for row in buttons],
                      ensure_ascii=False)


def _buttons(raw: str | None) -> Buttons:
    if not raw:
        return ()
    return tuple(tuple(ButtonSpec(b["text"], b.get("data"), b.get("url")) for b in row)
                 for row in json.loads(raw))


def _outbox_item(r: sqlite3.Row) -> OutboxItem:
    common = {"chat_kind": ChatKind(r["chat_kind"]), "post_id": r["post_id"],
              "post_text": r["post_text"], "translate_lang": r["translate_lang"],
              "webhook_id": r["webhook_id"], "webhook_url": r["webhook_url"],
              "webhook_format": r["webhook_format"], "ref_id": r["ref_id"],
              "created_at": _opt_dt(r["created_at"]),
              "post_deleted": r["post_deleted_at"] is not None}
    if r["kind"] == "edit":  # the message it edits supplies text, buttons and message id
        return OutboxItem(
            r["id"], r["chat_id"], r["kind"], r["ref_payload"] or "", r["random_id"],
            r["attempts"], buttons=_buttons(r["ref_buttons"]),
            also=tuple(json.loads(r["ref_also"] or "[]")), edit_message_id=r["ref_message_id"],
            **common)
    return OutboxItem(
        r["id"], r["chat_id"], r["kind"], r["payload"], r["random_id"], r["attempts"],
        buttons=_buttons(r["buttons"]), attachment=r["attachment"],
        also=tuple(json.loads(r["also"] or "[]")), **common)


def new_random_id() -> int:
    """A random signed 64-bit id for messages.sendMessage, persisted before the first try."""
    return secrets.randbits(64) - (1 << 63)


def _webhook(r: sqlite3.Row) -> Webhook:
    return Webhook(r["id"], r["chat_id"], r["number"], r["url"], r["format"], r["status"],
                   r["last_error"])


@dataclass(frozen=True)
class HeldAlert:
    """An alert held back by quiet hours, to be folded into one message."""

    id: int
    summary: str
    also: tuple[str, ...]
    post_deleted: bool = False  # the channel deleted the post while the alert was held


DEFAULT_DEDUP_WINDOW = dt.timedelta(hours=6)
# A message to send, or an alert held by quiet hours (its due time sets the dispatcher's
# next wake-up), was queued or changed: the dispatcher looks again after the commit.
_OUTBOX_TRIGGERS = (
    "CREATE TEMP TRIGGER IF NOT EXISTS outbox_inserted AFTER INSERT ON main.outbox"
    " WHEN NEW.status IN ('pending', 'held') BEGIN SELECT chanwatch_notify('outbox'); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS outbox_updated"
    " AFTER UPDATE OF status, next_attempt_at ON main.outbox"
    " WHEN NEW.status IN ('pending', 'held') BEGIN SELECT chanwatch_notify('outbox'); END",
)


class Store:
    """The narrow interface between chanwatch and its database."""

    def __init__(self, db: Database, clock: Clock,
                 dedup_window: dt.timedelta = DEFAULT_DEDUP_WINDOW) -> None:
        self.db = db
        self._clock = clock
        self.dedup_window = dedup_window

    async def on_outbox_due(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that made an outbox message pending.

        Every path that queues a message (alerts, edits, deletion notices, folds, digests,
        notices, webhooks, a held alert released) wakes the dispatcher this way, by
        construction rather than by each caller remembering to.
        """
        await self.db.listen("outbox", _OUTBOX_TRIGGERS, listener)

    def _dedup_since(self) -> str:
        return to_iso(self._clock.now() - self.dedup_window)

    async def _write(self, sql: str, params: Sequence[object]) -> int:
        """One statement in its own write transaction; return how many rows it changed."""

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(sql, params)
            return int(cur.rowcount)

        return await self.db.transaction(work)

    # ------------------------------------------------------------------ chats and people
    async def upsert_chat(self, chat_id: int, kind: ChatKind, title: str | None) -> Chat:
        """Create the subscriber chat or refresh its title; return it."""
        now = to_iso(self._clock.now())
        await self._write(
            "INSERT INTO chats (id, kind, title, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET title = excluded.title",
            (chat_id, kind.value, title, now),
        )
        chat = await self.chat(chat_id)
        assert chat is not None
        return chat

    async def chat(self, chat_id: int) -> Chat | None:
        """Return one subscriber chat."""
        row = await self.db.fetchone("SELECT * FROM chats WHERE id = ?", (chat_id,))
        return _chat(row) if row else None

    async def _rows_by_id(self, table: str, ids: Iterable[int]) -> list[sqlite3.Row]:
        """Every row of ``table`` (a fixed name, never user input) with one of these ids."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return await self.db.fetchall(f"SELECT * FROM {table} WHERE id IN ({marks})", wanted)

    async def chats(self, chat_ids: Iterable[int]) -> dict[int, Chat]:
        """Return the named subscriber chats by id."""
        return {row["id"]: _chat(row) for row in await self._rows_by_id("chats", chat_ids)}

    async def stored_role(self, user_id: int) -> Role | None:
        """Return the role granted with /allow, if any."""
        row = await self.db.fetchone("SELECT role FROM users WHERE id = ?", (user_id,))
        return Role(row["role"]) if row else None

    async def grant(self, user_id: int, role: Role, granted_by: int) -> bool:
        """Grant a role; return False if the user already had exactly that role."""
        now = to_iso(self._clock.now())
        return await self._write(
            "INSERT INTO users (id, role, granted_by, granted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET role = excluded.role,"
            " granted_by = excluded.granted_by, granted_at = excluded.granted_at"
            " WHERE users.role != excluded.role",
            (user_id, role.value, granted_by, now),
        ) > 0

    async def revoke(self, user_id: int) -> bool:
        """Remove a granted role; return whether there was one."""

        async def work(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            return cur.rowcount > 0

        return await self.db.transaction(work)

    # ------------------------------------------------------------------ channels
    async def add_channel(
        self, channel_id: int, username: str | None, title: str, access_hash: int | None,
        added_by: int | None, cursor: int = 0,
    ) -> tuple[Channel, bool]:
        """Watch a channel (or watch it again); return it and whether it was newly watched."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("SELECT status FROM channels WHERE id = ?", (channel_id,))
            row = await cur.fetchone()
            await conn.execute(
                "INSERT INTO channels (id, username, title, access_hash, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                " title = excluded.title, access_hash = excluded.access_hash,"
                " status = 'active', last_error = NULL",
                (channel_id, username, title, access_hash, added_by, now),
            )
            # in the same transaction: a reconcile never sees the channel active without it
            await conn.execute(
                "UPDATE channels SET cursor = MAX(cursor, ?) WHERE id = ?", (cursor, channel_id)
            )
            return row is None or row["status"] != "active"

        created = await self.db.transaction(work)
        channel = await self.channel(channel_id)
        assert channel is not None
        return channel, created

    async def channel(self, channel_id: int) -> Channel | None:
        """Return one channel by id."""
        row = await self.db.fetchone("SELECT * FROM channels WHERE id = ?", (channel_id,))
        return _channel(row) if row else None

    async def channel_by_username(self, username: str) -> Channel | None:
        """Return the channel with this username (case-insensitive)."""
        row = await self.db.fetchone(
            "SELECT * FROM channels WHERE lower(username) = lower(?)", (username,)
        )
        return _channel(row) if row else None

    async def set_channel_status(
        self, channel_id: int, status: str, error: str | None = None
    ) -> bool:
        """Change a channel's status (active, unwatched, private, …); True if it changed."""

        return await self._write(
            "UPDATE channels SET status = ?, last_error = ? WHERE id = ? AND status != ?",
            (status, error, channel_id, status),
        ) > 0

    async def active_channels(self, source: str = "live") -> list[Channel]:
        """Return the channels being watched now by the user account (or the preview poller)."""
        rows = await self.db.fetchall(
            "SELECT * FROM channels WHERE status = 'active' AND source = ? ORDER BY id",
            (source,),
        )
        return [_channel(r) for r in rows]

    async def set_channel_source(self, channel_id: int, source: str) -> None:
        """Read a channel live (user account) or through its web preview."""
        await self._write("UPDATE channels SET source = ? WHERE id = ?", (source, channel_id))

    async def channel_stats(self) -> list[ChannelStats]:
        """Return every known channel with its post count and last post time."""
        rows = await self.db.fetchall(
            "SELECT c.*, COUNT(p.id) AS n, MAX(p.date) AS last"
            " FROM channels c LEFT JOIN posts p ON p.channel_id = c.id"
            " GROUP BY c.id ORDER BY c.status != 'active', lower(c.title)"
        )
        return [ChannelStats(_channel(r), r["n"], _opt_dt(r["last"])) for r in rows]

    # ------------------------------------------------------------------ rules
    async def add_rule(self, chat_id: int, expression: str, created_by: int) -> Rule:
        """Store a rule for a chat under the next free per-chat number."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(
                "INSERT INTO rules (chat_id, number, expression, mode, created_by, created_at)"
                " VALUES (?, (SELECT COALESCE(MAX(number), 0) + 1 FROM rules WHERE chat_id = ?),"
                " ?, 'both', ?, ?)",
                (chat_id, chat_id, expression, created_by, now),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        rule_id = await self.db.transaction(work)
        row = await self.db.fetchone("SELECT * FROM rules WHERE id = ?", (rule_id,))
        assert row is not None
        return _rule(row)

    async def rules(self, chat_id: int) -> list[Rule]:
        """Return a chat's rules in number order."""
        rows = await self.db.fetchall(
            "SELECT * FROM rules WHERE chat_id = ? AND deleted_at IS NULL ORDER BY number",
            (chat_id,),
        )
        return [_rule(r) for r in rows]

    async def count_rules(self, chat_id: int) -> int:
        """Return how many live rules a chat has."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM rules WHERE chat_id = ? AND deleted_at IS NULL", (chat_id,)
        )
        return int(row["n"]) if row else 0

    async def delete_rule(self, chat_id: int, number: int) -> Rule | None:
        """Delete a chat's rule by its number; return it, or None if there was none."""
        now = to_iso(self._clock.now())
        return await self._update_rule(
            "UPDATE rules SET deleted_at = ? WHERE chat_id = ? AND number = ?"
            " AND deleted_at IS NULL RETURNING id",
            (now, chat_id, number),
        )

    async def _update_rule(self, sql: str, params: Sequence[object]) -> Rule | None:
        """Run an UPDATE … RETURNING id on one live rule; return the rule as it is now."""

        async def work(conn: aiosqlite.Connection) -> int | None:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            return int(row["id"]) if row else None

        rule_id = await self.db.transaction(work)
        if rule_id is None:
            return None
        row = await self.db.fetchone("SELECT * FROM rules WHERE id = ?", (rule_id,))
        return _rule(row) if row else None

    async def alerting_rules(self) -> list[Rule]:
        """Return the rules that may raise alerts now (live rules of active chats)."""
        rows = await self.db.fetchall(
            "SELECT r.* FROM rules r JOIN chats c ON c.id = r.chat_id"
            " WHERE r.deleted_at IS NULL AND c.status = 'active' ORDER BY r.id"
        )
        return [_rule(r) for r in rows]

    # ------------------------------------------------------------------ posts
    async def save_post(
        self, post: Post, hits: Sequence[RuleHitRecord], alerts: Sequence[AlertDraft],
        *, source: str = "live",
    ) -> SaveResult:
        """Store a post, its matches, its alerts and the channel cursor in one transaction.

        Idempotent on (channel, message id): a post seen again changes nothing and enqueues
        nothing, so replays after a crash or a reconnect never double-alert.

        The cursor means "every post up to here is stored". A live post moves it only when it
        is the very next id; anything else (a gap, an earlier live post that failed) leaves it
        for the reconciler, which fetches everything above the cursor in order.
        """
        now = to_iso(self._clock.now())

        since = self._dedup_since()

        async def work(conn: aiosqlite.Connection) -> SaveResult:
            return await _save_one(conn, post, hits, alerts, source, now, since)

        return await self.db.transaction(work)

    async def save_posts(
        self, items: Sequence[tuple[Post, Sequence[RuleHitRecord], Sequence[AlertDraft]]],
        *, source: str,
    ) -> list[SaveResult]:
        """``save_post`` for a batch, set-wise in one transaction (backfill and catch-up).

        Statements per batch, not per post: which posts exist already, one insert of the new
        ones, their ids, their matches, their alerts, one cursor move per channel.
        """
        if source == "live":
            raise ValueError("live posts are stored one by one (their cursor rule differs)")
        now = to_iso(self._clock.now())

        since = self._dedup_since()

        async def work(conn: aiosqlite.Connection) -> list[SaveResult]:
            return await _save_batch(conn, items, source, now, since)

        return await self.db.transaction(work)

    async def set_cursor(self, channel_id: int, cursor: int) -> None:
        """Move a channel's cursor forward (never back)."""

        await self._write(
            "UPDATE channels SET cursor = MAX(cursor, ?) WHERE id = ?", (cursor, channel_id)
        )

    async def post_text(self, channel_id: int, message_id: int) -> str | None:
        """The stored text of a post (None if it is not stored)."""
        row = await self.db.fetchone(
            "SELECT text FROM posts WHERE channel_id = ? AND message_id = ?",
            (channel_id, message_id))
        return str(row["text"]) if row else None

    async def save_edit(
        self, post: Post, hits: Sequence[RuleHitRecord], alerts: Sequence[AlertDraft],
    ) -> EditResult | None:
        """Record an edit and, in the same transaction, the matches and alerts it earned.

        ``hits`` and ``alerts`` are for every chat the new text matches; chats already
        alerted on the post, or whose rules matched it before, are dropped here.
        """
        now = to_iso(self._clock.now())
        since = self._dedup_since()

        async def work(conn: aiosqlite.Connection) -> EditResult | None:
            edit = await _record_edit(conn, post, now, self._clock)
            if edit is None or not edit.changed:
                return edit
            fresh = [a for a in alerts if a.chat_id not in edit.alerted_chats]
            if fresh:
                await conn.execute(
                    "UPDATE posts SET fingerprint = ? WHERE id = ? AND fingerprint IS NULL",
                    (fingerprint(post.text), edit.post_id))
            await _insert_matches_and_alerts(
                conn, post, edit.post_id,
                [h for h in hits if h.chat_id not in edit.alerted_chats], fresh, now, since)
            return edit

        return await self.db.transaction(work)

    async def record_edit(self, post: Post) -> EditResult | None:
        """Keep the old text as a version and store the new one; None if the post is unknown."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> EditResult | None:
            return await _record_edit(conn, post, now, self._clock)

        return await self.db.transaction(work)

    async def mark_deleted(self, channel_id: int, message_ids: Sequence[int]) -> list[DeletedPost]:
        """Flag posts deleted (their text and versions stay); return the newly flagged ones."""
        now = to_iso(self._clock.now())
        if not message_ids:
            return []

        async def work(conn: aiosqlite.Connection) -> list[DeletedPost]:
            out: list[DeletedPost] = []
            for message_id in message_ids:
                cur = await conn.execute(
                    "UPDATE posts SET deleted_at = ? WHERE channel_id = ? AND message_id = ?"
                    " AND deleted_at IS NULL RETURNING id, text, permalink, grouped_id",
                    (now, channel_id, message_id),
                )
                row = await cur.fetchone()
                await cur.close()
                if row is None:
                    continue
                key = (f"album:{channel_id}:{row['grouped_id']}" if row["grouped_id"]
                       else f"post:{channel_id}:{message_id}")
                cur = await conn.execute(
                    "SELECT DISTINCT r.chat_id, r.number FROM matches m"
                    " JOIN rules r ON r.id = m.rule_id"
                    " JOIN outbox o ON o.chat_id = r.chat_id AND o.dedup_key = ?"
                    "   AND o.kind = 'alert' AND o.status IN ('sent', 'folded')"
                    " WHERE m.post_id = ? AND r.notify_deleted = 1 AND r.deleted_at IS NULL"
                    " ORDER BY r.chat_id, r.number",
                    (key, row["id"]),
                )
                notify = tuple((int(r["chat_id"]), int(r["number"]))
                               for r in await cur.fetchall())
                out.append(DeletedPost(int(row["id"]), channel_id, message_id, row["text"],
                                       row["permalink"], notify))
            return out

        return await self.db.transaction(work)

    async def recent_posts(self, limit: int) -> list[tuple[Post, str]]:
        """The newest stored posts (deleted ones included) with their channel's title."""
        rows = await self.db.fetchall(
            "SELECT p.*, c.username, c.title FROM posts p JOIN channels c ON c.id = p.channel_id"
            " ORDER BY p.date DESC, p.id DESC LIMIT ?",
            (limit,),
        )
        return [(_post(r), r["title"]) for r in rows]

    async def recent_message_ids(self, channel_id: int, since: dt.datetime) -> list[int]:
        """Ids of a channel's stored, not deleted posts published since ``since``."""
        rows = await self.db.fetchall(
            "SELECT message_id FROM posts WHERE channel_id = ? AND date >= ?"
            " AND deleted_at IS NULL ORDER BY message_id",
            (channel_id, to_iso(since)),
        )
        return [int(r["message_id"]) for r in rows]

    async def update_channel_identity(self, channel_id: int, username: str | None,
                                      title: str) -> None:
        """Follow a renamed channel (new username or title)."""

        await self._write(
            "UPDATE channels SET username = ?, title = ? WHERE id = ?",
            (username, title, channel_id),
        )

    async def set_notify_deleted(self, chat_id: int, number: int, on: bool) -> Rule | None:
        """Ask (or stop asking) to be told when posts a rule alerted on are deleted."""

        return await self._update_rule(
            "UPDATE rules SET notify_deleted = ? WHERE chat_id = ? AND number = ?"
            " AND deleted_at IS NULL RETURNING id",
            (1 if on else 0, chat_id, number),
        )

    async def set_mode(self, chat_id: int, number: int, mode: str) -> Rule | None:
        """Make a rule instant, digest-only or both."""
        return await self._update_rule(
            "UPDATE rules SET mode = ? WHERE chat_id = ? AND number = ? AND deleted_at IS NULL"
            " RETURNING id", (mode, chat_id, number))

    async def set_muted(self, chat_id: int, number: int,
                        until: dt.datetime | None) -> Rule | None:
        """Mute a rule's instant alerts until ``until`` (None: unmute)."""
        return await self._update_rule(
            "UPDATE rules SET muted_until = ? WHERE chat_id = ? AND number = ?"
            " AND deleted_at IS NULL RETURNING id",
            (to_iso(until) if until else None, chat_id, number))

    async def set_muted_ids(self, chat_id: int, rule_ids: Sequence[int],
                            until: dt.datetime) -> list[Rule]:
        """Mute rules by id (an alert's button); only rules of this chat."""
        out = []
        for rule_id in rule_ids:
            rule = await self._update_rule(
                "UPDATE rules SET muted_until = ? WHERE id = ? AND chat_id = ?"
                " AND deleted_at IS NULL RETURNING id", (to_iso(until), rule_id, chat_id))
            if rule is not None:
                out.append(rule)
        return out

    async def rules_by_ids(self, rule_ids: Iterable[int]) -> dict[int, Rule]:
        """The named rules as stored now (mode and mute change without a rebuild)."""
        return {row["id"]: _rule(row) for row in await self._rows_by_id("rules", rule_ids)}

    async def set_tz(self, chat_id: int, tz: str | None) -> None:
        """Set the chat's time zone (None: the instance's)."""
        await self._write("UPDATE chats SET tz = ? WHERE id = ?", (tz, chat_id))

    async def set_quiet(self, chat_id: int, start: int | None, end: int | None) -> None:
        """Set (or clear) the chat's quiet hours, minutes after local midnight."""
        await self._write("UPDATE chats SET quiet_start = ?, quiet_end = ? WHERE id = ?",
                          (start, end, chat_id))

    async def set_digest(self, chat_id: int, cron: str | None) -> None:
        """Set (or clear) the chat's digest schedule; a new schedule starts its period now."""
        await self._write(
            "UPDATE chats SET digest_cron = ?, digest_since = COALESCE(digest_since, ?)"
            " WHERE id = ?", (cron, to_iso(self._clock.now()), chat_id))

    async def digest_chats(self) -> list[Chat]:
        """Active chats with a digest schedule."""
        rows = await self.db.fetchall(
            "SELECT * FROM chats WHERE digest_cron IS NOT NULL AND status = 'active'")
        return [_chat(r) for r in rows]

    async def digest_matches(
        self, chat_id: int, since: dt.datetime, until: dt.datetime,
    ) -> list[tuple[Rule, Post, str]]:
        """Matches of the chat's digest rules learned in [since, until), with channel titles.

        Backfilled posts are left out: they are history, not news since the last digest.
        """
        rows = await self.db.fetchall(
            "SELECT r.id AS rid, r.chat_id, r.number, r.expression, r.mode, r.created_at AS rc,"
            " r.notify_deleted, r.muted_until, p.*, c.username, c.title"
            " FROM matches m JOIN rules r ON r.id = m.rule_id JOIN posts p ON p.id = m.post_id"
            " JOIN channels c ON c.id = p.channel_id"
            " WHERE r.chat_id = ? AND r.deleted_at IS NULL AND r.mode IN ('digest', 'both')"
            " AND m.created_at >= ? AND m.created_at < ? AND p.source != 'backfill'"
            " ORDER BY p.date",
            (chat_id, to_iso(since), to_iso(until)),
        )
        out = []
        for r in rows:
            rule = Rule(id=r["rid"], chat_id=r["chat_id"], number=r["number"],
                        expression=r["expression"], mode=r["mode"],
                        created_at=from_iso(r["rc"]), notify_deleted=bool(r["notify_deleted"]),
                        muted_until=_opt_dt(r["muted_until"]))
            out.append((rule, _post(r), r["title"]))
        return out

    # ------------------------------------------------------------------ webhooks
    async def add_webhook(self, chat_id: int | None, url: str, fmt: str,
                          created_by: int | None) -> Webhook:
        """Store a webhook under the chat's next number."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(
                "INSERT INTO webhooks (chat_id, number, url, format, created_by, created_at)"
                " VALUES (?, (SELECT COALESCE(MAX(number), 0) + 1 FROM webhooks"
                "  WHERE COALESCE(chat_id, 0) = COALESCE(?, 0)), ?, ?, ?, ?)",
                (chat_id, chat_id, url, fmt, created_by, now))
            assert cur.lastrowid is not None
            return cur.lastrowid

        webhook_id = await self.db.transaction(work)
        row = await self.db.fetchone("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        assert row is not None
        return _webhook(row)

    async def webhooks(self, chat_id: int | None) -> list[Webhook]:
        """A chat's webhooks (None: the operator's), deleted ones left out."""
        rows = await self.db.fetchall(
            "SELECT * FROM webhooks WHERE COALESCE(chat_id, 0) = COALESCE(?, 0)"
            " AND status != 'deleted' ORDER BY number", (chat_id,))
        return [_webhook(r) for r in rows]

    async def delete_webhook(self, chat_id: int | None, number: int) -> Webhook | None:
        """Delete a chat's webhook by number; its queued deliveries are dropped."""

        async def work(conn: aiosqlite.Connection) -> int | None:
            cur = await conn.execute(
                "UPDATE webhooks SET status = 'deleted' WHERE COALESCE(chat_id, 0) ="
                " COALESCE(?, 0) AND number = ? AND status != 'deleted' RETURNING id",
                (chat_id, number))
            row = await cur.fetchone()
            await cur.close()
            if row is None:
                return None
            await conn.execute(
                "UPDATE outbox SET status = 'dead', error = 'webhook deleted'"
                " WHERE webhook_id = ? AND status = 'pending'", (row["id"],))
            return int(row["id"])

        webhook_id = await self.db.transaction(work)
        if webhook_id is None:
            return None
        row = await self.db.fetchone("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return _webhook(row) if row else None

    async def mark_webhook_dead(self, webhook_id: int, item_id: int, error: str) -> bool:
        """A permanent failure: dead-letter the delivery and stop the webhook; True if new."""

        async def work(conn: aiosqlite.Connection) -> bool:
            await conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?"
                " WHERE id = ?", (error, item_id))
            cur = await conn.execute(
                "UPDATE webhooks SET status = 'dead', last_error = ? WHERE id = ?"
                " AND status = 'active'", (error, webhook_id))
            changed = cur.rowcount > 0
            await conn.execute(
                "UPDATE outbox SET status = 'dead', error = 'webhook stopped'"
                " WHERE webhook_id = ? AND status = 'pending'", (webhook_id,))
            return changed

        return await self.db.transaction(work)

    async def set_operator_webhook(self, url: str | None, fmt: str = "json") -> None:
        """Make the operator's WEBHOOK_URL the one operator webhook (or remove it)."""
        current = await self.webhooks(None)
        if current and url and current[0].url == url and current[0].format == fmt:
            return
        for hook in current:
            await self.delete_webhook(None, hook.number)
        if url:
            await self.add_webhook(None, url, fmt, None)

    async def enqueue_webhook_test(self, webhook: Webhook, event: str) -> bool:
        """Queue a test event for one webhook."""
        now = to_iso(self._clock.now())
        assert webhook.chat_id is not None
        return await self._write(
            "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key, webhook_id,"
            " next_attempt_at, created_at) VALUES (?, 'webhook', ?, 0, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
            (webhook.chat_id, event, f"webhook-test:{webhook.id}:{now}", webhook.id, now, now),
        ) > 0

    # ------------------------------------------------------------------ translations
    async def translation(self, post_id: int, lang: str, source_hash: str) -> str | None:
        """A cached translation of the post's current text into ``lang``."""
        row = await self.db.fetchone(
            "SELECT text FROM translations WHERE post_id = ? AND lang = ? AND source_hash = ?",
            (post_id, lang, source_hash))
        return str(row["text"]) if row else None

    async def save_translation(self, post_id: int, lang: str, source_hash: str, text: str,
                               provider: str) -> None:
        """Cache a translation (replacing one of an earlier text of the post)."""
        await self._write(
            "INSERT INTO translations (post_id, lang, source_hash, text, provider, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (post_id, lang) DO UPDATE SET"
            " source_hash = excluded.source_hash, text = excluded.text,"
            " provider = excluded.provider, created_at = excluded.created_at",
            (post_id, lang, source_hash, text, provider, to_iso(self._clock.now())))

    async def set_translate(self, chat_id: int, lang: str | None) -> None:
        """Translate alerts to this chat into ``lang`` (None: off)."""
        await self._write("UPDATE chats SET translate_lang = ? WHERE id = ?", (lang, chat_id))

    # ------------------------------------------------------------------ outbox
    async def enqueue_notice(self, chat_id: int, html: str, dedup_key: str) -> bool:
        """Queue a bot-initiated notice once per dedup key; return whether it was new."""
        now = to_iso(self._clock.now())
        return await self._write(
            "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key,"
            " next_attempt_at, created_at) VALUES (?, 'notice', ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
            (chat_id, html, new_random_id(), dedup_key, now, now),
        ) > 0

    async def due_outbox(self, now: dt.datetime, limit: int = 500) -> list[OutboxItem]:
        """Each chat's first pending message, if its time has come; oldest first.

        One per chat keeps every chat's messages in order (a message waiting for its retry
        holds back the ones after it) and lets one chat's backlog never hide the others.
        """
        rows = await self.db.fetchall(
            "SELECT o.*, c.kind AS chat_kind, c.translate_lang, r.payload AS ref_payload,"
            " r.also AS ref_also, r.buttons AS ref_buttons, r.message_id AS ref_message_id,"
            " p.text AS post_text, p.deleted_at AS post_deleted_at,"
            " w.url AS webhook_url, w.format AS webhook_format"
            " FROM (SELECT MIN(id) AS id FROM outbox WHERE status = 'pending'"
            "       GROUP BY chat_id, COALESCE(webhook_id, 0))"
            " AS head JOIN outbox o ON o.id = head.id JOIN chats c ON c.id = o.chat_id"
            " LEFT JOIN outbox r ON r.id = o.ref_id LEFT JOIN posts p ON p.id = o.post_id"
            " LEFT JOIN webhooks w ON w.id = o.webhook_id"
            " WHERE o.next_attempt_at <= ? AND (c.status != 'dead' OR o.webhook_id IS NOT NULL)"
            " ORDER BY o.id LIMIT ?",
            (to_iso(now), limit),
        )
        return [_outbox_item(r) for r in rows]

    async def next_outbox_time(self) -> dt.datetime | None:
        """Return when the earliest pending (or held) message becomes due."""
        row = await self.db.fetchone(
            "SELECT MIN(next_attempt_at) AS t FROM outbox WHERE id IN"
            " (SELECT MIN(id) FROM outbox WHERE status = 'pending'"
            "  GROUP BY chat_id, COALESCE(webhook_id, 0))"
            " OR status = 'held'"
        )
        return _opt_dt(row["t"]) if row else None

    async def mark_sent(self, item_id: int, message_id: int | None = None) -> None:
        """Record that a message was accepted by Telegram (and its id, when known)."""
        now = to_iso(self._clock.now())
        await self._write(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
            " error = NULL, message_id = COALESCE(?, message_id) WHERE id = ?",
            (now, message_id, item_id),
        )

    async def due_held(self, now: dt.datetime) -> dict[int, list[HeldAlert]]:
        """Alerts whose chat's quiet hours have ended, by chat, oldest first."""
        rows = await self.db.fetchall(
            "SELECT o.id, o.chat_id, o.summary, o.payload, o.also,"
            " p.deleted_at AS post_deleted_at FROM outbox o"
            " JOIN chats c ON c.id = o.chat_id LEFT JOIN posts p ON p.id = o.post_id"
            " WHERE o.status = 'held' AND o.next_attempt_at <= ? AND c.status = 'active'"
            " ORDER BY o.chat_id, o.id",
            (to_iso(now),),
        )
        out: dict[int, list[HeldAlert]] = {}
        for r in rows:
            also = tuple(json.loads(r["also"] or "[]"))
            out.setdefault(r["chat_id"], []).append(
                HeldAlert(r["id"], r["summary"] or r["payload"], also,
                          r["post_deleted_at"] is not None))
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

        return await self.db.transaction(work)

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

        return await self.db.transaction(work)

    async def mark_retry(self, item_id: int, at: dt.datetime, error: str) -> None:
        """Record a failed attempt and when to try again."""

        await self._write(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, error = ?"
            " WHERE id = ?",
            (to_iso(at), error, item_id),
        )

    async def defer_chat(self, chat_id: int, until: dt.datetime,
                         webhook_id: int | None = None) -> None:
        """Hold every pending message of a lane until ``until`` (after a flood wait)."""

        await self._write(
            "UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?)"
            " WHERE chat_id = ? AND status = 'pending' AND COALESCE(webhook_id, 0) = ?",
            (to_iso(until), chat_id, webhook_id or 0),
        )

    async def set_chat_status(self, chat_id: int, status: str) -> bool:
        """Pause or activate a chat's alerts; True if it changed."""

        return await self._write(
            "UPDATE chats SET status = ? WHERE id = ? AND status != ?",
            (status, chat_id, status),
        ) > 0

    async def mark_chat_dead(self, chat_id: int, item_id: int, error: str) -> None:
        """A permanent failure: dead-letter the message and stop alerting the chat."""

        async def work(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?"
                " WHERE id = ?",
                (error, item_id),
            )
            await conn.execute("UPDATE chats SET status = 'dead' WHERE id = ?", (chat_id,))

        await self.db.transaction(work)

    async def revive_chat(self, chat_id: int) -> bool:
        """Make a dead chat active again (it wrote /start); return whether it was dead."""

        return await self._write(
            "UPDATE chats SET status = 'active' WHERE id = ? AND status = 'dead'", (chat_id,)
        ) > 0

    async def mark_dead(self, item_id: int, error: str) -> None:
        """Give up on one message without touching its chat."""

        await self._write(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?"
            " WHERE id = ?",
            (error, item_id),
        )


async def _record_edit(conn: aiosqlite.Connection, post: Post, now: str,
                       clock: Clock) -> EditResult | None:
    """Keep the old text as a version and store the new one; None if the post is unknown."""
    cur = await conn.execute(
        "SELECT id, text, edit_date FROM posts WHERE channel_id = ? AND message_id = ?",
        (post.channel_id, post.message_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    post_id = int(row["id"])
    # chats already alerted, or whose rules matched before (backfilled posts have
    # matches but no alerts): an edit does not make them news
    cur = await conn.execute(
        "SELECT chat_id FROM outbox WHERE kind = 'alert' AND dedup_key = ?"
        " UNION SELECT r.chat_id FROM matches m JOIN rules r ON r.id = m.rule_id"
        " WHERE m.post_id = ?",
        (alert_key(post), post_id),
    )
    alerted = frozenset(int(r[0]) for r in await cur.fetchall())
    stale = (post.edit_date is not None and row["edit_date"] is not None
             and from_iso(row["edit_date"]) >= post.edit_date)
    if row["text"] == post.text or stale:  # an older read must not undo a newer edit
        return EditResult(post_id, False, alerted)
    await conn.execute(
        "INSERT INTO post_versions (post_id, text, edit_date, replaced_at)"
        " VALUES (?, ?, ?, ?)",
        (post_id, row["text"], row["edit_date"], now),
    )
    await conn.execute(
        "UPDATE posts SET text = ?, edit_date = ?, views = COALESCE(?, views)"
        " WHERE id = ?",
        (post.text, to_iso(post.edit_date or clock.now()), post.views, post_id),
    )
    return EditResult(post_id, True, alerted)


async def _insert_matches_and_alerts(
    conn: aiosqlite.Connection, post: Post, post_id: int, hits: Sequence[RuleHitRecord],
    alerts: Sequence[AlertDraft], now: str, dedup_since: str,
) -> int:
    await conn.executemany(
        "INSERT INTO matches (rule_id, post_id, spans, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(h.rule_id, post_id, json.dumps([list(s) for s in h.spans]), now) for h in hits],
    )
    return await _enqueue_alerts(conn, post, post_id, alerts, now, dedup_since)


async def _enqueue_alerts(
    conn: aiosqlite.Connection, post: Post, post_id: int, alerts: Sequence[AlertDraft],
    now: str, dedup_since: str,
) -> int:
    """Queue each chat's alert, or, when the chat was alerted on the same story from another
    channel within the window, add "also in" to that alert instead (editing it if sent)."""
    enqueued = 0
    if not alerts:
        return 0
    cur = await conn.execute("SELECT story, fingerprint FROM posts WHERE id = ?", (post_id,))
    mine = await cur.fetchone()
    await cur.close()
    for alert in alerts:
        earlier = None
        if mine is not None and alert.also_label:
            cur = await conn.execute(
                "SELECT o.id, o.status FROM outbox o JOIN posts p ON p.id = o.post_id"
                " WHERE o.chat_id = ? AND o.kind = 'alert' AND o.created_at >= ?"
                " AND o.status != 'dead' AND p.channel_id != ?"
                " AND (p.story = ? OR similarity(p.fingerprint, ?) >= ?)"
                " ORDER BY o.id LIMIT 1",
                (alert.chat_id, dedup_since, post.channel_id, mine["story"],
                 mine["fingerprint"], SIMILAR),
            )
            earlier = await cur.fetchone()
            await cur.close()
        if earlier is not None:
            await conn.execute(
                "UPDATE outbox SET also = json_insert(COALESCE(also, '[]'), '$[#]', ?)"
                " WHERE id = ?", (alert.also_label, earlier["id"]))
            if earlier["status"] == "sent":  # already delivered: edit it to add the line
                await conn.execute(
                    "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key, ref_id,"
                    " next_attempt_at, created_at) VALUES (?, 'edit', '', ?, ?, ?, ?, ?)"
                    " ON CONFLICT (chat_id, dedup_key) DO UPDATE SET status = 'pending',"
                    " attempts = 0, error = NULL, random_id = excluded.random_id,"
                    " next_attempt_at = excluded.next_attempt_at WHERE outbox.status != 'pending'",
                    (alert.chat_id, new_random_id(), f"edit:{earlier['id']}", earlier["id"], now,
                     now),
                )
            enqueued += 1
            continue
        held = alert.held_until is not None
        cur = await conn.execute(
            "INSERT INTO outbox (chat_id, kind, post_id, payload, summary, buttons, random_id,"
            " dedup_key, status, next_attempt_at, created_at)"
            " VALUES (?, 'alert', ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
            (alert.chat_id, post_id, alert.html, alert.summary or None,
             _buttons_json(alert.buttons), new_random_id(), alert_key(post),
             "held" if held else "pending",
             to_iso(alert.held_until) if alert.held_until else now, now),
        )
        queued = int(cur.rowcount)
        if queued and alert.event:
            # machines do not sleep: webhooks are not held by quiet hours
            await conn.execute(
                "INSERT INTO outbox (chat_id, kind, post_id, payload, random_id, dedup_key,"
                " webhook_id, next_attempt_at, created_at)"
                " SELECT ?, 'webhook', ?, ?, 0, 'webhook:' || id || ':' || ?, id, ?, ?"
                " FROM webhooks WHERE status = 'active' AND (chat_id = ? OR chat_id IS NULL)"
                " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
                (alert.chat_id, post_id, alert.event, alert_key(post), now, now, alert.chat_id),
            )
        enqueued += queued
    return enqueued


def _post_row(post: Post, now: str, source: str, with_fingerprint: bool) -> tuple[object, ...]:
    return (
        post.channel_id, post.message_id, to_iso(post.date),
        to_iso(post.edit_date) if post.edit_date else None, post.text, post.views,
        post.forwards, post.fwd_from, post.reply_to, post.grouped_id, post.media,
        post.permalink, now, source, story_key(post),
        fingerprint(post.text) if with_fingerprint else None,
    )


_INSERT_POST = (
    "INSERT INTO posts (channel_id, message_id, date, edit_date, text, views, forwards,"
    " fwd_from, reply_to, grouped_id, media, permalink, received_at, source, story,"
    " fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


async def _save_one(
    conn: aiosqlite.Connection, post: Post, hits: Sequence[RuleHitRecord],
    alerts: Sequence[AlertDraft], source: str, now: str, dedup_since: str,
) -> SaveResult:
    """Insert one post (idempotent) with its matches, alerts and cursor move."""
    cur = await conn.execute(
        _INSERT_POST + " ON CONFLICT (channel_id, message_id) DO NOTHING RETURNING id",
        _post_row(post, now, source, bool(alerts)),
    )
    row = await cur.fetchone()
    await cur.close()
    if row is None:
        existing = await conn.execute(
            "SELECT id FROM posts WHERE channel_id = ? AND message_id = ?",
            (post.channel_id, post.message_id),
        )
        old = await existing.fetchone()
        assert old is not None
        if source != "live":  # fetched in order: everything up to here is stored
            await conn.execute(
                "UPDATE channels SET cursor = MAX(cursor, ?) WHERE id = ?",
                (post.message_id, post.channel_id),
            )
        return SaveResult(int(old["id"]), False, 0)
    post_id = int(row["id"])
    enqueued = await _insert_matches_and_alerts(conn, post, post_id, hits, alerts, now,
                                                dedup_since)
    if source == "live":
        await conn.execute(
            "UPDATE channels SET cursor = ? WHERE id = ? AND cursor = ?",
            (post.message_id, post.channel_id, post.message_id - 1),
        )
    else:
        await conn.execute(
            "UPDATE channels SET cursor = MAX(cursor, ?) WHERE id = ?",
            (post.message_id, post.channel_id),
        )
    return SaveResult(post_id, True, enqueued)


async def _post_ids(conn: aiosqlite.Connection, channel_id: int,
                    message_ids: Sequence[int]) -> dict[int, int]:
    cur = await conn.execute(
        "SELECT message_id, id FROM posts WHERE channel_id = ? AND message_id BETWEEN ? AND ?",
        (channel_id, min(message_ids), max(message_ids)),
    )
    wanted = set(message_ids)
    return {int(r[0]): int(r[1]) for r in await cur.fetchall() if int(r[0]) in wanted}


async def _save_batch(
    conn: aiosqlite.Connection,
    items: Sequence[tuple[Post, Sequence[RuleHitRecord], Sequence[AlertDraft]]],
    source: str, now: str, dedup_since: str,
) -> list[SaveResult]:
    by_channel: dict[int, list[int]] = {}
    for post, _, _ in items:
        by_channel.setdefault(post.channel_id, []).append(post.message_id)
    before: dict[tuple[int, int], int] = {}
    for channel_id, message_ids in by_channel.items():
        known = await _post_ids(conn, channel_id, message_ids)
        before.update({(channel_id, m): i for m, i in known.items()})
    fresh: dict[tuple[int, int], Post] = {}
    for post, _, _ in items:
        key = (post.channel_id, post.message_id)
        if key not in before and key not in fresh:
            fresh[key] = post
    alerting = {(p.channel_id, p.message_id) for p, _, a in items if a}
    await conn.executemany(
        _INSERT_POST,
        [_post_row(p, now, source, key in alerting) for key, p in fresh.items()],
    )
    ids: dict[tuple[int, int], int] = dict(before)
    for channel_id, message_ids in by_channel.items():
        ids.update({(channel_id, m): i for m, i in (await _post_ids(conn, channel_id,
                                                                     message_ids)).items()})
    results: list[SaveResult] = []
    match_rows = []
    for post, hits, alerts in items:
        key = (post.channel_id, post.message_id)
        created = fresh.pop(key, None) is not None
        post_id = ids[key]
        enqueued = 0
        if created:
            match_rows += [(h.rule_id, post_id, json.dumps([list(s) for s in h.spans]), now)
                           for h in hits]
            enqueued = await _enqueue_alerts(conn, post, post_id, alerts, now, dedup_since)
        results.append(SaveResult(post_id, created, enqueued))
    await conn.executemany(
        "INSERT INTO matches (rule_id, post_id, spans, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        match_rows,
    )
    # Everything in the batch is stored now, in order: the cursor may move past all of it.
    await conn.executemany(
        "UPDATE channels SET cursor = MAX(cursor, ?) WHERE id = ?",
        [(max(message_ids), channel_id) for channel_id, message_ids in by_channel.items()],
    )
    return results
