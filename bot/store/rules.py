"""Rules of the subscriber chats, and the matches digests read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import aiosqlite

from bot.clock import from_iso, to_iso
from bot.models import (
    Post,
    Rule,
    RuleMode,
)
from bot.store.base import Repository
from bot.store.rows import (
    opt_dt,
    to_post,
    to_rule,
)


class RuleRepository(Repository):
    """A chat's rules, numbered per chat (numbers are never reused)."""

    async def _update_rule(self, sql: str, params: Sequence[object]) -> Rule | None:
        """Run an UPDATE … RETURNING id on one live rule; return the rule as it is now."""

        async def work(conn: aiosqlite.Connection) -> int | None:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            return int(row["id"]) if row else None

        rule_id = await self._db.transaction(work)
        if rule_id is None:
            return None
        row = await self._db.fetchone("SELECT * FROM rules WHERE id = ?", (rule_id,))
        return to_rule(row) if row else None

    async def add(self, chat_id: int, expression: str, created_by: int) -> Rule:
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

        rule_id = await self._db.transaction(work)
        row = await self._db.fetchone("SELECT * FROM rules WHERE id = ?", (rule_id,))
        assert row is not None
        return to_rule(row)

    async def of_chat(self, chat_id: int) -> list[Rule]:
        """Return a chat's rules in number order."""
        rows = await self._db.fetchall(
            "SELECT * FROM rules WHERE chat_id = ? AND deleted_at IS NULL ORDER BY number",
            (chat_id,),
        )
        return [to_rule(r) for r in rows]

    async def count(self, chat_id: int) -> int:
        """Return how many live rules a chat has."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM rules WHERE chat_id = ? AND deleted_at IS NULL", (chat_id,)
        )
        return int(row["n"]) if row else 0

    async def delete(self, chat_id: int, number: int) -> Rule | None:
        """Delete a chat's rule by its number; return it, or None if there was none."""
        now = to_iso(self._clock.now())
        return await self._update_rule(
            "UPDATE rules SET deleted_at = ? WHERE chat_id = ? AND number = ?"
            " AND deleted_at IS NULL RETURNING id",
            (now, chat_id, number),
        )

    async def alerting(self) -> list[Rule]:
        """Return the rules that may raise alerts now (live rules of active chats)."""
        rows = await self._db.fetchall(
            "SELECT r.* FROM rules r JOIN chats c ON c.id = r.chat_id"
            " WHERE r.deleted_at IS NULL AND c.status = 'active' ORDER BY r.id"
        )
        return [to_rule(r) for r in rows]

    async def set_notify_deleted(self, chat_id: int, number: int, on: bool) -> Rule | None:
        """Ask (or stop asking) to be told when posts a rule alerted on are deleted."""

        return await self._update_rule(
            "UPDATE rules SET notify_deleted = ? WHERE chat_id = ? AND number = ?"
            " AND deleted_at IS NULL RETURNING id",
            (1 if on else 0, chat_id, number),
        )

    async def set_mode(self, chat_id: int, number: int, mode: RuleMode) -> Rule | None:
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

    async def by_ids(self, rule_ids: Iterable[int]) -> dict[int, Rule]:
        """The named rules as stored now (mode and mute change without a rebuild)."""
        return {row["id"]: to_rule(row) for row in await self._rows_by_id("rules", rule_ids)}

    async def digest_matches(
        self, chat_id: int, since: dt.datetime, until: dt.datetime,
    ) -> list[tuple[Rule, Post, str, bool]]:
        """Matches of the chat's digest rules learned in [since, until), with channel titles
        and whether the match was in the text of the post's picture (OCR).

        Backfilled posts are left out: they are history, not news since the last digest.
        """
        rows = await self._db.fetchall(
            "SELECT r.id AS rid, r.chat_id, r.number, r.expression, r.mode, r.created_at AS rc,"
            " r.notify_deleted, r.muted_until, m.in_image, p.*, c.username, c.title"
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
                        expression=r["expression"], mode=RuleMode(r["mode"]),
                        created_at=from_iso(r["rc"]), notify_deleted=bool(r["notify_deleted"]),
                        muted_until=opt_dt(r["muted_until"]))
            out.append((rule, to_post(r), r["title"], bool(r["in_image"])))
        return out
